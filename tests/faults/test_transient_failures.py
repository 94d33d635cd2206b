"""5xx bursts, dropped connections and hangs past the client's timeout, on every resource kind.

``up`` from nothing meets the fault on the first call each kind sends; ``refresh`` on each kind's read; ``destroy``
on each kind's delete. Reads, changes and deletes are sent again within the run. A create is never sent twice in
one run (Segment may apply it late): its resource fails saying to run ``up`` again, and the next ``up`` adopts or
creates it. Segment never holds a second object, and ends up exactly as after a fault-free run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from segment_emulator import Emulator
from tests.faults.conftest import (
    DELETE_CALL,
    FIRST_CALL,
    HANG_SECONDS,
    KINDS,
    MAIN,
    MAX_RETRIES,
    NOTHING,
    READ_CALL,
    assert_converged,
    calls,
    engine_for,
    kind_of,
    segment_objects,
)
from tests.harness import DeploymentFailed, ProviderServer

AddFault = Callable[[Emulator, str, float], Any]
# The creates a run sends once: a lost answer fails the resource until the next up.
SENT_ONCE = {
    "createSource",
    "createWarehouse",
    "createReverseEtlModel",
    "createDestination",
    "createDestinationSubscription",
    "createComputedTrait",
}
FAULTS: dict[str, AddFault] = {
    # As many failures in a row as the client retries (the last attempt gets through); a create, sent once per
    # run, fails once.
    "5xx burst": lambda emu, op, _: emu.add_fault(
        "status", operation=op, status=503, count=1 if op in SENT_ONCE else MAX_RETRIES
    ),
    "dropped connection": lambda emu, op, _: emu.add_fault("drop", operation=op),
    "hang past the timeout": lambda emu, op, seconds: emu.add_fault("hang", operation=op, seconds=seconds),
}
# Reads and deletes are safe to send again while a hung one is still being served, so they get a shorter
# timeout.
QUICK_TIMEOUT = 0.2
QUICK_HANG_SECONDS = 0.4


UPS = 6
"""At most this many ups: each of the data path's steps (sources, model and destination, mapping) may fail once."""


def no_second_object(emulator: Emulator, reference: dict[str, Any]) -> bool:
    """Segment holds at most the reference's objects: none twice."""
    now = segment_objects(emulator)
    return all(len(now[key]) <= len(reference[key]) for key in reference)


def faulted(emulator: Emulator, operation_id: str) -> list[Any]:
    return [r for r in calls(emulator, operation_id) if r.fault is not None]


@pytest.mark.parametrize("fault", FAULTS)
def test_up_from_nothing_converges_when_the_first_call_of_every_kind_fails(
    fault: str, server: ProviderServer, flex_emulator: Emulator, converged: dict[str, Any]
) -> None:
    engine = engine_for(server, flex_emulator)
    for operation in sorted(set(FIRST_CALL.values())):
        FAULTS[fault](flex_emulator, operation, HANG_SECONDS)

    failed: set[str] = set()
    for _ in range(UPS):
        try:
            engine.up(MAIN)
            break
        except DeploymentFailed as failure:
            for f in failure.failures:
                assert "Run `pulumi up` again: it will find it and adopt it" in f.message, f.message
                failed.add(kind_of(f.type))
        time.sleep(HANG_SECONDS)  # a hung create is applied now
        assert no_second_object(flex_emulator, converged)
    else:
        pytest.fail(f"up did not converge in {UPS} runs")

    # Only creates failed: every other call was sent again within the run.
    assert failed <= {
        "Source",
        "Warehouse",
        "ReverseEtlModel",
        "Destination",
        "DestinationSubscription",
        "ComputedTrait",
    }
    for operation in SENT_ONCE:
        assert len([r for r in calls(flex_emulator, operation) if r.fault is not None]) == 1, operation
    for kind in KINDS:
        assert faulted(flex_emulator, FIRST_CALL[kind]), f"the fault never reached {kind}"
    assert flex_emulator.faults == []
    assert_converged(engine, flex_emulator, converged)


@pytest.mark.parametrize("fault", FAULTS)
def test_refresh_and_destroy_get_through_when_every_kinds_read_and_delete_fail(
    fault: str, server: ProviderServer, flex_emulator: Emulator
) -> None:
    engine = engine_for(server, flex_emulator, **{"segment:readTimeout": QUICK_TIMEOUT})
    try:
        engine.up(MAIN)
    except DeploymentFailed:
        # Only the setup: on a loaded machine a create can outlast the quick timeout. Its outcome is then unknown,
        # the provider undoes it, and the next up (as its message says) finishes the stack.
        engine.up(MAIN)
    for operation in sorted(set(READ_CALL.values())):
        FAULTS[fault](flex_emulator, operation, QUICK_HANG_SECONDS)

    refreshed = engine.refresh()

    assert refreshed.failures == [] and refreshed.drift == []
    assert {step.op for step in refreshed.steps} == {"same"}
    for kind, operation in READ_CALL.items():
        assert faulted(flex_emulator, operation), f"the fault never reached {kind}'s read ({operation})"

    flex_emulator.clear_requests()
    for operation in sorted(set(DELETE_CALL.values()) | {"updateDestination"}):
        FAULTS[fault](flex_emulator, operation, QUICK_HANG_SECONDS)

    engine.destroy()

    assert engine.state.names() == []
    for kind, operation in DELETE_CALL.items():
        assert faulted(flex_emulator, operation), f"the fault never reached {kind}'s delete ({operation})"
    assert faulted(flex_emulator, "updateDestination"), "the fault never reached the activation's release"
    assert segment_objects(flex_emulator) == NOTHING
