"""Injected failures: the next N requests matching an operationId, method and/or path regex

* ``status``: answer ``status`` with ``body`` and ``headers`` instead of serving the request;
* ``hang``: wait ``seconds``, then serve the request normally;
* ``drop``: close the connection without answering;
* ``commit_then_fail``: serve the request (its change is kept), then answer ``status`` instead of the real
  answer, or drop the connection when ``status`` is None ("response lost"). When the request itself fails
  (404, 422 …) the real error goes out: nothing was committed;
* ``rate_limit``: a 429 storm. Every matching request is answered 429 until ``seconds`` (real time) have passed
  since the first one; the time left is announced by one ``signal`` only — ``msBeforeNext`` in Segment's body,
  or the ``X-RateLimit-Reset`` or ``Retry-After`` header — so a client's handling of each can be tested alone.
  ``count`` does not apply; the fault is gone once the storm is over;
* ``drip``: serve the request, but send the answer's body one byte every ``seconds`` (a slow or hostile link);
* ``endless_pages``: serve a list request, but point ``pagination.next`` at a page past the end, a new cursor on
  every hit (a server that never stops paging).
"""

from __future__ import annotations

import dataclasses
import email.utils
import itertools
import math
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

FaultKind = Literal["status", "hang", "drop", "commit_then_fail", "rate_limit", "drip", "endless_pages"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
RateLimitSignal = Literal["msBeforeNext", "X-RateLimit-Reset", "Retry-After"]
RATE_LIMIT_SIGNALS: tuple[str, ...] = get_args(RateLimitSignal)


@dataclass
class Fault:
    id: int
    kind: FaultKind
    operation: str | None = None
    method: str | None = None
    path: str | None = None
    """A regular expression searched in the request path (percent-encoded, without the query)."""
    count: int = 1
    """Requests still to be hit."""
    status: int | None = 500
    body: Any = None
    """JSON to answer with (a str is sent as plain text); None: Segment's error envelope for ``status``."""
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float | None = None
    signal: RateLimitSignal | None = None
    """How a ``rate_limit`` storm announces the wait."""
    started_at: float | None = None
    """When a ``rate_limit`` storm began (its first matching request)."""

    def matches(self, operation_id: str | None, method: str, path: str) -> bool:
        return (
            (self.operation is None or self.operation == operation_id)
            and (self.method is None or self.method == method.upper())
            and (self.path is None or re.search(self.path, path) is not None)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "operation": self.operation,
            "method": self.method,
            "path": self.path,
            "count": self.count,
            "status": self.status,
            "body": self.body,
            "headers": self.headers,
            "seconds": self.seconds,
            "signal": self.signal,
        }

    def storm_over(self, now: float) -> bool:
        return self.started_at is not None and now >= self.started_at + (self.seconds or 0.0)

    def throttled(self, now: float) -> Fault:
        """This storm's 429 for a request arriving at ``now``: the wait until the storm ends, one signal."""
        ends_at = (self.started_at or now) + (self.seconds or 0.0)
        item: dict[str, Any] = {"type": "RequestError", "message": "Too many requests"}
        headers = dict(self.headers)
        if self.signal == "X-RateLimit-Reset":
            # An RFC 5322 date has whole seconds: round up so waiting until then is always enough.
            headers["X-RateLimit-Reset"] = email.utils.formatdate(math.ceil(ends_at), usegmt=True)
        elif self.signal == "Retry-After":
            headers["Retry-After"] = str(max(1, math.ceil(ends_at - now)))
        else:
            item["data"] = {
                "remainingPoints": 0,
                "msBeforeNext": max(0, math.ceil((ends_at - now) * 1000)),
                "consumedPoints": 1,
            }
        return dataclasses.replace(self, status=429, body={"errors": [item]}, headers=headers)


class FaultBook:
    """Pending faults, hit in the order they were added."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(
        self,
        kind: str,
        *,
        operation: str | None = None,
        method: str | None = None,
        path: str | None = None,
        count: int = 1,
        status: int | None = 500,
        body: Any = None,
        headers: dict[str, str] | None = None,
        seconds: float | None = None,
        signal: str | None = None,
    ) -> Fault:
        """Queue a fault; ValueError explains what is wrong with the arguments."""
        _check(kind, path=path, count=count, status=status, seconds=seconds, signal=signal)
        if kind == "rate_limit":
            status, signal = 429, signal or "msBeforeNext"
        fault = Fault(
            id=next(self._ids),
            kind=cast(FaultKind, kind),
            operation=operation,
            method=method.upper() if method else None,
            path=path,
            count=count,
            status=status,
            body=body,
            headers={str(k): str(v) for k, v in (headers or {}).items()},
            seconds=seconds,
            signal=cast(RateLimitSignal | None, signal),
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, operation_id: str | None, method: str, path: str) -> Fault | None:
        """The first pending fault matching this request, counting the hit."""
        with self._lock:
            now = time.time()
            for fault in list(self._faults):
                if fault.kind == "rate_limit" and fault.storm_over(now):
                    self._faults.remove(fault)
                    continue
                if fault.matches(operation_id, method, path):
                    if fault.kind == "rate_limit":
                        if fault.started_at is None:
                            fault.started_at = now
                        return fault.throttled(now)
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[Fault]:
        with self._lock:
            now = time.time()
            self._faults = [f for f in self._faults if not (f.kind == "rate_limit" and f.storm_over(now))]
            return list(self._faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


def _check(
    kind: str,
    *,
    path: str | None,
    count: int,
    status: int | None,
    seconds: float | None,
    signal: str | None = None,
) -> None:
    if kind not in FAULT_KINDS:
        raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}, not {kind!r}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive integer, not {count!r}")
    if kind == "status" and status is None:
        raise ValueError("a status fault needs a status")
    if status is not None and (
        isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599
    ):
        raise ValueError(f"status must be an HTTP status code (100..599), not {status!r}")
    if kind in ("hang", "rate_limit", "drip") and (seconds is None or seconds <= 0):
        raise ValueError(f"a {kind} fault needs seconds > 0")
    if signal is not None and kind != "rate_limit":
        raise ValueError("only a rate_limit fault takes a signal")
    if signal is not None and signal not in RATE_LIMIT_SIGNALS:
        raise ValueError(f"signal must be one of {', '.join(RATE_LIMIT_SIGNALS)}, not {signal!r}")
    if path is not None:
        try:
            re.compile(path)
        except re.error as error:
            raise ValueError(f"path is not a valid regular expression: {error}") from None
