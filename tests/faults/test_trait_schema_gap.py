"""Computed traits already made are kept when the space stops reporting the Flex events they need.

The program only creates a computed trait once the space has seen its Flex events (Segment's guide). If the
schema later stops listing them (the events were removed from the space's schema, the Flex connection was reset),
the traits that exist must stay as they are, with a warning: deleting them would wipe their values from every
profile.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from segment_emulator import Emulator
from tests.faults.conftest import MAIN, api_client, assert_converged, changes, engine_for, mutating
from tests.harness import ProviderServer

FLEX_EVENTS = ("Flex - Engagement Initiated", "Flex - Engagement Completed")


def forget_flex_events(emulator: Emulator, *events: str) -> None:
    space_id = emulator.space("unified-profiles-dev")["id"]
    with emulator.store_lock:
        for event in events:
            emulator.store.events[space_id].pop(event, None)


def trait_names(engine: Any) -> set[str]:
    return {name for name in engine.state.names() if name.startswith("trait-")}


def test_existing_traits_are_kept_with_a_warning_when_the_events_disappear(
    server: ProviderServer,
    flex_emulator: Emulator,
    converged: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = engine_for(server, flex_emulator)
    first = engine.up(MAIN)
    created = trait_names(engine)
    assert len(created) == 6 and first.outputs["waitingTraits"] == {}
    forget_flex_events(flex_emulator, *FLEX_EVENTS)
    flex_emulator.clear_requests()
    caplog.clear()

    with caplog.at_level(logging.WARNING):
        second = engine.up(MAIN)

    assert changes(second) == {}
    assert mutating(flex_emulator) == []
    assert trait_names(engine) == created
    assert set(second.outputs["computedTraits"]) == {name.removeprefix("trait-") for name in created}
    assert second.outputs["waitingTraits"] == {}
    # Under the engine the program's warnings go to the CLI; under mocks, to Python's root logger.
    warnings = "\n".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    for name in created:
        assert f"computed trait {name.removeprefix('trait-')} " in warnings
    assert "kept as it is" in warnings
    steps = {s["step"]: s["status"] for s in second.outputs["manualSteps"]}
    assert steps["Complete one Flex interaction so Flex events reach the space"] == "check"

    # Once the events are back, nothing changes either.
    flex_emulator.seed_flex_events("unified-profiles-dev")
    assert_converged(engine, flex_emulator, converged)


def test_only_the_traits_that_exist_are_kept_the_others_still_wait(
    server: ProviderServer, flex_emulator: Emulator
) -> None:
    engine = engine_for(server, flex_emulator)
    engine.up(MAIN)
    # One trait deleted in the app, then the Initiated event vanishes: five traits need it. The deleted one
    # waits for the event again; the four that exist are kept.
    space_id = flex_emulator.space("unified-profiles-dev")["id"]
    outbounds = engine.state.get("trait-total_outbounds").outputs["trait_id"]
    api_client(flex_emulator).delete_computed_trait(space_id, outbounds)
    engine.refresh()
    forget_flex_events(flex_emulator, "Flex - Engagement Initiated")
    flex_emulator.clear_requests()

    result = engine.up(MAIN)

    assert changes(result) == {}
    assert mutating(flex_emulator) == []
    assert set(result.outputs["waitingTraits"]) == {"total_outbounds"}
    assert set(result.outputs["computedTraits"]) == {
        "total_inbounds",
        "frequent_inbound_channel",
        "last_known_service_agent",
        "last_interaction_duration",
        "sentiment_in_last_interaction",
    }


def test_a_trait_made_in_the_app_is_adopted_not_duplicated_while_the_events_are_missing(
    server: ProviderServer, emulator: Emulator
) -> None:
    # No Flex events yet, but someone created one of the traits by hand: registering it must not create a second.
    from segment_provider.api.models import TraitDefinition

    engine = engine_for(server, emulator)
    query = "event('Flex - Engagement Initiated').where(property('direction') = 'Inbound').count()"
    client = api_client(emulator)
    space_id = emulator.space("unified-profiles-dev")["id"]
    client.create_computed_trait(
        space_id, name="Total inbounds", definition=TraitDefinition(type="USERS", query=query)
    )
    emulator.clear_requests()

    result = engine.up(MAIN)

    assert result.op("trait-total_inbounds") == "create"
    assert [r.operation_id for r in emulator.requests if r.operation_id == "createComputedTrait"] == []
    names = [t.name for t in client.list_computed_traits(space_id)]
    assert names.count("Total inbounds") == 1
    assert "total_inbounds" in result.outputs["computedTraits"]
    assert "total_inbounds" not in result.outputs["waitingTraits"]
