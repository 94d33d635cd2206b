"""The same on an ``s3://`` state backend (moto's S3-compatible server, started by the fixture), as teams keep
state: the lock lives in the bucket, so a kill leaves it there; the doctor finds it, and two concurrent ``up``s of
one stack never both run."""

from __future__ import annotations

from segment_emulator import Emulator
from tests.e2e.conftest import CliStack
from tests.interruptions.conftest import DOCUMENTED_RECOVERY, Tripwire, doctor_commands, lock_files, start
from tests.interruptions.scenarios import (
    SAMPLED,
    assert_recovered_without_damage,
    recover_and_up,
    up_killed_at,
)

LOCKED = "the stack is currently locked"


def test_a_kill_leaves_the_lock_in_the_bucket_the_doctor_finds_it_and_the_recovery_leaves_no_duplicate(
    s3_stack: CliStack, flex_emulator: Emulator, tripwire: Tripwire
) -> None:
    kill = up_killed_at(s3_stack, tripwire, SAMPLED[0])
    assert [lock.startswith("s3://flex-pulumi-state/.pulumi/locks/") for lock in kill.locks] == [True]

    commands, output = doctor_commands(s3_stack)
    assert [c for c in commands if not c.startswith("rm ")] == DOCUMENTED_RECOVERY, output
    assert "stale" in output and kill.locks[0].rsplit("/", 1)[-1] in output, output

    assert recover_and_up(s3_stack) == DOCUMENTED_RECOVERY
    assert_recovered_without_damage(s3_stack, flex_emulator)


def test_two_concurrent_ups_of_one_stack_never_both_run(s3_stack: CliStack, flex_emulator: Emulator) -> None:
    runs = [start(s3_stack, "up", "--stack", "dev", "--yes", name=f"concurrent-up-{n}") for n in (1, 2)]
    codes = [run.wait() for run in runs]

    refused = [run for run, code in zip(runs, codes, strict=True) if code != 0]
    assert refused, f"both ups ran at once: {codes}"
    for run in refused:
        assert LOCKED in run.text(), run.text()
    assert not lock_files(s3_stack), "every run released its lock"
    if len(refused) == 2:
        s3_stack.up()
    assert_recovered_without_damage(s3_stack, flex_emulator)
