"""5xx bursts, dropped connections and hangs past the client's timeout, on every resource kind.

``up`` from nothing meets the fault on the first call each kind sends; ``refresh`` on each kind's read; ``destroy``
on each kind's delete. Each operation completes, and Segment ends up exactly as after a fault-free run.
"""

from __future__ import annotations

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
    segment_objects,
)
from tests.harness import DeploymentFailed, ProviderServer

AddFault = Callable[[Emulator, str, float], Any]
FAULTS: dict[str, AddFault] = {
    # As many failures in a row as the client retries: the last attempt gets through.
    "5xx burst": lambda emu, op, _: emu.add_fault("status", operation=op, status=503, count=MAX_RETRIES),
    "dropped connection": lambda emu, op, _: emu.add_fault("drop", operation=op),
    "hang past the timeout": lambda emu, op, seconds: emu.add_fault("hang", operation=op, seconds=seconds),
}
# Reads and deletes are safe to send again while a hung one is still being served, so they get a shorter
# timeout.
QUICK_TIMEOUT = 0.2
QUICK_HANG_SECONDS = 0.4


def faulted(emulator: Emulator, operation_id: str) -> list[Any]:
    return [r for r in calls(emulator, operation_id) if r.fault is not None]


@pytest.mark.parametrize("fault", FAULTS)
def test_up_from_nothing_converges_when_the_first_call_of_every_kind_fails(
    fault: str, server: ProviderServer, flex_emulator: Emulator, converged: dict[str, Any]
) -> None:
    engine = engine_for(server, flex_emulator)
    for operation in sorted(set(FIRST_CALL.values())):
        FAULTS[fault](flex_emulator, operation, HANG_SECONDS)

    result = engine.up(MAIN)

    assert result.failures == []
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
