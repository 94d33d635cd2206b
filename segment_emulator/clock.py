"""Time as the emulator sees it: an injectable wall clock (seconds since the epoch) and ISO-8601 stamps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]


def iso_timestamp(seconds: float) -> str:
    """``2026-11-28T13:17:00.123Z``: the timestamp style of Segment's answers."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
