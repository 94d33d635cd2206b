"""The emulator refuses what Segment refuses, and the program never sends it.

Each rule is tested from both sides: the emulator answers the wrong request with Segment's error, and no request
of the program's whole lifecycles (``tests/lifecycles.py``: the Flex stack, adoption, every schedule strategy,
every docs/traits.md example) breaks the rule. The program's side reads the request log, so a rule the
emulator did not enforce would still be caught there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from segment_emulator import Emulator, RecordedRequest
from segment_emulator.models import ScheduleInput
from segment_emulator.views import NULLABLE_IN_ANSWERS
from tests.emulator.conftest import SNOWFLAKE_RETL, Api, data, error, schedule
from tests.lifecycles import Traffic, program_traffic

DEV_SPACE = "unified-profiles-dev"
SEND_IDENTIFY = "vm2tNA5U1zxUusQkdC4D7Z"


@pytest.fixture(scope="module")
def traffic(session_emulator: Emulator) -> Traffic:
    return program_traffic(session_emulator)


def sent(traffic: Traffic, operation_id: str) -> list[RecordedRequest]:
    found = [r for r in traffic.requests if r.operation_id == operation_id]
    assert found, f"the lifecycles never sent {operation_id}: the program's side of the rule is not tested"
    return found


def refused(response: Any, field: str, reason: str, status: int = 422) -> None:
    item = error(response, status)
    assert item["field"] == field, item
    assert reason in item["message"], item


# ------------------------------------------------------------------------------------------- schedules


CONFIG = "input.reverseETLSchedule.config"
BAD_SCHEDULES = [
    (
        "unknown config key",
        "PERIODIC",
        {"interval": "1h", "timezone": "UTC"},
        f"{CONFIG}.timezone",
        "not allowed",
    ),
    (
        "duplicate days",
        "SPECIFIC_DAYS",
        {"days": [1, 1], "hours": [6], "timezone": "UTC"},
        f"{CONFIG}.days",
        "duplicate",
    ),
    (
        "duplicate hours",
        "SPECIFIC_DAYS",
        {"days": [1], "hours": [6, 6], "timezone": "UTC"},
        f"{CONFIG}.hours",
        "duplicate",
    ),
    (
        "made-up timezone",
        "SPECIFIC_DAYS",
        {"days": [1], "hours": [6], "timezone": "Mars/Olympus"},
        f"{CONFIG}.timezone",
        "IANA",
    ),
    (
        "cron made-up timezone",
        "CRON",
        {"spec": "0 6 * * *", "timezone": "Mars/Olympus"},
        f"{CONFIG}.timezone",
        "IANA",
    ),
    (
        "cron every 5 minutes",
        "CRON",
        {"spec": "*/5 * * * *", "timezone": "UTC"},
        f"{CONFIG}.spec",
        "15 minutes",
    ),
    (
        "cron twice an hour 10 apart",
        "CRON",
        {"spec": "0,10 * * * *", "timezone": "UTC"},
        f"{CONFIG}.spec",
        "15",
    ),
    ("cron of 6 fields", "CRON", {"spec": "0 0 6 * * *", "timezone": "UTC"}, f"{CONFIG}.spec", "5 fields"),
    ("empty dbt job id", "DBT_CLOUD", {"jobId": "", "accountId": "1"}, f"{CONFIG}.jobId", "empty"),
    ("blank dbt account id", "DBT_CLOUD", {"jobId": "1", "accountId": "  "}, f"{CONFIG}.accountId", "empty"),
    ("periodic of 10m", "PERIODIC", {"interval": "10m"}, f"{CONFIG}.interval", "more than 10m"),
    ("periodic of 168h", "PERIODIC", {"interval": "168h"}, f"{CONFIG}.interval", "less than 168h"),
    ("1d is no Go duration", "PERIODIC", {"interval": "1d"}, f"{CONFIG}.interval", "Go duration"),
]


@pytest.mark.parametrize(
    ("strategy", "config", "field", "reason"),
    [case[1:] for case in BAD_SCHEDULES],
    ids=[case[0] for case in BAD_SCHEDULES],
)
def test_schedules_segment_refuses_are_refused(
    api: Api, subscription_path: str, strategy: str, config: Any, field: str, reason: str
) -> None:
    refused(api.patch(subscription_path, schedule(strategy, config)), field, reason)


GOOD_SCHEDULES = [
    ("PERIODIC", {"interval": "12m"}),
    ("PERIODIC", {"interval": "167h59m"}),
    ("CRON", {"spec": "0,15,30,45 * * * *", "timezone": "UTC"}),
    ("SPECIFIC_DAYS", {"days": [0, 6], "hours": [0, 23], "timezone": "Asia/Kolkata"}),
    ("DBT_CLOUD", {"jobId": "1", "accountId": "2"}),
    ("MANUAL", None),
]


@pytest.mark.parametrize(("strategy", "config"), GOOD_SCHEDULES, ids=[f"{s} {c}" for s, c in GOOD_SCHEDULES])
def test_schedules_at_the_edge_of_the_rules_are_accepted(
    api: Api, subscription_path: str, strategy: str, config: Any
) -> None:
    mapping = data(api.patch(subscription_path, schedule(strategy, config)))["subscription"]

    assert mapping["reverseETLSchedule"]["strategy"] == strategy


def test_the_program_sends_only_schedules_segment_takes(traffic: Traffic) -> None:
    schedules = [
        r.body["input"]["reverseETLSchedule"]
        for r in sent(traffic, "updateSubscriptionForDestination")
        if "reverseETLSchedule" in r.body["input"]
    ]
    assert {s["strategy"] for s in schedules} == {"PERIODIC", "SPECIFIC_DAYS", "CRON", "DBT_CLOUD", "MANUAL"}
    for sent_schedule in schedules:
        ScheduleInput.model_validate(sent_schedule)


# ------------------------------------------------------------------------------------------------- traits


def test_a_second_trait_with_the_same_key_is_409(api: Api, emulator: Emulator) -> None:
    space_id = emulator.space(DEV_SPACE)["id"]
    api.trait(space_id, name="Total inbounds")

    body = {
        "name": "total inbounds",
        "definition": {"type": "USERS", "query": "event('Flex - Engagement Initiated').count()"},
    }
    item = error(api.post(f"/spaces/{space_id}/computed-traits", body), 409)

    assert "total_inbounds" in item["message"]
    with emulator.store_lock:
        assert len(emulator.store.computed_traits) == 1


def test_options_on_a_trait_update_are_refused(api: Api, emulator: Emulator) -> None:
    space_id = emulator.space(DEV_SPACE)["id"]
    trait = api.trait(space_id)

    response = api.patch(
        f"/spaces/{space_id}/computed-traits/{trait['id']}", {"options": {"includeHistoricalData": True}}
    )

    refused(response, "options", "only be set when it is created")


def test_the_program_creates_each_trait_key_once_and_never_patches_options(traffic: Traffic) -> None:
    assert [r for r in sent(traffic, "createComputedTrait") if r.status == 409] == []
    updates = [r for r in traffic.requests if r.operation_id == "updateComputedTraitForSpace"]
    assert [r for r in updates if "options" in r.body] == []


# ------------------------------------------------------------------------------------------ subscriptions


@pytest.fixture
def destination_and_model(api: Api) -> Iterator[tuple[str, str]]:
    source = api.source()["id"]
    yield api.destination(source)["id"], api.model(source)["id"]


def _mapping_body(**fields: Any) -> dict[str, Any]:
    return {
        "name": "Send Identify",
        "actionId": SEND_IDENTIFY,
        "trigger": 'event = "new"',
        "enabled": True,
        **fields,
    }


def test_a_schedule_in_a_mapping_create_is_refused(api: Api, destination_and_model: tuple[str, str]) -> None:
    destination, model = destination_and_model
    body = _mapping_body(modelId=model, reverseETLSchedule={"strategy": "MANUAL", "config": None})

    refused(api.post(f"/destinations/{destination}/subscriptions", body), "reverseETLSchedule", "update")


def test_the_update_names_of_the_model_id_are_refused_in_the_wrong_body(
    api: Api, destination_and_model: tuple[str, str]
) -> None:
    destination, model = destination_and_model
    path = f"/destinations/{destination}/subscriptions"
    refused(api.post(path, _mapping_body(reverseETLModelId=model)), "reverseETLModelId", "modelId")
    mapping = data(api.post(path, _mapping_body(modelId=model)))["destinationSubscription"]

    refused(
        api.patch(f"{path}/{mapping['id']}", {"input": {"modelId": model}}),
        "input.modelId",
        "reverseETLModelId",
    )


def test_the_program_creates_mappings_without_a_schedule_and_updates_them_by_reverse_etl_model_id(
    traffic: Traffic,
) -> None:
    creates = sent(traffic, "createDestinationSubscription")
    assert all("reverseETLSchedule" not in r.body and "reverseETLModelId" not in r.body for r in creates)
    assert all("modelId" in r.body for r in creates)
    assert all("modelId" not in r.body["input"] for r in sent(traffic, "updateSubscriptionForDestination"))


# ------------------------------------------------------------------------------------------------ sources


def test_a_name_in_the_stable_create_source_is_refused_and_taken_in_alpha(api: Api) -> None:
    body = {"slug": "named", "enabled": True, "metadataId": SNOWFLAKE_RETL, "name": "Named"}
    refused(api.post("/sources", body), "name", "alpha")

    alpha = "application/vnd.segment.v1alpha+json"
    created = data(api.post("/sources", body, headers={"Accept": alpha, "Content-Type": alpha}), 201)

    assert created["source"]["name"] == "Named"


def test_the_program_names_a_source_only_where_segment_takes_a_name(traffic: Traffic) -> None:
    for request in sent(traffic, "createSource"):
        assert "name" not in request.body or request.version == "v1alpha", request.body


# ------------------------------------------------------------------------------------------- media types


def test_an_accept_the_operation_cannot_answer_is_406_and_a_body_type_it_cannot_take_is_415(api: Api) -> None:
    assert error(api.get("/spaces", headers={"Accept": "application/vnd.segment.v1+json"}), 406)["type"] == (
        "not-acceptable"
    )
    assert error(api.get("/", headers={"Accept": "text/html"}), 406)["type"] == "not-acceptable"
    body = {"slug": "x", "enabled": True, "metadataId": SNOWFLAKE_RETL}
    response = api.post("/sources", body, headers={"Content-Type": "text/plain"})
    assert error(response, 415)["type"] == "unsupported-media-type"


def test_the_program_never_meets_a_406_or_a_415(traffic: Traffic) -> None:
    assert [(r.operation_id, r.status) for r in traffic.requests if r.status in (406, 415)] == []


# ---------------------------------------------------------------------------------------------- answers


def _nulls(value: Any, path: str = "") -> Iterator[str]:
    """Paths of the nulls in ``value`` in fields the contract does not mark x-nullable."""
    if isinstance(value, dict):
        for key, item in value.items():
            if item is None and key not in NULLABLE_IN_ANSWERS:
                yield f"{path}.{key}"
            yield from _nulls(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nulls(item, f"{path}[{index}]")


def test_answers_leave_out_fields_without_a_value_where_the_contract_has_no_null(
    api: Api, emulator: Emulator
) -> None:
    source = api.source()
    destination = api.destination(source["id"])
    mapping = api.subscription(destination["id"])
    trait = api.trait(emulator.space(DEV_SPACE)["id"])

    assert "name" not in source
    assert "modelId" not in mapping and "reverseETLSchedule" not in mapping
    assert "options" not in trait and "description" not in trait
    listed = data(api.get("/sources"))
    assert listed["pagination"]["next"] is None, "pagination.next is x-nullable: null stays"
    assert list(_nulls(listed["sources"])) == []


def test_the_program_reads_answers_without_nulls(traffic: Traffic) -> None:
    # Every answer of the lifecycles was read by the program (it deployed) and none carried a stray null.
    stray = [(r.operation_id, path) for r in traffic.requests for path in _nulls(r.response_body)]
    assert stray == []


# ----------------------------------------------------------------------------------------------- queries


BAD_QUERIES: list[tuple[str, Callable[[], dict[str, str]], str]] = [
    ("null count", lambda: {"pagination[count]": "null"}, "pagination[count]"),
    ("empty cursor", lambda: {"pagination[count]": "10", "pagination[cursor]": ""}, "pagination[cursor]"),
    ("null in the JSON form", lambda: {"pagination": '{"count": 10, "cursor": null}'}, "pagination.cursor"),
    ("bracket and dot mixed", lambda: {"pagination[count]": "10", "pagination.cursor": "MA=="}, "pagination"),
    ("JSON and dot mixed", lambda: {"pagination": '{"count": 10}', "pagination.count": "10"}, "pagination"),
    ("unknown form", lambda: {"pagination[size]": "10"}, "pagination[size]"),
    ("unknown key in the JSON form", lambda: {"pagination": '{"count": 10, "page": 2}'}, "pagination.page"),
]


@pytest.mark.parametrize(
    ("query", "field"), [case[1:] for case in BAD_QUERIES], ids=[case[0] for case in BAD_QUERIES]
)
def test_null_mixed_and_unknown_pagination_is_refused(
    api: Api, query: Callable[[], dict[str, str]], field: str
) -> None:
    assert error(api.get("/sources", params=query()), 422)["field"] == field


def test_the_program_pages_in_one_form_with_values(traffic: Traffic) -> None:
    for request in traffic.requests:
        keys = [k for k in request.query if k.startswith("pagination")]
        if not keys:
            continue
        assert set(keys) <= {"pagination[count]", "pagination[cursor]"}, request.query
        assert all(v not in ("", "null") for k in keys for v in request.query[k]), request.query
