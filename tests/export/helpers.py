"""Running the export the way a user does, and turning what it wrote into the config the engine hands on."""

from __future__ import annotations

import io
import json
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from flex_program.config import NAMESPACE
from flex_tools import export
from segment_emulator import Emulator
from tests.conftest import SESSION_PACING_ENV

REPO = Path(__file__).resolve().parents[2]
MAIN = REPO / "__main__.py"
MUTATING = ("POST", "PATCH", "PUT", "DELETE")


@dataclass(frozen=True)
class ExportRun:
    code: int
    out: str
    err: str


def run_export(
    emulator: Emulator, out_dir: Path, *args: str, env: Mapping[str, str] | None = None, **kwargs: Any
) -> ExportRun:
    stdout, stderr = io.StringIO(), io.StringIO()
    argv = [
        "--space",
        "unified-profiles-dev",
        "--stack",
        "dev",
        "--endpoint",
        emulator.url,
        "--out",
        str(out_dir),
    ]
    # The files go into the project the stack belongs to: here, the folder they are written to.
    kwargs.setdefault("project_dir", out_dir)
    code = export.main(
        [*argv, *args],
        env={"SEGMENT_TOKEN": emulator.token, **SESSION_PACING_ENV} if env is None else env,
        out=stdout,
        err=stderr,
        **kwargs,
    )
    return ExportRun(code, stdout.getvalue(), stderr.getvalue())


def run_printed_copy(run: ExportRun, cwd: Path) -> list[str]:
    """Run the ``cp`` the export prints when it wrote the stack file elsewhere than beside Pulumi.yaml, as a
    user pastes it; the commands run."""
    commands = [line.strip() for line in run.out.splitlines() if line.startswith("  cp ")]
    for command in commands:
        subprocess.run(shlex.split(command), cwd=cwd, check=True)
    return commands


def secret_commands(text: str) -> list[str]:
    """The ``pulumi config set --secret`` commands listed in the export's output or (as comments) its stack file."""
    commands = []
    for line in text.splitlines():
        candidate = line.strip().lstrip("#").strip().split("   #", 1)[0].strip()
        if candidate.startswith("pulumi config set") and candidate.endswith(export.PLACEHOLDER):
            commands.append(candidate)
    return commands


def requested_secret(command: str) -> tuple[str, str | None]:
    """(full config key, key inside the object or None) a ``pulumi config set --secret`` command sets."""
    words = shlex.split(command)
    assert words[:3] == ["pulumi", "config", "set"] and "--secret" in words, command
    if "--path" in words:
        path = words[words.index("--path") + 1]
        top, _, nested = path.partition(".")
        return f"{NAMESPACE}:{top}", nested
    key = words[words.index("--secret") + 1]
    return (key if ":" in key else f"{NAMESPACE}:{key}"), None


def stack_values(stack_file: Path) -> dict[str, str]:
    """A stack file's config as the engine hands it to the program (structured values as JSON text)."""
    raw = yaml.safe_load(stack_file.read_text())["config"]
    # The program under test runs from this repository; the stack's project is the folder it was written to, and
    # its definitionsFile is relative to that folder.
    definitions = f"{NAMESPACE}:definitionsFile"
    if definitions in raw and not Path(raw[definitions]).is_absolute():
        raw[definitions] = str(stack_file.parent / raw[definitions])
    return {
        key: json.dumps(value)
        if isinstance(value, dict | list)
        else str(value).lower()
        if isinstance(value, bool)
        else str(value)
        for key, value in raw.items()
    }


def with_secrets(
    values: dict[str, str], commands: list[str], supplied: Mapping[str, str]
) -> tuple[dict[str, str], set[str]]:
    """Run the listed secret commands with the values a user supplies (keyed like the command's key)."""
    config = dict(values)
    objects: dict[str, dict[str, str]] = {}
    secret_keys = set()
    for command in commands:
        full_key, nested = requested_secret(command)
        secret_keys.add(full_key)
        if nested is None:
            config[full_key] = supplied[full_key]
        else:
            objects.setdefault(full_key, {})[nested] = supplied[f"{full_key}.{nested}"]
    config.update({key: json.dumps(value) for key, value in objects.items()})
    return config, secret_keys


def mutating(emulator: Emulator) -> list[str]:
    return [f"{r.method} {r.operation_id}" for r in emulator.requests if r.method in MUTATING]


def changes(result: Any) -> dict[str, str]:
    return {urn.rsplit("::", 1)[-1]: op for urn, op in result.changes.items()}
