"""The language host a `pulumi` built by `make pulumi` runs the program with (tools/pulumi-cli/host),
under the real CLI: it answers what Pulumi's own host answers for a Python program with the pip toolchain.
Pulumi's own host cannot be built here (docs/testing.md), so the stories below are the ones Pulumi's host tells,
read from its source: `pulumi about` reports the program's Python, `pulumi install` makes the `virtualenv` the
project names, and a missing environment is one message with the fix."""

from __future__ import annotations

import re
import shutil
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from segment_emulator import Emulator
from tests.e2e.conftest import CliStack

PROJECT_FILE = "Pulumi.yaml"


def set_runtime_options(project: Path, **options: str) -> None:
    path = project / PROJECT_FILE
    document = yaml.safe_load(path.read_text())
    document["runtime"]["options"].update(options)
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def test_pulumi_about_reports_the_programs_python_and_no_unimplemented_call(cli_stack: CliStack) -> None:
    done = cli_stack.pulumi("about", "--stack", "dev")
    output = done.stdout + done.stderr
    assert "not implemented" not in output.lower()
    python = (cli_stack.project / ".venv" / "bin" / "python").resolve()
    language = re.search(r"This project is written in python: executable='([^']+)' version='([^']+)'", output)
    assert language is not None, output
    assert Path(language.group(1)).resolve() == python
    assert language.group(2) == ".".join(map(str, sys.version_info[:3]))
    assert "toolchain='pip'" in output
    assert re.search(r"resource\s+snowflake\s+" + re.escape(metadata.version("pulumi-snowflake")), output), (
        output
    )


def test_pulumi_install_makes_the_named_virtualenv_and_the_program_runs_from_it(
    cli_stack: CliStack, flex_emulator: Emulator
) -> None:
    set_runtime_options(cli_stack.project, virtualenv="venv-from-install")
    # The dependencies only: `pulumi install` then downloads the plugins the host reports (snowflake, as under
    # Pulumi's host) from get.pulumi.com, which this machine cannot reach.
    cli_stack.pulumi("install", "--no-plugins")

    installed = cli_stack.project / "venv-from-install" / "bin" / "python"
    assert installed.is_file()
    preview = cli_stack.pulumi("preview", "--stack", "dev")
    assert "error" not in preview.stdout.lower(), preview.stdout
    about = cli_stack.pulumi("about", "--stack", "dev").stdout
    assert str(installed) in about


@pytest.mark.parametrize("host_python", ["python3 on PATH", "a Python with the Pulumi SDK"])
def test_a_clone_without_its_virtualenv_gets_one_message_naming_the_fix(
    cli_stack: CliStack, host_python: str
) -> None:
    """The launcher runs the host under ./.venv, else under $PULUMI_PYTHON_CMD or python3: one that lacks the SDK
    cannot start the host at all; one that has it starts the host, which finds no virtualenv for the program."""
    (cli_stack.project / ".venv").unlink()
    if host_python == "a Python with the Pulumi SDK":
        cli_stack.env["PULUMI_PYTHON_CMD"] = sys.executable
    done = cli_stack.pulumi("preview", "--stack", "dev", check=False)
    output = done.stdout + done.stderr

    assert done.returncode != 0
    assert "Traceback" not in output
    errors = {line.split("error: ", 1)[1] for line in output.splitlines() if "error: " in line}
    (message,) = [error for error in errors if "make venv" in error]
    assert message.endswith("run `make venv` (or `pulumi install`) in the project folder")
    assert errors - {message} <= {
        "failed to load language plugin python: could not read plugin "
        f"[{shutil.which('pulumi-language-python', path=cli_stack.env['PATH'])}]: exit status 1"
    }


def test_a_typechecker_that_is_not_installed_is_named_with_the_fix(cli_stack: CliStack) -> None:
    if shutil.which("pyright", path=str(cli_stack.project / ".venv" / "bin")):
        raise AssertionError("pyright is installed in the test environment: pick a typechecker that is not")
    set_runtime_options(cli_stack.project, typechecker="pyright")
    done = cli_stack.pulumi("preview", "--stack", "dev", check=False)

    assert done.returncode != 0
    assert (
        "The typechecker option is set to pyright, but pyright is not installed." in done.stdout + done.stderr
    )
