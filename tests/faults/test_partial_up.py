"""One resource fails hard midway through ``up``: the state keeps what was created, and the next ``up`` (fault gone)
finishes the job without one mutating call to the objects that were already right."""

from __future__ import annotations

from typing import Any, NamedTuple

import pulumi
import pytest

from segment_emulator import Emulator
from tests.faults.conftest import (
    MAIN,
    MAX_RETRIES,
    TRAITS,
    assert_converged,
    calls,
    changes,
    engine_for,
    kind_of,
    mutating,
)
from tests.harness import DeploymentFailed, ProviderServer

PERSISTENT = 1000


class Case(NamedTuple):
    """One resource kind failing for good: the status and operation of the fault, the resources that fail, those
    skipped because they depend on them, and the mutating calls the next ``up`` needs (those of the failed and
    skipped resources, nothing else)."""

    kind: str
    status: int
    operation: str
    failed: set[str]
    skipped: set[str]
    next_calls: list[str]


CASES: dict[str, Case] = {
    "source naming failing (500)": Case(
        "Source",
        500,
        "updateSource",
        {"salesforce-source", "reverse-etl-source"},
        {
            "salesforce-to-warehouse",
            "model",
            "profiles-destination",
            "send-identify",
            "profiles-destination-enabled",
        },
        [
            # The unnamed sources were kept: each create is answered 409, and the source is adopted, named and
            # labelled; then what needs them is created.
            "POST createSource",
            "POST createSource",
            "PATCH updateSource",
            "POST addLabelsToSource",
            "PATCH updateSource",
            "POST addLabelsToSource",
            "POST addConnectionFromSourceToWarehouse",
            "POST createReverseEtlModel",
            "POST createDestination",
            "POST createDestinationSubscription",
            "PATCH updateSubscriptionForDestination",
            "PATCH updateDestination",
        ],
    ),
    "warehouse create failing (500)": Case(
        "Warehouse",
        500,
        "createWarehouse",
        {"warehouse"},
        {"salesforce-to-warehouse"},
        [
            "POST addConnectionFromSourceToWarehouse",
            "POST createValidationInWarehouse",
            "POST createWarehouse",
        ],
    ),
    "connection failing (500)": Case(
        "WarehouseConnection",
        500,
        "addConnectionFromSourceToWarehouse",
        {"salesforce-to-warehouse"},
        set(),
        ["POST addConnectionFromSourceToWarehouse"],
    ),
    "model refused (422)": Case(
        "ReverseEtlModel",
        422,
        "createReverseEtlModel",
        {"model"},
        {"send-identify", "profiles-destination-enabled"},
        [
            "PATCH updateDestination",
            "PATCH updateSubscriptionForDestination",
            "POST createDestinationSubscription",
            "POST createReverseEtlModel",
        ],
    ),
    "destination failing (500)": Case(
        "Destination",
        500,
        "createDestination",
        {"profiles-destination"},
        {"send-identify", "profiles-destination-enabled"},
        [
            "PATCH updateDestination",
            "PATCH updateSubscriptionForDestination",
            "POST createDestination",
            "POST createDestinationSubscription",
        ],
    ),
    "mapping schedule failing (500)": Case(
        "DestinationSubscription",
        500,
        "updateSubscriptionForDestination",
        {"send-identify"},
        {"profiles-destination-enabled"},
        # The mapping was kept: found by its name before a create, adopted, and given its schedule.
        ["PATCH updateDestination", "PATCH updateSubscriptionForDestination"],
    ),
    "activation failing (500)": Case(
        "DestinationActivation",
        500,
        "updateDestination",
        {"profiles-destination-enabled"},
        set(),
        ["PATCH updateDestination"],
    ),
    "traits refused (422)": Case(
        "ComputedTrait",
        422,
        "createComputedTrait",
        TRAITS,
        set(),
        ["POST createComputedTrait"] * len(TRAITS),
    ),
}


# The traits wait for the Reverse ETL data path (they depend on the destination's activation): where it fails,
# they are skipped too, and the next up creates them.
DATA_PATH_CASES = (
    "source naming failing (500)",
    "model refused (422)",
    "destination failing (500)",
    "mapping schedule failing (500)",
    "activation failing (500)",
)
for _name in DATA_PATH_CASES:
    _case = CASES[_name]
    CASES[_name] = _case._replace(
        skipped=_case.skipped | TRAITS,
        next_calls=[*_case.next_calls, *["POST createComputedTrait"] * len(TRAITS)],
    )


@pytest.mark.parametrize("case", CASES)
def test_the_next_up_finishes_without_touching_what_was_already_right(
    case: str, server: ProviderServer, flex_emulator: Emulator, converged: dict[str, Any]
) -> None:
    kind, status, operation, failed_names, skipped, next_calls = CASES[case]
    engine = engine_for(server, flex_emulator)
    flex_emulator.add_fault("status", operation=operation, status=status, count=PERSISTENT)

    with pytest.raises(DeploymentFailed) as failed:
        engine.up(MAIN)

    result = failed.value.result
    assert {f.name for f in failed.value.failures} == failed_names
    assert {kind_of(f.type) for f in failed.value.failures} == {kind}
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


def test_segment_failing_during_the_read_only_checks_stops_up_before_any_change(
    server: ProviderServer, flex_emulator: Emulator, converged: dict[str, Any]
) -> None:
    # The space lookup (listSpaces) comes first, in the program's read-only checks: when it keeps failing,
    # nothing is registered, so nothing is half made.
    engine = engine_for(server, flex_emulator)
    flex_emulator.add_fault("status", operation="listSpaces", status=503, count=PERSISTENT)

    with pytest.raises(pulumi.RunError, match="listSpaces"):
        engine.up(MAIN)

    assert [r.status for r in calls(flex_emulator, "listSpaces")] == [503] * (MAX_RETRIES + 1)
    assert mutating(flex_emulator) == []
    assert engine.state.names() == []

    flex_emulator.clear_faults()
    engine.up(MAIN)
    assert_converged(engine, flex_emulator, converged)
