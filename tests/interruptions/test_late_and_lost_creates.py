"""Creates that Segment applies long after the client gave up on them, and creates whose answer was lost while
the lookups that should find them fail: after the runs a user makes (``pulumi up`` again, as the failure says),
Segment holds every object once."""

from __future__ import annotations

import time

import pytest

from flex_tools.scratch import config_set_all
from segment_emulator import Emulator, RecordedRequest
from tests.e2e.conftest import CliStack
from tests.interruptions.conftest import Tripwire, in_flight
from tests.interruptions.scenarios import NON_UNIQUE_CREATES, assert_recovered_without_damage

READ_TIMEOUT = 1.0
"""segment:readTimeout of these stacks, in seconds: small, so that ten times it stays short."""
EVERY_CREATE = {
    "createSource": 2,
    **dict.fromkeys(NON_UNIQUE_CREATES, 1),
    "addConnectionFromSourceToWarehouse": 1,
    "createComputedTrait": 6,
}
"""The creates of the dev stack, by operation, with how many objects each makes: each is held once."""
MOST_RUNS = 8


def quick_client(stack: CliStack) -> None:
    tuning = {"segment:readTimeout": str(READ_TIMEOUT), "segment:backoffBase": "0.1"}
    stack.pulumi("config", "set-all", "--stack", "dev", *config_set_all(tuning, {}))


def wait_for_segment(emulator: Emulator) -> None:
    """Until the emulator has finished every request it is holding (Segment applying a create late)."""
    deadline = time.monotonic() + 120
    while in_flight(emulator):
        assert time.monotonic() < deadline, in_flight(emulator)
        time.sleep(0.2)


def up_until_done(stack: CliStack, emulator: Emulator) -> list[int]:
    """``pulumi up`` as a user runs it after a failure: again, once Segment has finished what it was doing."""
    codes = []
    for _ in range(MOST_RUNS):
        done = stack.pulumi("up", "--stack", "dev", "--yes", check=False)
        codes.append(done.returncode)
        wait_for_segment(emulator)
        if done.returncode == 0:
            return codes
    pytest.fail(f"up still failing after {MOST_RUNS} runs: {codes}\n{done.stdout}\n{done.stderr}")


@pytest.mark.parametrize("times", [3, 10], ids=lambda times: f"{times}x-the-read-timeout")
def test_every_create_applied_late_is_adopted_not_made_twice(
    cli_stack: CliStack, flex_emulator: Emulator, times: int
) -> None:
    quick_client(cli_stack)
    for operation, objects in EVERY_CREATE.items():
        flex_emulator.add_fault("hang", operation=operation, seconds=times * READ_TIMEOUT, count=objects)

    codes = up_until_done(cli_stack, flex_emulator)

    late = [r for r in flex_emulator.requests if r.fault == "hang" and r.committed]
    assert {r.operation_id for r in late} >= set(NON_UNIQUE_CREATES), (
        "every non-unique kind's create came late"
    )
    assert codes, codes
    flex_emulator.clear_faults()
    assert_recovered_without_damage(cli_stack, flex_emulator)


def test_a_lost_answer_then_failing_lookups_fail_the_run_and_the_next_up_adopts(
    cli_stack: CliStack, flex_emulator: Emulator, tripwire: Tripwire
) -> None:
    quick_client(cli_stack)
    for create in NON_UNIQUE_CREATES:
        flex_emulator.add_fault("commit_then_fail", operation=create, status=None)

    def lookups_fail(record: RecordedRequest) -> None:
        assert record.operation_id is not None
        flex_emulator.add_fault(
            "status", operation=NON_UNIQUE_CREATES[record.operation_id], status=503, count=1000
        )

    for create in NON_UNIQUE_CREATES:
        tripwire.on(
            lambda r, create=create: r.operation_id == create and r.fault == "commit_then_fail", lookups_fail
        )

    first = cli_stack.pulumi("up", "--stack", "dev", "--yes", check=False)
    lost = [r.operation_id for r in flex_emulator.requests if r.fault == "commit_then_fail" and r.committed]
    refused = [r.operation_id for r in flex_emulator.requests if r.fault == "status"]
    assert lost and refused, "a create's answer was lost and a lookup after it was refused"
    assert first.returncode != 0, first.stdout

    flex_emulator.clear_faults()
    up_until_done(cli_stack, flex_emulator)
    assert_recovered_without_damage(cli_stack, flex_emulator)
