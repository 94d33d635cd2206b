"""Objects changed or deleted behind the program's back, every kind: ``refresh`` reports it, ``up`` restores it.

The engine stand-in runs ``up`` as ``pulumi up --refresh=false`` does: it trusts the state, and ``refresh`` is
what notices changes made in the Segment app. With the CLI, the project option ``refresh: always`` (Pulumi.yaml)
makes every plain ``preview`` and ``up`` refresh first: tests/e2e/test_cli_drift.py.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from segment_emulator import Emulator
from segment_provider.api.models import TraitDefinition
from tests.faults.conftest import (
    KINDS,
    MAIN,
    api_client,
    assert_converged,
    changes,
    delete_every_kind,
    engine_for,
    kind_of,
    mutating,
    outputs,
)
from tests.harness import DeploymentFailed, ProgramEngine, ProviderServer


def change_every_kind(engine: ProgramEngine, emulator: Emulator) -> set[str]:
    """Change one object of each kind that has something to change, as a user would in the app; returns the
    resource names changed."""
    client = api_client(emulator)
    client.update_source(outputs(engine, "salesforce-source")["source_id"], name="Renamed in the app")
    client.update_source(outputs(engine, "reverse-etl-source")["source_id"], enabled=False)
    warehouse_id = outputs(engine, "warehouse")["warehouse_id"]
    with emulator.store_lock:
        emulator.store.warehouses[warehouse_id]["settings"]["database"] = "CHANGED_IN_THE_APP"
    client.update_reverse_etl_model(outputs(engine, "model")["model_id"], query="SELECT 1 AS ID")
    destination_id = outputs(engine, "profiles-destination")["destination_id"]
    client.update_destination(destination_id, name="Renamed in the app", enabled=False)
    client.update_subscription(
        destination_id, outputs(engine, "send-identify")["subscription_id"], trigger='event = "deleted"'
    )
    trait = outputs(engine, "trait-total_inbounds")
    client.update_computed_trait(
        emulator.space("unified-profiles-dev")["id"],
        trait["trait_id"],
        definition=TraitDefinition(type="USERS", query="event('Something else').count()"),
    )
    # A warehouse connection has nothing to change: it exists or it does not.
    return {
        "salesforce-source",
        "reverse-etl-source",
        "warehouse",
        "model",
        "profiles-destination",
        "profiles-destination-enabled",
        "send-identify",
        "trait-total_inbounds",
    }


def test_changes_to_every_kind_show_on_refresh_and_up_restores_them(
    server: ProviderServer, flex_emulator: Emulator, converged: dict[str, Any]
) -> None:
    engine = engine_for(server, flex_emulator)
    engine.up(MAIN)
    changed = change_every_kind(engine, flex_emulator)

    refreshed = engine.refresh()

    assert {drift.name for drift in refreshed.drift} == changed
    kinds = {kind_of(drift.type) for drift in refreshed.drift}
    assert kinds == set(KINDS) - {"UnifySpace", "WarehouseConnection"}, kinds
    flex_emulator.clear_requests()
    restored = engine.up(MAIN)
    assert changes(restored) == dict.fromkeys(changed, "update")
    assert all(call.startswith("PATCH ") for call in mutating(flex_emulator))
    assert_converged(engine, flex_emulator, converged)


def test_deletions_of_every_kind_show_on_refresh_and_up_recreates_them(
    server: ProviderServer, flex_emulator: Emulator, converged: dict[str, Any]
) -> None:
    engine = engine_for(server, flex_emulator)
    engine.up(MAIN)
    delete_every_kind(engine, flex_emulator)

    refreshed = engine.refresh()

    gone = {step.name for step in refreshed.steps if step.op == "delete"}
    managed = {r.name for r in engine.registrations if r.custom} - {"space"}
    assert gone == managed, "every deleted object (and the activation of the deleted destination) is reported"
    gone_kinds = {kind_of(step.type) for step in refreshed.steps if step.op == "delete"}
    assert gone_kinds == set(KINDS) - {"UnifySpace"}, gone_kinds
    assert set(engine.state.names()) == {"flex-unified-profiles", "space"}
    recreated = engine.up(MAIN)
    assert changes(recreated) == dict.fromkeys(managed, "create")
    assert_converged(engine, flex_emulator, converged)


def test_an_up_without_refresh_trusts_the_state_until_a_refresh(
    server: ProviderServer, flex_emulator: Emulator, converged: dict[str, Any]
) -> None:
    engine = engine_for(server, flex_emulator)
    engine.up(MAIN)
    change_every_kind(engine, flex_emulator)
    flex_emulator.clear_requests()

    assert changes(engine.up(MAIN)) == {}
    assert mutating(flex_emulator) == []

    engine.refresh()
    engine.up(MAIN)
    assert_converged(engine, flex_emulator, converged)


def test_a_space_deleted_in_the_app_stops_up_before_anything_is_changed(
    server: ProviderServer, flex_emulator: Emulator
) -> None:
    # The API cannot create a space: losing it must not take the rest of the stack with it.
    engine = engine_for(server, flex_emulator)
    engine.up(MAIN)
    space_id = outputs(engine, "space")["space_id"]
    with flex_emulator.store_lock:
        del flex_emulator.store.spaces[space_id]

    refreshed = engine.refresh()
    # The space's traits went with it; everything else is still there.
    gone = {step.name for step in refreshed.steps if step.op == "delete"}
    assert gone == {"space"} | {name for name in gone if name.startswith("trait-")}
    remaining = set(engine.state.names())
    assert "send-identify" in remaining

    flex_emulator.clear_requests()
    with pytest.raises((DeploymentFailed, pulumi.RunError), match="create it in the Segment app"):
        engine.up(MAIN)
    assert mutating(flex_emulator) == []
    assert set(engine.state.names()) == remaining


def test_a_space_renamed_in_the_app_is_reported_and_left_as_it_is(
    server: ProviderServer, flex_emulator: Emulator, converged: dict[str, Any]
) -> None:
    # The API cannot change a space: the stack names it by slug, so a new name is recorded, not undone.
    engine = engine_for(server, flex_emulator)
    engine.up(MAIN)
    space_id = outputs(engine, "space")["space_id"]
    with flex_emulator.store_lock:
        flex_emulator.store.spaces[space_id]["name"] = "Renamed in the app"

    refreshed = engine.refresh()

    (drift,) = refreshed.drift
    assert (drift.name, drift.after) == ("space", {"space_name": "Renamed in the app"})
    assert outputs(engine, "space")["space_name"] == "Renamed in the app"
    assert_converged(engine, flex_emulator, converged)
