"""Each way a run really ends early, at the same moment (the first warehouse create applied, its answer not yet
sent): what it leaves (the table of docs/reliability.md, "When a run was interrupted"), then the recovery the doctor
prints, then Segment holds every object once."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from segment_emulator import Emulator, RecordedRequest
from tests.e2e.conftest import CliStack
from tests.interruptions.conftest import (
    TORN_STATE,
    Run,
    Tripwire,
    doctor_commands,
    lock_files,
    pending_operations_after_kill,
    start,
)
from tests.interruptions.scenarios import assert_recovered_without_damage, recover_and_up

RUNNER_GRACE = (7.5, 2.5)
"""A cancelled GitHub Actions job: SIGINT to the step's processes, SIGTERM 7.5 s later, SIGKILL 2.5 s after that."""
PLUGINS_GONE_WITHIN = 60.0


def ctrl_c(run: Run) -> None:
    """A terminal's Ctrl-C: SIGINT to the foreground process group (pulumi and every plugin it started)."""
    os.killpg(run.process.pid, signal.SIGINT)


def ctrl_c_twice(run: Run) -> None:
    ctrl_c(run)
    time.sleep(0.5)
    ctrl_c(run)


def kill_pulumi(run: Run) -> None:
    run.process.send_signal(signal.SIGKILL)


def kill_pulumi_in_a_state_write(run: Run) -> None:
    """kill -9 landing while Pulumi writes the state: what it leaves on a file backend (seen in CI, by chance) is
    the small ``<stack>.json.attrs`` beside the state, empty."""
    kill_pulumi(run)
    run.process.wait()
    root = Path(run.backend.removeprefix("file://")) / ".pulumi" / "stacks"
    (attrs,) = root.rglob("dev.json.attrs")
    attrs.write_bytes(b"")


def kill_the_tree(run: Run) -> None:
    run.kill_tree()


def still_running(process: psutil.Process) -> bool:
    """Alive and not a zombie its parent has yet to reap."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def runner_cancelled(run: Run) -> None:
    tree = [psutil.Process(run.process.pid), *psutil.Process(run.process.pid).children(recursive=True)]
    for sig, wait in zip((signal.SIGINT, signal.SIGTERM), RUNNER_GRACE, strict=True):
        for process in tree:
            if process.is_running():
                process.send_signal(sig)
        # The runner waits for the whole tree, the CLI too: its plugins may be gone at once while the CLI is
        # still cancelling the update and releasing its lock. (The CLI is polled, not waited on through psutil,
        # which would reap it from under its Popen.)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if run.process.poll() is not None and not any(still_running(p) for p in tree[1:]):
                return
            time.sleep(0.05)
    for process in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signal.SIGKILL)


@dataclass(frozen=True)
class Interruption:
    name: str
    send: Callable[[Run], None]
    leaves_lock: bool
    """Documented: the run's lock stays in the backend."""
    cuts_a_state_write: bool = False
    """Always leaves the state unloadable (a plain kill -9 does too, when it lands in a write)."""


INTERRUPTIONS = [
    Interruption("ctrl-c-once", ctrl_c, leaves_lock=False),
    Interruption("ctrl-c-twice", ctrl_c_twice, leaves_lock=False),
    Interruption("kill-9-of-pulumi", kill_pulumi, leaves_lock=True),
    Interruption(
        "kill-9-in-a-state-write", kill_pulumi_in_a_state_write, leaves_lock=True, cuts_a_state_write=True
    ),
    Interruption("kill-9-of-the-tree", kill_the_tree, leaves_lock=True),
    Interruption("ci-runner-cancelled", runner_cancelled, leaves_lock=False),
]


def project_processes(run: Run) -> list[psutil.Process]:
    """Processes started for the run that still live (children of pulumi re-parented when it died)."""
    found = []
    for process in psutil.process_iter(["environ"]):
        try:
            if (process.info.get("environ") or {}).get("PULUMI_BACKEND_URL") == run.backend:
                found.append(process)
        except psutil.Error:
            continue
    return found


@pytest.mark.parametrize("interruption", INTERRUPTIONS, ids=lambda i: i.name)
def test_each_interruption_leaves_what_the_docs_say_and_the_doctors_recovery_ends_with_no_duplicate(
    cli_stack: CliStack, flex_emulator: Emulator, tripwire: Tripwire, interruption: Interruption
) -> None:
    holder: dict[str, Run] = {}
    fired: list[str] = []

    def interrupt(record: RecordedRequest) -> None:
        fired.append(str(record.operation_id))
        interruption.send(holder["run"])

    tripwire.on(lambda r: r.operation_id == "createWarehouse", interrupt)
    holder["run"] = run = start(cli_stack, "up", "--stack", "dev", "--yes", name=interruption.name)
    code = run.wait()
    assert fired == ["createWarehouse"], run.text()
    assert code != 0, run.text()

    deadline = time.monotonic() + PLUGINS_GONE_WITHIN
    while project_processes(run) and time.monotonic() < deadline:
        time.sleep(0.5)
    left_running = project_processes(run)
    for process in left_running:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signal.SIGKILL)
    assert not left_running, (
        f"{len(left_running)} processes of the run still ran {PLUGINS_GONE_WITHIN} s later"
    )

    assert bool(lock_files(cli_stack)) == interruption.leaves_lock, run.text()
    pending = pending_operations_after_kill(cli_stack)
    commands, output = doctor_commands(cli_stack)
    if interruption.cuts_a_state_write:
        assert pending is TORN_STATE, pending
    if pending is TORN_STATE:
        # The kill cut a state write (only a kill can): the doctor names the empty file before anything else.
        assert interruption.leaves_lock, output
        assert "Remove it (`rm " in output, output
        assert recover_and_up(cli_stack)[0].startswith("rm "), output
    elif pending or interruption.leaves_lock:
        assert recover_and_up(cli_stack) == commands, output
    else:
        assert commands == [], output
        cli_stack.up()
    assert_recovered_without_damage(cli_stack, flex_emulator)
