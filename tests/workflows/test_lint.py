"""The linters over .github/: GitHub's schemas (check-jsonschema), actionlint with shellcheck, zizmor, and the
form of every `uses:`. Each linter is also shown a bad workflow, so an invocation that passes whatever it is
given fails here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

from tests.workflows.gha import REPO, action_files, jobs, steps, uses, workflow, workflow_files

ZIZMOR_CONFIG = Path(__file__).with_name("zizmor.yml")
ACTIONLINT_BUILD = REPO / "tools" / "actionlint" / "build.sh"
LINT_TIMEOUT = 120
# A cold build downloads actionlint's modules and compiles them: about 20 s on this project's machines.
BUILD_TIMEOUT = 600


def unavailable(reason: str) -> NoReturn:
    """Skip, saying why; under CI (CI set, as GitHub and this project's CI set it) fail instead, so CI never
    passes with a linter left out."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)")
    pytest.skip(reason)


def tool(name: str) -> str:
    path = Path(sys.executable).with_name(name)
    if not path.exists():
        pytest.fail(
            f"{name} is not installed next to {sys.executable}: run `make venv` (requirements-dev.txt)"
        )
    return str(path)


@cache
def actionlint() -> str:
    """actionlint, built from its Go module by tools/actionlint/build.sh into the tools cache. The script builds
    only when the cache lacks that version, so a warm run costs a version check."""
    done = subprocess.run([ACTIONLINT_BUILD], capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    if done.returncode != 0:
        unavailable(f"tools/actionlint/build.sh could not build actionlint:\n{done.stdout}{done.stderr}")
    found = subprocess.run([ACTIONLINT_BUILD, "--bin-dir"], capture_output=True, text=True, check=True)
    return str(Path(found.stdout.strip()) / "actionlint")


def lint(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=LINT_TIMEOUT)


def run_actionlint(cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    # With -shellcheck actionlint runs shellcheck over every `run:` script, with `${{ }}` replaced.
    return lint(actionlint(), "-no-color", "-shellcheck", tool("shellcheck"), cwd=cwd)


def composite_scripts() -> Iterator[tuple[str, str]]:
    for path in action_files():
        for index, step in enumerate(yaml.safe_load(path.read_text())["runs"]["steps"]):
            if "run" in step:
                assert step.get("shell") == "bash", f"{path}: step {index} must say `shell: bash`"
                yield f"{path.relative_to(REPO)} step {index}", step["run"]


def shellcheck_script(script: str) -> subprocess.CompletedProcess[str]:
    # actionlint checks the scripts of workflows only: the composite action's are checked here, as bash, with
    # each `${{ }}` replaced the way actionlint replaces it.
    body = re.sub(r"\$\{\{.*?\}\}", "_expr_", script, flags=re.S)
    return subprocess.run(
        [tool("shellcheck"), "--shell", "bash", "-"],
        input=body,
        capture_output=True,
        text=True,
        timeout=LINT_TIMEOUT,
    )


def test_workflows_and_actions_follow_githubs_schemas() -> None:
    assert workflow_files() and action_files()
    checks = [
        ("vendor.github-workflows", workflow_files()),
        ("vendor.github-actions", action_files()),
    ]
    for schema, files in checks:
        done = lint(tool("check-jsonschema"), "--builtin-schema", schema, *map(str, files))
        assert done.returncode == 0, (
            f"check-jsonschema ({schema}) found problems:\n{done.stdout}{done.stderr}"
        )


def test_zizmor_finds_nothing_in_the_workflows_and_actions() -> None:
    done = lint(
        tool("zizmor"),
        "--offline",
        "--config",
        str(ZIZMOR_CONFIG),
        "--no-progress",
        "--color",
        "never",
        ".github",
    )
    assert done.returncode == 0, f"zizmor found problems:\n{done.stdout}{done.stderr}"
    audited = done.stdout + done.stderr
    for path in [*workflow_files(), *action_files()]:
        assert str(path.relative_to(REPO)) in audited, f"zizmor did not audit {path.relative_to(REPO)}"


def test_the_linters_do_report_bad_workflows(tmp_path: Path) -> None:
    """Guards the two tests above against a linter invocation that passes whatever the input."""
    invalid = tmp_path / "invalid" / ".github" / "workflows" / "invalid.yml"
    invalid.parent.mkdir(parents=True)
    invalid.write_text("on: push\njobs:\n  greet:\n    steps:\n      - run: echo hi\n")  # no runs-on
    schema = lint(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(invalid))
    assert schema.returncode != 0, schema.stdout

    injectable = tmp_path / "injectable" / ".github" / "workflows" / "injectable.yml"
    injectable.parent.mkdir(parents=True)
    injectable.write_text(
        "on: pull_request_target\n"
        "permissions: {}\n"
        "jobs:\n"
        "  greet:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    zizmor = lint(
        tool("zizmor"),
        "--offline",
        "--config",
        str(ZIZMOR_CONFIG),
        "--no-progress",
        str(injectable.parents[2]),
    )
    assert zizmor.returncode != 0, zizmor.stdout + zizmor.stderr
    assert "template-injection" in zizmor.stdout and "dangerous-triggers" in zizmor.stdout


# The form of `uses:` -------------------------------------------------------------------------------------
# GitHub's workflow schema types `uses` as any string and zizmor audits security, not validity, so neither
# catches a step GitHub refuses at run time. GitHub runs four forms of a step's action: `./path` (in the
# checked-out workspace), `$/path` (this repository at the running commit; github.com only, not GitHub
# Enterprise Server, since July 2026), `owner/repo[/path]@ref` and `docker://image`.

LOCAL_ACTION = re.compile(r"(?:\./|\$/)(?:[\w.-]+/)*[\w.-]+")
REMOTE_ACTION = re.compile(r"[\w.-]+/[\w.-]+(?:/[\w.-]+)*@[\w./-]+")
DOCKER_ACTION = re.compile(r"docker://\S+")


def uses_problem(value: str, checked_out: bool) -> str | None:
    """Why GitHub would refuse a step's `uses:` (None when it is a form GitHub runs)."""
    if LOCAL_ACTION.fullmatch(value):
        directory = REPO / value.removeprefix("$/")
        if not any((directory / name).is_file() for name in ("action.yml", "action.yaml")):
            return f"{value}: no action.yml in {directory.relative_to(REPO)}"
        if value.startswith("./") and not checked_out:
            return f"{value}: a ./ action is read from the workspace, so an actions/checkout step must come first"
        return None
    if REMOTE_ACTION.fullmatch(value) or DOCKER_ACTION.fullmatch(value):
        return None
    return f"{value}: not ./path, $/path, owner/repo[/path]@ref or docker://image"


def uses_problems(job: dict[str, Any]) -> Iterator[str]:
    checked_out = False
    for step in steps(job):
        if "uses" in step:
            problem = uses_problem(str(step["uses"]), checked_out)
            if problem:
                yield problem
            checked_out = checked_out or uses(step)[0] == "actions/checkout"


def local_uses() -> list[tuple[str, str]]:
    return [
        (path.name, str(step["uses"]))
        for path in workflow_files()
        for job in jobs(workflow(path.name)).values()
        for step in steps(job)
        if LOCAL_ACTION.fullmatch(str(step.get("uses", "")))
    ]


def test_every_uses_is_a_form_github_runs() -> None:
    found = [(path.name, job) for path in workflow_files() for job in jobs(workflow(path.name)).values()]
    composite = [(path.name, yaml.safe_load(path.read_text())["runs"]) for path in action_files()]
    problems = [f"{name}: {p}" for name, job in found for p in uses_problems(job)]
    # A composite action runs inside the caller's checkout.
    problems += [
        f"{name}: {p}"
        for name, runs in composite
        for p in uses_problems({"steps": [{"uses": "actions/checkout@v6"}, *runs["steps"]]})
    ]
    assert problems == []


def test_this_repositorys_actions_are_called_as_dot_slash() -> None:
    """`$/` runs on github.com only: GitHub Enterprise Server refuses it, and so does actionlint v1.7.12, which
    then cannot check the action's inputs. Every job checks the repository out first, which `./` needs."""
    called = local_uses()
    assert called, "no workflow calls .github/actions/stack-secrets"
    assert [(name, value) for name, value in called if not value.startswith("./")] == []


@pytest.mark.parametrize(
    ("value", "checked_out", "problem"),
    [
        ("$/.github/actions/stack-secrets", False, None),
        ("$/.github/actions/stack-secret", False, "no action.yml"),
        ("$.github/actions/stack-secrets", True, "not ./path"),
        ("actions/checkout", True, "not ./path"),
        (".github/actions/stack-secrets", True, "not ./path"),
        ("./.github/actions/stack-secret", True, "no action.yml"),
        ("./.github/actions/stack-secrets", False, "an actions/checkout step must come first"),
        ("./.github/actions/stack-secrets", True, None),
        ("pulumi/actions@v7", False, None),
        ("owner/repo/sub/dir@0123abc", False, None),
        ("docker://alpine:3", False, None),
    ],
)
def test_the_uses_check_refuses_what_github_refuses(
    value: str, checked_out: bool, problem: str | None
) -> None:
    found = uses_problem(value, checked_out)
    assert (found is None) if problem is None else (found is not None and problem in found), found


def test_actionlint_with_shellcheck_finds_nothing() -> None:
    done = run_actionlint()
    assert done.returncode == 0, f"actionlint found problems:\n{done.stdout}{done.stderr}"


def test_shellcheck_finds_nothing_in_the_composite_actions() -> None:
    scripts = list(composite_scripts())
    assert scripts
    for where, script in scripts:
        done = shellcheck_script(script)
        assert done.returncode == 0, f"shellcheck, {where}:\n{done.stdout}{done.stderr}"


def test_actionlint_and_shellcheck_do_report_bad_workflows(tmp_path: Path) -> None:
    """Guards the two tests above: a `uses:` without a ref and an unquoted expansion are each reported."""
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)  # actionlint finds .github/ through git
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "bad.yml").write_text(
        "on: push\n"
        "jobs:\n"
        "  greet:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - uses: actions/checkout\n"
        "      - run: ls $HOME/*.yml\n"
    )
    done = run_actionlint(cwd=tmp_path)
    assert done.returncode != 0
    assert "[action]" in done.stdout and "SC2086" in done.stdout, done.stdout
    assert shellcheck_script('printf "%s" $SEGMENT_TOKEN\n').returncode != 0
