"""Deleting what is already gone, and destroying after a partial creation: both succeed and leave nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from segment_emulator import Emulator
from tests.faults.conftest import (
    CREATES,
    DELETE_CALL,
    MAIN,
    NOTHING,
    TRAITS,
    api_client,
    calls,
    changes,
    delete_every_kind,
    engine_for,
    outputs,
    segment_objects,
)
from tests.harness import REPO_ROOT, DeploymentFailed, ProviderServer


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


# The operation that fails for good → the resources the first up leaves out (failed or skipped; the traits wait
# for the data path). Between the cases every kind is made by a failed up, then destroyed.
PARTIAL = {
    "mapping refused": (
        "createDestinationSubscription",
        {"send-identify", "profiles-destination-enabled", *TRAITS},
    ),
    "connection refused": ("addConnectionFromSourceToWarehouse", {"salesforce-to-warehouse"}),
    "traits refused": ("createComputedTrait", TRAITS),
}


@pytest.mark.parametrize("case", PARTIAL)
def test_destroy_after_a_partial_creation_removes_what_was_made(
    case: str, server: ProviderServer, flex_emulator: Emulator
) -> None:
    operation, missing = PARTIAL[case]
    engine = engine_for(server, flex_emulator)
    flex_emulator.add_fault("status", operation=operation, status=422, count=1000)
    with pytest.raises(DeploymentFailed):
        engine.up(MAIN)
    made = {r.name for r in engine.registrations if r.custom} - missing
    assert set(engine.state.names()) - {"flex-unified-profiles"} == made
    flex_emulator.clear_faults()
    flex_emulator.clear_requests()

    result = engine.destroy()

    assert result.failures == []
    assert engine.state.names() == []
    assert {step.name for step in result.steps if step.op == "delete"} >= made
    assert segment_objects(flex_emulator) == NOTHING


def test_destroy_after_lost_create_answers_removes_the_adopted_objects(
    server: ProviderServer, flex_emulator: Emulator
) -> None:
    # The adopted objects are the ones in the state: destroying leaves no orphan behind.
    engine = engine_for(server, flex_emulator)
    for operation, (_, lost) in sorted(CREATES.items()):
        flex_emulator.add_fault("commit_then_fail", operation=operation, status=None, count=lost)
    engine.up(MAIN)
    assert flex_emulator.faults == [], "every kind's create lost its answer"

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
    # The activation is released with a PATCH (enabled: false), sent again as it is.
    flex_emulator.add_fault("commit_then_fail", operation="updateDestination", status=503)
    flex_emulator.clear_requests()

    engine.destroy()

    assert engine.state.names() == []
    for kind, operation in DELETE_CALL.items():
        # Deletes of one kind run at once (the traits): the retry's 404 follows the 503, others answer 200.
        statuses = [r.status for r in calls(flex_emulator, operation)]
        assert (statuses.count(503), statuses.count(404)) == (1, 1), kind
        assert statuses.index(503) < statuses.index(404) and set(statuses) <= {503, 404, 200}, kind
    assert [r.status for r in calls(flex_emulator, "updateDestination")] == [503, 200]
    assert segment_objects(flex_emulator) == NOTHING
