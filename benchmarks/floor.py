"""Pulumi's own floor: the same ``pulumi`` commands, under the same CLI and language host, in the same run, on
programs that do nothing of their own — an empty program, and programs of ``n`` trivial dynamic resources (a
``pulumi.dynamic.ResourceProvider`` whose create returns at once, whose read, diff and delete are the SDK's
defaults). Each is its own scratch project beside the repository's virtualenv, with the project's runtime and
``options`` (so a ``refresh: always`` refreshes the floor too), on a throwaway file backend.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from benchmarks.scratch import BenchSetupError, CliProject
from benchmarks.stack import REPO

EMPTY = '"""Pulumi\'s floor: a program that declares nothing."""\n'
MODULE = "trivial"
TRIVIAL_TYPE = "pulumi-python:dynamic:"
"""The type of every dynamic resource declared without a module (its name: `Resource`)."""
TRIVIAL_MODULE = '''"""A dynamic resource whose provider does nothing."""

from pulumi.dynamic import CreateResult, Resource, ResourceProvider


class TrivialProvider(ResourceProvider):
    def create(self, props):
        return CreateResult("trivial", {})


class Trivial(Resource):
    def __init__(self, name):
        super().__init__(TrivialProvider(), name, {})
'''
TRIVIAL_PROGRAM = '''"""Pulumi's floor: {count} dynamic resource(s) whose provider does nothing."""

from trivial import Trivial

for index in range({count}):
    Trivial(f"trivial-{{index}}")
'''
# The provider lives in a module of its own, on PYTHONPATH for the program and the provider process alike, so it
# is pickled by reference, as the project's providers are. Defined in __main__, it would be pickled by value, and
# the SDK's serialize_provider, which wraps pickle's _batch_setitems once more for every resource and never
# unwraps it, then exceeds Python's recursion limit after about 300 resources.


class FloorProgram(CliProject):
    """A program of ``resources`` trivial dynamic resources (0: the empty program)."""

    stack = "floor"

    def __init__(self, workdir: Path, resources: int, extra_env: Mapping[str, str] | None = None) -> None:
        super().__init__(workdir, {**(extra_env or {}), "PYTHONPATH": str(workdir / "project")})
        self.resources = resources
        self.project.mkdir()
        self.link_venv()
        project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
        floor = {"name": "pulumi-floor", "runtime": project["runtime"]}
        if project.get("options"):
            floor["options"] = project["options"]
        (self.project / "Pulumi.yaml").write_text(yaml.safe_dump(floor, sort_keys=False))
        (self.project / f"{MODULE}.py").write_text(TRIVIAL_MODULE)
        (self.project / "__main__.py").write_text(
            TRIVIAL_PROGRAM.format(count=resources) if resources else EMPTY
        )
        self.pulumi("stack", "init", check=True)

    def trivial(self) -> list[dict[str, Any]]:
        """The trivial resources in the stack's state."""
        return self.dynamic(TRIVIAL_TYPE)

    def run(self, scenario: str) -> float:
        """The scenario's command on this program: its wall time. A floor that fails measured nothing."""
        done, seconds = self.timed(scenario)
        if done.returncode != 0:
            raise BenchSetupError(
                f"the floor program ({self.resources} resources): `pulumi {scenario}` exited {done.returncode}: "
                f"{(done.stdout + done.stderr)[-400:]}"
            )
        return seconds


@contextmanager
def floor_program(resources: int, extra_env: Mapping[str, str] | None = None) -> Iterator[FloorProgram]:
    with tempfile.TemporaryDirectory(prefix="flex-bench-floor-") as workdir:
        yield FloorProgram(Path(workdir), resources, extra_env)
