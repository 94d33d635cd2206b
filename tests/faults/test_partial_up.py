"""One resource fails hard midway through ``up``: the state keeps what was created, and the next ``up`` (fault gone)
finishes the job without one mutating call to the objects that were already right."""

from __future__ import annotations

from typing import Any

import pytest

from segment_emulator import Emulator
from tests.faults.conftest import MAIN, assert_converged, changes, engine_for, mutating
from tests.harness import DeploymentFailed, ProviderServer

PERSISTENT = 1000
# The failing operation → (the resource that fails, the resources skipped because they depend on it, the mutating
# calls the next up needs: those of the failed resource and of the skipped ones, nothing else).
CASES: dict[str, tuple[int, str, set[str], list[str]]] = {
    "model refused (422)": (
        422,
        "createReverseEtlModel",
        {"send-identify", "profiles-destination-enabled"},
        [
            "PATCH updateDestination",
            "PATCH updateSubscriptionForDestination",
            "POST createDestinationSubscription",
            "POST createReverseEtlModel",
        ],
    ),
    "warehouse create failing (500)": (
        500,
        "createWarehouse",
        {"salesforce-to-warehouse"},
        [
            "POST addConnectionFromSourceToWarehouse",
            "POST createValidationInWarehouse",
            "POST createWarehouse",
        ],
    ),
    "mapping schedule failing (500)": (
        500,
        "updateSubscriptionForDestination",
        {"profiles-destination-enabled"},
        [
            "PATCH updateDestination",
            "PATCH updateSubscriptionForDestination",
            "POST createDestinationSubscription",
        ],
    ),
    "source naming failing (500)": (
        500,
        "updateSource",
        {
            "salesforce-to-warehouse",
            "model",
            "profiles-destination",
            "send-identify",
            "profiles-destination-enabled",
        },
        [
            # The unnamed sources were deleted again, so both are created afresh, then what needs them.
            "POST createSource",
            "POST createSource",
            "PATCH updateSource",
            "PATCH updateSource",
            "POST addConnectionFromSourceToWarehouse",
            "POST createReverseEtlModel",
            "POST createDestination",
            "POST createDestinationSubscription",
            "PATCH updateSubscriptionForDestination",
            "PATCH updateDestination",
        ],
    ),
}
FAILED = {
    "createReverseEtlModel": {"model"},
    "createWarehouse": {"warehouse"},
    "updateSubscriptionForDestination": {"send-identify"},
    "updateSource": {"salesforce-source", "reverse-etl-source"},
}


@pytest.mark.parametrize("case", CASES)
def test_the_next_up_finishes_without_touching_what_was_already_right(
    case: str, server: ProviderServer, flex_emulator: Emulator, converged: dict[str, Any]
) -> None:
    status, operation, skipped, next_calls = CASES[case]
    engine = engine_for(server, flex_emulator)
    flex_emulator.add_fault("status", operation=operation, status=status, count=PERSISTENT)

    with pytest.raises(DeploymentFailed) as failed:
        engine.up(MAIN)

    result = failed.value.result
    failed_names = {f.name for f in failed.value.failures}
    assert failed_names == FAILED[operation]
    assert {urn.rsplit("::", 1)[-1] for urn in result.skipped} >= skipped
    created = {step.name for step in result.steps if step.op == "create"}
    assert created, "nothing was created before the failure"
    # Everything that succeeded is in the state, with the id Segment gave it.
    assert created <= set(engine.state.names())
    assert not (failed_names | skipped) & set(engine.state.names())

    flex_emulator.clear_faults()
    flex_emulator.clear_requests()
    second = engine.up(MAIN)

    assert set(changes(second).values()) == {"create"}
    assert set(changes(second)) == failed_names | skipped
    assert sorted(mutating(flex_emulator)) == sorted(next_calls)
    assert_converged(engine, flex_emulator, converged)
