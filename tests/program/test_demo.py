"""``make demo`` (``python -m flex_tools.demo``), the main job: it starts its own emulator, deploys the dev
stack, and prints the outputs, the manual steps and the doctor's table: under the real ``pulumi`` CLI when it
is on PATH, otherwise under the SDK-level engine stand-in, and it says which one ran."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from flex_tools.demo import NEXT_STEP, reach_this_machine_without_proxies
from flex_tools.scratch import copy_project
from tests.conftest import require_pulumi_cli
from tests.harness import REPO_ROOT

DEAD_PROXY = "http://127.0.0.1:9"
"""A proxy nothing listens on: whatever is sent through it fails at once."""


def behind_a_proxy() -> dict[str, str]:
    """The environment of a user behind a corporate proxy who never set ``NO_PROXY``."""
    environment = {k: v for k, v in os.environ.items() if k.lower() != "no_proxy"}
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        environment[variable] = DEAD_PROXY
    return environment


def run_demo(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "flex_tools.demo", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
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
    assert "so here\nthey lead nowhere" in doctor, "the emulator's app links are said to be make-believe"
    assert out.rstrip().endswith(NEXT_STEP.rstrip()), (
        "the demo ends with the next step, not the doctor's verdict"
    )


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
    # Behind a proxy too: the emulator and Pulumi's engine are on this machine, which no proxy can reach.
    assert run_demo("--engine", "stand-in", env=behind_a_proxy()) == out, (
        "the same output, ids and order, on every run"
    )


def test_the_demo_adds_this_machine_to_no_proxy_and_keeps_what_was_there() -> None:
    environment = {"no_proxy": "corp.example, localhost"}
    reach_this_machine_without_proxies(environment)
    reach_this_machine_without_proxies(environment)
    assert environment == {
        "NO_PROXY": "127.0.0.1,localhost,::1",
        "no_proxy": "corp.example,localhost,127.0.0.1,::1",
    }


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
    # Behind a proxy too (README "Behind a corporate proxy"): without the demo's NO_PROXY, the program cannot
    # reach Pulumi's engine (test below).
    assert run_demo(env=behind_a_proxy()) == out, "the same output, ids and order, on every run"


PROGRAM_TO_ENGINE = """
import grpc
from concurrent import futures

engine = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
port = engine.add_insecure_port("127.0.0.1:0")
engine.start()
channel = grpc.insecure_channel(f"127.0.0.1:{port}")
try:
    grpc.channel_ready_future(channel).result(timeout=5)
    print("reached")
except grpc.FutureTimeoutError:
    print("not reached")
"""


@pytest.mark.parametrize("no_proxy", ["", "127.0.0.1,localhost"])
def test_grpc_sends_loopback_through_http_proxy_unless_no_proxy_names_it(no_proxy: str) -> None:
    """What the README tells users behind a proxy, about gRPC, the channel of Pulumi's Python SDK to the engine."""
    environment = {**behind_a_proxy(), "NO_PROXY": no_proxy, "no_proxy": no_proxy}
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM_TO_ENGINE], env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == ("reached" if no_proxy else "not reached"), done.stderr


# The demo in a project of the user's: a copy of this one, whose flex_tools is the one `python -m` runs. ----------


@dataclass
class UserProject:
    path: Path
    env: dict[str, str]

    def demo(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "flex_tools.demo", *args],
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    def pulumi(self, *args: str, stdin: str | None = None) -> None:
        done = subprocess.run(
            ["pulumi", *args, "--non-interactive"],
            cwd=self.path,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def user_project(tmp_path: Path) -> UserProject:
    path = tmp_path / "project"
    copy_project(path, keep=["tests"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEGMENT_", "PULUMI_"))}
    env.update({"PULUMI_SKIP_UPDATE_CHECK": "true", "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true"})
    return UserProject(path, env)


@pytest.mark.e2e
def test_a_misspelt_key_in_the_users_stack_file_stops_the_demo_with_pulumis_error_naming_it(
    user_project: UserProject,
) -> None:
    require_pulumi_cli()
    stack_file = user_project.path / "Pulumi.dev.yaml"
    stack_file.write_text(
        stack_file.read_text().replace("sourceSlug: flex_dev_salesforce", "sorceSlug: flex_dev_salesforce")
    )

    done = user_project.demo()

    assert done.returncode == 1, done.stdout + done.stderr
    said = done.stdout + done.stderr
    assert "sorceSlug" in said and "salesforce" in said, f"Pulumi's diagnostic, naming the key:\n{said}"
    assert "Traceback" not in said


@pytest.mark.e2e
def test_the_demo_runs_after_the_users_own_secrets_on_a_passphrase_backend_and_leaves_them_alone(
    user_project: UserProject, tmp_path: Path
) -> None:
    require_pulumi_cli()
    backend = tmp_path / "my-backend"
    backend.mkdir()
    user_project.env.update(
        {"PULUMI_BACKEND_URL": backend.as_uri(), "PULUMI_CONFIG_PASSPHRASE": "the user's own passphrase"}
    )
    # README "Using it on your workspace", steps 2 and 3, on the user's backend.
    user_project.pulumi("stack", "init", "dev")
    user_project.pulumi("config", "set", "--secret", "segment:token", stdin="the-users-own-token")
    user_project.pulumi(
        "config", "set", "--secret", "--path", "warehouseCredentials.private_key", stdin="the-users-own-key"
    )
    stack_file = user_project.path / "Pulumi.dev.yaml"
    before = stack_file.read_text()
    assert "encryptionsalt" in before and "secure:" in before
    state_before = sorted(p.relative_to(backend) for p in backend.rglob("*") if p.is_file())

    done = user_project.demo()

    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    assert "Computed traits created: 6; waiting: 0" in done.stdout
    assert "the-users-own" not in said
    assert stack_file.read_text() == before, "the user's stack file is untouched"
    assert sorted(p.relative_to(backend) for p in backend.rglob("*") if p.is_file()) == state_before, (
        "the user's backend is untouched"
    )
    assert not any((user_project.path / ".demo").iterdir()), "the demo's scratch project is gone"


def test_without_the_cli_or_the_tests_folder_the_demo_says_in_one_line_why_it_cannot_run(
    user_project: UserProject,
) -> None:
    shutil.rmtree(user_project.path / "tests")

    done = user_project.demo("--engine", "stand-in")

    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    [line] = [line for line in done.stderr.splitlines() if line.strip()]
    assert "tests/harness" in line and "install Pulumi" in line
