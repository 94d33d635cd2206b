"""Destinations and mappings, Reverse ETL models and manual syncs, computed traits."""

from __future__ import annotations

import pytest

from segment_emulator import Emulator
from segment_emulator.handlers.computed_traits import trait_key
from tests.emulator.conftest import (
    DEV_SPACE,
    PROD_SPACE,
    SEND_IDENTIFY,
    Api,
    EmulatorFactory,
    FakeClock,
    data,
    error,
)

SEND_TRACK = "ujsJxBdpg7XkYwKSKREnQt"


def test_a_destination_starts_disabled_and_can_lose_its_name(api: Api) -> None:
    destination = api.destination(api.source()["id"])
    path = f"/destinations/{destination['id']}"

    assert (destination["enabled"], destination["name"], destination["settings"]) == (False, "Profiles", {})
    assert destination["metadata"]["slug"] == "actions-segment-profiles"
    updated = data(api.patch(path, {"name": None, "enabled": True, "settings": {"x": 1}}))["destination"]
    assert (updated.get("name"), updated["enabled"], updated["settings"]) == (None, True, {"x": 1})
    assert data(api.patch(path, {"enabled": False}))["destination"]["settings"] == {"x": 1}


def test_a_mapping_carries_its_action_slug_from_the_catalog(api: Api) -> None:
    source = api.source()["id"]
    destination = api.destination(source)["id"]
    model = api.model(source)["id"]

    mapping = api.subscription(destination, actionId=SEND_TRACK, modelId=model, settings={"event_name": "x"})

    assert (mapping["actionId"], mapping["actionSlug"], mapping["destinationId"]) == (
        SEND_TRACK,
        "sendTrack",
        destination,
    )
    assert (mapping["modelId"], mapping.get("reverseETLSchedule"), mapping["settings"]) == (
        model,
        None,
        {"event_name": "x"},
    )


def test_a_mapping_update_sets_model_and_schedule_and_leaves_the_rest(api: Api) -> None:
    source = api.source()["id"]
    destination = api.destination(source)["id"]
    model = api.model(source)["id"]
    mapping = api.subscription(destination, settings={"user_id": {"@path": "$.properties.ID"}})
    body = {
        "input": {
            "reverseETLModelId": model,
            "reverseETLSchedule": {"strategy": "PERIODIC", "config": {"interval": "1h"}},
            "enabled": False,
        }
    }

    updated = data(api.patch(f"/destinations/{destination}/subscriptions/{mapping['id']}", body))[
        "subscription"
    ]

    assert updated["modelId"] == model
    assert updated["reverseETLSchedule"] == {"strategy": "PERIODIC", "config": {"interval": "1h"}}
    assert (updated["enabled"], updated["name"], updated["trigger"]) == (
        False,
        mapping["name"],
        mapping["trigger"],
    )
    assert updated["settings"] == mapping["settings"]


def test_mappings_are_listed_per_destination(api: Api) -> None:
    source = api.source()["id"]
    first, second = api.destination(source)["id"], api.destination(source)["id"]
    mine = [api.subscription(first, name=f"m{n}")["id"] for n in range(2)]
    api.subscription(second)

    listed = data(api.get(f"/destinations/{first}/subscriptions"))["subscriptions"]

    assert [s["id"] for s in listed] == mine


def test_deleting_a_destination_deletes_its_mappings(api: Api, emulator: Emulator) -> None:
    destination = api.destination(api.source()["id"])["id"]
    api.subscription(destination)

    data(api.delete(f"/destinations/{destination}"))

    assert emulator.store.subscriptions == {}
    error(api.get(f"/destinations/{destination}/subscriptions"), 404)


# ------------------------------------------------------------------------------------------- Reverse ETL


def test_a_model_keeps_its_source(api: Api) -> None:
    source = api.source()["id"]
    model = api.model(source)

    refused = error(
        api.patch(f"/reverse-etl-models/{model['id']}", {"sourceId": "other", "name": "Renamed"}), 422
    )

    assert refused == {
        "type": "input-validation",
        "message": '"sourceId" is not allowed',
        "field": "sourceId",
    }
    assert data(api.get(f"/reverse-etl-models/{model['id']}"))["reverseEtlModel"] == model


def test_models_are_listed_under_models(api: Api) -> None:
    source = api.source()["id"]
    created = [api.model(source, name=f"m{n}")["id"] for n in range(2)]

    assert [m["id"] for m in data(api.get("/reverse-etl-models"))["models"]] == created


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def start_sync(api: Api) -> tuple[str, str]:
    source = api.source()["id"]
    model = api.model(source)["id"]
    mapping = api.subscription(api.destination(source)["id"], modelId=model)["id"]
    body = {"sourceId": source, "modelId": model, "subscriptionId": mapping}
    started = data(api.post("/reverse-etl-syncs", body))["reverseETLManualSync"]
    return model, started["syncId"]


def test_a_manual_sync_runs_then_succeeds_after_the_scaled_time(
    make_emulator: EmulatorFactory, clock: FakeClock
) -> None:
    api = Api(make_emulator(clock=clock, time_scale=0.5))
    model, sync = start_sync(api)
    path = f"/reverse-etl-models/{model}/syncs/{sync}"

    running = data(api.get(path))["reverseETLSyncStatus"]
    clock.advance(4.9)
    still_running = data(api.get(path))["reverseETLSyncStatus"]
    clock.advance(0.1)
    done = data(api.get(path))["reverseETLSyncStatus"]

    assert (running["syncStatus"], running.get("finishedAt"), running.get("extractPhase")) == (
        "IN_PROGRESS",
        None,
        None,
    )
    assert still_running["syncStatus"] == "IN_PROGRESS"
    assert (done["syncStatus"], done["duration"]) == ("SUCCESS", "5.000s")
    assert done["finishedAt"] > done["startedAt"]
    assert done["extractPhase"]["extractCount"] == done["loadPhase"]["deliverSuccessCount"]
    assert (done["syncId"], done["modelId"]) == (sync, model)


def test_a_sync_is_only_found_under_its_model(api: Api) -> None:
    _, sync = start_sync(api)
    other_model = api.model(api.source("other")["id"])["id"]

    error(api.get(f"/reverse-etl-models/{other_model}/syncs/{sync}"), 404)


def test_a_sync_needs_a_model_of_the_source_and_a_mapping_of_the_model(api: Api) -> None:
    source = api.source()["id"]
    model = api.model(source)["id"]
    destination = api.destination(source)["id"]
    unrelated_mapping = api.subscription(destination)["id"]
    foreign_model = api.model(api.source("foreign")["id"])["id"]
    mapping = api.subscription(destination, modelId=model)["id"]

    wrong_model = {"sourceId": source, "modelId": foreign_model, "subscriptionId": mapping}
    wrong_mapping = {"sourceId": source, "modelId": model, "subscriptionId": unrelated_mapping}

    assert error(api.post("/reverse-etl-syncs", wrong_model), 422)["field"] == "modelId"
    assert error(api.post("/reverse-etl-syncs", wrong_mapping), 422)["field"] == "subscriptionId"


# --------------------------------------------------------------------------------------- computed traits


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Total inbounds", "total_inbounds"),
        ("Frequent inbound channel", "frequent_inbound_channel"),
        ("Sentiment in last interaction", "sentiment_in_last_interaction"),
        ("lastKnownAgent", "last_known_agent"),
        ("  LTV (90 days) - v2 ", "ltv_90_days_v2"),
    ],
)
def test_a_trait_key_is_its_name_in_snake_case(name: str, key: str) -> None:
    assert trait_key(name) == key


def test_a_new_trait(api: Api, emulator: Emulator) -> None:
    space = emulator.space(DEV_SPACE)["id"]

    trait = api.trait(space, "Total inbounds", options={"includeHistoricalData": True}, description="Inbound")

    assert (trait["spaceId"], trait["key"], trait["status"], trait["enabled"]) == (
        space,
        "total_inbounds",
        "Computing",
        True,
    )
    assert trait["options"] == {"includeHistoricalData": True}
    assert trait["description"] == "Inbound"
    assert trait["createdAt"] == trait["updatedAt"] and trait["createdBy"] == trait["updatedBy"]


def test_an_update_keeps_the_key(api: Api, emulator: Emulator) -> None:
    space = emulator.space(DEV_SPACE)["id"]
    trait = api.trait(space, "Total inbounds")
    definition = {"type": "USERS", "query": "event('Flex - Engagement Completed').count()"}

    updated = data(
        api.patch(
            f"/spaces/{space}/computed-traits/{trait['id']}",
            {"name": "Inbound total", "definition": definition},
        )
    )["computedTrait"]

    assert (updated["name"], updated["key"], updated["definition"]) == (
        "Inbound total",
        "total_inbounds",
        definition,
    )


def test_traits_belong_to_their_space(api: Api, emulator: Emulator) -> None:
    dev, prod = emulator.space(DEV_SPACE)["id"], emulator.space(PROD_SPACE)["id"]
    trait = api.trait(dev)["id"]

    error(api.get(f"/spaces/{prod}/computed-traits/{trait}"), 404)
    assert data(api.get(f"/spaces/{prod}/computed-traits"))["computedTraits"] == []
    assert [t["id"] for t in data(api.get(f"/spaces/{dev}/computed-traits"))["computedTraits"]] == [trait]


def test_a_subscription_create_needs_only_what_segment_requires(api: Api) -> None:
    destination = api.destination(api.source()["id"])["id"]
    body = {"name": "Minimal", "actionId": SEND_IDENTIFY, "trigger": 'type = "identify"', "enabled": True}

    created = data(api.post(f"/destinations/{destination}/subscriptions", body))["destinationSubscription"]

    assert (created["settings"], created.get("modelId")) == ({}, None)
