"""The export writes only inside the project it is run from: never through a link (dangling or not), never into a
folder that leads outside, never over an outside file with --force, and never under a stack name with a hidden
line break. Each case is refused before any request, as `flex-export` run from the project folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from flex_program.config import NAMESPACE, load_program_config
from flex_tools import cli, doctor, export, promote
from segment_emulator import Emulator
from tests.export.helpers import ExportRun, run_printed_copy, stack_values
from tests.export.workspace import SPACE, build_by_hand
from tests.tools.user_errors import REPO, TRACEBACK, USER_PROJECT_FILES, Ran, run_script, user_project


def export_from(project: Path, emulator: Emulator, *args: str) -> Ran:
    """``flex-export`` as a user runs it: from the project folder, the token in the environment."""
    argv = ["--space", SPACE, "--endpoint", emulator.url, *args]
    return run_script("flex-export", *argv, env={"SEGMENT_API_TOKEN": emulator.token}, cwd=project)


def refused_before_any_request(ran: Ran, emulator: Emulator, *words: str) -> str:
    text = ran.err.strip()
    assert ran.code == export.EXIT_REFUSED, ran
    assert text.startswith("export: ") and "\n" not in text and TRACEBACK not in ran.err, ran.err
    assert "nothing was written" in text and all(word in text for word in words), text
    assert emulator.requests == [], "refused after a request"
    return text


@pytest.fixture
def project(tmp_path: Path, emulator: Emulator) -> Path:
    build_by_hand(emulator)
    emulator.clear_requests()
    (tmp_path / "outside").mkdir()
    return user_project(tmp_path / "project")


def test_a_dangling_link_as_the_stack_file_is_refused_and_nothing_is_created(
    project: Path, emulator: Emulator
) -> None:
    victim = project.parent / "outside" / "victim.txt"
    (project / "Pulumi.s1.yaml").symlink_to(Path("..") / "outside" / "victim.txt")

    for force in ((), ("--force",)):
        ran = export_from(project, emulator, "--stack", "s1", "--environment", "dev", *force)
        refused_before_any_request(ran, emulator, "Pulumi.s1.yaml", "symbolic link")

    assert not victim.exists() and not os.path.lexists(project / "definitions.s1.yaml")


def test_force_never_overwrites_an_outside_file_through_a_link(project: Path, emulator: Emulator) -> None:
    victim = project.parent / "outside" / "victim.txt"
    victim.write_text("keep me\n")
    (project / "definitions.dev.yaml").symlink_to(victim)

    ran = export_from(project, emulator, "--stack", "dev", "--force")

    refused_before_any_request(ran, emulator, "definitions.dev.yaml", "symbolic link")
    assert victim.read_text() == "keep me\n"
    assert (project / "Pulumi.dev.yaml").read_bytes() == (REPO / "Pulumi.dev.yaml").read_bytes()


def test_an_out_folder_that_links_outside_is_refused(project: Path, emulator: Emulator) -> None:
    (project / "exports").symlink_to(project.parent / "outside", target_is_directory=True)

    ran = export_from(project, emulator, "--stack", "dev", "--out", "exports")

    refused_before_any_request(ran, emulator, "outside the project")
    assert list((project.parent / "outside").iterdir()) == []


def test_a_link_to_a_file_inside_the_project_is_refused_too(project: Path, emulator: Emulator) -> None:
    (project / "Pulumi.dev.yaml").unlink()
    (project / "Pulumi.dev.yaml").symlink_to("Pulumi.prod.yaml")
    before = (project / "Pulumi.prod.yaml").read_text()

    ran = export_from(project, emulator, "--stack", "dev", "--force")

    refused_before_any_request(ran, emulator, "Pulumi.dev.yaml", "symbolic link")
    assert (project / "Pulumi.prod.yaml").read_text() == before


def test_a_stack_name_with_a_trailing_newline_is_a_usage_error(project: Path, emulator: Emulator) -> None:
    ran = export_from(project, emulator, "--stack", "dev\n")

    assert ran.code == cli.EXIT_CANNOT_RUN and TRACEBACK not in ran.err
    assert "is not a stack name" in ran.err
    assert sorted(path.name for path in project.iterdir()) == sorted(USER_PROJECT_FILES)
    assert emulator.requests == []


@pytest.mark.parametrize(
    ("parse", "option"),
    [
        (export.parse_arguments, ["--space", SPACE, "--stack"]),
        (doctor.parse_arguments, ["--stack"]),
        (promote.parse_arguments, ["--from-stack"]),
        (promote.parse_arguments, ["--to-stack"]),
    ],
)
@pytest.mark.parametrize("name", ["dev\n", "dev\r", "de v", "../dev", ""])
def test_every_tool_matches_a_stack_name_whole(
    parse: object, option: list[str], name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as usage:
        parse([*option, name])  # type: ignore[operator]
    assert usage.value.code == cli.EXIT_CANNOT_RUN
    assert "is not a stack name" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("parse", "option", "attribute"),
    [
        (doctor.parse_arguments, ["--stack"], "stack"),
        (promote.parse_arguments, ["--from-stack"], "from_stack"),
        (promote.parse_arguments, ["--to-stack"], "to_stack"),
    ],
)
def test_the_tools_that_hand_the_name_to_pulumi_take_a_qualified_stack_name(
    parse: object, option: list[str], attribute: str
) -> None:
    parsed = parse([*option, "acme/flex-unified-profiles/dev"])  # type: ignore[operator]
    assert getattr(parsed, attribute) == "acme/flex-unified-profiles/dev"


def test_the_export_names_its_file_after_a_plain_stack_name_only(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as usage:
        export.parse_arguments(["--space", SPACE, "--stack", "acme/flex-unified-profiles/dev"])
    assert usage.value.code == cli.EXIT_CANNOT_RUN
    assert "the org/project/ qualifier is not part of the file name" in capsys.readouterr().err


def test_the_written_files_are_new_files_inside_the_project(project: Path, emulator: Emulator) -> None:
    ran = export_from(project, emulator, "--stack", "dev", "--out", "exports")

    assert ran.code == export.EXIT_WRITTEN, ran.err
    written = sorted(path.relative_to(project).as_posix() for path in project.rglob("*") if path.is_file())
    assert written == sorted([*USER_PROJECT_FILES, "exports/Pulumi.dev.yaml", "exports/definitions.dev.yaml"])
    assert not any(path.is_symlink() for path in (project / "exports").iterdir())
    assert list((project.parent / "outside").iterdir()) == []


def test_after_an_export_to_a_folder_the_printed_step_puts_the_stack_file_where_pulumi_reads_it(
    project: Path, emulator: Emulator
) -> None:
    ran = export_from(project, emulator, "--stack", "dev", "--out", "exports")
    assert ran.code == export.EXIT_WRITTEN, ran.err
    before_preview = ran.out.split("Then: pulumi preview")[0]
    assert (
        "Pulumi reads stack dev's settings only from the Pulumi.dev.yaml beside Pulumi.yaml" in before_preview
    )
    assert "encryptionsalt" in before_preview  # the project already had a Pulumi.dev.yaml

    assert run_printed_copy(ExportRun(ran.code, ran.out, ran.err), project) == [
        f"cp exports/Pulumi.dev.yaml {project / 'Pulumi.dev.yaml'}"
    ]

    stack_file = project / "Pulumi.dev.yaml"
    assert stack_file.read_bytes() == (project / "exports" / "Pulumi.dev.yaml").read_bytes()
    values = stack_values(stack_file)
    placeholders = {"segment:token": "t", f"{NAMESPACE}:warehouseCredentials": '{"private_key": "k"}'}
    placeholders[f"{NAMESPACE}:reverseEtlCredentials"] = '{"private_key": "k"}'
    values.update(placeholders)
    program = load_program_config(values.get, placeholders.__contains__, "dev", project)
    exported = yaml.safe_load((project / "exports" / "definitions.dev.yaml").read_text())
    assert program.stack.adopt is True
    assert program.definitions.model.name == exported["model"]["name"]
