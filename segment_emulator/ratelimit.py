"""Per-operation rate limits, counted per token in fixed windows of 60 s * time_scale.

Segment's 429 body (``remainingPoints``, ``msBeforeNext``, ``consumedPoints``) is the shape of a fixed-window
limiter: a window opens with the first request, every request in it consumes a point (refused ones too),
and it closes 60 s later. The per-operation limits are those the SDK documents; the rest share a default.
"""

from __future__ import annotations

import email.utils
import hashlib
import math
import threading
from dataclasses import dataclass

from segment_emulator.clock import Clock

WINDOW_SECONDS = 60.0
# Requests per minute stated in Segment's SDK docstrings (the contract's rateLimit) for the operations served.
PER_MINUTE: dict[str, int] = {
    "createDestinationSubscription": 5,
    "updateSubscriptionForDestination": 5,
    "removeSubscriptionFromDestination": 5,
    "createComputedTrait": 10,
    "updateComputedTraitForSpace": 10,
    "removeComputedTraitFromSpace": 20,
    "listComputedTraits": 25,
    "getComputedTrait": 100,
    "listEvents": 25,
    "listPropertiesFromEvent": 25,
    "createReverseETLManualSync": 20,
    "getReverseETLSyncStatus": 250,
    "getConnectionStateFromWarehouse": 200,
    "listSyncsFromWarehouseAndSource": 2,
    "createLabel": 60,
    "deleteLabel": 60,
}


@dataclass(frozen=True)
class Quota:
    """Where one request left its window."""

    limit: int
    consumed: int
    window_ends_at: float
    now: float

    @property
    def allowed(self) -> bool:
        return self.consumed <= self.limit

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.consumed)

    @property
    def ms_before_next(self) -> int:
        return max(0, math.ceil((self.window_ends_at - self.now) * 1000))

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Consumed": str(self.consumed),
            # RFC 5322 dates have whole seconds: round up so waiting until then is always enough.
            "X-RateLimit-Reset": email.utils.formatdate(math.ceil(self.window_ends_at), usegmt=True),
        }

    def error_data(self) -> dict[str, int]:
        return {"remainingPoints": 0, "msBeforeNext": self.ms_before_next, "consumedPoints": self.consumed}


@dataclass
class _Window:
    ends_at: float
    consumed: int = 0


class RateLimiter:
    def __init__(self, *, clock: Clock, time_scale: float, default_limit: int, enabled: bool) -> None:
        self.clock = clock
        self.window_seconds = WINDOW_SECONDS * time_scale
        self.default_limit = default_limit
        self.enabled = enabled
        self._windows: dict[tuple[str, str], _Window] = {}
        self._lock = threading.Lock()

    def limit_for(self, operation_id: str) -> int:
        return PER_MINUTE.get(operation_id, self.default_limit)

    def consume(self, token: str, operation_id: str) -> Quota | None:
        """Count one request; None when rate limiting is off."""
        if not self.enabled:
            return None
        # Keyed by a digest: the limiter never keeps a token.
        key = (hashlib.sha256(token.encode()).hexdigest(), operation_id)
        with self._lock:
            now = self.clock()
            window = self._windows.get(key)
            if window is None or now >= window.ends_at:
                window = self._windows[key] = _Window(ends_at=now + self.window_seconds)
            window.consumed += 1
            return Quota(self.limit_for(operation_id), window.consumed, window.ends_at, now)

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
