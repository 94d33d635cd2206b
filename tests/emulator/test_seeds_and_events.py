"""The seeds (workspace, spaces, their Profiles sources, the catalog) and the events a space has seen."""

from __future__ import annotations

import re
from typing import Any

import pytest

from segment_emulator import Emulator
from tests.emulator.conftest import DEV_SPACE, PROD_SPACE, PROFILES, Api, EmulatorFactory, data, error

SEGMENT_ID = re.compile(r"^[0-9A-Za-z]{22}$")
WRITE_KEY = re.compile(r"^[0-9A-Za-z]{32}$")
INITIATED = "Flex - Engagement Initiated"
COMPLETED = "Flex - Engagement Completed"


def test_the_workspace(api: Api) -> None:
    workspace = data(api.get("/"))["workspace"]

    assert (workspace["slug"], workspace["name"]) == ("flex-emulator", "Flex Emulator")
    assert SEGMENT_ID.match(workspace["id"])


def test_two_spaces_each_with_its_profiles_source(api: Api) -> None:
    spaces = data(api.get("/spaces"))["spaces"]
    sources = {s["slug"]: s for s in data(api.get("/sources"))["sources"]}

    assert [(s["slug"], s["name"]) for s in spaces] == [
        (DEV_SPACE, "Unified Profiles Dev"),
        (PROD_SPACE, "Unified Profiles Prod"),
    ]
    for space in spaces:
        source = sources[f"personas_{space['slug']}"]
        assert SEGMENT_ID.match(space["id"]) and SEGMENT_ID.match(source["id"])
        assert source["name"] == f"Personas {space['name']}"
        assert (source["metadata"]["id"], source["metadata"]["slug"]) == ("dBg7wLNWBb", "personas-compute")
        assert len(source["writeKeys"]) == 1 and WRITE_KEY.match(source["writeKeys"][0])


def test_seeds_are_the_same_in_every_emulator(make_emulator: EmulatorFactory) -> None:
    first, second = make_emulator(), make_emulator()

    assert first.store.to_json() == second.store.to_json()
    assert Api(first).source("same")["id"] == Api(second).source("same")["id"]


def test_the_catalog_holds_the_real_ids(api: Api) -> None:
    sources = {s["slug"]: s["id"] for s in data(api.get("/catalog/sources"))["sourcesCatalog"]}
    warehouses = {w["slug"]: w["id"] for w in data(api.get("/catalog/warehouses"))["warehousesCatalog"]}

    assert sources == {
        "salesforce": "2baks93n",
        "snowflake": "BQp3zGUgjV",
        "bigquery": "78PbvP2yv8",
        "postgres": "WvlvcGEJsT",
        "redshift": "0yMe8VfuDc",
        "databricks": "aSPS4yE0CZ",
        "personas-compute": "dBg7wLNWBb",
    }
    assert warehouses == {
        "snowflake": "CCIl4HLQPz",
        "bigquery": "kwX50Df0hr",
        "postgres": "55d3d3aea3c",
        "redshift": "aea3c55dsz",
    }


def test_segment_profiles_and_its_actions(api: Api) -> None:
    profiles = data(api.get(f"/catalog/destinations/{PROFILES}"))["destinationMetadata"]
    actions = {a["slug"]: a for a in profiles["actions"]}

    assert profiles["slug"] == "actions-segment-profiles"
    assert {slug: a["id"] for slug, a in actions.items()} == {
        "sendIdentify": "vm2tNA5U1zxUusQkdC4D7Z",
        "sendGroup": "zfCkGpUYbWN9ns5jr1jvU",
        "sendSubscription": "bJDm8aeYaQaGLVGtnRa28W",
        "sendTrack": "ujsJxBdpg7XkYwKSKREnQt",
    }
    identify = {f["fieldKey"]: f for f in actions["sendIdentify"]["fields"]}
    assert list(identify) == [
        "engage_space", "user_id", "anonymous_id", "group_id", "traits", "timestamp", "message_id", "consent"
    ]  # fmt: skip
    assert identify["engage_space"]["required"] and identify["engage_space"]["dynamic"]
    assert [f for f, field in identify.items() if field["required"]] == ["engage_space"]
    assert {p["actionId"] for p in profiles["presets"]} >= {"vm2tNA5U1zxUusQkdC4D7Z"}


def test_snowflake_options_mark_the_private_key_secret_and_required(api: Api) -> None:
    snowflake = data(api.get("/catalog/warehouses/CCIl4HLQPz"))["warehouseMetadata"]
    options = {o["name"]: o for o in snowflake["options"]}

    assert {"account", "database", "warehouse", "username", "private_key"} <= set(options)
    assert (options["private_key"]["type"], options["private_key"]["required"]) == ("password", True)


# ----------------------------------------------------------------------------------------------- events


def events_of(api: Api, space_id: str, **params: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = data(api.get(f"/spaces/{space_id}/events", params=params))["events"]
    return events


def properties_of(api: Api, space_id: str, event: str, **params: Any) -> list[dict[str, Any]]:
    path = f"/spaces/{space_id}/events/{event}/properties"
    found: list[dict[str, Any]] = data(api.get(path, params=params))["eventProperties"]
    return found


def test_a_fresh_space_has_seen_no_events(api: Api, emulator: Emulator) -> None:
    assert events_of(api, emulator.space(DEV_SPACE)["id"]) == []


def test_the_flex_events_once_seeded(api: Api, emulator: Emulator) -> None:
    space_id = emulator.seed_flex_events(DEV_SPACE)["id"]

    events = events_of(api, space_id)

    assert sorted(e["name"] for e in events) == [COMPLETED, INITIATED]
    assert {e["type"] for e in events} == {"TRACK"}
    assert [p["name"] for p in properties_of(api, space_id, INITIATED)] == [
        "customerStartTime",
        "direction",
        "duration",
        "lastKnownAgentWorkerSid",
        "firstKnownAgentWorkerSid",
        "interactionSid",
        "channelSid",
        "channelType",
    ]
    completed = properties_of(api, space_id, COMPLETED)
    assert [p["name"] for p in completed] == ["channelSid", "interactionSid", "codes", "sentiment"]
    assert {(p["type"], p["eventName"]) for p in completed} == {("PROPERTY", COMPLETED)}


def test_samples_only_when_asked_for(api: Api, emulator: Emulator) -> None:
    space_id = emulator.seed_flex_events(DEV_SPACE)["id"]

    plain = properties_of(api, space_id, INITIATED, search="direction")
    sampled = properties_of(api, space_id, INITIATED, search="direction", includeSampleValues="true")
    one = properties_of(
        api, space_id, INITIATED, search="direction", includeSampleValues="true", samplesCount=1
    )

    assert "samples" not in plain[0]
    assert sampled[0]["samples"] == ["Inbound", "Outbound"]
    assert one[0]["samples"] == ["Inbound"]


def test_search_and_sort(api: Api, emulator: Emulator) -> None:
    space_id = emulator.seed_flex_events(DEV_SPACE)["id"]

    assert [e["name"] for e in events_of(api, space_id, search="completed")] == [COMPLETED]
    names = [e["name"] for e in events_of(api, space_id, sortBy="name", sortDir="desc")]
    assert names == [INITIATED, COMPLETED]
    sids = [p["name"] for p in properties_of(api, space_id, INITIATED, search="Sid", sortBy="name")]
    assert sids == ["channelSid", "firstKnownAgentWorkerSid", "interactionSid", "lastKnownAgentWorkerSid"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"sortBy": "size"}, "sortBy"), ({"sortDir": "up"}, "sortDir"), ({"samplesCount": "0"}, "samplesCount")],
)
def test_bad_event_query_parameters_are_422(
    api: Api, emulator: Emulator, params: dict[str, str], field: str
) -> None:
    space_id = emulator.seed_flex_events(DEV_SPACE)["id"]

    item = error(api.get(f"/spaces/{space_id}/events/{INITIATED}/properties", params=params), 422)

    assert item["field"] == field


def test_an_event_the_space_never_saw_is_404(api: Api, emulator: Emulator) -> None:
    space_id = emulator.space(PROD_SPACE)["id"]

    assert INITIATED in error(api.get(f"/spaces/{space_id}/events/{INITIATED}/properties"), 404)["message"]
