"""The operations table agrees with Segment's Public API contract (skipped when the contract is absent)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from segment_provider.api.operations import MEDIA_TYPES, OPERATIONS, Operation

pytestmark = pytest.mark.contract

CONTRACT_PATH = Path(__file__).resolve().parents[2].parent / "shared" / "segment-api" / "contract.json"


@pytest.fixture(scope="module")
def api_contract(request: pytest.FixtureRequest) -> dict[str, Any]:
    try:
        return dict(request.getfixturevalue("contract"))
    except pytest.FixtureLookupError:
        pass
    if not CONTRACT_PATH.exists():
        pytest.skip(f"Segment API contract not found at {CONTRACT_PATH}")
    return dict(json.loads(CONTRACT_PATH.read_text()))


def contract_operation(contract: dict[str, Any], op: Operation) -> dict[str, Any]:
    operations = contract["operations"]
    assert op.operation_id in operations, f"{op.operation_id} is not an operation of the contract"
    return dict(operations[op.operation_id])


def response_data_schema(contract: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    version = spec["mediaTypes"]["versions"][0]
    ref = spec["bodyVariantsByVersion"][version]["responseData"][spec["successStatus"][0]]
    return dict(contract["schemas"][ref.rsplit("/", 1)[-1]])


@pytest.mark.parametrize("op", OPERATIONS.values(), ids=lambda op: op.operation_id)
def test_method_path_and_success_status_match(api_contract: dict[str, Any], op: Operation) -> None:
    spec = contract_operation(api_contract, op)

    assert op.method == spec["method"]
    assert op.path == spec["path"]
    assert [str(op.success_status)] == spec["successStatus"]


@pytest.mark.parametrize("op", OPERATIONS.values(), ids=lambda op: op.operation_id)
def test_media_type_is_one_the_operation_offers(api_contract: dict[str, Any], op: Operation) -> None:
    media = contract_operation(api_contract, op)["mediaTypes"]

    assert op.maturity == media["maturity"]
    assert op.media_type in media["accept"]
    if media["contentType"]:
        assert op.media_type in media["contentType"]
    assert op.media_type == MEDIA_TYPES[op.maturity]


@pytest.mark.parametrize("op", OPERATIONS.values(), ids=lambda op: op.operation_id)
def test_data_key_is_in_the_success_schema(api_contract: dict[str, Any], op: Operation) -> None:
    schema = response_data_schema(api_contract, contract_operation(api_contract, op))

    assert op.data_key in schema["properties"]


@pytest.mark.parametrize("op", OPERATIONS.values(), ids=lambda op: op.operation_id)
def test_pagination_style_matches_the_query_parameters(api_contract: dict[str, Any], op: Operation) -> None:
    spec = contract_operation(api_contract, op)
    query = {q["name"]: q for q in spec["queryParams"]}

    if op.pagination == "nested":
        assert "pagination[count]" in query["pagination"]["wireNames"]
        assert "pagination[cursor]" in query["pagination"]["wireNames"]
    elif op.pagination == "top-level":
        assert {"count", "cursor"} <= set(query)
    else:
        assert "pagination" not in query and "cursor" not in query
    if op.pagination != "none":
        assert "pagination" in response_data_schema(api_contract, spec)["properties"]


@pytest.mark.parametrize("op", OPERATIONS.values(), ids=lambda op: op.operation_id)
def test_every_path_parameter_is_declared(api_contract: dict[str, Any], op: Operation) -> None:
    declared = {p["name"] for p in contract_operation(api_contract, op)["pathParams"]}
    placeholders = {part[1:-1] for part in op.path.split("/") if part.startswith("{")}

    assert placeholders == declared
