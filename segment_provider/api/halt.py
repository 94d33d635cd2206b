"""The gate every request passes before it is sent: once closed, no call that changes Segment starts.

The resource layer closes it when the Pulumi engine that asked for the work is gone (a killed CLI): nobody would
record what such a call made, so the next run could make it a second time.
"""

from __future__ import annotations

import threading

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_closed = threading.Event()
_reason: list[str] = []


class HaltedError(Exception):
    """A call that would change Segment, refused because the gate is closed."""


def close(reason: str) -> None:
    """From now on, refuse every call that changes Segment, saying ``reason``."""
    _reason[:] = [reason]
    _closed.set()


def is_closed() -> bool:
    return _closed.is_set()


def check(method: str, operation: str) -> None:
    """Raises :class:`HaltedError` for a call that would change Segment once the gate is closed."""
    if _closed.is_set() and method.upper() not in READ_METHODS:
        reason = _reason[0] if _reason else "the gate is closed"
        raise HaltedError(f"{operation} not sent: {reason}")
