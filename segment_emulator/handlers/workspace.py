"""The workspace, its Unify spaces, and the events and properties a space has seen (Space Schema)."""

from __future__ import annotations

from segment_emulator.errors import ApiProblem, not_found
from segment_emulator.handlers.common import Call, listed, one_of, require
from segment_emulator.store import Record

SORT_KEYS = ("lastSeenAt", "name")
SORT_DIRECTIONS = ("asc", "desc")


def get_workspace(call: Call) -> Record:
    return {"workspace": dict(call.store.workspace)}


def list_spaces(call: Call) -> Record:
    return listed("spaces", [dict(space) for space in call.store.spaces.values()], call)


def get_space(call: Call) -> Record:
    return {"space": dict(require(call.store.spaces, call.params["spaceId"], "space"))}


def list_events(call: Call) -> Record:
    space = require(call.store.spaces, call.params["spaceId"], "space")
    events = call.store.events.get(space["id"], {}).values()
    shown = [{"name": e["name"], "type": e["type"], "lastSeenAt": e["lastSeenAt"]} for e in events]
    return listed("events", _searched_and_sorted(call, shown), call)


def list_properties_from_event(call: Call) -> Record:
    space = require(call.store.spaces, call.params["spaceId"], "space")
    event_name = call.params["eventName"]
    event = call.store.events.get(space["id"], {}).get(event_name)
    if event is None:
        raise not_found("event", event_name)
    samples = _samples_wanted(call)
    properties = [
        _property_view(name, prop, event_name, samples) for name, prop in event["properties"].items()
    ]
    return listed("eventProperties", _searched_and_sorted(call, properties), call)


def _property_view(name: str, prop: Record, event_name: str, samples: int | None) -> Record:
    view: Record = {
        "name": name,
        "type": prop["type"],
        "eventName": event_name,
        "lastSeenAt": prop["lastSeenAt"],
    }
    if samples is not None:
        view["samples"] = list(prop.get("samples", []))[:samples]
    return view


def _samples_wanted(call: Call) -> int | None:
    """How many sample values to include per property; None when they are not asked for."""
    include = one_of(call, "includeSampleValues", ("true", "false"))
    count = call.query_value("samplesCount")
    if count is not None and not (count.isdigit() and int(count) >= 1):
        raise ApiProblem(422, '"samplesCount" must be a positive integer', field="samplesCount")
    if include != "true":
        return None
    return int(count) if count is not None else 10


def _searched_and_sorted(call: Call, items: list[Record]) -> list[Record]:
    search = (call.query_value("search") or "").lower()
    sort_by = one_of(call, "sortBy", SORT_KEYS)
    direction = one_of(call, "sortDir", SORT_DIRECTIONS)
    found = [item for item in items if search in item["name"].lower()]
    if sort_by is not None:
        found.sort(key=lambda item: str(item[sort_by]), reverse=direction == "desc")
    elif direction == "desc":
        found.reverse()
    return found
