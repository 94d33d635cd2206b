"""``make demo`` (``python -m flex_tools.demo``), the main job: it starts its own emulator, deploys the dev
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
        [sys.executable, "-m", "flex_tools.demo", *args],
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
    doctor = out[out.index("Doctor (flex-doctor --stack dev)") :]
    assert "Unify space" in doctor and "Salesforce source" in doctor and "gap" in doctor
    assert "not ready" in doctor


def assert_two_acts(out: str) -> None:
    """The first up creates no trait and says why; the simulated Flex interaction; the second up creates them."""
    first, second = out.split("Act 2 — ", 1)
    assert "Act 1 — the first `pulumi up`" in first
    assert "Computed traits created: 0; waiting: 6" in first
    assert "total_inbounds: event 'Flex - Engagement Initiated' not seen in the space yet" in first
    assert "simulated: one call handled in Flex" in second
    assert "Computed traits created: 6; waiting: 0" in second
    assert "profileApiToken: [secret] (masked;" in second, "the output the README promises, masked"
    assert "[ done] Complete one Flex interaction" in second


def test_the_demo_under_the_stand_in_plays_both_acts_the_same_way_every_run() -> None:
    out = run_demo("--engine", "stand-in")
    assert "engine: the SDK-level engine stand-in" in out
    assert out.count("create  ") >= 16, "every Segment object of the stack is created, traits in act 2"
    assert_two_acts(out)
    assert_shows_the_stack_and_what_is_left(out)
    assert run_demo("--engine", "stand-in") == out, "the same output, ids and order, on every run"


@pytest.mark.e2e
def test_the_demo_runs_the_real_pulumi_up_twice_with_the_same_ids_every_run() -> None:
    require_pulumi_cli()
    out = run_demo()
    assert "engine: the real `pulumi` CLI v3." in out
    first, second = out.split("Act 2 —")
    assert "  create   DestinationActivation    profiles-destination-enabled" in first, (
        "Pulumi's steps, listed"
    )
    assert "Resources: 11 created" in first and "Resources: 6 created" in second, "act 2 only the traits"
    assert "warning: computed trait total_inbounds waits" in first, "the program's warnings, from Pulumi"
    assert_two_acts(out)
    assert_shows_the_stack_and_what_is_left(out)
    assert run_demo() == out, "the same output, ids and order, on every run"
