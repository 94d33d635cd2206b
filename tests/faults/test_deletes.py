"""Deleting what is already gone, and destroying after a partial creation: both succeed and leave nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from segment_emulator import Emulator
from tests.faults.conftest import (
    DELETE_CALL,
    MAIN,
    api_client,
    calls,
    changes,
    delete_every_kind,
    engine_for,
    outputs,
    segment_objects,
)
from tests.harness import REPO_ROOT, DeploymentFailed, ProviderServer

NOTHING = {
    "sources": [],
    "warehouses": [],
    "connections": [],
    "models": [],
    "destinations": [],
    "mappings": [],
    "computed_traits": [],
}


def test_destroy_succeeds_when_every_object_is_already_gone(
    server: ProviderServer, flex_emulator: Emulator
) -> None:
    engine = engine_for(server, flex_emulator)
    engine.up(MAIN)
    delete_every_kind(engine, flex_emulator)
    flex_emulator.clear_requests()

    result = engine.destroy()

    assert result.failures == []
    assert engine.state.names() == []
    for kind, operation in DELETE_CALL.items():
        statuses = {r.status for r in calls(flex_emulator, operation)}
        assert statuses == {404}, f"{kind}: each delete found the object gone ({statuses})"
    # The activation's delete turns the destination off: it was gone too.
    assert {r.status for r in calls(flex_emulator, "updateDestination")} == {404}


def test_destroy_after_a_partial_creation_removes_what_was_made(
    server: ProviderServer, flex_emulator: Emulator
) -> None:
    engine = engine_for(server, flex_emulator)
    flex_emulator.add_fault("status", operation="createDestinationSubscription", status=422, count=1000)
    with pytest.raises(DeploymentFailed):
        engine.up(MAIN)
    assert "model" in engine.state and "send-identify" not in engine.state
    flex_emulator.clear_faults()

    result = engine.destroy()

    assert result.failures == []
    assert engine.state.names() == []
    assert segment_objects(flex_emulator) == NOTHING


def test_destroy_after_a_lost_create_answer_removes_the_adopted_object(
    server: ProviderServer, flex_emulator: Emulator
) -> None:
    # The adopted object is the one in the state: destroying leaves no orphan behind.
    engine = engine_for(server, flex_emulator)
    flex_emulator.add_fault("commit_then_fail", operation="createWarehouse", status=None)
    engine.up(MAIN)

    engine.destroy()

    assert segment_objects(flex_emulator) == NOTHING


def test_removing_objects_from_the_config_that_are_already_gone(
    server: ProviderServer, flex_emulator: Emulator, tmp_path: Path
) -> None:
    engine = engine_for(server, flex_emulator)
    engine.up(MAIN)
    trait = outputs(engine, "trait-total_outbounds")["trait_id"]
    api_client(flex_emulator).delete_computed_trait(flex_emulator.space("unified-profiles-dev")["id"], trait)
    definitions = yaml.safe_load((REPO_ROOT / "definitions.yaml").read_text())
    definitions["traits"]["guide"]["total_outbounds"] = False
    path = tmp_path / "definitions.yaml"
    path.write_text(yaml.safe_dump(definitions))
    engine.config["flex-unified-profiles:definitionsFile"] = str(path)
    flex_emulator.clear_requests()

    result = engine.up(MAIN)

    assert changes(result) == {"trait-total_outbounds": "delete"}
    assert [r.status for r in calls(flex_emulator, "removeComputedTraitFromSpace")] == [404]
    assert "trait-total_outbounds" not in engine.state


def test_a_delete_answered_with_5xx_after_it_was_applied_is_not_an_error(
    server: ProviderServer, flex_emulator: Emulator
) -> None:
    # The retried DELETE finds the object gone (404), which is what was wanted.
    engine = engine_for(server, flex_emulator)
    engine.up(MAIN)
    for operation in sorted(DELETE_CALL.values()):
        flex_emulator.add_fault("commit_then_fail", operation=operation, status=503)
    flex_emulator.clear_requests()

    engine.destroy()

    assert engine.state.names() == []
    for operation in DELETE_CALL.values():
        assert [r.status for r in calls(flex_emulator, operation)][:2] == [503, 404], operation
    assert segment_objects(flex_emulator) == NOTHING
