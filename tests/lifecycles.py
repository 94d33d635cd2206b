"""Whole lifecycles of the program against the emulator, and the requests they send: the source of the contract
property test (``tests/contract/test_lifecycle_requests.py``) and of the "the program never sends one" half of
the emulator's rule tests (``tests/emulator/test_segment_rules.py``).

One run per session (the result is cached): the Flex stack (up, refresh, up, destroy), adoption of a whole
workspace by a stack with an empty state, one mapping taken through every schedule strategy, and every trait
example of docs/traits.md created as a custom trait.
"""

from __future__ import annotations

import functools
import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from segment_emulator import Emulator, RecordedRequest
from tests.conftest import SESSION_PACING_ENV
from tests.faults.conftest import MAIN, engine_for
from tests.harness import REPO_ROOT, ProviderServer
from tests.harness.errors import DeploymentFailed

DEV_SPACE = "unified-profiles-dev"
SCHEDULES: dict[str, dict[str, Any]] = {
    "PERIODIC": {"strategy": "PERIODIC", "config": {"interval": "12m"}},
    "SPECIFIC_DAYS": {
        "strategy": "SPECIFIC_DAYS",
        "config": {"days": [1, 3, 5], "hours": [6, 18], "timezone": "America/New_York"},
    },
    "CRON": {"strategy": "CRON", "config": {"spec": "0 */4 * * 1-5", "timezone": "Europe/Berlin"}},
    "DBT_CLOUD": {"strategy": "DBT_CLOUD", "config": {"jobId": "123456", "accountId": "7890"}},
    "MANUAL": {"strategy": "MANUAL"},
}
"""A schedule of each strategy, in the order the lifecycle moves one mapping through them."""
DOCS_TRAITS = REPO_ROOT / "docs" / "traits.md"
_EXAMPLE = re.compile(r"```yaml\n(?P<trait>[^`]*)```\s*```text\n(?P<query>[^`]*?)\n```")


def docs_trait_examples() -> list[dict[str, Any]]:
    """Every trait builder example of docs/traits.md (a yaml block followed by the query it compiles to)."""
    return [yaml.safe_load(block) for block, _ in _EXAMPLE.findall(DOCS_TRAITS.read_text())]


@dataclass(frozen=True)
class Traffic:
    """The requests of each lifecycle, in the order they were sent."""

    by_lifecycle: dict[str, list[RecordedRequest]]
    failures: dict[str, str]
    """Lifecycles whose deployment failed, with the failure."""

    @property
    def requests(self) -> list[RecordedRequest]:
        return [r for requests in self.by_lifecycle.values() for r in requests]


@functools.cache
def program_traffic(emulator: Emulator) -> Traffic:
    emulator.reset()
    emulator.seed_flex_events(DEV_SPACE)
    emulator.clear_requests()
    by_lifecycle: dict[str, list[RecordedRequest]] = {}
    failures: dict[str, str] = {}

    def run(name: str, lifecycle: Callable[[], None]) -> None:
        # A failed deployment still leaves its requests to check: the first invalid body says more than it.
        try:
            lifecycle()
        except DeploymentFailed as failure:
            failures[name] = str(failure)
        by_lifecycle[name] = emulator.requests
        emulator.clear_requests()

    with (
        ProviderServer(cwd=REPO_ROOT, env=SESSION_PACING_ENV) as server,
        tempfile.TemporaryDirectory() as folder,
    ):

        def flex() -> None:
            engine = engine_for(server, emulator)
            engine.up(MAIN)
            engine.refresh()
            engine.up(MAIN)

        def adoption() -> None:
            engine = engine_for(server, emulator, **{"flex-unified-profiles:adopt": "true"})
            engine.up(MAIN)
            engine.destroy()

        def schedules() -> None:
            engine = engine_for(server, emulator)
            for schedule in SCHEDULES.values():
                engine.config["flex-unified-profiles:schedule"] = json.dumps(schedule)
                engine.up(MAIN)
            engine.destroy()

        def traits() -> None:
            engine = engine_for(
                server, emulator, **{"flex-unified-profiles:definitionsFile": _docs_definitions(folder)}
            )
            engine.up(MAIN)
            engine.destroy()

        run("flex stack", flex)
        run("adoption", adoption)
        run("every schedule strategy", schedules)
        run("docs/traits.md examples", traits)
    return Traffic(by_lifecycle, failures)


def _docs_definitions(folder: str) -> str:
    """definitions.yaml with every docs/traits.md example as a custom trait (created whatever the space saw)."""
    definitions = yaml.safe_load((REPO_ROOT / "definitions.yaml").read_text())
    definitions["traits"]["custom"] = docs_trait_examples()
    definitions["traits"]["requireFlexEvents"] = False
    path = Path(folder) / "definitions.yaml"
    path.write_text(yaml.safe_dump(definitions))
    return str(path)
