"""Injected failures: the next N requests matching an operationId, method and/or path regex

* ``status``: answer ``status`` with ``body`` and ``headers`` instead of serving the request;
* ``hang``: wait ``seconds``, then serve the request normally;
* ``drop``: close the connection without answering;
* ``commit_then_fail``: serve the request (its change is kept), then answer ``status`` instead of the real
  answer, or drop the connection when ``status`` is None ("response lost"). When the request itself fails
  (404, 422 …) the real error goes out: nothing was committed.
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

FaultKind = Literal["status", "hang", "drop", "commit_then_fail"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)


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
        }


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
    ) -> Fault:
        """Queue a fault; ValueError explains what is wrong with the arguments."""
        _check(kind, path=path, count=count, status=status, seconds=seconds)
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
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, operation_id: str | None, method: str, path: str) -> Fault | None:
        """The first pending fault matching this request, counting the hit."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(operation_id, method, path):
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


def _check(kind: str, *, path: str | None, count: int, status: int | None, seconds: float | None) -> None:
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
    if kind == "hang" and (seconds is None or seconds <= 0):
        raise ValueError("a hang fault needs seconds > 0")
    if path is not None:
        try:
            re.compile(path)
        except re.error as error:
            raise ValueError(f"path is not a valid regular expression: {error}") from None
