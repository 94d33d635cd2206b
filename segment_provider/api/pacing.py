"""Client-side pacing: stay under Segment's per-operation rate limits instead of running into 429s.

Segment documents a lower limit for some operations (5 mapping changes a minute, 10 computed-trait changes a
minute …), counted per token and per operation in windows that open with the first request. A stack with
hundreds of traits would otherwise send them all at once, collect a 429 for nearly every one and wait out
``msBeforeNext`` in every thread. The :class:`Pacer` books a send time for each request instead: at most
``limit`` requests of one operation in any window (plus a small margin for network jitter), so the requests
leave at the rate Segment accepts. A 429 that happens anyway (another process used the same token) is still
retried by the client as Segment asks; the retry is booked like any other request, because Segment counts
refused requests too.

The limits come from ``rate_limits.py``, generated from Segment's contract by this module::

    python -m segment_provider.api.pacing ../shared/segment-api/contract.json

Operations without a documented limit are not paced (the default limit is undocumented).

Pacing is on by default. ``SEGMENT_API_PACING=off`` (or ``ClientSettings(pacing_time_scale=0)``) switches it
off; a number scales the windows, for an emulator that shortens Segment's minute (``SEGMENT_API_PACING=0.01``
against ``segment-emulator --time-scale 0.01``). This module does not depend on Pulumi.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segment_provider.api import rate_limits
from segment_provider.api.errors import ConfigurationError

PACING_ENV = "SEGMENT_API_PACING"
DEFAULT_MARGIN = 0.01
"""Each window is made this much longer than Segment's, for the two clocks' rates and the few milliseconds a
request spends after Segment counted it (not for network delays or a loaded machine: a window is counted from
the answer of the request that may have opened it, see :class:`Pacer`)."""
PROGRESS_EVERY = 30.0
"""Seconds of Segment's clock between two progress lines while calls wait for a rate limit."""

log = logging.getLogger("segment_provider.api.pacing")

_WINDOW_SECONDS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
_OFF = frozenset({"off", "false", "no", "0"})
_ON = frozenset({"on", "true", "yes", ""})
_POLL = 0.5
"""Longest sleep between two looks at requests still in flight (their answers wake the waiters earlier)."""


@dataclass(frozen=True)
class Limit:
    requests: int
    window: float
    """Seconds."""


SEGMENT_LIMITS: Mapping[str, Limit] = {
    operation_id: Limit(requests, window)
    for operation_id, (requests, window) in rate_limits.PER_OPERATION.items()
}


@dataclass(eq=False)
class Ticket:
    """One booked request: ``sent`` when it left, ``done`` when its answer came (None while in flight)."""

    operation_id: str
    slot: float | None = None
    sent: float | None = None
    done: float | None = None


@dataclass
class _Book:
    """The bookings of one operation, oldest first; ``floor`` is the latest answer among those dropped."""

    entries: deque[Ticket] = field(default_factory=deque)
    floor: float = float("-inf")
    quickest: float = float("inf")
    """The shortest round trip seen (send to answer): the part of every trip that is not delay."""
    booked: int = 0
    logged_at: float = float("-inf")


class Pacer:
    """Books send times so that no operation exceeds its limit in any window. Thread-safe.

    Segment's windows are fixed: one opens when a request *arrives* and lasts a minute. The client never sees
    arrivals, only that a request arrived between its send and its answer. So request *n* leaves a whole window
    (plus a small margin) after the answers of every request booked ``limit`` places or more before it, less the
    quickest round trip seen (which every request spends, the later one too): however slowly a request travels,
    however late a loaded machine sends or answers it, no ``limit + 1`` of them arrive within one window. The
    margin only covers the clocks' rates, so it is the same fraction at every time scale.

    ``clock`` must be monotonic; ``clock`` and ``sleep`` are injectable so tests run on simulated time.
    """

    def __init__(
        self,
        limits: Mapping[str, Limit] = SEGMENT_LIMITS,
        *,
        time_scale: float = 1.0,
        margin: float = DEFAULT_MARGIN,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if time_scale <= 0 or margin < 0:
            raise ValueError("time_scale must be above 0 and margin 0 or more")
        self._limits = dict(limits)
        self._time_scale = time_scale
        self._margin = margin
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Condition()
        self._books: dict[str, _Book] = {}
        self._waited: dict[str, float] = {}

    def __repr__(self) -> str:
        return f"Pacer(operations={len(self._limits)}, time_scale={self._time_scale})"

    @property
    def time_scale(self) -> float:
        return self._time_scale

    def window(self, operation_id: str) -> float | None:
        """Seconds of the window this pacer keeps ``operation_id`` in, margin included; None if not paced."""
        limit = self._limits.get(operation_id)
        if limit is None:
            return None
        return limit.window * self._time_scale * (1 + self._margin)

    def acquire(self, operation_id: str) -> Ticket:
        """Wait until one request of ``operation_id`` may be sent and book it; :meth:`release` the ticket once
        its answer came (or it failed), so later requests count their window from that moment."""
        ticket = Ticket(operation_id)
        limit = self._limits.get(operation_id)
        if limit is None:
            return ticket
        wait = self._book(ticket, limit, answered=False)
        if wait > 0:
            log.debug("pacing %s: waiting %.2fs for Segment's rate limit", operation_id, wait)
            self._sleep(wait)
        ticket.sent = self._clock()
        return ticket

    def release(self, ticket: Ticket) -> None:
        """The ticket's request was answered (or failed): later windows count from now."""
        if ticket.operation_id not in self._limits:
            return
        with self._lock:
            ticket.done = self._clock()
            book = self._books[ticket.operation_id]
            if ticket.sent is not None:
                book.quickest = min(book.quickest, ticket.done - ticket.sent)
            self._lock.notify_all()

    def reserve(self, operation_id: str) -> float:
        """Book the next send time of a request whose answer is not waited for (it counts from its send time);
        returns the seconds to wait before sending it."""
        limit = self._limits.get(operation_id)
        if limit is None:
            return 0.0
        ticket = Ticket(operation_id)
        return self._book(ticket, limit, answered=True)

    def wait(self, operation_id: str) -> float:
        """Sleep until the request may be sent (:meth:`reserve`); returns the seconds slept."""
        wait = self.reserve(operation_id)
        if wait > 0:
            self._sleep(wait)
        return wait

    def waited(self) -> dict[str, float]:
        """Seconds of waiting booked so far, by operation (summed over threads)."""
        with self._lock:
            return dict(self._waited)

    def _book(self, ticket: Ticket, limit: Limit, *, answered: bool) -> float:
        window = limit.window * self._time_scale * (1 + self._margin)
        with self._lock:
            book = self._books.setdefault(ticket.operation_id, _Book())
            book.entries.append(ticket)
            while True:
                now = self._clock()
                ahead = self._ahead(book, ticket, limit.requests)
                if ahead is None:
                    slot = now
                    break
                answers = [entry.done for entry in ahead if entry.done is not None]
                if len(answers) == len(ahead):
                    # The quickest round trip is the same for every request, so the later of two arrivals is
                    # at least that much after its send: only the rest of a slow trip (delay) pushes back.
                    quickest = book.quickest if book.quickest < float("inf") else 0.0
                    slot = max(now, max([book.floor, *answers]) - quickest + window)
                    break
                # A request booked a whole limit earlier is still travelling: its answer bounds this one's slot.
                self._lock.wait(_POLL)
            ticket.slot = slot
            if answered:
                ticket.done = slot
            book.booked += 1
            self._prune(book, limit.requests, now)
            wait = slot - now
            if wait > 0:
                self._waited[ticket.operation_id] = self._waited.get(ticket.operation_id, 0.0) + wait
                self._progress(ticket.operation_id, book, limit, now)
            return wait

    @staticmethod
    def _ahead(book: _Book, ticket: Ticket, requests: int) -> list[Ticket] | None:
        """The bookings ``requests`` places or more before ``ticket`` (None when there are none)."""
        position = len(book.entries) - 1
        while book.entries[position] is not ticket:
            position -= 1
        if position < requests and book.floor == float("-inf"):
            return None
        return [book.entries[i] for i in range(max(0, position - requests + 1))]

    @staticmethod
    def _prune(book: _Book, requests: int, now: float) -> None:
        # The latest `requests` bookings are always kept, so every later one sees the dropped ones in `floor`;
        # those still to leave are kept too, to be counted as waiting.
        while len(book.entries) > requests and _answered_by(book.entries[0], now):
            done = book.entries.popleft().done
            book.floor = max(book.floor, done if done is not None else book.floor)

    def _progress(self, operation_id: str, book: _Book, limit: Limit, now: float) -> None:
        """Every ``PROGRESS_EVERY`` seconds of Segment's clock while calls wait: how many, and for how long."""
        if now - book.logged_at < PROGRESS_EVERY * self._time_scale:
            return
        book.logged_at = now
        waiting = [entry.slot for entry in book.entries if entry.slot is not None and entry.slot > now]
        last = max(waiting)
        minutes = limit.window / 60
        per = "a minute" if minutes == 1 else f"per {limit.window:g} s"
        log.info(
            "Segment's rate limit for %s (%d %s): %d call%s waiting, the last leaves in about %s%s; %d sent "
            "so far",
            operation_id,
            limit.requests,
            per,
            len(waiting),
            "" if len(waiting) == 1 else "s",
            _duration(last - now),
            "" if self._time_scale == 1 else f" (pacing time scale {self._time_scale:g})",
            book.booked - len(waiting),
        )


def _answered_by(ticket: Ticket, now: float) -> bool:
    return ticket.done is not None and ticket.done <= now


def _duration(seconds: float) -> str:
    if seconds >= 90:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


# A Pulumi deployment runs every dynamic provider in one provider process (one per operation: up, refresh,
# destroy), and that process calls the providers from several threads with one client per provider object. A
# pacer per client would let each resource kind spend the whole limit; one pacer per process and token is
# what Segment counts against.
_shared: dict[tuple[str, float], Pacer] = {}
_shared_lock = threading.Lock()


def shared_pacer(base_url: str, token: str, time_scale: float) -> Pacer | None:
    """The process-wide pacer of one API address and token; None when ``time_scale`` is 0 (pacing off)."""
    if time_scale <= 0:
        return None
    # Keyed by a digest: the registry never keeps a token.
    scope = hashlib.sha256(f"{base_url}\n{token}".encode()).hexdigest()
    with _shared_lock:
        pacer = _shared.get((scope, time_scale))
        if pacer is None:
            pacer = _shared[(scope, time_scale)] = Pacer(time_scale=time_scale)
        return pacer


def pacing_from_env(env: Mapping[str, str]) -> dict[str, float]:
    """``ClientSettings`` options from ``SEGMENT_API_PACING``: ``{}`` when unset, else the time scale (0 = off).

    Raises ``ConfigurationError`` naming the variable when the value is neither on/off nor a number.
    """
    raw = env.get(PACING_ENV)
    if raw is None:
        return {}
    value = raw.strip().lower()
    if value in _OFF:
        return {"pacing_time_scale": 0.0}
    if value in _ON:
        return {"pacing_time_scale": 1.0}
    try:
        scale = float(value)
    except ValueError:
        scale = -1.0
    if not 0 <= scale < float("inf"):
        raise ConfigurationError(
            f"{PACING_ENV} is '{raw}', but it must be 'on', 'off' or a time scale of 0 or more (1 paces to "
            f"Segment's limits; 0.01 to an emulator started with --time-scale 0.01). Unset it to use the default."
        )
    return {"pacing_time_scale": scale}


# ---------------------------------------------------------------------------------- the generated limit table


def limits_from_contract(contract: Mapping[str, Any]) -> dict[str, tuple[int, float]]:
    """``{operationId: (requests, window seconds)}`` for every operation the contract gives a ``rateLimit``."""
    table: dict[str, tuple[int, float]] = {}
    for operation_id, spec in sorted(contract["operations"].items()):
        limit = spec.get("rateLimit")
        if not limit:
            continue
        per = limit["per"]
        if per not in _WINDOW_SECONDS:
            raise ValueError(f"{operation_id}: unknown rate-limit period {per!r}")
        table[operation_id] = (int(limit["requests"]), _WINDOW_SECONDS[per])
    return table


def render_limits_module(contract: Mapping[str, Any]) -> str:
    rows = "\n".join(
        f"    {json.dumps(operation_id)}: ({requests}, {window!r}),"
        for operation_id, (requests, window) in limits_from_contract(contract).items()
    )
    return (
        "# Generated from Segment's Public API contract by `python -m segment_provider.api.pacing <contract.json>`.\n"
        "# Do not edit: regenerate it. tests/api/test_pacing.py checks it against the contract.\n"
        '"""Segment\'s documented per-operation rate limits (SDK docstrings), counted per token and operation."""\n'
        "\n"
        f"API_VERSION = {json.dumps(contract.get('apiVersion'))}\n"
        "\n"
        "# operationId: (requests, window in seconds)\n"
        "PER_OPERATION: dict[str, tuple[int, float]] = {\n"
        f"{rows}\n"
        "}\n"
    )


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m segment_provider.api.pacing <path to contract.json>", file=sys.stderr)
        return 2
    contract = json.loads(Path(argv[0]).read_text())
    target = Path(rate_limits.__file__)
    target.write_text(render_limits_module(contract))
    print(f"wrote {len(limits_from_contract(contract))} limits to {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
