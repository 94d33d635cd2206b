"""The contract check of the client, as a property of whole lifecycles: every request the program sends (the
emulator's request log is the source) validates against the contract's request schema for its operation and
media type, with ``null`` only where the contract allows it. It fails on the first invalid body."""

from __future__ import annotations

from typing import Any

import pytest

from segment_emulator import Emulator
from tests.contract.recorder import ContractSchemas
from tests.lifecycles import SCHEDULES, docs_trait_examples, program_traffic

pytestmark = pytest.mark.contract


def request_schema(contract: dict[str, Any], operation_id: str, version: str | None) -> str | None:
    operation = contract["operations"][operation_id]
    variant = operation.get("bodyVariantsByVersion", {}).get(version or "", {})
    reference: str | None = variant.get("request") or operation.get("requestSchemaRef")
    return reference


def test_every_request_of_every_lifecycle_matches_its_operations_request_schema(
    session_emulator: Emulator, contract: dict[str, Any]
) -> None:
    traffic = program_traffic(session_emulator)
    schemas = ContractSchemas(contract)
    checked = 0
    for lifecycle, requests in traffic.by_lifecycle.items():
        assert requests, f"the {lifecycle} lifecycle sent nothing"
        for request in requests:
            assert request.operation_id is not None, (
                f"{lifecycle}: {request.method} {request.path} is no operation"
            )
            media = request.headers.get("Accept") or request.headers.get("accept")
            assert media in contract["operations"][request.operation_id]["mediaTypes"]["accept"], (
                f"{lifecycle}: {request.operation_id} asked for {media}"
            )
            reference = request_schema(contract, request.operation_id, request.version)
            if reference is None:
                assert request.body is None, f"{lifecycle}: {request.operation_id} takes no body"
                continue
            problems = schemas.problems(reference, request.body)
            if problems:
                pytest.fail(
                    f"{lifecycle}: {request.operation_id} sent a body that is not {reference}: {problems[0]}"
                )
            checked += 1
    assert checked > 0
    assert traffic.failures == {}, "\n\n".join(f"{name}: {why}" for name, why in traffic.failures.items())


def test_the_lifecycles_cover_what_they_claim(session_emulator: Emulator) -> None:
    traffic = program_traffic(session_emulator)
    schedules = [
        r.body["input"]["reverseETLSchedule"]["strategy"]
        for r in traffic.by_lifecycle["every schedule strategy"]
        if r.operation_id == "updateSubscriptionForDestination" and "reverseETLSchedule" in r.body["input"]
    ]
    assert set(schedules) == set(SCHEDULES)
    traits = {
        r.body["name"]
        for r in traffic.by_lifecycle["docs/traits.md examples"]
        if r.operation_id == "createComputedTrait"
    }
    assert {example["name"] for example in docs_trait_examples()} <= traits
    adoption = traffic.by_lifecycle["adoption"]
    assert not [r for r in adoption if r.method == "POST" and r.operation_id != "createValidationInWarehouse"]
    failed = [(r.operation_id, r.status) for r in traffic.requests if r.status is None or r.status >= 400]
    assert failed == []
