"""The language host a `pulumi` built by `make pulumi` runs the program with (tools/pulumi-cli/language_host.py),
under the real CLI: it answers what Pulumi's own host answers for a Python program with the pip toolchain.
Pulumi's own host cannot be built here (docs/testing.md), so the stories below are the ones Pulumi's host tells,
read from its source: `pulumi about` reports the program's Python, `pulumi install` makes the `virtualenv` the
project names, and a missing environment is one message with the fix."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

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
    language = re.search(r"Language\s*\n(?:.*\n)*?Executable\s+(\S+)", output)
    assert language is not None, output
    assert Path(language.group(1)).resolve() == python
    assert re.search(r"toolchain\s+pip", output), output


def test_pulumi_install_makes_the_named_virtualenv_and_the_program_runs_from_it(
    cli_stack: CliStack, flex_emulator: Emulator
) -> None:
    set_runtime_options(cli_stack.project, virtualenv="venv-from-install")
    cli_stack.pulumi("install")

    installed = cli_stack.project / "venv-from-install" / "bin" / "python"
    assert installed.is_file()
    preview = cli_stack.pulumi("preview", "--stack", "dev")
    assert "error" not in preview.stdout.lower(), preview.stdout
    about = cli_stack.pulumi("about", "--stack", "dev").stdout
    assert str(installed) in about


def test_a_clone_without_its_virtualenv_gets_one_message_naming_the_fix(cli_stack: CliStack) -> None:
    (cli_stack.project / ".venv").unlink()
    done = cli_stack.pulumi("preview", "--stack", "dev", check=False)
    output = done.stdout + done.stderr

    assert done.returncode != 0
    assert "Traceback" not in output
    assert "`make venv` (or `pulumi install`)" in output
    assert output.count("make venv") == 1, output


def test_a_typechecker_that_is_not_installed_is_named_with_the_fix(cli_stack: CliStack) -> None:
    if shutil.which("pyright", path=str(cli_stack.project / ".venv" / "bin")):
        raise AssertionError("pyright is installed in the test environment: pick a typechecker that is not")
    set_runtime_options(cli_stack.project, typechecker="pyright")
    done = cli_stack.pulumi("preview", "--stack", "dev", check=False)

    assert done.returncode != 0
    assert (
        "The typechecker option is set to pyright, but pyright is not installed." in done.stdout + done.stderr
    )
