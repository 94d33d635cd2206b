"""``Emulator``: the local Segment Public API, run in a background thread, with the controls tests use."""

from __future__ import annotations

import copy
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from segment_emulator.clock import Clock
from segment_emulator.faults import Fault
from segment_emulator.pipeline import ExchangeHook, Pipeline
from segment_emulator.ratelimit import RateLimiter
from segment_emulator.records import RecordedRequest
from segment_emulator.seeds import DEV_SPACE_SLUG, add_flex_events, seeded_store
from segment_emulator.server import EmulatorServer, is_loopback
from segment_emulator.store import Record, Store
from segment_emulator.views import DEFAULT_SETTINGS_PATCH, SETTINGS_PATCH_MODES, SettingsPatch, source_view

DEFAULT_TOKEN = "emulator-token"
TOKEN_ENV = "SEGMENT_EMULATOR_TOKEN"
SETTINGS_PATCH_ENV = "SEGMENT_EMULATOR_SETTINGS_PATCH"


class Emulator:
    """A stateful Segment Public API on ``host:port`` (port 0: any free port).

    ``time_scale`` shrinks time: rate-limit windows last 60 s * time_scale, manual syncs finish after
    10 s * time_scale. ``on_exchange`` is called with every served request (its ``RecordedRequest``, answer
    included) before the answer is sent. ``clock`` (seconds since the epoch) replaces the wall clock.
    ``allow_remote`` lets ``host`` be an address other machines reach (refused otherwise).
    ``settings_patch`` is how an update's ``settings`` meet the stored ones: "replace" or "merge" (❓ Segment
    does not document which; docs/emulator.md, "Settings in an update").
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = DEFAULT_TOKEN,
        state_file: str | Path | None = None,
        time_scale: float = 1.0,
        latency_ms: float = 0,
        rate_limits: bool = True,
        default_rate_limit: int = 600,
        seed_flex_events: bool = False,
        on_exchange: ExchangeHook | None = None,
        *,
        clock: Clock | None = None,
        allow_remote: bool = False,
        settings_patch: SettingsPatch = DEFAULT_SETTINGS_PATCH,
    ) -> None:
        _check_settings(
            token=token, time_scale=time_scale, latency_ms=latency_ms, default_rate_limit=default_rate_limit
        )
        if not (allow_remote or is_loopback(host)):
            raise ValueError(
                f"{host} is reachable from other machines, and the emulator's token and state would be too: "
                "listen on 127.0.0.1 (the default), or pass --allow-remote (allow_remote=True) to mean it"
            )
        _check_settings_patch(settings_patch)
        self._host = host
        self._allow_remote = allow_remote
        self._requested_port = port
        self._token = token
        clock = clock or time.time
        state_path = Path(state_file) if state_file is not None else None
        self._pipeline = Pipeline(
            token=token,
            store=_initial_store(state_path, clock(), seed_flex_events),
            limiter=RateLimiter(
                clock=clock, time_scale=time_scale, default_limit=default_rate_limit, enabled=rate_limits
            ),
            clock=clock,
            time_scale=time_scale,
            latency_ms=latency_ms,
            settings_patch=settings_patch,
            state_file=state_path,
            on_exchange=on_exchange,
        )
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "not started"
        return f"Emulator({where})"

    # ------------------------------------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._server = EmulatorServer(
            (self._host, self._requested_port), self._pipeline, allow_remote=self._allow_remote
        )
        self._pipeline.save()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="segment-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._pipeline.shutdown()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not started: call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def token(self) -> str:
        return self._token

    @property
    def settings_patch(self) -> SettingsPatch:
        """How an update's settings meet the stored ones: "replace" or "merge" (❓ Segment does not say)."""
        return self._pipeline.settings_patch

    @settings_patch.setter
    def settings_patch(self, mode: SettingsPatch) -> None:
        _check_settings_patch(mode)
        self._pipeline.settings_patch = mode

    # ------------------------------------------------------------------------------------------- controls

    def reset(self, seed_flex_events: bool = False) -> None:
        """Back to the seeds: state, faults, rate-limit windows and the request log."""
        self._pipeline.reset(seed_flex_events=seed_flex_events)

    def add_fault(
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
        """Make the next ``count`` requests matching ``operation`` / ``method`` / ``path`` (a regex) fail.

        ``kind``: "status" (answer ``status`` with ``body``/``headers``), "hang" (wait ``seconds``, then serve),
        "drop" (close without answering), "commit_then_fail" (serve, then answer ``status``; drop the
        connection when ``status`` is None), "rate_limit" (answer 429 for ``seconds``, announcing the wait
        with ``signal``: "msBeforeNext", "X-RateLimit-Reset" or "Retry-After"), "drip" (serve, sending the
        body one byte every ``seconds``) or "endless_pages" (serve a list, with a new cursor past the end).
        """
        return self._pipeline.faults.add(
            kind,
            operation=operation,
            method=method,
            path=path,
            count=count,
            status=status,
            body=body,
            headers=headers,
            seconds=seconds,
            signal=signal,
        )

    @property
    def faults(self) -> list[Fault]:
        """Faults still waiting for requests."""
        return self._pipeline.faults.pending()

    def clear_faults(self) -> None:
        self._pipeline.faults.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        """The request log (Segment operations and unknown routes; not the control endpoints), oldest first."""
        return self._pipeline.requests()

    def clear_requests(self) -> None:
        self._pipeline.clear_requests()

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted since the emulator started (each would be a TLS handshake with Segment)."""
        if self._server is None:
            raise RuntimeError("the emulator is not started: call start() first")
        return self._server.connections_accepted

    def seed_flex_events(self, space_slug: str = DEV_SPACE_SLUG) -> dict[str, Any]:
        """Record the Flex events as seen by the space ``space_slug``; returns the space."""
        return self._pipeline.seed_flex_events(space_slug)

    def seed_profile(
        self, user_id: str, traits: dict[str, Any] | None = None, space_slug: str = DEV_SPACE_SLUG
    ) -> dict[str, Any]:
        """Create (or replace) the Profile API profile ``user_id:<user_id>`` in a space, with custom ``traits``.

        The profile also shows every enabled computed trait of the space (see ``segment_emulator.profiles``).
        Returns ``{"spaceId", "userId", "traits"}`` as the Profile API would show the traits now.
        """
        return self._pipeline.seed_profile(space_slug, user_id, traits)

    def profile_api_token(self, space_slug: str = DEV_SPACE_SLUG) -> str:
        """The space's Profile API token: seeded (40 base62 characters) unless set with the method below."""
        return self._pipeline.profile_api_token(space_slug)

    def set_profile_api_token(self, token: str, space_slug: str = DEV_SPACE_SLUG) -> None:
        """Give the space another Profile API token (the old one stops working); a reset restores the seed."""
        self._pipeline.set_profile_api_token(space_slug, token)

    def record_warehouse_sync(
        self, warehouse_id: str, source_id: str, *, status: str = "success", count: int = 100
    ) -> dict[str, Any]:
        """Record a finished load of ``source_id`` into ``warehouse_id``, as listSyncsFromWarehouseAndSource
        shows it (the emulator never loads anything by itself)."""
        return self._pipeline.record_warehouse_sync(warehouse_id, source_id, status=status, count=count)

    def save(self) -> None:
        """Write the state file now (after changing ``store`` directly); no-op without a state file."""
        self._pipeline.save()

    # ------------------------------------------------------------------------------------------- the state

    @property
    def store(self) -> Store:
        """The live state. Tests may read and change it (take ``store_lock`` while the emulator serves)."""
        return self._pipeline.store

    @property
    def store_lock(self) -> threading.RLock:
        return self._pipeline.lock

    @property
    def workspace(self) -> dict[str, Any]:
        return dict(self.store.workspace)

    def space(self, slug: str) -> dict[str, Any]:
        with self.store_lock:
            space = self.store.space_by_slug(slug)
            if space is None:
                known = ", ".join(sorted(s["slug"] for s in self.store.spaces.values()))
                raise KeyError(f"no space with slug '{slug}' (spaces: {known})")
            return dict(space)

    def personas_source(self, space_slug: str) -> dict[str, Any]:
        """The space's internal Profiles source (catalog type personas-compute), as GET /sources shows it."""
        slug = f"personas_{self.space(space_slug)['slug']}"
        with self.store_lock:
            source = self.store.source_by_slug(slug)
            if source is None:
                raise KeyError(f"the space '{space_slug}' has no source '{slug}' (deleted?)")
            return copy.deepcopy(source_view(source))


def _initial_store(state_file: Path | None, now: float, seed_flex_events: bool) -> Store:
    if state_file is not None and state_file.exists():
        store = Store.load(state_file)
        if seed_flex_events:
            for space_id in store.spaces:
                add_flex_events(store, space_id, now)
        return store
    return seeded_store(now, with_flex_events=seed_flex_events)


def _check_settings_patch(mode: str) -> None:
    if mode not in SETTINGS_PATCH_MODES:
        raise ValueError(f"settings_patch must be one of {', '.join(SETTINGS_PATCH_MODES)}, not {mode!r}")


def _check_settings(*, token: str, time_scale: float, latency_ms: float, default_rate_limit: int) -> None:
    if not token or not token.strip():
        raise ValueError("the emulator needs a non-empty token")
    if time_scale <= 0:
        raise ValueError(f"time_scale must be > 0, not {time_scale}")
    if latency_ms < 0:
        raise ValueError(f"latency_ms must be >= 0, not {latency_ms}")
    if default_rate_limit < 1:
        raise ValueError(f"default_rate_limit must be >= 1, not {default_rate_limit}")


__all__ = ["DEFAULT_TOKEN", "SETTINGS_PATCH_ENV", "TOKEN_ENV", "Emulator", "Record", "RecordedRequest"]
