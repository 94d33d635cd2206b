"""The interruptions the tests inflict, and the check every one of them ends with.

A kill lands on a mutating call once Segment has applied it and before its answer leaves: the object exists and
no one recorded it, the worst moment for a runner to die. Where it lands is read from the emulator's request log,
never from a timer. ``INTERRUPTION_POSITIONS=all`` (``make interruptions``) kills at every position of an up from
empty; otherwise (``make e2e``, CI) at the first create of each kind Segment does not keep unique.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

from segment_emulator import Emulator, RecordedRequest
from tests.e2e.conftest import CliStack, expected_objects, program_resource_names, segment_objects
from tests.interruptions.conftest import (
    TORN_STATE,
    Run,
    Tripwire,
    is_mutating,
    ledger,
    lock_files,
    pending_operations,
    pending_operations_after_kill,
    recover,
    start,
)

NON_UNIQUE_CREATES = {
    "createWarehouse": "listWarehouses",
    "createReverseEtlModel": "listReverseEtlModels",
    "createDestination": "listDestinations",
    "createDestinationSubscription": "listSubscriptionsFromDestination",
}
"""The creates of the kinds Segment keeps no natural key unique for, and the list call that finds each by it."""

MUTATING_CALLS_OF_AN_UP_FROM_EMPTY = 20
"""How many mutating calls the dev stack's up from empty makes (checked by a test): the kill positions."""

EVERY_POSITION = os.environ.get("INTERRUPTION_POSITIONS", "").strip().lower() == "all"


@dataclass(frozen=True)
class Position:
    """Where a kill lands: the n-th mutating call of the up, or the first call of one operation."""

    call: int | None = None
    operation: str | None = None

    @property
    def label(self) -> str:
        return f"call-{self.call}" if self.call is not None else f"first-{self.operation}"

    def matches(self, record: RecordedRequest, served: int, start: int) -> bool:
        if not is_mutating(record):
            return False
        if self.call is not None:
            return served == start + self.call
        return record.operation_id == self.operation


SAMPLED = [Position(operation=op) for op in NON_UNIQUE_CREATES]
POSITIONS = SAMPLED + (
    [Position(call=n) for n in range(1, MUTATING_CALLS_OF_AN_UP_FROM_EMPTY + 1)] if EVERY_POSITION else []
)


@dataclass
class Kill:
    run: Run
    at_call: int
    operation: str
    pending: list[dict[str, Any]]
    locks: list[str]


def up_killed_at(
    stack: CliStack, tripwire: Tripwire, position: Position, *, checkpoints: bool = True
) -> Kill:
    """``pulumi up`` of an empty dev stack, its whole process tree killed with SIGKILL at ``position``; checks
    that the kill happened mid-run (the call was served, Pulumi died of the signal, the state has pending
    operations, unless the stack runs with ``PULUMI_SKIP_CHECKPOINTS``: ``checkpoints=False``) and returns what it
    left."""
    start_at = tripwire.mutating_served
    seen: dict[str, Any] = {}
    holder: dict[str, Run] = {}
    done = threading.Event()

    def kill(record: RecordedRequest) -> None:
        seen["at"] = tripwire.mutating_served - start_at
        seen["operation"] = record.operation_id
        try:
            holder["run"].kill_tree()
        except Exception as error:  # the emulator would only print it: the test must see it
            seen["error"] = repr(error)
            raise
        finally:
            done.set()

    tripwire.on(lambda record: position.matches(record, tripwire.mutating_served, start_at), kill)
    holder["run"] = run = start(stack, "up", "--stack", "dev", "--yes", name=f"up-killed-{position.label}")
    code = run.wait()
    # pulumi dies first; the kill returns once every process of the tree is dead.
    done.wait(timeout=30)
    assert "at" in seen, f"the up ended (exit {code}) before reaching {position.label}:\n{run.text()}"
    assert "error" not in seen, seen
    assert code == -9, f"pulumi did not die of SIGKILL (exit {code})"
    assert run.killed, "no process was killed"
    if position.call is not None:
        assert seen["at"] == position.call
    pending = pending_operations_after_kill(stack)
    if pending is TORN_STATE:
        return Kill(run, seen["at"], str(seen["operation"]), [], lock_files(stack))
    assert pending or not checkpoints, (
        "a kill in the middle of a Segment call leaves the engine's pending operation in the state"
    )
    return Kill(run, seen["at"], str(seen["operation"]), pending, lock_files(stack))


def assert_recovered_without_damage(stack: CliStack, emulator: Emulator) -> None:
    """The end of every scenario: Segment holds exactly what the stack declares, each object once and owned by
    the state, and Pulumi sees nothing left to do."""
    found = ledger(emulator, stack.resources())
    assert found.clean, (
        f"{found.counts}: duplicates {found.duplicates}, orphans {found.orphans}, lost {found.lost}"
    )
    assert segment_objects(emulator) == expected_objects()
    assert not pending_operations(stack)
    assert not lock_files(stack)
    stack.pulumi("preview", "--stack", "dev", "--expect-no-changes")


def recover_and_up(stack: CliStack) -> list[str]:
    """The documented recovery, as the doctor prints it, ``pulumi up`` included."""
    return recover(stack)


__all__ = [
    "NON_UNIQUE_CREATES",
    "POSITIONS",
    "SAMPLED",
    "Position",
    "assert_recovered_without_damage",
    "program_resource_names",
    "recover_and_up",
    "up_killed_at",
]
