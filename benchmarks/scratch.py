"""A scratch Pulumi project on a throwaway file backend, driven by the real ``pulumi`` CLI: what the Flex stack's
real-engine rows (``benchmarks/real_engine.py``) and Pulumi's floor programs (``benchmarks/floor.py``) run in."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from benchmarks.runner import DYNAMIC
from benchmarks.stack import REPO
from benchmarks.targets import (
    DESTROY,
    DRIFT_PREVIEW,
    NO_OP_UP,
    ONE_TRAIT_CHANGE,
    PREVIEW,
    PREVIEW_NO_CHANGES,
    REFRESH,
    UP_FROM_EMPTY,
)
from flex_tools.scratch import file_backend_state, throwaway_env

COMMAND_TIMEOUT = 900
UP = ("up", "--yes", "--skip-preview")
COMMANDS: dict[str, tuple[str, ...]] = {
    UP_FROM_EMPTY: UP,
    NO_OP_UP: UP,
    ONE_TRAIT_CHANGE: UP,
    REFRESH: ("refresh", "--yes", "--skip-preview"),
    DESTROY: ("destroy", "--yes", "--skip-preview"),
    PREVIEW: ("preview",),
    PREVIEW_NO_CHANGES: ("preview",),
    DRIFT_PREVIEW: ("preview",),
}
"""The ``pulumi`` command line of each scenario, the same for the Flex stack and for the floor programs."""


class BenchSetupError(RuntimeError):
    """The scratch stack could not be set up: nothing was measured."""


def cli_available() -> bool:
    return all(shutil.which(p) for p in ("pulumi", "pulumi-language-python", "pulumi-resource-pulumi-python"))


class CliProject:
    """A scratch Pulumi project in ``workdir``, one stack on a throwaway file backend, driven by the CLI.

    ``extra_env`` adds to every command's environment (the variables of the caller's own ``PULUMI_*`` and
    ``SEGMENT_*`` are left out, so nothing of the machine's setup leaks in)."""

    stack = "dev"

    def __init__(self, workdir: Path, extra_env: Mapping[str, str] | None = None) -> None:
        self.project = workdir / "project"
        backend = workdir / "backend"
        backend.mkdir()
        self.env = throwaway_env(backend, "benchmark", extra_env)

    def link_venv(self) -> None:
        """The repository's virtualenv, as ``Pulumi.yaml``'s ``virtualenv: .venv`` finds it."""
        (self.project / ".venv").symlink_to(REPO / ".venv")

    def pulumi(
        self, *args: str, stdin: str | None = None, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["pulumi", *args, "--stack", self.stack, "--non-interactive"],
            cwd=self.project,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
        if check and done.returncode != 0:
            raise BenchSetupError(
                f"`pulumi {' '.join(args)}` exited {done.returncode}: {done.stderr.strip()}"
            )
        return done

    def timed(self, scenario: str) -> tuple[subprocess.CompletedProcess[str], float]:
        """The scenario's command, and its wall time."""
        started = time.perf_counter()
        done = self.pulumi(*COMMANDS[scenario])
        return done, time.perf_counter() - started

    def refreshes_first(self) -> bool:
        """Whether the project sets ``options: refresh: always`` (docs/drift.md)."""
        project = yaml.safe_load((self.project / "Pulumi.yaml").read_text())
        return str((project.get("options") or {}).get("refresh", "")).lower() == "always"

    def dynamic(self, prefix: str = DYNAMIC) -> list[dict[str, Any]]:
        """The stack's resources whose type starts with ``prefix`` (the Segment kinds), from what ``pulumi stack
        export`` prints (read from the file backend's checkpoint)."""
        saved = file_backend_state(self.env, self.project, self.stack)
        if saved is None:
            saved = json.loads(self.pulumi("stack", "export", check=True).stdout)
        resources = saved["deployment"].get("resources") or []
        return [r for r in resources if r["type"].startswith(prefix)]
