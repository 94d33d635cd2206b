"""What happens to one request, independent of HTTP plumbing.

Order: log it → latency → route → injected fault → auth (401) → unknown route (404) → rate limit (429) →
media type (406 for Accept, 415 for Content-Type) → JSON body and its model (422) → the handler, under the store lock (404, 409, 422) → save
the state → answer, and hand the exchange to ``on_exchange``. Profile API paths (``/v1/spaces/…``) leave the
order after the injected fault for ``segment_emulator.profiles``, which checks their Basic auth.
"""

from __future__ import annotations

import hmac
import itertools
import json
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segment_emulator import profiles
from segment_emulator.clock import Clock
from segment_emulator.errors import ApiProblem, error_body
from segment_emulator.faults import Fault, FaultBook
from segment_emulator.handlers import warehouses
from segment_emulator.handlers.common import Call
from segment_emulator.media import negotiate
from segment_emulator.models import parse_body
from segment_emulator.pagination import encode_cursor
from segment_emulator.ratelimit import Quota, RateLimiter
from segment_emulator.records import RecordedRequest
from segment_emulator.routing import Operation, route
from segment_emulator.seeds import add_flex_events, seeded_store
from segment_emulator.store import Record, Store
from segment_emulator.views import DEFAULT_SETTINGS_PATCH, SettingsPatch, without_nulls

JSON = "application/json"


@dataclass(frozen=True)
class Incoming:
    method: str
    path: str
    """Percent-encoded, without the query string."""
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)


@dataclass
class Outgoing:
    status: int
    payload: Any
    """The JSON document sent (or the text, for a fault body given as a str)."""
    headers: dict[str, str] = field(default_factory=dict)
    drip_seconds: float | None = None
    """Send the body one byte at a time, this long apart (the ``drip`` fault)."""

    def encoded(self) -> bytes:
        if isinstance(self.payload, str):
            return self.payload.encode("utf-8")
        return json.dumps(self.payload).encode("utf-8")


ExchangeHook = Callable[[RecordedRequest], None]


class Pipeline:
    """Serves Segment operations from a store; the HTTP server and the Python API both drive it."""

    def __init__(
        self,
        *,
        token: str,
        store: Store,
        limiter: RateLimiter,
        clock: Clock,
        time_scale: float,
        latency_ms: float = 0,
        settings_patch: SettingsPatch = DEFAULT_SETTINGS_PATCH,
        state_file: Path | None = None,
        on_exchange: ExchangeHook | None = None,
    ) -> None:
        self._token = token
        self.store = store
        self.limiter = limiter
        self.clock = clock
        self.time_scale = time_scale
        self.latency_ms = latency_ms
        self.settings_patch = settings_patch
        self.state_file = state_file
        self.on_exchange = on_exchange
        self.faults = FaultBook()
        self.lock = threading.RLock()
        self._log: list[RecordedRequest] = []
        self._log_lock = threading.Lock()
        self._pages = itertools.count(1)
        # Requests waiting out a "hang" give up when the emulator is reset or stopped.
        self._epoch = 0
        self._wake = threading.Event()

    # ------------------------------------------------------------------------------------------- lifecycle

    def reset(self, *, seed_flex_events: bool = False) -> None:
        """Back to the seeds: state, faults, rate-limit windows and request log; hung requests are dropped."""
        with self.lock:
            self.store.restore(
                seeded_store(self.clock(), seed=self.store.seed, with_flex_events=seed_flex_events)
            )
            self.faults.clear()
            self.limiter.reset()
            self.clear_requests()
            self._interrupt_waits()
            self.save()

    def shutdown(self) -> None:
        with self.lock:
            self._interrupt_waits()

    def seed_flex_events(self, space_slug: str) -> Record:
        with self.lock:
            space = self.store.space_by_slug(space_slug)
            if space is None:
                known = ", ".join(sorted(s["slug"] for s in self.store.spaces.values()))
                raise KeyError(f"no space with slug '{space_slug}' (spaces: {known})")
            add_flex_events(self.store, space["id"], self.clock())
            self.save()
            return dict(space)

    def seed_profile(self, space_slug: str, user_id: str, traits: dict[str, Any] | None) -> Record:
        with self.lock:
            profile = profiles.seed_profile(self.store, self._space(space_slug)["id"], user_id, traits)
            self.save()
            return profile

    def profile_api_token(self, space_slug: str) -> str:
        with self.lock:
            return profiles.space_token(self.store, self._space(space_slug)["id"])

    def set_profile_api_token(self, space_slug: str, token: str) -> None:
        with self.lock:
            profiles.set_space_token(self.store, self._space(space_slug)["id"], token)
            self.save()

    def record_warehouse_sync(
        self, warehouse_id: str, source_id: str, *, status: str = "success", count: int = 100
    ) -> Record:
        with self.lock:
            report = warehouses.record_warehouse_sync(
                self.store, warehouse_id, source_id, now=self.clock(), status=status, count=count
            )
            self.save()
            return report

    def _space(self, space_slug: str) -> Record:
        space = self.store.space_by_slug(space_slug)
        if space is None:
            known = ", ".join(sorted(s["slug"] for s in self.store.spaces.values()))
            raise KeyError(f"no space with slug '{space_slug}' (spaces: {known})")
        return space

    def save(self) -> None:
        if self.state_file is not None:
            with self.lock:
                self.store.save(self.state_file)

    def _interrupt_waits(self) -> None:
        self._epoch += 1
        self._wake.set()
        self._wake = threading.Event()

    # --------------------------------------------------------------------------------------------- the log

    def requests(self) -> list[RecordedRequest]:
        with self._log_lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._log_lock:
            self._log.clear()

    # ------------------------------------------------------------------------------------------- serving

    def authorized(self, authorization: str | None) -> bool:
        """Whether an Authorization header carries the emulator's token (compared in constant time)."""
        expected = f"Bearer {self._token}".encode()
        return authorization is not None and hmac.compare_digest(authorization.encode(), expected)

    def serve(self, incoming: Incoming) -> Outgoing | None:
        """The answer to one Segment API request; None means "close the connection without answering"."""
        record = self._record(incoming)
        try:
            outgoing = self._serve(incoming, record)
        except Exception as error:  # a bug in the emulator: answer it rather than hang the client
            traceback.print_exc(file=sys.stderr)
            outgoing = _error(
                ApiProblem(500, f"segment-emulator failed: {type(error).__name__}: {error}"), JSON
            )
        self._finish(record, outgoing)
        return outgoing

    def _serve(self, incoming: Incoming, record: RecordedRequest) -> Outgoing | None:
        wake, epoch = self._wake, self._epoch
        # Waits (latency, hangs) end early when the emulator is reset or stopped; the request is then dropped.
        if self.latency_ms > 0 and wake.wait(self.latency_ms / 1000):
            return None
        found = route(incoming.method, incoming.path)
        operation, params = found if found else (None, {})
        record.operation_id = operation.operation_id if operation else None
        fault = self.faults.take(record.operation_id, incoming.method, incoming.path)
        if fault is not None:
            record.fault = fault.kind
            if fault.kind in ("status", "rate_limit"):
                return _fault_answer(fault)
            if fault.kind == "drop":
                return None
            if fault.kind == "hang" and (wake.wait(fault.seconds) or epoch != self._epoch):
                return None
        if operation is None and profiles.is_profile_api_path(incoming.path):
            return self._serve_profile_api(incoming)
        if not self.authorized(incoming.header("Authorization")):
            # Never echo what was sent: it may be a real token.
            return _error(
                ApiProblem(401, "Missing or invalid token: send Authorization: Bearer <token>"), JSON
            )
        if operation is None:
            return _error(ApiProblem(404, f"No operation {incoming.method} {incoming.path}"), JSON)
        quota = self.limiter.consume(self._token, operation.operation_id)
        if quota is not None and not quota.allowed:
            problem = ApiProblem(429, "Too many requests", data=quota.error_data())
            return _error(problem, JSON, quota)
        return self._dispatch(operation, params, incoming, record, quota, fault)

    def _serve_profile_api(self, incoming: Incoming) -> Outgoing:
        """The Profile API (its own host at Segment), on this port: Basic auth per space, its own errors."""
        with self.lock:
            status, payload = profiles.serve(
                self.store, incoming.method, incoming.path, incoming.query, incoming.header("Authorization")
            )
        return Outgoing(status, payload, {"Content-Type": JSON})

    def _dispatch(
        self,
        operation: Operation,
        params: dict[str, str],
        incoming: Incoming,
        record: RecordedRequest,
        quota: Quota | None,
        fault: Fault | None,
    ) -> Outgoing | None:
        content_type = JSON
        try:
            body_model = operation.body_model(operation.versions[0])
            has_body = body_model is not None and bool(incoming.body.strip())
            negotiated = negotiate(
                incoming.header("Accept"), incoming.header("Content-Type"), has_body, operation.versions
            )
            record.version, content_type = negotiated.version, negotiated.content_type
            data = self._run(operation, params, incoming, negotiated.version)
        except ApiProblem as problem:
            return _error(problem, content_type, quota)
        record.committed = True
        if fault is not None and fault.kind == "commit_then_fail":
            return None if fault.status is None else _fault_answer(fault)
        if fault is not None and fault.kind == "endless_pages" and isinstance(data.get("pagination"), dict):
            past_the_end = encode_cursor(10**9 + next(self._pages))
            data = {**data, "pagination": {**data["pagination"], "next": past_the_end}}
        return Outgoing(
            operation.success_status,
            {"data": without_nulls(data)},
            {"Content-Type": content_type, **_quota_headers(quota)},
            drip_seconds=fault.seconds if fault is not None and fault.kind == "drip" else None,
        )

    def _run(self, operation: Operation, params: dict[str, str], incoming: Incoming, version: str) -> Record:
        model = operation.body_model(version)
        body = parse_body(model, _json_body(incoming.body)) if model is not None else None
        with self.lock:
            call = Call(
                store=self.store,
                params=params,
                query=incoming.query,
                body=body,
                version=version,
                now=self.clock(),
                time_scale=self.time_scale,
                settings_patch=self.settings_patch,
            )
            data = operation.handler(call)
            if operation.mutates:
                self.save()
            return data

    # ----------------------------------------------------------------------------------------- recording

    def _record(self, incoming: Incoming) -> RecordedRequest:
        record = RecordedRequest(
            method=incoming.method,
            path=incoming.path,
            query={key: list(values) for key, values in incoming.query.items()},
            headers=dict(incoming.headers),
            body=_logged_body(incoming.body),
            timestamp=self.clock(),
        )
        with self._log_lock:
            self._log.append(record)
        return record

    def _finish(self, record: RecordedRequest, outgoing: Outgoing | None) -> None:
        if outgoing is not None:
            record.status = outgoing.status
            record.response_body = outgoing.payload
            record.response_headers = dict(outgoing.headers)
        if self.on_exchange is not None:
            try:
                self.on_exchange(record)
            except Exception:
                traceback.print_exc(file=sys.stderr)


def _json_body(raw: bytes) -> Any:
    """The request body as JSON ({} when empty), or 422."""
    if not raw.strip():
        return {}
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ApiProblem(422, "The request body is not valid JSON") from None


def _logged_body(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return raw.decode("utf-8", errors="replace")


def _quota_headers(quota: Quota | None) -> dict[str, str]:
    return quota.headers() if quota is not None else {}


def _error(problem: ApiProblem, content_type: str, quota: Quota | None = None) -> Outgoing:
    return Outgoing(problem.status, problem.body(), {"Content-Type": content_type, **_quota_headers(quota)})


def _fault_answer(fault: Fault) -> Outgoing:
    status = fault.status if fault.status is not None else 500
    payload = fault.body if fault.body is not None else error_body(status)
    content_type = "text/plain; charset=utf-8" if isinstance(payload, str) else JSON
    return Outgoing(status, payload, {"Content-Type": content_type, **fault.headers})
