"""``make demo`` (``python -m segment_provider.demo``), the main job: it starts its own emulator, deploys the dev
stack, and prints the outputs, the manual steps and the doctor's table: under the real ``pulumi`` CLI when it
is on PATH, otherwise under the SDK-level engine stand-in, and it says which one ran."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import require_pulumi_cli
from tests.harness import REPO_ROOT


def run_demo(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "segment_provider.demo", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "demo-destination-private-key" not in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    return done.stdout


def assert_shows_the_stack_and_what_is_left(out: str) -> None:
    assert "spaceId:" in out and "computedTraits:" in out
    assert "Manual steps (what Segment's API cannot do)" in out
    doctor = out[out.index("Doctor (python -m segment_provider.doctor --stack dev)") :]
    assert "Unify space" in doctor and "Salesforce source" in doctor and "gap" in doctor
    assert "not ready" in doctor


def test_the_demo_under_the_stand_in_deploys_the_dev_stack_and_shows_what_is_left() -> None:
    out = run_demo("--engine", "stand-in")
    assert "engine: the SDK-level engine stand-in" in out
    assert out.count("create  ") >= 12, "every Segment object of the stack is created"
    assert_shows_the_stack_and_what_is_left(out)


@pytest.mark.e2e
def test_the_demo_runs_the_real_pulumi_up_and_shows_pulumis_own_output() -> None:
    require_pulumi_cli()
    out = run_demo()
    assert "engine: the real `pulumi` CLI v3." in out
    assert "Updating (dev)" in out, "Pulumi's own output of `pulumi up`"
    assert "17 created" in out
    assert_shows_the_stack_and_what_is_left(out)
