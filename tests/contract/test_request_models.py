"""The emulator's request models agree with Segment's contract: properties, required fields, types, enums."""

from __future__ import annotations

from typing import Any

import pytest

from segment_emulator import models
from segment_emulator.routing import OPERATIONS
from tests.contract.shapes import Shape, differences, shape_of

# (operationId, API version, the emulator's model) for every request body the emulator validates.
BODIES = [
    (operation.operation_id, version, model)
    for operation in OPERATIONS
    for version, model in operation.bodies.items()
]
SCHEDULE_CONFIGS: list[tuple[type[models.RequestModel], str]] = [
    (models.PeriodicConfig, "ReverseEtlPeriodicScheduleConfig"),
    (models.SpecificDaysConfig, "ReverseEtlSpecificTimeScheduleConfig"),
    (models.CronConfig, "ReverseEtlCronScheduleConfig"),
    (models.DbtCloudConfig, "ReverseEtlDbtCloudScheduleConfig"),
]
pytestmark = pytest.mark.contract


def contract_shape(contract: dict[str, Any], reference: str) -> Shape:
    def resolve(ref: str) -> dict[str, Any]:
        schema: dict[str, Any] = contract["schemas"][ref.rsplit("/", 1)[-1]]
        return schema

    return shape_of({"$ref": reference}, resolve)


def model_shape(model: type[models.RequestModel]) -> Shape:
    schema = model.model_json_schema(by_alias=True, mode="validation")

    def resolve(ref: str) -> dict[str, Any]:
        found: dict[str, Any] = schema["$defs"][ref.rsplit("/", 1)[-1]]
        return found

    return shape_of(schema, resolve)


def request_reference(contract: dict[str, Any], operation_id: str, version: str) -> str:
    operation = contract["operations"][operation_id]
    variant = operation["bodyVariantsByVersion"].get(version, {})
    reference: str = variant.get("request") or operation["requestSchemaRef"]
    return reference


@pytest.mark.parametrize(
    ("operation_id", "version", "model"), BODIES, ids=lambda v: getattr(v, "__name__", v)
)
def test_the_request_model_matches_the_contract(
    contract: dict[str, Any], operation_id: str, version: str, model: type[models.RequestModel]
) -> None:
    theirs = contract_shape(contract, request_reference(contract, operation_id, version))

    assert list(differences(model_shape(model), theirs)) == []


@pytest.mark.parametrize(("model", "schema"), SCHEDULE_CONFIGS, ids=lambda v: getattr(v, "__name__", v))
def test_each_schedule_config_matches_the_contract(
    contract: dict[str, Any], model: type[models.RequestModel], schema: str
) -> None:
    assert list(differences(model_shape(model), contract_shape(contract, f"#/schemas/{schema}"))) == []


def test_the_schedule_configs_are_the_contracts_alternatives(contract: dict[str, Any]) -> None:
    config = contract_shape(contract, "#/schemas/ReverseEtlScheduleDefinition").properties
    assert config is not None

    alternatives = config["config"].alternatives

    assert len(alternatives) == len(SCHEDULE_CONFIGS)
    assert {frozenset(a.required) for a in alternatives} == {
        model_shape(m).required for m, _ in SCHEDULE_CONFIGS
    }


def test_a_difference_is_reported() -> None:
    contract_like = Shape(
        types=frozenset({"object"}), properties={"a": Shape(frozenset({"string"}))}, required=frozenset({"a"})
    )
    drifted = Shape(
        types=frozenset({"object"}), properties={"a": Shape(frozenset({"boolean"}))}, required=frozenset()
    )

    found = list(differences(drifted, contract_like))

    assert any("required" in d for d in found) and any("body.a: type" in d for d in found)
