"""Every console script answers a user error with one clean block and the documented exit code; ``--debug``
adds the Python traceback. Run as a user runs them: the scripts ``pip install -e .`` made, in a subprocess."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from flex_tools.cli import EXIT_CANNOT_RUN
from segment_emulator import Emulator
from tests.conftest import require_pulumi_cli
from tests.tools.user_errors import (
    REPO,
    TRACEBACK,
    USER_PROJECT_FILES,
    Ran,
    closing_port,
    run_script,
    user_project,
)


def one_block(ran: Ran, tool: str) -> str:
    """The error text, checked to be one line starting with the tool's name, with nothing on stdout."""
    text = ran.err.strip()
    assert ran.code == EXIT_CANNOT_RUN, ran
    assert TRACEBACK not in ran.err and "\n" not in text, ran.err
    assert text.startswith(f"{tool}: "), ran.err
    return text


def with_debug(script: str, *args: str, env: dict[str, str] | None = None, cwd: Path = REPO) -> Ran:
    ran = run_script(script, *args, "--debug", env=env, cwd=cwd)
    assert ran.code == EXIT_CANNOT_RUN and TRACEBACK in ran.err, ran
    return ran


# ------------------------------------------------------------------------------------------------ flex-export


def export_args(endpoint: str) -> list[str]:
    return ["--space", "unified-profiles-dev", "--stack", "dev", "--endpoint", endpoint, "--out", "exports"]


def test_export_an_unreachable_api_is_one_line_naming_the_url(tmp_path: Path) -> None:
    project = user_project(tmp_path)
    with closing_port() as (url, connections):
        env = {"SEGMENT_API_TOKEN": "t"}
        ran = run_script("flex-export", *export_args(url), env=env, cwd=project)
        attempts = connections()
        debug = with_debug("flex-export", *export_args(url), env=env, cwd=project)

    text = one_block(ran, "export")
    assert url in text and "cannot reach" in text and attempts == 1
    assert debug.err.rstrip().endswith(text)
    assert sorted(path.name for path in project.iterdir()) == sorted(USER_PROJECT_FILES)


def test_export_a_refused_token_an_address_with_a_path_and_no_token_are_one_line_each(
    emulator: Emulator, tmp_path: Path
) -> None:
    project = user_project(tmp_path)
    refused = run_script(
        "flex-export", *export_args(emulator.url), env={"SEGMENT_API_TOKEN": "wrong"}, cwd=project
    )
    assert "refused the token (HTTP 401)" in one_block(refused, "export")
    assert "SEGMENT_API_TOKEN" in refused.err and "segment:token" not in refused.err

    with_path = run_script(
        "flex-export",
        *export_args(f"{emulator.url}/v1"),
        env={"SEGMENT_API_TOKEN": emulator.token},
        cwd=project,
    )
    text = one_block(with_path, "export")
    assert "not the base URL" in text and "does not exist" not in text

    no_token = run_script("flex-export", *export_args(emulator.url), cwd=project)
    assert "set SEGMENT_API_TOKEN" in one_block(no_token, "export")
    with_debug("flex-export", *export_args(emulator.url), cwd=project)


def test_export_bad_arguments_are_argparse_usage_exit_2(tmp_path: Path) -> None:
    ran = run_script("flex-export", "--stack", "dev")

    assert ran.code == EXIT_CANNOT_RUN and TRACEBACK not in ran.err
    assert "the following arguments are required: --space" in ran.err


# ------------------------------------------------------------------------------------------------ flex-doctor


def test_doctor_a_yaml_error_or_a_missing_file_names_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "Pulumi.dev.yaml"
    broken.write_text("config:\n  flex-unified-profiles:space:\n    slug: a\n   name: b\n")
    env = {"SEGMENT_API_TOKEN": "t"}

    ran = run_script("flex-doctor", "--stack", "dev", "--config-file", str(broken), env=env)
    assert str(broken) in one_block(ran, "doctor")
    with_debug("flex-doctor", "--stack", "dev", "--config-file", str(broken), env=env)

    missing = tmp_path / "Pulumi.nope.yaml"
    ran = run_script("flex-doctor", "--stack", "dev", "--config-file", str(missing), env=env)
    assert str(missing) in one_block(ran, "doctor")


# ----------------------------------------------------------------------------------------------- flex-promote


def test_promote_outside_a_git_checkout_or_without_the_cli_cannot_run(tmp_path: Path) -> None:
    project = user_project(tmp_path / "project")
    ran = run_script("flex-promote", "--yes", cwd=project)
    assert "run it from a git checkout" in one_block(ran, "promotion stopped")
    with_debug("flex-promote", "--yes", cwd=project)

    checkout = user_project(tmp_path / "checkout")
    for command in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "x"],
    ):
        assert run_git(checkout, command) == 0
    no_cli = run_script("flex-promote", "--yes", env={"PATH": "/usr/bin:/bin"}, cwd=checkout)
    assert "the `pulumi` CLI is not on PATH" in one_block(no_cli, "promotion stopped")


@pytest.mark.e2e
def test_promote_a_yaml_error_in_the_stack_file_is_one_line_from_pulumi(tmp_path: Path) -> None:
    require_pulumi_cli()
    project = tmp_path / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text((REPO / "Pulumi.yaml").read_text())
    env = init_dev_stack(project, tmp_path / "state")
    (project / "Pulumi.dev.yaml").write_text("config:\n  a: b\n   c: d\n")
    for command in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "x"],
    ):
        assert run_git(project, command) == 0

    ran = run_script("flex-promote", "--project-dir", str(project), "--yes", env=env, cwd=project)

    text = one_block(ran, "promotion stopped")
    assert (
        "cannot read the config of stack 'dev'" in text
        and "invalid YAML" in text
        and "Pulumi.dev.yaml" in text
    )


@pytest.mark.e2e
def test_doctor_a_yaml_error_in_the_stack_file_is_one_line_naming_the_file_and_pulumis_error(
    tmp_path: Path,
) -> None:
    require_pulumi_cli()
    project = user_project(tmp_path / "project")
    env = init_dev_stack(project, tmp_path / "state")
    stack_file = project / "Pulumi.dev.yaml"
    stack_file.write_text("config:\n  flex-unified-profiles:space:\n    slug: a\n   name: b\n")

    ran = run_script("flex-doctor", "--stack", "dev", env=env, cwd=project)

    text = one_block(ran, "doctor")
    assert text.startswith(f"doctor: Pulumi cannot read the stack file {stack_file}: "), text
    assert "invalid YAML" in text and "Fix the YAML there" in text
    assert "code:" not in text and "stdout:" not in text and "pulumi login" not in text


def init_dev_stack(project: Path, state: Path) -> dict[str, str]:
    """A dev stack of ``project`` on a passphrase file backend in ``state``; the environment that reaches it."""
    state.mkdir()
    env = {"PULUMI_BACKEND_URL": state.as_uri(), "PULUMI_CONFIG_PASSPHRASE": "only-a-test"}
    subprocess.run(
        ["pulumi", "stack", "init", "dev"],
        cwd=project,
        env={**os.environ, **env},
        check=True,
        capture_output=True,
    )
    return env


def run_git(where: Path, command: list[str]) -> int:
    return subprocess.run(["git", *command], cwd=where, capture_output=True).returncode


def test_promote_the_same_stack_twice_is_a_usage_error() -> None:
    ran = run_script("flex-promote", "--from-stack", "dev", "--to-stack", "dev")

    assert ran.code == EXIT_CANNOT_RUN and TRACEBACK not in ran.err and "name the same stack" in ran.err


# ------------------------------------------------------------------------------------------- every tool's help


@pytest.mark.parametrize(
    "script", ["flex-doctor", "flex-promote", "flex-export", "flex-demo", "segment-emulator"]
)
def test_help_states_the_exit_codes(script: str) -> None:
    ran = run_script(script, "--help")

    text = " ".join(ran.out.split())
    assert ran.code == 0
    assert "Exit status: 0" in text and "2 when" in text and "--debug" in text
