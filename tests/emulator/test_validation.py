"""422 answers: the first offending field by dotted path, Joi-style messages, and Segment's documented rules."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from segment_emulator import Emulator
from segment_emulator.models import go_duration_seconds
from segment_emulator.routing import OPERATIONS, Operation
from tests.emulator.conftest import DEV_SPACE, SNOWFLAKE_RETL, SNOWFLAKE_WAREHOUSE, Api, data, error, schedule

TRAIT = {"name": "t", "definition": {"type": "USERS", "query": "event('x').count()"}}
MODEL = {
    "name": "m",
    "description": "",
    "enabled": True,
    "query": "SELECT ID FROM t",
    "queryIdentifierColumn": "ID",
}


def with_changes(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**body, **changes}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"enabled": True, "metadataId": SNOWFLAKE_RETL}, "slug", '"slug" is required'),
        ({"slug": 7, "enabled": True, "metadataId": SNOWFLAKE_RETL}, "slug", '"slug" must be a string'),
        (
            {"slug": "s", "enabled": "true", "metadataId": SNOWFLAKE_RETL},
            "enabled",
            '"enabled" must be a boolean',
        ),
        (
            {"slug": "s", "enabled": True, "metadataId": SNOWFLAKE_RETL, "settings": []},
            "settings",
            '"settings" must be of type object',
        ),
    ],
    ids=["required", "string", "boolean", "object"],
)
def test_create_source_names_the_field(api: Api, body: dict[str, Any], field: str, message: str) -> None:
    item = error(api.post("/sources", body), 422)

    assert item == {"type": "input-validation", "message": message, "field": field}


def test_warehouse_settings_are_required(api: Api) -> None:
    item = error(api.post("/warehouses", {"metadataId": SNOWFLAKE_WAREHOUSE}), 422)

    assert (item["field"], item["message"]) == ("settings", '"settings" is required')


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"definition": {"type": "users", "query": "q"}},
            "definition.type",
            "must be one of [ACCOUNTS, USERS]",
        ),
        ({"definition": {"type": "USERS"}}, "definition.query", "is required"),
        ({"definition": "count()"}, "definition", "must be of type object"),
        ({"options": {"backfillDurationDays": "7"}}, "options.backfillDurationDays", "must be a number"),
        ({"name": None}, "name", "must be a string"),
    ],
    ids=["enum", "nested-required", "nested-object", "nested-number", "null-required"],
)
def test_computed_trait_fields(
    api: Api, emulator: Emulator, changes: dict[str, Any], field: str, message: str
) -> None:
    space_id = emulator.space(DEV_SPACE)["id"]

    item = error(api.post(f"/spaces/{space_id}/computed-traits", with_changes(TRAIT, **changes)), 422)

    assert item["field"] == field
    assert item["message"] == f'"{field}" {message}'


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"query": ""}, "query", "is not allowed to be empty"),
        ({"query": "   \n"}, "query", "is not allowed to be empty"),
        ({"query": "x" * 65536}, "query", "less than or equal to 65535"),
        ({"queryIdentifierColumn": "C" * 192}, "queryIdentifierColumn", "less than or equal to 191"),
        ({"description": None}, "description", "must be a string"),
    ],
    ids=["empty", "blank", "too-long", "column-too-long", "description-required"],
)
def test_reverse_etl_model_rules(api: Api, changes: dict[str, Any], field: str, fragment: str) -> None:
    body = with_changes(MODEL, sourceId=api.source()["id"], **changes)

    item = error(api.post("/reverse-etl-models", body), 422)

    assert item["field"] == field and fragment in item["message"]


def test_the_longest_query_allowed_is_accepted(api: Api) -> None:
    body = with_changes(MODEL, sourceId=api.source()["id"], query="x" * 65535)

    assert len(data(api.post("/reverse-etl-models", body), 201)["reverseEtlModel"]["query"]) == 65535


def test_model_updates_follow_the_same_rules(api: Api) -> None:
    model = api.model(api.source()["id"])["id"]

    assert error(api.patch(f"/reverse-etl-models/{model}", {"query": ""}), 422)["field"] == "query"


# ------------------------------------------------------------------------------------------- schedules


PREFIX = "input.reverseETLSchedule"


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({}, "input", "is required"),
        ({"input": []}, "input", "must be of type object"),
        (
            schedule("WEEKLY"),
            f"{PREFIX}.strategy",
            "must be one of [CRON, DBT_CLOUD, MANUAL, PERIODIC, SPECIFIC_DAYS]",
        ),
        (schedule("PERIODIC"), f"{PREFIX}.config", "is required for strategy PERIODIC"),
        (
            schedule("PERIODIC", {"interval": "5m"}),
            f"{PREFIX}.config.interval",
            "more than 10m and less than 168h",
        ),
        (schedule("PERIODIC", {"interval": "168h"}), f"{PREFIX}.config.interval", "less than 168h"),
        (schedule("PERIODIC", {"interval": "1d"}), f"{PREFIX}.config.interval", "Go duration"),
        (schedule("PERIODIC", {"interval": 3600}), f"{PREFIX}.config.interval", "must be a string"),
        (
            schedule("SPECIFIC_DAYS", {"days": [7], "hours": [9], "timezone": "UTC"}),
            f"{PREFIX}.config.days[0]",
            "<= 6",
        ),
        (
            schedule("SPECIFIC_DAYS", {"days": [1], "hours": [24], "timezone": "UTC"}),
            f"{PREFIX}.config.hours[0]",
            "<= 23",
        ),
        (
            schedule("SPECIFIC_DAYS", {"days": [], "hours": [9], "timezone": "UTC"}),
            f"{PREFIX}.config.days",
            "at least 1",
        ),
        (schedule("SPECIFIC_DAYS", {"days": [1], "hours": [9]}), f"{PREFIX}.config.timezone", "is required"),
        (
            schedule("SPECIFIC_DAYS", {"days": [1], "hours": [9], "timezone": ""}),
            f"{PREFIX}.config.timezone",
            "empty",
        ),
        (schedule("CRON", {"spec": "*/30 * * *", "timezone": "UTC"}), f"{PREFIX}.config.spec", "5 fields"),
        (schedule("CRON", {"spec": "0 * * * *"}), f"{PREFIX}.config.timezone", "is required"),
        (schedule("DBT_CLOUD", {"jobId": "1"}), f"{PREFIX}.config.accountId", "is required"),
        (schedule("MANUAL", {"interval": "1h"}), f"{PREFIX}.config", "must be null for strategy MANUAL"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_schedule_rules(
    api: Api, subscription_path: str, body: dict[str, Any], field: str, fragment: str
) -> None:
    item = error(api.patch(subscription_path, body), 422)

    assert item["field"] == field
    assert fragment.replace("<= ", "less than or equal to ") in item["message"]


@pytest.mark.parametrize(
    ("strategy", "config", "stored"),
    [
        ("PERIODIC", {"interval": "15m"}, {"interval": "15m"}),
        ("periodic", {"interval": "167h59m"}, {"interval": "167h59m"}),
        ("SPECIFIC_DAYS", {"days": [0, 6], "hours": [0, 23], "timezone": "Europe/Berlin"}, None),
        ("CRON", {"spec": "0 */2 * * *", "timezone": "UTC"}, None),
        ("DBT_CLOUD", {"jobId": "42", "accountId": "7"}, None),
        ("manual", None, None),
    ],
)
def test_valid_schedules_are_stored_with_an_upper_case_strategy(
    api: Api, subscription_path: str, strategy: str, config: Any, stored: Any
) -> None:
    answer = data(api.patch(subscription_path, schedule(strategy, config)))["subscription"]

    expected_config = None if strategy.upper() == "MANUAL" else (stored or config)
    assert answer["reverseETLSchedule"] == {"strategy": strategy.upper(), "config": expected_config}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15m", 900), ("1h30m", 5400), ("1.5h", 5400), ("90s", 90), ("0", 0), ("2h0m0s", 7200), ("500ms", 0.5)],
)
def test_go_durations_are_read_like_go_does(text: str, seconds: float) -> None:
    assert go_duration_seconds(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "15", "1d", "h", "15 m", "-15m", "1h 30m"])
def test_what_is_not_a_go_duration(text: str) -> None:
    assert go_duration_seconds(text) is None


# ------------------------------------------------------------------------------------------ the body itself


def test_a_field_the_contract_does_not_declare_is_refused_and_nothing_is_made(
    api: Api, emulator: Emulator
) -> None:
    source = api.source()["id"]
    body = {**MODEL, "sourceId": source, "scheduleStrategy": "MANUAL"}

    item = error(api.post("/reverse-etl-models", body), 422)

    assert item == {
        "type": "input-validation",
        "message": '"scheduleStrategy" is not allowed',
        "field": "scheduleStrategy",
    }
    assert emulator.store.models == {}


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        (
            "POST",
            "/sources",
            {"slug": "s", "enabled": True, "metadataId": SNOWFLAKE_RETL, "colour": 1},
            "colour",
        ),
        ("PATCH", "/sources/{source}", {"enabled": False, "nmae": "typo"}, "nmae"),
        ("POST", "/labels", {"label": {"key": "team", "value": "data", "colour": "blue"}}, "label.colour"),
        (
            "POST",
            "/spaces/{space}/computed-traits",
            {**TRAIT, "definition": {**TRAIT["definition"], "kind": 1}},
            "definition.kind",
        ),
    ],
)
def test_unknown_fields_are_refused_by_name_at_any_depth(
    api: Api, emulator: Emulator, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    where = path.format(source=api.source()["id"], space=emulator.space(DEV_SPACE)["id"])

    item = error(api.send(method, where, body), 422)

    assert (item["field"], item["message"]) == (field, f'"{field}" is not allowed')


@pytest.mark.parametrize("operation", [op for op in OPERATIONS if op.bodies], ids=lambda op: op.operation_id)
def test_every_body_model_refuses_an_undeclared_field(operation: Operation) -> None:
    for version, model in operation.bodies.items():
        with pytest.raises(pydantic.ValidationError) as raised:
            model.model_validate({"undeclaredField": 1})

        refused = [e["loc"] for e in raised.value.errors() if e["type"] == "extra_forbidden"]
        assert refused == [("undeclaredField",)], (operation.operation_id, version)


def test_settings_stay_open(api: Api) -> None:
    body = {"slug": "open", "enabled": True, "metadataId": SNOWFLAKE_RETL, "settings": {"anyKey": {"x": 1}}}

    assert data(api.post("/sources", body), 201)["source"]["settings"] == {"anyKey": {"x": 1}}


def test_a_body_that_is_not_json_is_422(api: Api) -> None:
    item = error(api.post("/sources", data="{not json"), 422)

    assert item["type"] == "input-validation" and "JSON" in item["message"]


def test_a_body_that_is_not_an_object_is_422_without_a_field(api: Api) -> None:
    item = error(api.post("/sources", ["slug"]), 422)

    assert item == {"type": "input-validation", "message": '"value" must be of type object'}


def test_an_empty_body_is_validated_as_an_empty_object(api: Api) -> None:
    assert error(api.post("/sources", data=""), 422)["field"] == "slug"
