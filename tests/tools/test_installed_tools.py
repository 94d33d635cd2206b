"""The console scripts of a plain `pip install .` (not editable), in a new virtualenv outside this repository, run
from a user's own project folder with no --project-dir: they take the project from the current directory, as
`pulumi` does, and the export writes only inside it.

The new virtualenv sees the requirements already installed for these tests (through a .pth file, as the workflow
tests do), so the install downloads nothing but, once into pip's cache, the pinned build backend. The package is
built from a copy of the checkout, so the build leaves nothing in this repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from segment_emulator import Emulator
from tests.export.workspace import SPACE, build_by_hand
from tests.tools.user_errors import REPO, TRACEBACK, USER_PROJECT_FILES, user_project

pytestmark = pytest.mark.timeout(600)

PACKAGE_FILES = ("pyproject.toml", "requirements.txt", "README.md")
PACKAGES = ("segment_provider", "flex_program", "flex_tools", "segment_emulator")
CUSTOM_TRAIT = "Only in the user project"


@dataclass(frozen=True)
class Installed:
    venv: Path
    site_packages: Path

    def run(
        self, script: str, *args: str, cwd: Path, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        base = {
            k: v for k, v in os.environ.items() if not k.startswith(("SEGMENT_", "PULUMI_", "VIRTUAL_ENV"))
        }
        return subprocess.run(
            [str(self.venv / "bin" / script), *args],
            cwd=cwd,
            env={**base, **(env or {})},
            capture_output=True,
            text=True,
            timeout=300,
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("installed")
    source = root / "source"
    source.mkdir()
    for name in PACKAGE_FILES:
        shutil.copy(REPO / name, source / name)
    for package in PACKAGES:
        shutil.copytree(REPO / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    venv = root / "venv"
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)], check=True)
    (site_packages,) = venv.glob("lib/python*/site-packages")
    (site_packages / "requirements.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps", "."],
        cwd=source,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    yield Installed(venv, site_packages)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A user's project folder: the repository's Pulumi.yaml, stack files and definitions.yaml, with one trait of
    the user's own, so a tool that read another project's definitions would show it."""
    folder = user_project(tmp_path / "my-flex-project")
    definitions = yaml.safe_load((folder / "definitions.yaml").read_text())
    definitions["traits"]["custom"] = [
        {"name": CUSTOM_TRAIT, "event": "Flex - Engagement Initiated", "aggregation": {"type": "count"}}
    ]
    (folder / "definitions.yaml").write_text(yaml.safe_dump(definitions, sort_keys=False))
    return folder


def files_under(folder: Path) -> list[str]:
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())


def test_the_installed_package_is_not_this_checkout(installed: Installed, project: Path) -> None:
    where = subprocess.run(
        [str(installed.venv / "bin" / "python"), "-c", "import flex_tools; print(flex_tools.__file__)"],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(installed.site_packages), where
    assert not Path(where).is_relative_to(REPO)


def test_the_export_writes_only_inside_the_project_it_is_run_from(
    installed: Installed, project: Path, emulator: Emulator
) -> None:
    build_by_hand(emulator)
    package_files = files_under(installed.site_packages)
    outside = files_under(project.parent)

    ran = installed.run(
        "flex-export",
        *("--space", SPACE, "--stack", "dev", "--endpoint", emulator.url, "--out", "exports"),
        cwd=project,
        env={"SEGMENT_API_TOKEN": emulator.token},
    )

    assert ran.returncode == 0, ran.stderr
    assert files_under(project) == sorted(
        [*USER_PROJECT_FILES, "exports/Pulumi.dev.yaml", "exports/definitions.dev.yaml"]
    )
    new_outside = set(files_under(project.parent)) - set(outside)
    assert new_outside == {
        "my-flex-project/exports/Pulumi.dev.yaml",
        "my-flex-project/exports/definitions.dev.yaml",
    }
    assert files_under(installed.site_packages) == package_files, (
        "the export wrote into the installed package"
    )
    config = yaml.safe_load((project / "exports" / "Pulumi.dev.yaml").read_text())["config"]
    assert config["flex-unified-profiles:definitionsFile"] == "exports/definitions.dev.yaml"
    assert f"cp exports/Pulumi.dev.yaml {project / 'Pulumi.dev.yaml'}" in ran.stdout


def test_the_doctor_reads_the_project_it_is_run_from(
    installed: Installed, project: Path, emulator: Emulator
) -> None:
    subfolder = project / "notes"
    subfolder.mkdir()
    env = {"SEGMENT_API_TOKEN": emulator.token, "SEGMENT_PROFILE_API_TOKEN": emulator.profile_api_token()}
    args = ("--stack", "dev", "--config-file", "../Pulumi.dev.yaml", "--endpoint", emulator.url)

    ran = installed.run("flex-doctor", *args, "--profile-api-endpoint", emulator.url, cwd=subfolder, env=env)

    assert ran.returncode == 1, ran.stderr  # gaps: nothing is deployed
    assert "Stack 'dev' (space unified-profiles-dev)" in ran.stdout
    assert "Trait only_in_the_user_project" in ran.stdout, "the doctor read another project's definitions"
    assert TRACEBACK not in ran.stderr


def test_outside_any_project_each_tool_says_where_to_run_it(installed: Installed, tmp_path: Path) -> None:
    nowhere = tmp_path / "not-a-project"
    nowhere.mkdir()
    for script, args in (
        ("flex-doctor", ("--stack", "dev")),
        ("flex-promote", ("--yes",)),
        ("flex-export", ("--space", SPACE, "--stack", "dev")),
    ):
        ran = installed.run(script, *args, cwd=nowhere, env={"SEGMENT_API_TOKEN": "t"})
        text = ran.stderr.strip()
        assert ran.returncode == 2 and "\n" not in text and TRACEBACK not in text, (script, ran.stderr)
        assert f"no Pulumi.yaml in {nowhere.resolve()} or any folder above it" in text, text
        assert list(nowhere.iterdir()) == []


def test_promote_checks_the_git_checkout_of_the_project_it_is_run_from(
    installed: Installed, project: Path
) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=project, check=True, capture_output=True)

    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "my project")
    (project / "my-notes.txt").write_text("not committed\n")

    ran = installed.run("flex-promote", "--yes", cwd=project)
    assert ran.returncode == 1, ran.stderr
    assert "uncommitted changes (my-notes.txt)" in ran.stderr

    (project / "my-notes.txt").unlink()
    no_cli = installed.run("flex-promote", "--yes", cwd=project, env={"PATH": "/usr/bin:/bin"})
    assert no_cli.returncode == 2 and "the `pulumi` CLI is not on PATH" in no_cli.stderr, no_cli.stderr


def test_the_demo_runs_or_says_in_one_line_why_it_cannot(installed: Installed, project: Path) -> None:
    ran = installed.run("flex-demo", cwd=project, env={"PATH": "/usr/bin:/bin"})

    assert TRACEBACK not in ran.stderr, ran.stderr
    if ran.returncode != 0:
        text = ran.stderr.strip()
        assert ran.returncode == 2 and "\n" not in text and text.startswith("demo: "), ran.stderr
    assert files_under(project) == sorted(USER_PROJECT_FILES)
