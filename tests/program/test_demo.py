"""``make demo`` (``python -m segment_provider.demo``), the main job: it starts its own emulator, deploys the dev
stack, and prints the outputs, the manual steps and the doctor's table."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.harness import REPO_ROOT


@pytest.mark.skipif(
    shutil.which("pulumi") is not None,
    reason="with the pulumi CLI on PATH the demo runs the CLI; tests/e2e covers that path",
)
def test_the_demo_deploys_the_dev_stack_and_shows_what_is_left() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "segment_provider.demo"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "engine: the SDK-level engine stand-in" in out
    assert out.count("create  ") >= 12, "every Segment object of the stack is created"
    assert "spaceId:" in out and "computedTraits:" in out
    assert "Manual steps (what Segment's API cannot do)" in out
    doctor = out[out.index("Doctor (python -m segment_provider.doctor --stack dev)") :]
    assert "Unify space" in doctor and "Salesforce source" in doctor and "gap" in doctor
    assert "not ready" in doctor
    assert "demo-destination-private-key" not in out + done.stderr
