"""Runs a workflow job on this machine the way GitHub's runner runs it on `ubuntu-latest`.

What is GitHub's own:
- the job's `if:` decides whether it runs;
- `env:` of the workflow, the job and the step, in that order, with every `${{ }}` filled in (gha.py);
- `run:` steps as `bash -e {0}`, or `bash --noprofile --norc -eo pipefail {0}` with `shell: bash`;
- a local action (`./…`, `$/…`) runs its composite steps with its `inputs`, its defaults filled in;
- CI, GITHUB_ACTIONS, GITHUB_WORKSPACE, GITHUB_EVENT_NAME, GITHUB_REF, GITHUB_REPOSITORY, RUNNER_TEMP.

What stands in for an action from the marketplace, each named in STAND_INS:
- actions/checkout: the workspace is already a git checkout of the commit (the test makes it);
- actions/setup-python: checks the version asked for is the Python running the tests, whose interpreter is
  then `python` on PATH;
- pulumi/actions: without `command` it checks `pulumi` is on PATH (the runner puts the real CLI there, or the
  test's recorder); with `command` it runs `pulumi login <cloud-url>` when one is given, then
  `pulumi <command> --stack <stack-name> --non-interactive`, `--diff` when asked, `--yes` for an update, as the
  action does. `comment-on-pr` posts nothing here.

Any other `uses:` stops the run: nothing runs unexamined.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flex_tools.scratch import copy_project
from tests.workflows.gha import action, evaluate, interpolate, jobs, steps, truthy, workflow

STEP_TIMEOUT = 900
SHELLS = {
    None: ["bash", "-e"],
    "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail"],
}


@dataclass
class Event:
    """What GitHub knows of the run: the event, its payload and the repository's secrets and variables."""

    name: str
    payload: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    vars: dict[str, str] = field(default_factory=dict)
    repository: str = "acme/flex-unified-profiles"
    ref: str = "refs/heads/main"

    @classmethod
    def pull_request(cls, head_repository: str = "acme/flex-unified-profiles", **kwargs: Any) -> Event:
        payload = {"pull_request": {"number": 7, "head": {"repo": {"full_name": head_repository}}}}
        return cls("pull_request", payload, ref="refs/pull/7/merge", **kwargs)


@dataclass
class StepRun:
    name: str
    command: list[str]
    env: dict[str, str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class JobRun:
    ran: bool
    steps: list[StepRun] = field(default_factory=list)

    def step(self, name: str) -> StepRun:
        (found,) = [s for s in self.steps if s.name == name]
        return found


class StepFailed(AssertionError):
    pass


class Runner:
    """One job's run in `workspace`, with the tools in `path` (the `pulumi` to use, first) on PATH."""

    def __init__(
        self, workspace: Path, event: Event, path: list[Path], extra_env: Mapping[str, str] = {}
    ) -> None:
        self.workspace = workspace
        self.event = event
        # The runner's own folders sit beside the workspace, as on GitHub (RUNNER_TEMP, the tool cache, HOME).
        machine = workspace.parent / f".{workspace.name}-runner"
        self.temp = machine / "temp"
        self.temp.mkdir(parents=True, exist_ok=True)
        python_bin = machine / "python"
        python_bin.mkdir(exist_ok=True)
        for name in ("python", "python3"):
            link = python_bin / name
            if not link.exists():
                link.symlink_to(getattr(sys, "_base_executable", sys.executable))
        home = machine / "home"
        home.mkdir(exist_ok=True)
        self.base_env = {
            "PATH": ":".join(str(p) for p in [*path, python_bin]) + ":/usr/bin:/bin",
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_EVENT_NAME": event.name,
            "GITHUB_REF": event.ref,
            "GITHUB_REPOSITORY": event.repository,
            "RUNNER_OS": "Linux",
            "RUNNER_TEMP": str(self.temp),
            **extra_env,
        }
        self.count = 0

    def contexts(self, env: Mapping[str, str], inputs: Mapping[str, str] | None = None) -> dict[str, Any]:
        github = {
            "event_name": self.event.name,
            "event": self.event.payload,
            "repository": self.event.repository,
            "ref": self.event.ref,
            "workspace": str(self.workspace),
        }
        found: dict[str, Any] = {
            "github": github,
            "secrets": self.event.secrets,
            "vars": self.event.vars,
            "matrix": {},
            "env": dict(env),
        }
        if inputs is not None:
            found["inputs"] = dict(inputs)
        return found

    def env_of(
        self, node: Mapping[str, Any], outer: Mapping[str, str], inputs: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        env = dict(outer)
        for key, value in (node.get("env") or {}).items():
            env[key] = interpolate(value, self.contexts(env, inputs))
        return env

    def run_job(self, workflow_name: str, job_id: str | None = None) -> JobRun:
        document = workflow(workflow_name)
        all_jobs = jobs(document)
        job = all_jobs[job_id] if job_id else next(iter(all_jobs.values()))
        env = self.env_of(job, self.env_of(document, {}))
        condition = job.get("if")
        if condition is not None and not truthy(
            evaluate(str(condition).removeprefix("${{").removesuffix("}}"), self.contexts(env))
        ):
            return JobRun(ran=False)
        done = JobRun(ran=True)
        for step in steps(job):
            self.run_step(step, env, None, done)
        return done

    def run_step(
        self,
        step: Mapping[str, Any],
        outer: Mapping[str, str],
        inputs: Mapping[str, str] | None,
        done: JobRun,
    ) -> None:
        env = self.env_of(step, outer, inputs)
        contexts = self.contexts(env, inputs)
        name = interpolate(
            step.get("name") or step.get("uses") or step.get("run", "").splitlines()[0], contexts
        )
        if "run" in step:
            self.count += 1
            script = self.temp / f"step-{self.count}.sh"
            script.write_text(interpolate(step["run"], contexts))
            self.execute(name, [*SHELLS[step.get("shell")], str(script)], env, done)
            return
        target, _, _ = str(step["uses"]).partition("@")
        with_inputs = {k: interpolate(v, contexts) for k, v in (step.get("with") or {}).items()}
        if target.startswith(("./", "$/")):
            self.run_action(target.removeprefix("$/").removeprefix("./"), with_inputs, env, done)
        elif target in STAND_INS:
            STAND_INS[target](self, name, with_inputs, env, done)
        else:
            raise StepFailed(f"step {name!r}: no local stand-in for `uses: {step['uses']}`")

    def run_action(
        self, directory: str, given: Mapping[str, str], env: Mapping[str, str], done: JobRun
    ) -> None:
        metadata = action(f"./{directory}")
        declared = metadata.get("inputs") or {}
        unknown = set(given) - set(declared)
        if unknown:
            raise StepFailed(f"{directory}: no such inputs {sorted(unknown)}")
        inputs = {key: given.get(key, str(spec.get("default", ""))) for key, spec in declared.items()}
        for step in metadata["runs"]["steps"]:
            self.run_step(step, env, inputs, done)

    def execute(self, name: str, command: list[str], env: Mapping[str, str], done: JobRun) -> None:
        finished = subprocess.run(
            command,
            cwd=self.workspace,
            env={**self.base_env, **env},
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        done.steps.append(
            StepRun(name, command, dict(env), finished.returncode, finished.stdout, finished.stderr)
        )
        if finished.returncode != 0:
            raise StepFailed(
                f"step {name!r} exited {finished.returncode}:\n{finished.stdout}\n{finished.stderr}"
            )


def checkout(
    runner: Runner, name: str, inputs: Mapping[str, str], env: Mapping[str, str], done: JobRun
) -> None:
    runner.execute(name, ["git", "rev-parse", "--verify", "HEAD"], env, done)


def setup_python(
    runner: Runner, name: str, inputs: Mapping[str, str], env: Mapping[str, str], done: JobRun
) -> None:
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if inputs.get("python-version") != running:
        raise StepFailed(
            f"{name}: the workflow asks for Python {inputs.get('python-version')}, the tests run {running}"
        )
    runner.execute(name, ["python", "--version"], env, done)


def pulumi_action(
    runner: Runner, name: str, inputs: Mapping[str, str], env: Mapping[str, str], done: JobRun
) -> None:
    if "command" not in inputs:
        runner.execute(name, ["pulumi", "version"], env, done)
        return
    if inputs.get("cloud-url"):
        runner.execute(f"{name} (login)", ["pulumi", "login", inputs["cloud-url"]], env, done)
    command = ["pulumi", inputs["command"], "--stack", inputs["stack-name"], "--non-interactive"]
    if inputs.get("diff") == "true":
        command.append("--diff")
    if inputs["command"] in ("up", "update", "destroy", "refresh"):
        command.append("--yes")
    runner.execute(name, command, env, done)


STAND_INS = {
    "actions/checkout": checkout,
    "actions/setup-python": setup_python,
    "pulumi/actions": pulumi_action,
}


def project_copy(destination: Path) -> Path:
    """The user's repository: this project's files (workflows and actions included), no tests, no caches."""
    return copy_project(destination, keep=[".github"], link_venv=False)


def commit_all(workspace: Path, message: str) -> None:
    """Commit everything in `workspace`, making it a git repository first if it is not one."""
    git = ["git", "-c", "user.name=runner", "-c", "user.email=runner@example.invalid"]
    if not (workspace / ".git").exists():
        subprocess.run([*git, "init", "-q", "-b", "main"], cwd=workspace, check=True, capture_output=True)
    for args in (["add", "-A"], ["commit", "-qm", message]):
        subprocess.run([*git, *args], cwd=workspace, check=True, capture_output=True)
