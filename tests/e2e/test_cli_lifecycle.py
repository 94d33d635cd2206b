"""The dev stack under the real ``pulumi`` CLI, against the emulator: up, no-op preview, a config change,
drift fixed by refresh + up, destroy, and a promotion of dev into the prod space through the Automation API.

Each test deploys a scratch copy of the project (its real ``Pulumi.dev.yaml``, ``.venv`` linked) to a
throwaway file backend with a passphrase, as ``make demo`` does; Snowflake management stays off as in the
stack file. The secrets reach the stack through ``pulumi config set --secret`` on standard input, the way
the GitHub workflows set them (docs/ci.md). The emulator is checked after every step.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from segment_provider.api import ClientSettings, SegmentClient
from segment_provider.demo import DEMO_SECRETS
from tests.conftest import SESSION_PACING_ENV
from tests.program.ready_stack import SAMPLE_USER, finish_the_manual_steps

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("pulumi") is None, reason="the pulumi CLI is not on PATH"),
    # A first run downloads the plugins of the packages in .venv (pulumi-snowflake) and every step starts
    # the program and the provider process anew.
    pytest.mark.timeout(1200),
]

REPO = Path(__file__).resolve().parents[2]
STACK = "dev"
CLI_TIMEOUT = 600
MUTATING = ("POST", "PATCH", "PUT", "DELETE")
PROJECT_IGNORE = shutil.ignore_patterns(
    ".venv", ".git", ".github", "tests", "benchmarks", "__pycache__", ".*cache", ".demo", ".emulator-state*"
)
RENAMED = "Renamed in the Segment app"


def stack_file() -> dict[str, Any]:
    config = yaml.safe_load((REPO / f"Pulumi.{STACK}.yaml").read_text())["config"]
    return {key.removeprefix("flex-unified-profiles:"): value for key, value in config.items()}


def expected_objects() -> dict[str, Any]:
    """The Segment objects the dev stack manages, by kind, as Pulumi.dev.yaml and definitions.yaml name them."""
    config = stack_file()
    definitions = yaml.safe_load((REPO / "definitions.yaml").read_text())
    return {
        "sources": sorted([config["salesforce"]["sourceSlug"], config["reverseEtl"]["sourceSlug"]]),
        "warehouses": [config["warehouse"]["name"]],
        "connections": 1,
        "models": [definitions["model"]["name"]],
        "destinations": [config["profiles"]["destinationName"]],
        "mappings": [definitions["mapping"]["name"]],
        "traits": sorted(key for key, on in definitions["traits"]["guide"].items() if on),
    }


NOTHING = {
    "sources": [],
    "warehouses": [],
    "connections": 0,
    "models": [],
    "destinations": [],
    "mappings": [],
    "traits": [],
}


def segment_objects(emulator: Any) -> dict[str, Any]:
    """What the emulator holds besides its seeds (the spaces and their internal Profiles sources)."""
    with emulator.store_lock:
        store = emulator.store
        return {
            "sources": sorted(
                s["slug"] for s in store.sources.values() if not s["slug"].startswith("personas_")
            ),
            "warehouses": sorted(w["settings"].get("name") for w in store.warehouses.values()),
            "connections": len(store.connections),
            "models": sorted(m["name"] for m in store.models.values()),
            "destinations": sorted(d["name"] for d in store.destinations.values()),
            "mappings": sorted(m["name"] for m in store.subscriptions.values()),
            "traits": sorted(t["key"] for t in store.computed_traits.values()),
        }


def object_ids(emulator: Any) -> set[str]:
    with emulator.store_lock:
        store = emulator.store
        kinds = (store.sources, store.warehouses, store.models, store.destinations, store.subscriptions)
        return {id_ for kind in (*kinds, store.computed_traits) for id_ in kind}


def mutating(emulator: Any) -> list[str]:
    return [f"{r.method} {r.operation_id}" for r in emulator.requests if r.method in MUTATING]


@dataclass
class CliStack:
    """One stack of a scratch project, driven through the ``pulumi`` CLI."""

    project: Path
    env: dict[str, str]

    def pulumi(
        self, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["pulumi", *args, "--non-interactive"],
            cwd=self.project,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
        )
        if check and done.returncode != 0:
            pytest.fail(
                f"`pulumi {' '.join(args)}` exited {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
            )
        return done

    def up(self) -> subprocess.CompletedProcess[str]:
        return self.pulumi("up", "--stack", STACK, "--yes")

    def outputs(self) -> dict[str, Any]:
        return dict(json.loads(self.pulumi("stack", "output", "--json", "--stack", STACK).stdout))

    def exported(self) -> dict[str, Any]:
        return dict(json.loads(self.pulumi("stack", "export", "--stack", STACK).stdout))

    def resource_outputs(self, name: str) -> dict[str, Any]:
        resources = self.exported()["deployment"].get("resources") or []
        (resource,) = [r for r in resources if r["urn"].endswith(f"::{name}")]
        return dict(resource.get("outputs") or {})


@pytest.fixture
def flex_emulator(emulator: Any) -> Any:
    """Reset, and the dev space has seen the Flex events, so all six computed traits are created."""
    emulator.seed_flex_events("unified-profiles-dev")
    return emulator


@pytest.fixture
def cli_stack(tmp_path: Path, flex_emulator: Any) -> Iterator[CliStack]:
    project = tmp_path / "project"
    shutil.copytree(REPO, project, ignore=PROJECT_IGNORE)
    # Pulumi.yaml runs the program from ./.venv: the virtualenv running these tests.
    (project / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    backend = tmp_path / "backend"
    backend.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEGMENT_API_", "PULUMI_"))}
    env.update(
        {
            "PULUMI_BACKEND_URL": backend.as_uri(),
            "PULUMI_CONFIG_PASSPHRASE": "e2e-only-passphrase",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            **SESSION_PACING_ENV,
        }
    )
    stack = CliStack(project=project, env=env)
    stack.pulumi("stack", "init", STACK)
    stack.pulumi("config", "set", "--stack", STACK, "segment:endpoint", flex_emulator.url)
    for key, value in DEMO_SECRETS.items():
        stack.pulumi("config", "set", "--secret", "--stack", STACK, key, stdin=value)
    yield stack


def test_up_creates_the_stack_and_a_preview_right_after_expects_no_changes(
    cli_stack: CliStack, flex_emulator: Any
) -> None:
    cli_stack.up()
    assert segment_objects(flex_emulator) == expected_objects()
    outputs = cli_stack.outputs()
    assert outputs["spaceId"] == flex_emulator.space("unified-profiles-dev")["id"]
    assert (
        sorted(trait["key"] for trait in outputs["computedTraits"].values()) == expected_objects()["traits"]
    )
    assert outputs["waitingTraits"] == {}

    state = json.dumps(cli_stack.exported())
    for secret in DEMO_SECRETS.values():
        for value in json.loads(secret).values() if secret.startswith("{") else [secret]:
            assert value not in state, "a secret reached the state file in plain text"

    flex_emulator.clear_requests()
    preview = cli_stack.pulumi("preview", "--stack", STACK, "--expect-no-changes", check=False)
    assert preview.returncode == 0, (
        f"a preview right after up found changes:\n{preview.stdout}\n{preview.stderr}"
    )
    assert mutating(flex_emulator) == [], "a preview must not change Segment"
    assert segment_objects(flex_emulator) == expected_objects()


def test_a_config_change_updates_only_the_mapping(cli_stack: CliStack, flex_emulator: Any) -> None:
    cli_stack.up()
    before = object_ids(flex_emulator)
    configured = stack_file()["schedule"]["config"]["interval"]
    wanted = "4h" if configured != "4h" else "6h"
    cli_stack.pulumi(
        "config", "set", "--path", "--stack", STACK, "flex-unified-profiles:schedule.config.interval", wanted
    )
    flex_emulator.clear_requests()
    cli_stack.up()
    assert mutating(flex_emulator) == ["PATCH updateSubscriptionForDestination"]
    (mapping,) = flex_emulator.store.subscriptions.values()
    assert mapping["reverseETLSchedule"]["config"]["interval"] == wanted
    assert object_ids(flex_emulator) == before
    assert segment_objects(flex_emulator) == expected_objects()


def test_a_change_made_in_segment_shows_on_refresh_and_up_restores_it(
    cli_stack: CliStack, flex_emulator: Any
) -> None:
    cli_stack.up()
    configured_name = stack_file()["salesforce"]["name"]
    salesforce = flex_emulator.store.source_by_slug(stack_file()["salesforce"]["sourceSlug"])
    settings = ClientSettings.resolve(
        token=flex_emulator.token, endpoint=flex_emulator.url, env=SESSION_PACING_ENV
    )
    SegmentClient(settings).update_source(salesforce["id"], name=RENAMED)

    flex_emulator.clear_requests()
    refresh = cli_stack.pulumi("refresh", "--stack", STACK, "--yes")
    assert "salesforce-source" in refresh.stdout
    assert cli_stack.resource_outputs("salesforce-source")["name"] == RENAMED
    assert mutating(flex_emulator) == [], "a refresh only reads"
    assert flex_emulator.store.sources[salesforce["id"]]["name"] == RENAMED

    drifted = cli_stack.pulumi("preview", "--stack", STACK, "--expect-no-changes", check=False)
    assert drifted.returncode != 0, "after the refresh the program and the state differ: expected a change"

    flex_emulator.clear_requests()
    cli_stack.up()
    assert mutating(flex_emulator) == ["PATCH updateSource"]
    assert flex_emulator.store.sources[salesforce["id"]]["name"] == configured_name
    assert cli_stack.resource_outputs("salesforce-source")["name"] == configured_name
    assert segment_objects(flex_emulator) == expected_objects()


def test_destroy_removes_every_object_of_the_stack_and_keeps_the_space(
    cli_stack: CliStack, flex_emulator: Any
) -> None:
    cli_stack.up()
    assert segment_objects(flex_emulator) == expected_objects()
    space_id = flex_emulator.space("unified-profiles-dev")["id"]
    personas_source = flex_emulator.personas_source("unified-profiles-dev")

    cli_stack.pulumi("destroy", "--stack", STACK, "--yes")
    assert segment_objects(flex_emulator) == NOTHING
    assert flex_emulator.space("unified-profiles-dev")["id"] == space_id
    assert flex_emulator.personas_source("unified-profiles-dev")["id"] == personas_source["id"]
    assert not cli_stack.exported()["deployment"].get("resources")


def test_promote_verifies_dev_and_deploys_the_same_commit_to_prod(
    cli_stack: CliStack, flex_emulator: Any
) -> None:
    ns = "flex-unified-profiles"
    flex_emulator.seed_flex_events("unified-profiles-prod")
    cli_stack.pulumi("stack", "init", "prod")
    cli_stack.pulumi("config", "set", "--stack", "prod", "segment:endpoint", flex_emulator.url)
    for key, value in DEMO_SECRETS.items():
        cli_stack.pulumi("config", "set", "--secret", "--stack", "prod", key, stdin=value)
    for stack in (STACK, "prod"):
        cli_stack.pulumi(
            "config", "set", "--path", "--stack", stack, f"{ns}:profileApi.endpoint", flex_emulator.url
        )
        cli_stack.pulumi(
            "config", "set", "--secret", "--stack", stack, f"{ns}:profileApiToken",
            stdin=flex_emulator.profile_api_token(),
        )  # fmt: skip
    cli_stack.pulumi("config", "set", "--path", "--stack", STACK, f"{ns}:verify.sampleUserId", SAMPLE_USER)
    cli_stack.up()
    finish_the_manual_steps(flex_emulator)
    git = ["git", "-c", "user.name=e2e", "-c", "user.email=e2e@example.invalid"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "the verified commit"]):
        subprocess.run([*git, *args], cwd=cli_stack.project, check=True, capture_output=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=cli_stack.project, check=True, capture_output=True, text=True
    ).stdout.strip()
    flex_emulator.clear_requests()

    promoted = subprocess.run(
        [
            sys.executable,
            "-m",
            "segment_provider.promote",
            "--from-stack",
            STACK,
            "--to-stack",
            "prod",
            "--yes",
        ],
        cwd=cli_stack.project,
        env=cli_stack.env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
    )

    assert promoted.returncode == 0, f"promote failed\n{promoted.stdout}\n{promoted.stderr}"
    assert "✘" not in promoted.stdout
    tag = cli_stack.pulumi("stack", "tag", "get", "verified-commit", "--stack", STACK).stdout.strip()
    assert tag == head
    prod_space = flex_emulator.space("unified-profiles-prod")["id"]
    with flex_emulator.store_lock:
        prod_traits = [
            t for t in flex_emulator.store.computed_traits.values() if t.get("spaceId") == prod_space
        ]
    assert len(prod_traits) == len(expected_objects()["traits"])
    again = cli_stack.pulumi("preview", "--stack", "prod", "--expect-no-changes", check=False)
    assert again.returncode == 0, again.stdout + again.stderr
