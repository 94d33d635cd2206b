"""Control endpoints under ``/__emulator/`` (never a Segment path), for tests and demos.

They take the emulator's own token (``Authorization: Bearer <token>``, as the Segment paths do): the state and
the Profile API tokens are what Segment keeps behind its login. ``segment_emulator.server`` refuses, before
any of this, a request whose Host is not a loopback name.

GET    /__emulator/requests          the request log          DELETE it to clear it
GET    /__emulator/faults            pending faults           POST one (JSON, as Emulator.add_fault); DELETE all
POST   /__emulator/reset             back to the seeds        body {"seedFlexEvents": true} to add Flex events
POST   /__emulator/seed-flex-events  Flex events in a space   body {"spaceSlug": "..."} (default: the dev space)
GET    /__emulator/state             the whole state as JSON
POST   /__emulator/profiles          seed a Profile API profile: {"userId", "traits"?, "spaceSlug"?}
GET    /__emulator/profile-api-tokens  every space's Profile API token; POST {"token", "spaceSlug"?} sets one
POST   /__emulator/warehouse-syncs   record a warehouse load: {"warehouseId", "sourceId", "status"?, "count"?}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from segment_emulator.faults import FAULT_KINDS
from segment_emulator.pipeline import Incoming, Outgoing, Pipeline
from segment_emulator.seeds import DEV_SPACE_SLUG

PREFIX = "/__emulator/"
FAULT_FIELDS = frozenset(
    {"kind", "operation", "method", "path", "count", "status", "body", "headers", "seconds", "signal"}
)


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def is_control_path(path: str) -> bool:
    return path.startswith(PREFIX)


def serve_control(pipeline: Pipeline, incoming: Incoming) -> Outgoing:
    action = _ACTIONS.get((incoming.method, incoming.path[len(PREFIX) :].rstrip("/")))
    try:
        if not pipeline.authorized(incoming.header("Authorization")):
            raise ControlError(
                401, "the control endpoints need the emulator's token: Authorization: Bearer <token>"
            )
        if action is None:
            raise ControlError(404, f"No control endpoint {incoming.method} {incoming.path}")
        status, payload = action(pipeline, _json_object(incoming.body))
    except ControlError as error:
        status, payload = error.status, {"error": str(error)}
    return Outgoing(status, payload, {"Content-Type": "application/json"})


Result = tuple[int, Any]


def _get_requests(pipeline: Pipeline, body: dict[str, Any]) -> Result:
    return 200, {"requests": [record.to_json() for record in pipeline.requests()]}


def _clear_requests(pipeline: Pipeline, body: dict[str, Any]) -> Result:
    pipeline.clear_requests()
    return 200, {"status": "cleared"}


def _get_faults(pipeline: Pipeline, body: dict[str, Any]) -> Result:
    return 200, {"faults": [fault.to_json() for fault in pipeline.faults.pending()]}


def _add_fault(pipeline: Pipeline, body: dict[str, Any]) -> Result:
    unknown = sorted(set(body) - FAULT_FIELDS)
    if unknown:
        raise ControlError(
            400, f"unknown fault fields: {', '.join(unknown)} (known: {', '.join(sorted(FAULT_FIELDS))})"
        )
    if "kind" not in body:
        raise ControlError(400, "a fault needs a kind: " + ", ".join(FAULT_KINDS))
    options = {key: value for key, value in body.items() if key != "kind"}
    try:
        fault = pipeline.faults.add(str(body["kind"]), **options)
    except (TypeError, ValueError) as error:
        raise ControlError(400, str(error)) from None
    return 201, {"fault": fault.to_json()}


def _clear_faults(pipeline: Pipeline, body: dict[str, Any]) -> Result:
    pipeline.faults.clear()
    return 200, {"status": "cleared"}


def _reset(pipeline: Pipeline, body: dict[str, Any]) -> Result:
    pipeline.reset(seed_flex_events=bool(body.get("seedFlexEvents", False)))
    return 200, {"status": "reset"}


def _seed_flex_events(pipeline: Pipeline, body: dict[str, Any]) -> Result:
    try:
        space = pipeline.seed_flex_events(str(body.get("spaceSlug", DEV_SPACE_SLUG)))
    except KeyError as error:
        raise ControlError(404, str(error.args[0])) from None
    return 200, {"space": space}


def _seed_profile(pipeline: Pipeline, body: dict[str, Any]) -> Result:
    try:
        profile = pipeline.seed_profile(
            str(body.get("spaceSlug", DEV_SPACE_SLUG)), body.get("userId", ""), body.get("traits")
        )
    except KeyError as error:
        raise ControlError(404, str(error.args[0])) from None
    except ValueError as error:
        raise ControlError(400, str(error)) from None
    return 201, {"profile": profile}


def _profile_api_tokens(pipeline: Pipeline, body: dict[str, Any]) -> Result:
    with pipeline.lock:
        slugs = sorted(space["slug"] for space in pipeline.store.spaces.values())
    return 200, {"tokens": {slug: pipeline.profile_api_token(slug) for slug in slugs}}


def _set_profile_api_token(pipeline: Pipeline, body: dict[str, Any]) -> Result:
    slug = str(body.get("spaceSlug", DEV_SPACE_SLUG))
    try:
        pipeline.set_profile_api_token(slug, body.get("token", ""))
    except KeyError as error:
        raise ControlError(404, str(error.args[0])) from None
    except ValueError as error:
        raise ControlError(400, str(error)) from None
    return 200, {"spaceSlug": slug, "token": pipeline.profile_api_token(slug)}


def _record_warehouse_sync(pipeline: Pipeline, body: dict[str, Any]) -> Result:
    options = {key: body[key] for key in ("status", "count") if key in body}
    try:
        report = pipeline.record_warehouse_sync(
            str(body.get("warehouseId")), str(body.get("sourceId")), **options
        )
    except KeyError as error:
        raise ControlError(404, str(error.args[0])) from None
    except ValueError as error:
        raise ControlError(400, str(error)) from None
    return 201, {"report": report}


def _state(pipeline: Pipeline, body: dict[str, Any]) -> Result:
    with pipeline.lock:
        return 200, pipeline.store.to_json()


_ACTIONS: dict[tuple[str, str], Callable[[Pipeline, dict[str, Any]], Result]] = {
    ("GET", "requests"): _get_requests,
    ("DELETE", "requests"): _clear_requests,
    ("GET", "faults"): _get_faults,
    ("POST", "faults"): _add_fault,
    ("DELETE", "faults"): _clear_faults,
    ("POST", "reset"): _reset,
    ("POST", "seed-flex-events"): _seed_flex_events,
    ("GET", "state"): _state,
    ("POST", "profiles"): _seed_profile,
    ("GET", "profile-api-tokens"): _profile_api_tokens,
    ("POST", "profile-api-tokens"): _set_profile_api_token,
    ("POST", "warehouse-syncs"): _record_warehouse_sync,
}


def _json_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ControlError(400, "the body is not valid JSON") from None
    if not isinstance(document, dict):
        raise ControlError(400, "the body must be a JSON object")
    return document
