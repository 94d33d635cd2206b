"""Each workflow's steps, run on this machine as GitHub's runner runs them (runner.py), with the env and inputs
the workflow passes, the real `pulumi` CLI against the Segment emulator, and a throwaway file backend.

Each job starts from a fresh clone of "the user's repository": this project's files, with the two stacks created
once and their non-secret config committed, as docs/ci.md's one-time setup has the user do. The secrets are the
repository's and environments' secrets of a GitHub run; prod's credentials are values no dev job may ever see.

One stand-in that is not GitHub's: a file backend cannot use a cloud KMS key, so the prod stack uses the passphrase
too, given to the prod jobs as the cloud login step of docs/ci.md would give them the key. And the install step
finds the packages already installed (the project's .venv, seen through a .pth file), so a test run downloads only
the pinned build backend of `pip install -e .`, once, into pip's cache.

The tests that need the CLI skip, saying why, where `pulumi` (with its Python language host) is not on PATH;
with REQUIRE_PULUMI_CLI=1, as .ci/run sets it, they fail instead (tests/conftest.py, require_pulumi_cli).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PULUMI_CLI_PROGRAMS, SESSION_PACING_ENV, require_pulumi_cli
from tests.program.ready_stack import SAMPLE_USER, finish_the_manual_steps
from tests.workflows.gha import REPO
from tests.workflows.runner import Event, JobRun, Runner, StepFailed, StepRun, commit_all, project_copy

pytestmark = pytest.mark.timeout(1200)

NS = "flex-unified-profiles"
PASSPHRASE = "workflow-run-passphrase"
MUTATING = ("POST", "PATCH", "PUT", "DELETE")
PROD_ONLY = {
    "PROD_WAREHOUSE_CREDENTIALS": json.dumps({"private_key": "prod-only-warehouse-key"}),
    "PROD_REVERSE_ETL_CREDENTIALS": json.dumps({"private_key": "prod-only-retl-key"}),
}
# Not GitHub's, this machine's: no plugin download (none can succeed offline), no update check. The package index
# stays on for one thing only: `pip install -e .` fetches its pinned build backend (setuptools) into an isolated
# build environment, as on GitHub; every requirement is already satisfied from the project's .venv.
MACHINE_ENV = {
    "PULUMI_SKIP_UPDATE_CHECK": "true",
    "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    **SESSION_PACING_ENV,
}


def cli_path() -> list[Path]:
    """The folders of the real `pulumi`, its Python language host and dynamic-provider launcher (the test skips,
    or fails under REQUIRE_PULUMI_CLI=1, when one is missing)."""
    require_pulumi_cli()
    return sorted({Path(str(shutil.which(program))).parent for program in PULUMI_CLI_PROGRAMS})


def github_secrets(emulator: Any) -> dict[str, str]:
    """The repository's and environments' secrets, as docs/ci.md has the user store them."""
    secrets = {
        "DEV_PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
        "DEV_WAREHOUSE_CREDENTIALS": json.dumps({"private_key": "dev-warehouse-key"}),
        "DEV_REVERSE_ETL_CREDENTIALS": json.dumps({"private_key": "dev-retl-key"}),
        "DEV_PROFILE_API_TOKEN": emulator.profile_api_token(),
        "PROD_PROFILE_API_TOKEN": emulator.profile_api_token(),
        **PROD_ONLY,
    }
    # The emulator takes one token; the read and write ones are Segment's roles, which it does not enforce.
    for stack in ("DEV", "PROD"):
        secrets |= {
            f"{stack}_SEGMENT_READ_TOKEN": emulator.token,
            f"{stack}_SEGMENT_WRITE_TOKEN": emulator.token,
        }
    return secrets


@dataclass
class UserRepo:
    """The user's repository (a git repository), its file backend, and the secrets GitHub holds for it."""

    origin: Path
    backend: Path
    secrets: dict[str, str]
    path: list[Path]

    def clone(self, where: Path) -> Path:
        subprocess.run(["git", "clone", "-q", str(self.origin), str(where)], check=True, capture_output=True)
        seed_venv(where)
        return where

    def run(self, workflow_name: str, event: Event, where: Path, prod: bool = False) -> JobRun:
        event.secrets, event.vars = self.secrets, {"PULUMI_BACKEND_URL": self.backend.as_uri()}
        # The cloud login of docs/ci.md, for prod's jobs: here it makes the passphrase that stands in for prod's
        # KMS key available.
        login = {"PULUMI_CONFIG_PASSPHRASE": PASSPHRASE} if prod else {}
        return Runner(self.clone(where), event, self.path, {**MACHINE_ENV, **login}).run_job(workflow_name)

    def pulumi(self, where: Path, *args: str) -> str:
        env = {**os.environ, **MACHINE_ENV, "PULUMI_BACKEND_URL": self.backend.as_uri()}
        env |= {
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PATH": ":".join(map(str, [*self.path, os.environ["PATH"]])),
        }
        done = subprocess.run(
            ["pulumi", *args, "--non-interactive"],
            cwd=where,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"pulumi {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout


def seed_venv(workspace: Path) -> None:
    """A .venv that sees the packages of the Python running the tests, so `pip install -r requirements.txt`
    finds every requirement satisfied and downloads nothing."""
    venv = workspace / ".venv"
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)], check=True)
    (site,) = venv.glob("lib/python*/site-packages")
    (site / "project-packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")


@pytest.fixture
def user_repo(tmp_path: Path, emulator: Any) -> Iterator[UserRepo]:
    path = cli_path()
    origin = project_copy(tmp_path / "origin")
    backend = tmp_path / "backend"
    backend.mkdir()
    repo = UserRepo(origin, backend, github_secrets(emulator), path)
    for stack, space in (("dev", "unified-profiles-dev"), ("prod", "unified-profiles-prod")):
        emulator.seed_flex_events(space)
        repo.pulumi(origin, "stack", "init", stack)
        repo.pulumi(origin, "config", "set", "--stack", stack, "segment:endpoint", emulator.url)
        repo.pulumi(
            origin, "config", "set", "--path", "--stack", stack, f"{NS}:profileApi.endpoint", emulator.url
        )
    repo.pulumi(origin, "config", "set", "--path", "--stack", "dev", f"{NS}:verify.sampleUserId", SAMPLE_USER)
    commit_all(origin, "the stacks, created once (docs/ci.md, one-time setup)")
    emulator.clear_requests()
    yield repo


def mutating(emulator: Any) -> list[str]:
    return [f"{r.method} {r.operation_id}" for r in emulator.requests if r.method in MUTATING]


def leaks(run: JobRun, workspace: Path, values: list[str]) -> list[str]:
    """Where any of the values shows up: a step's environment or output, or a file of the checkout."""
    places = {f"env of {s.name!r}": json.dumps(s.env) for s in run.steps}
    places |= {f"output of {s.name!r}": s.output for s in run.steps}
    places |= {str(p.relative_to(workspace)): p.read_text() for p in workspace.glob("Pulumi*.yaml")}
    needles = [
        v for value in values for v in (json.loads(value).values() if value.startswith("{") else [value])
    ]
    return [place for place, text in places.items() for needle in needles if needle in text]


PULUMI_STEPS = [
    "actions/checkout@d23441a48e516b6c34aea4fa41551a30e30af803",
    "actions/setup-python@ece7cb06caefa5fff74198d8649806c4678c61a1",
    "Install the program into .venv (Pulumi.yaml runs it from there)",
    "Install the Pulumi CLI",
]


def test_a_pull_request_previews_dev_with_devs_secrets_and_only_reads(
    user_repo: UserRepo, emulator: Any, tmp_path: Path
) -> None:
    workspace = tmp_path / "job"
    run = user_repo.run("preview.yml", Event.pull_request(), workspace)

    assert run.ran
    assert [s.name for s in run.steps] == [
        *PULUMI_STEPS,
        "pulumi config set --secret (stack dev)",
        "pulumi preview --diff --stack dev (login)",
        "pulumi preview --diff --stack dev",
    ]
    preview = run.step("pulumi preview --diff --stack dev")
    assert preview.command[:4] == ["pulumi", "preview", "--stack", "dev"] and "--diff" in preview.command
    assert "create" in preview.stdout, preview.output
    assert mutating(emulator) == [], "a preview changed Segment"
    secrets = user_repo.secrets
    assert (
        user_repo.pulumi(workspace, "config", "get", "--stack", "dev", "segment:token").strip()
        == emulator.token
    )
    stored = user_repo.pulumi(workspace, "config", "get", "--stack", "dev", f"{NS}:warehouseCredentials")
    assert json.loads(stored) == json.loads(secrets["DEV_WAREHOUSE_CREDENTIALS"])
    assert leaks(run, workspace, list(PROD_ONLY.values())) == [], (
        "a prod secret reached the pull request's job"
    )
    assert leaks(run, workspace, [secrets["DEV_WAREHOUSE_CREDENTIALS"]]) == [
        f"env of {'pulumi config set --secret (stack dev)'!r}"
    ], "a dev secret left the step that stores it, or was stored in plain text"
    status = subprocess.run(["git", "status", "--porcelain"], cwd=workspace, capture_output=True, text=True)
    assert status.stdout == "", "the stack secrets left the checkout dirty"


def test_a_pull_request_from_a_fork_runs_no_step(tmp_path: Path) -> None:
    runner = Runner(tmp_path, Event.pull_request(head_repository="someone/fork"), [])
    assert runner.run_job("preview.yml") == JobRun(ran=False)


def test_deploy_dev_then_preview_prod_then_promote_run_as_on_github(
    user_repo: UserRepo, emulator: Any, tmp_path: Path
) -> None:
    deployed = user_repo.run("deploy-dev.yml", Event("push"), tmp_path / "deploy")
    assert deployed.step("pulumi up --stack dev").command[:4] == ["pulumi", "up", "--stack", "dev"]
    dev_space = emulator.space("unified-profiles-dev")["id"]
    assert (
        json.loads(user_repo.pulumi(tmp_path / "deploy", "stack", "output", "--json", "--stack", "dev"))[
            "spaceId"
        ]
        == dev_space
    )
    finish_the_manual_steps(emulator)

    emulator.clear_requests()
    previewed = user_repo.run("preview-prod.yml", Event("push"), tmp_path / "preview", prod=True)
    assert "create" in previewed.step("pulumi preview --diff --stack prod").stdout
    assert mutating(emulator) == [], "the prod preview changed Segment"

    promoted = user_repo.run("promote.yml", Event("workflow_dispatch"), tmp_path / "promote", prod=True)
    output = promoted.step("Promote dev to prod").stdout
    assert "✘" not in output and "promoted dev → prod" in output, output
    prod_space = emulator.space("unified-profiles-prod")["id"]
    with emulator.store_lock:
        prod_traits = [t for t in emulator.store.computed_traits.values() if t.get("spaceId") == prod_space]
    assert len(prod_traits) == 6


# The composite action alone, with a `pulumi` that records its arguments (and runs the real CLI where it is) -----


@pytest.fixture
def action_checkout(tmp_path: Path) -> Path:
    """A checkout with dev's stack file committed, and `pulumi` a spy: it records its arguments, then hands over
    to the real CLI, standard input included, wherever there is one."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    shutil.copy(REPO / "Pulumi.yaml", checkout)
    real = shutil.which("pulumi")
    env = {**MACHINE_ENV, "PULUMI_CALLS": str(tmp_path / "calls.log"), "REAL_PULUMI": real or ""}
    env |= {"PULUMI_BACKEND_URL": (tmp_path / "backend").as_uri(), "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE}
    if real:
        (tmp_path / "backend").mkdir()
        init = [real, "stack", "init", "dev", "--non-interactive"]
        subprocess.run(init, cwd=checkout, env={**os.environ, **env}, check=True, capture_output=True)
    else:
        (checkout / "Pulumi.dev.yaml").write_text("config: {}\n")
    commit_all(checkout, "stack file")
    spy = tmp_path / "spy" / "pulumi"
    spy.parent.mkdir()
    spy.write_text(
        '#!/usr/bin/env bash\nprintf "%s\\n" "$*" >> "$PULUMI_CALLS"\n'
        'if [ -n "$REAL_PULUMI" ]; then exec "$REAL_PULUMI" "$@"; fi\ncat > /dev/null\n'
    )
    spy.chmod(0o755)
    (tmp_path / "spy.env").write_text(json.dumps(env))
    return checkout


def calls(checkout: Path) -> list[str]:
    log = checkout.parent / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


SECRETS = {
    "segment-token": "sgp_token",
    "warehouse-credentials": '{"private_key": "-----BEGIN PRIVATE KEY-----\\nAAA\\n-----END PRIVATE KEY-----"}',
    "reverse-etl-credentials": '{"private_key": "retl"}',
}


def run_stack_secrets(checkout: Path, **inputs: str) -> StepRun:
    env = json.loads((checkout.parent / "spy.env").read_text())
    runner = Runner(checkout, Event("push"), [checkout.parent / "spy"], env)
    done = JobRun(ran=True)
    with contextlib.suppress(StepFailed):
        runner.run_action(".github/actions/stack-secrets", {"stack": "dev", **inputs}, {}, done)
    (step,) = done.steps
    return step


def test_stack_secrets_never_puts_a_secret_on_a_command_line(action_checkout: Path) -> None:
    step = run_stack_secrets(action_checkout, **SECRETS, **{"profile-api-token": "profile-token"})
    assert step.returncode == 0, step.output
    made = calls(action_checkout)
    assert [c for c in made if c.startswith("config set")] == [
        f"config set --secret --stack dev {key}"
        for key in ("segment:token", "warehouseCredentials", "reverseEtlCredentials", "profileApiToken")
    ]
    for value in [*SECRETS.values(), "profile-token"]:
        assert not any(value in call for call in made), "a secret was passed as an argument"


def test_stack_secrets_stops_on_a_missing_secret_naming_its_input(action_checkout: Path) -> None:
    step = run_stack_secrets(action_checkout, **{**SECRETS, "reverse-etl-credentials": ""})
    assert step.returncode != 0
    assert "input reverse-etl-credentials is empty for stack dev" in step.stdout
    assert calls(action_checkout) == []


def test_stack_secrets_stops_when_the_stack_file_is_not_committed(action_checkout: Path) -> None:
    subprocess.run(["git", "rm", "-q", "--cached", "Pulumi.dev.yaml"], cwd=action_checkout, check=True)
    step = run_stack_secrets(action_checkout, **SECRETS)
    assert step.returncode != 0
    assert "Pulumi.dev.yaml is not committed" in step.stdout
