"""``kill -9`` of the whole ``pulumi up`` process tree at a mutating call of an up from empty, then the recovery
docs/reliability.md gives ("When a run was interrupted"), then ``pulumi up``: Segment must hold every object
once, owned by the state, and ``preview --expect-no-changes`` must pass."""

from __future__ import annotations

import pytest

from segment_emulator import Emulator
from tests.e2e.conftest import CliStack, mutating, segment_objects
from tests.interruptions.conftest import DOCUMENTED_RECOVERY, Tripwire
from tests.interruptions.scenarios import (
    MUTATING_CALLS_OF_AN_UP_FROM_EMPTY,
    POSITIONS,
    Position,
    assert_recovered_without_damage,
    recover_and_up,
    up_killed_at,
)


def test_the_kill_positions_cover_every_mutating_call_of_an_up_from_empty(
    cli_stack: CliStack, flex_emulator: Emulator
) -> None:
    cli_stack.deploy()
    calls = mutating(flex_emulator)
    assert len(calls) == MUTATING_CALLS_OF_AN_UP_FROM_EMPTY, calls


@pytest.mark.parametrize("position", POSITIONS, ids=lambda position: position.label)
def test_a_kill_of_the_process_tree_then_the_documented_recovery_leaves_no_duplicate(
    cli_stack: CliStack, flex_emulator: Emulator, tripwire: Tripwire, position: Position
) -> None:
    kill = up_killed_at(cli_stack, tripwire, position)
    assert kill.locks, "a killed run leaves its lock in the backend"

    commands = recover_and_up(cli_stack)

    assert [c for c in commands if not c.startswith("rm ")] == DOCUMENTED_RECOVERY
    assert_recovered_without_damage(cli_stack, flex_emulator)


def test_with_pulumi_skip_checkpoints_a_kill_leaves_no_record_and_the_next_up_adopts_what_it_made(
    cli_stack: CliStack, flex_emulator: Emulator, tripwire: Tripwire
) -> None:
    # docs/reliability.md, "PULUMI_SKIP_CHECKPOINTS on large stacks". Killed at the first trait's create: every
    # other kind is made by then (sources and traits found again by their 409, the rest by a list).
    cli_stack.env["PULUMI_SKIP_CHECKPOINTS"] = "true"
    kill = up_killed_at(cli_stack, tripwire, Position(operation="createComputedTrait"), checkpoints=False)

    assert kill.pending == []
    assert [r["type"] for r in cli_stack.resources() if "dynamic" in r["type"]] == []
    made = segment_objects(flex_emulator)
    assert all(made[kind] for kind in ("sources", "warehouses", "models", "destinations", "mappings")), made

    # No pending operation to clear: the doctor prints the stale lock's cancel, then the `pulumi up`.
    assert recover_and_up(cli_stack) == [DOCUMENTED_RECOVERY[0], DOCUMENTED_RECOVERY[-1]]
    assert_recovered_without_damage(cli_stack, flex_emulator)
