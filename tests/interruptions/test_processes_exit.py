"""Plugins die with the engine, and a Ctrl-C ends cleanly: `pulumi up` of the Flex dev stack under the real CLI,
interrupted while its creates are in flight (the emulator holds every create for a few seconds).

* ``kill -9`` of the ``pulumi`` process, or of its whole process group: within 5 s no process of the run (the
  language host, the program, the dynamic provider processes) is still running, and no call that changes
  Segment starts after the kill. The engine starts each plugin in a process group of its own, so neither kill
  reaches them: they must notice the engine is gone themselves.
* One Ctrl-C (SIGINT to the foreground process group, as a terminal sends it): Pulumi's own message, no Python
  traceback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from segment_emulator import Emulator
from tests.e2e import conftest as e2e
from tests.e2e.conftest import MUTATING, CliStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
# The real-engine layer's fixtures: a scratch project on a throwaway backend, against the e2e emulator.
e2e_emulator_session = e2e.e2e_emulator_session
flex_emulator = e2e.flex_emulator
cli_project = e2e.cli_project
cli_stack = e2e.cli_stack

CREATE_HOLD_SECONDS = 4
QUIET_SECONDS = 0.5
EXIT_DEADLINE_SECONDS = 5
MARKER = "FLEX_INTERRUPTION_RUN"


def processes_of_run(marker: str) -> dict[int, str]:
    """Live processes (zombies aside) whose environment carries the run's marker: pid -> command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f"{MARKER}={marker}".encode() in environ.split(b"\0") and state != "Z":
            found[int(entry.name)] = command.strip()
    return found


def start_up_mid_flight(stack: CliStack, emulator: Emulator, marker: str) -> subprocess.Popen[str]:
    """`pulumi up` in a session of its own, returned once its first creates are held by the emulator and
    nothing else is on the wire."""
    emulator.add_fault("hang", method="POST", count=1000, seconds=CREATE_HOLD_SECONDS)
    process = subprocess.Popen(
        ["pulumi", "up", "--stack", "dev", "--yes", "--non-interactive"],
        cwd=stack.project,
        env={**stack.env, MARKER: marker},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while not any(r.method in MUTATING for r in emulator.requests):
        assert process.poll() is None, (
            f"`pulumi up` ended before its first create:\n{process.communicate()[0]}"
        )
        assert time.monotonic() < deadline, "no create reached the emulator"
        time.sleep(0.05)
    seen = len(emulator.requests)
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < QUIET_SECONDS:
        time.sleep(0.05)
        if len(emulator.requests) != seen:
            seen, quiet_since = len(emulator.requests), time.monotonic()
    return process


@pytest.mark.parametrize("target", ["the pulumi process", "its process group"])
def test_after_kill_9_no_process_of_the_run_remains_and_no_change_starts(
    cli_stack: CliStack, flex_emulator: Emulator, target: str
) -> None:
    marker = uuid.uuid4().hex
    process = start_up_mid_flight(cli_stack, flex_emulator, marker)
    running = processes_of_run(marker)
    assert any("pulumi-language-python" in command for command in running.values()), running
    assert any("pulumi.dynamic" in command for command in running.values()), running

    if target == "the pulumi process":
        os.kill(process.pid, signal.SIGKILL)
    else:
        os.killpg(process.pid, signal.SIGKILL)
    killed_at = len(flex_emulator.requests)
    process.wait()

    deadline = time.monotonic() + EXIT_DEADLINE_SECONDS
    while processes_of_run(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_of_run(marker) == {}, "still running 5 s after the engine was killed"

    # The held creates are answered now; a provider still alive would go on with the next call.
    time.sleep(CREATE_HOLD_SECONDS + 1)
    started_after_kill = [
        f"{r.method} {r.operation_id}" for r in flex_emulator.requests[killed_at:] if r.method in MUTATING
    ]
    assert started_after_kill == []


def test_one_ctrl_c_ends_with_pulumis_message_and_no_traceback(
    cli_stack: CliStack, flex_emulator: Emulator
) -> None:
    marker = uuid.uuid4().hex
    process = start_up_mid_flight(cli_stack, flex_emulator, marker)
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=120)

    assert process.returncode != 0
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    assert "^C received; cancelling. If you would like to terminate immediately, press ^C again." in output
    deadline = time.monotonic() + EXIT_DEADLINE_SECONDS
    while processes_of_run(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_of_run(marker) == {}
