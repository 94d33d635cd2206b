"""The Flex stack's operations under the real ``pulumi`` CLI: the same scenarios as the stand-in's, counted at
the same emulator, so the two engines' rows can be read side by side.

Each operation is one ``pulumi`` command in a scratch copy of the project on a throwaway file backend; its
seconds are the command's wall time (CLI start-up, language host, provider process and all). What changed
comes from Pulumi's own summary, the objects from ``pulumi stack export``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from benchmarks.runner import (
    DYNAMIC,
    Measurement,
    Options,
    create_mutations,
    kind_of,
    measurement_of,
    pacing,
    stack_label,
)
from benchmarks.stack import ONE_TRAIT_CHANGE, REPO, write_definitions
from flex_tools.demo import DEMO_SECRETS
from segment_emulator import Emulator

REAL_ENGINE = "pulumi CLI"
REFRESHING_COMMANDS = ("preview", "up", "destroy")
"""The commands the project option ``refresh: always`` makes read every object back first."""
COMMAND_TIMEOUT = 900
# Pulumi's progress line of each Segment object that changed, e.g.
# " +  pulumi-python:dynamic/segment:Source salesforce-source created (1s)".
CHANGED = re.compile(
    rf"^\s*[-+~]{{1,2}}\s+({re.escape(DYNAMIC)}\S+) (\S+) (?:create|update|replace|delete)d?\b", re.M
)


class BenchSetupError(RuntimeError):
    """The scratch stack could not be set up: nothing was measured."""


def cli_available() -> bool:
    return all(shutil.which(p) for p in ("pulumi", "pulumi-language-python", "pulumi-resource-pulumi-python"))


class CliBench:
    """The Flex stack on its own emulator, driven through the ``pulumi`` CLI."""

    def __init__(self, options: Options, workdir: Path, pacing_env: Mapping[str, str]) -> None:
        self.options = options
        self.project = workdir / "project"
        shutil.copytree(
            REPO,
            self.project,
            ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", ".*cache", ".demo"),
        )
        (self.project / ".venv").symlink_to(REPO / ".venv")
        self.definitions = write_definitions(self.project / "bench-definitions.yaml", 0)
        backend = workdir / "backend"
        backend.mkdir()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "SEGMENT_"))},
            **pacing_env,
            "PULUMI_BACKEND_URL": backend.as_uri(),
            "PULUMI_CONFIG_PASSPHRASE": "benchmark",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        }
        self.emulator = Emulator(
            port=0, time_scale=options.time_scale, latency_ms=options.latency_ms, seed_flex_events=True
        )

    def __enter__(self) -> CliBench:
        self.emulator.start()
        self.pulumi("stack", "init", check=True)
        self.pulumi("config", "set", "segment:endpoint", self.emulator.url, check=True)
        self.pulumi(
            "config", "set", "flex-unified-profiles:definitionsFile", str(self.definitions), check=True
        )
        for key, value in {**DEMO_SECRETS, "segment:token": self.emulator.token}.items():
            self.pulumi("config", "set", "--secret", key, stdin=value, check=True)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.emulator.stop()

    def pulumi(
        self, *args: str, stdin: str | None = None, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["pulumi", *args, "--stack", "dev", "--non-interactive"],
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

    # ------------------------------------------------------------------ the operations

    def up_from_empty(self, scenario: str) -> Measurement:
        measurement = self.up(scenario)
        measurement.expected_mutations = sum(
            create_mutations(kind_of(r["type"]), r.get("inputs") or {}) for r in self._dynamic()
        )
        return measurement

    def up(self, scenario: str) -> Measurement:
        return self._measure(scenario, "up", "--yes", "--skip-preview")

    def refresh(self, scenario: str) -> Measurement:
        return self._measure(scenario, "refresh", "--yes", "--skip-preview")

    def preview_change(self, scenario: str) -> Measurement:
        write_definitions(self.definitions, 0, flex_schema=ONE_TRAIT_CHANGE)
        return self._measure(scenario, "preview")

    def change_one_trait(self, scenario: str) -> Measurement:
        write_definitions(self.definitions, 0, flex_schema=ONE_TRAIT_CHANGE)
        return self.up(scenario)

    def destroy(self, scenario: str) -> Measurement:
        kinds = [kind_of(r["type"]) for r in self._dynamic()]
        measurement = self._measure(scenario, "destroy", "--yes", "--skip-preview", objects=len(kinds))
        measurement.expected_mutations = sum(1 for kind in kinds if kind != "UnifySpace")
        return measurement

    # ------------------------------------------------------------------ measuring

    def refreshes_first(self) -> bool:
        """Whether the project sets ``options: refresh: always`` (docs/drift.md)."""
        project = yaml.safe_load((self.project / "Pulumi.yaml").read_text())
        return str((project.get("options") or {}).get("refresh", "")).lower() == "always"

    def _dynamic(self) -> list[dict[str, Any]]:
        exported = self.pulumi("stack", "export", check=True)
        resources = json.loads(exported.stdout)["deployment"].get("resources") or []
        return [r for r in resources if r["type"].startswith(DYNAMIC)]

    def _measure(self, scenario: str, *command: str, objects: int | None = None) -> Measurement:
        self.emulator.clear_requests()
        started = time.perf_counter()
        done = self.pulumi(*command)
        seconds = time.perf_counter() - started
        error = None
        if done.returncode != 0:
            error = f"`pulumi {command[0]}` exited {done.returncode}: {(done.stdout + done.stderr)[-400:]}"
        return measurement_of(
            self.emulator.requests,
            self.options,
            refreshed_first=command[0] in REFRESHING_COMMANDS and self.refreshes_first(),
            scenario=scenario,
            stack=stack_label(0),
            custom_traits=0,
            objects=objects if objects is not None else len(self._dynamic()),
            changed=len(set(CHANGED.findall(done.stdout))),
            failed=0 if done.returncode == 0 else 1,
            seconds=seconds,
            error=error,
            engine=REAL_ENGINE,
        )


@contextmanager
def cli_bench(options: Options) -> Iterator[CliBench]:
    with (
        tempfile.TemporaryDirectory(prefix="flex-bench-cli-") as workdir,
        pacing(options.time_scale) as env,
        CliBench(options, Path(workdir), env) as bench,
    ):
        yield bench
