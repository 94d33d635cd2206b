"""Wire models: camelCase on the wire, snake_case in Python, the contract's required and nullable fields."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydantic
import pytest

from segment_provider.api import models

CONTRACT_PATH = Path(__file__).resolve().parents[2].parent / "shared" / "segment-api" / "contract.json"

MODEL_SCHEMAS: dict[type[models.WireModel], str] = {
    models.Workspace: "WorkspaceV1",
    models.Space: "Space",
    models.IntegrationOption: "IntegrationOptionBeta",
    models.MetadataRef: "SourceMetadataV1",
    models.SourceMetadata: "SourceMetadataV1",
    models.WarehouseMetadata: "WarehouseMetadataV1",
    models.ActionField: "DestinationMetadataActionFieldV1",
    models.DestinationAction: "DestinationMetadataActionV1",
    models.DestinationPreset: "DestinationMetadataSubscriptionPresetV1",
    models.DestinationMetadata: "DestinationMetadataV1",
    models.Label: "LabelV1",
    models.Source: "SourceV1",
    models.Warehouse: "WarehouseV1",
    models.Destination: "DestinationV1",
    models.WarehouseValidation: "CreateValidationInWarehouseV1Output",
    models.ReverseEtlSchedule: "ReverseEtlScheduleDefinition",
    models.DestinationSubscription: "DestinationSubscription",
    models.ReverseEtlModel: "ReverseEtlModel",
    models.ManualSync: "ReverseETLManualSyncJobOutput",
    models.SyncExtractPhase: "SyncExtractPhase",
    models.SyncLoadPhase: "SyncLoadPhase",
    models.SyncStatus: "ReverseETLSyncStatus",
    models.TraitDefinition: "TraitDefinition",
    models.TraitOptions: "TraitOptions",
    models.ComputedTrait: "ComputedTraitSummary",
}
# Fields that are ours, not Segment's: the warehouse name lives in settings.name on the wire.
NOT_IN_SCHEMA = {(models.Warehouse, "name")}


@pytest.fixture(scope="module")
def schemas(request: pytest.FixtureRequest) -> dict[str, Any]:
    try:
        return dict(request.getfixturevalue("contract")["schemas"])
    except pytest.FixtureLookupError:
        pass
    if not CONTRACT_PATH.exists():
        pytest.skip(f"Segment API contract not found at {CONTRACT_PATH}")
    return dict(json.loads(CONTRACT_PATH.read_text())["schemas"])


def accepts_none(annotation: Any) -> bool:
    try:
        pydantic.TypeAdapter(annotation).validate_python(None)
    except pydantic.ValidationError:
        return False
    return True


def schema_allows_null(prop: dict[str, Any]) -> bool:
    return any(option.get("type") == "null" for option in prop.get("anyOf", []))


@pytest.mark.contract
@pytest.mark.parametrize("model", MODEL_SCHEMAS, ids=lambda m: m.__name__)
def test_model_fields_match_the_contract_schema(
    schemas: dict[str, Any], model: type[models.WireModel]
) -> None:
    schema = schemas[MODEL_SCHEMAS[model]]
    required = set(schema.get("required", []))

    for name, field in model.model_fields.items():
        if (model, name) in NOT_IN_SCHEMA:
            continue
        wire_name = field.alias or name
        assert wire_name in schema["properties"], (
            f"{model.__name__}.{name}: '{wire_name}' is not in the schema"
        )
        assert field.is_required() == (wire_name in required), f"{model.__name__}.{name}: required differs"
        prop = schema["properties"][wire_name]
        assert accepts_none(field.annotation) == schema_allows_null(prop), (
            f"{model.__name__}.{name}: nullable"
        )


def test_accepts_camel_case_and_snake_case() -> None:
    wire = models.ReverseEtlModel.from_api(
        {
            "id": "m1",
            "sourceId": "s1",
            "name": "Accounts",
            "description": "",
            "enabled": True,
            "query": "SELECT 1",
            "queryIdentifierColumn": "ID",
        }
    )
    python = models.ReverseEtlModel(
        id="m1", source_id="s1", name="Accounts", description="", enabled=True, query="SELECT 1",
        query_identifier_column="ID",
    )  # fmt: skip

    assert wire == python
    assert wire.to_api()["queryIdentifierColumn"] == "ID"


def test_unknown_fields_from_the_api_are_ignored() -> None:
    space = models.Space.from_api({"id": "spa_1", "slug": "dev", "name": "Dev", "createdAt": "2025-01-01"})

    assert space.to_api() == {"id": "spa_1", "slug": "dev", "name": "Dev"}


def test_subscription_schedule_uses_segments_spelling() -> None:
    subscription = models.DestinationSubscription.from_api(
        {
            "id": "sub1",
            "name": "Send Identify",
            "actionId": "a1",
            "actionSlug": "sendIdentify",
            "destinationId": "d1",
            "enabled": True,
            "settings": {},
            "trigger": 'event = "new"',
            "modelId": "m1",
            "reverseETLSchedule": {"strategy": "periodic", "config": {"interval": "1h"}},
        }
    )

    assert subscription.reverse_etl_schedule == models.ReverseEtlSchedule(
        strategy="PERIODIC", config={"interval": "1h"}
    )
    assert subscription.to_api()["reverseETLSchedule"] == {
        "strategy": "PERIODIC",
        "config": {"interval": "1h"},
    }


def test_warehouse_name_is_read_from_settings_when_not_top_level() -> None:
    raw = {
        "id": "w1",
        "metadata": {"id": "CCIl4HLQPz", "slug": "snowflake", "name": "Snowflake"},
        "workspaceId": "ws",
        "enabled": True,
        "settings": {"name": "Analytics", "account": "acme"},
    }

    assert models.Warehouse.from_api(raw).name == "Analytics"
    assert models.Warehouse.from_api({**raw, "name": "Top level"}).name == "Top level"


def test_reprs_mask_write_keys_and_settings() -> None:
    source = models.Source.from_api(
        {
            "id": "s1",
            "slug": "retl",
            "metadata": {"id": "BQp3zGUgjV", "slug": "snowflake", "name": "Snowflake"},
            "workspaceId": "ws",
            "enabled": True,
            "writeKeys": ["WRITEKEY-SECRET"],
            "settings": {"password": "PASSWORD-SECRET"},
            "labels": [],
        }
    )

    for text in (repr(source), str(source)):
        assert "WRITEKEY-SECRET" not in text
        assert "PASSWORD-SECRET" not in text
        assert "password" in text
    assert source.write_keys == ["WRITEKEY-SECRET"]
