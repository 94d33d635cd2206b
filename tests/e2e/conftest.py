"""The real-engine layer: a scratch copy of the project driven through the real ``pulumi`` CLI, against an
emulator of its own whose token, like every other secret of these stacks, is a sentinel value that the tests
look for in the state file and in everything the CLI prints.

Each stack lives on a throwaway file backend with a passphrase, as ``make demo`` does; Snowflake management
stays off as in the stack files (the pulumi-snowflake plugin cannot be had here). The secrets reach the stack
through ``pulumi config set --secret`` on standard input, the way the GitHub workflows set them (docs/ci.md).
"""

from __future__ import annotations

import compileall
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from flex_tools.scratch import config_set_all, file_backend_state, scratch_project, throwaway_env
from segment_emulator import Emulator
from tests.conftest import SESSION_PACING_ENV, require_pulumi_cli, running_session_emulator

REPO = Path(__file__).resolve().parents[2]
NS = "flex-unified-profiles"
CLI_TIMEOUT = 600
MUTATING = ("POST", "PATCH", "PUT", "DELETE")
SPACES = {"dev": "unified-profiles-dev", "prod": "unified-profiles-prod"}

SEGMENT_TOKEN = "sentinel-segment-token-5d1c9e"
PROFILE_API_TOKEN = "SentinelProfileApiToken7b2e4f9a0c3d5e7f1a"  # 40 base62 characters, like Segment's
SECRETS = {
    "segment:token": SEGMENT_TOKEN,
    f"{NS}:warehouseCredentials": json.dumps({"private_key": "sentinel-warehouse-private-key-8a4f"}),
    f"{NS}:reverseEtlCredentials": json.dumps({"private_key": "sentinel-retl-private-key-3c7b"}),
    f"{NS}:profileApiToken": PROFILE_API_TOKEN,
}


def sentinel_values() -> list[str]:
    """Every secret the stacks hold, as the plain text that must never appear."""
    values = []
    for secret in SECRETS.values():
        values += json.loads(secret).values() if secret.startswith("{") else [secret]
    return values


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.path).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)
            # Every step starts the program and the provider process anew.
            item.add_marker(pytest.mark.timeout(1200))


@pytest.fixture(scope="session")
def e2e_emulator_session() -> Iterator[Emulator]:
    """The real-engine tests' own emulator: its token is a sentinel too."""
    yield from running_session_emulator(token=SEGMENT_TOKEN)


@pytest.fixture
def flex_emulator(e2e_emulator_session: Emulator) -> Emulator:
    """Reset to the seeds; both spaces have seen the Flex events (all six traits get created) and carry the
    sentinel Profile API token."""
    require_pulumi_cli()
    emulator = e2e_emulator_session
    emulator.reset()
    for slug in SPACES.values():
        emulator.seed_flex_events(slug)
        emulator.set_profile_api_token(PROFILE_API_TOKEN, slug)
    return emulator


def stack_file(stack: str = "dev") -> dict[str, Any]:
    config = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())["config"]
    return {key.removeprefix(f"{NS}:"): value for key, value in config.items()}


def definitions() -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / "definitions.yaml").read_text()))


def expected_objects(stack: str = "dev") -> dict[str, Any]:
    """The Segment objects a stack manages, by kind, as its stack file and definitions.yaml name them."""
    config = stack_file(stack)
    shared = definitions()
    return {
        "sources": sorted([config["salesforce"]["sourceSlug"], config["reverseEtl"]["sourceSlug"]]),
        "warehouses": [config["warehouse"]["name"]],
        "connections": 1,
        "models": [shared["model"]["name"]],
        "destinations": [config["profiles"]["destinationName"]],
        "mappings": [shared["mapping"]["name"]],
        "traits": sorted(key for key, on in shared["traits"]["guide"].items() if on),
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


def segment_objects(emulator: Emulator, space_slug: str | None = None) -> dict[str, Any]:
    """What the emulator holds besides its seeds (the spaces and their internal Profiles sources)."""
    with emulator.store_lock:
        store = emulator.store
        space_id = emulator.space(space_slug)["id"] if space_slug else None
        return {
            "sources": sorted(
                s["slug"] for s in store.sources.values() if not s["slug"].startswith("personas_")
            ),
            "warehouses": sorted(w["settings"].get("name") for w in store.warehouses.values()),
            "connections": len(store.connections),
            "models": sorted(m["name"] for m in store.models.values()),
            "destinations": sorted(d["name"] for d in store.destinations.values()),
            "mappings": sorted(m["name"] for m in store.subscriptions.values()),
            "traits": sorted(
                t["key"]
                for t in store.computed_traits.values()
                if space_id is None or t.get("spaceId") == space_id
            ),
        }


def object_ids(emulator: Emulator) -> set[str]:
    with emulator.store_lock:
        store = emulator.store
        kinds = (store.sources, store.warehouses, store.models, store.destinations, store.subscriptions)
        return {id_ for kind in (*kinds, store.computed_traits) for id_ in kind}


def mutating(emulator: Emulator) -> list[str]:
    return [f"{r.method} {r.operation_id}" for r in emulator.requests if r.method in MUTATING]


def write_keys(emulator: Emulator) -> list[str]:
    """The write keys of every source in the emulator: secrets too, never to be stored or printed."""
    with emulator.store_lock:
        return [key for s in emulator.store.sources.values() for key in s.get("writeKeys") or []]


@dataclass
class CliStack:
    """Stacks of one scratch project, driven through the ``pulumi`` CLI."""

    project: Path
    env: dict[str, str]
    transcript: list[str] = field(default_factory=list)
    """Everything the CLI printed, for the secret checks."""

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
        self.transcript += [done.stdout, done.stderr]
        if check and done.returncode != 0:
            pytest.fail(
                f"`pulumi {' '.join(args)}` exited {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
            )
        return done

    def python(self, module: str, *args: str) -> subprocess.CompletedProcess[str]:
        """One of the project's commands (doctor, promote), run in the scratch project."""
        done = subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
        )
        self.transcript += [done.stdout, done.stderr]
        return done

    def commit(self) -> str:
        """Commit the scratch project as it is (promote verifies a clean checkout); returns the commit."""
        git = ["git", "-c", "user.name=e2e", "-c", "user.email=e2e@example.invalid"]
        for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "the verified commit"]):
            subprocess.run([*git, *args], cwd=self.project, check=True, capture_output=True)
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=self.project, check=True, capture_output=True, text=True
        )
        return done.stdout.strip()

    def init(self, stack: str, emulator: Emulator) -> None:
        """A new stack from its committed stack file, pointed at the emulator, with every secret set."""
        self.pulumi("stack", "init", stack)
        # One command (the tests of the README and the workflows run the per-key commands users run).
        plaintext = {"segment:endpoint": emulator.url, f"{NS}:profileApi.endpoint": emulator.url}
        self.pulumi("config", "set-all", "--path", "--stack", stack, *config_set_all(plaintext, SECRETS))

    def set(self, stack: str, path: str, value: str) -> None:
        self.pulumi("config", "set", "--path", "--stack", stack, f"{NS}:{path}", value)

    def up(self, stack: str = "dev", *extra: str) -> subprocess.CompletedProcess[str]:
        return self.pulumi("up", "--stack", stack, "--yes", *extra)

    def deploy(self, stack: str = "dev") -> subprocess.CompletedProcess[str]:
        """The stack deployed as a test's starting point: ``pulumi up --yes --skip-preview``. The preview half of
        an ``up`` is a ``pulumi preview``, which the tests run on their own; where the ``up`` is what a test is
        about, it runs as users run it (:meth:`up`)."""
        return self.pulumi("up", "--stack", stack, "--yes", "--skip-preview")

    def outputs(self, stack: str = "dev") -> dict[str, Any]:
        return dict(json.loads(self.pulumi("stack", "output", "--json", "--stack", stack).stdout))

    def exported(self, stack: str = "dev") -> dict[str, Any]:
        """The stack's state as ``pulumi stack export`` prints it: read from the file backend's checkpoint
        (the same document, secrets encrypted, without a CLI start); through the CLI on other backends."""
        saved = file_backend_state(self.env, self.project, stack)
        if saved is not None:
            return saved
        return dict(json.loads(self.pulumi("stack", "export", "--stack", stack).stdout))

    def resources(self, stack: str = "dev") -> list[dict[str, Any]]:
        return list(self.exported(stack)["deployment"].get("resources") or [])

    def resource(self, name: str, stack: str = "dev") -> dict[str, Any]:
        (resource,) = [r for r in self.resources(stack) if r["urn"].endswith(f"::{name}")]
        return resource

    def resource_outputs(self, name: str, stack: str = "dev") -> dict[str, Any]:
        return dict(self.resource(name, stack).get("outputs") or {})

    def edit_definitions(self, edit: Any) -> None:
        self.edit_definitions_file("definitions.yaml", edit)

    def edit_definitions_file(self, name: str, edit: Any) -> None:
        path = self.project / name
        document = yaml.safe_load(path.read_text())
        edit(document)
        path.write_text(yaml.safe_dump(document, sort_keys=False))


def program_resource_names(resources: list[dict[str, Any]]) -> set[str]:
    """The names of the program's own resources in a state (not the stack, not the providers)."""
    return {
        r["urn"].rsplit("::", 1)[-1]
        for r in resources
        if r["type"] != "pulumi:pulumi:Stack" and not r["type"].startswith("pulumi:providers:")
    }


def scratch_cli_project(home: Path) -> CliStack:
    """A scratch copy of the project in ``home`` on a throwaway file backend, with no stack yet."""
    copy = scratch_project(home, passphrase="e2e-only-passphrase", extra_env=SESSION_PACING_ENV)
    return CliStack(project=copy.project, env=copy.env)


@pytest.fixture
def cli_project(tmp_path: Path, flex_emulator: Emulator) -> CliStack:
    """A scratch copy of the project on a throwaway file backend, with no stack yet."""
    return scratch_cli_project(tmp_path)


@pytest.fixture(scope="session")
def initialised_dev_stacks() -> dict[str, Path]:
    """Per emulator URL: a scratch project and its backend with the dev stack initialised against that emulator,
    made once in the session; each test that needs one starts from a copy (seven CLI commands fewer per test)."""
    return {}


@pytest.fixture
def cli_stack(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    flex_emulator: Emulator,
    initialised_dev_stacks: dict[str, Path],
) -> CliStack:
    """The scratch project with its dev stack initialised (nothing deployed yet)."""
    template = initialised_dev_stacks.get(flex_emulator.url)
    if template is None:
        template = tmp_path_factory.mktemp("initialised-dev")
        scratch_cli_project(template).init("dev", flex_emulator)
        # Compiled once here; each copy keeps the bytecode (copytree keeps the sources' times, so it stays valid).
        compileall.compile_dir(template / "project", quiet=1, rx=re.compile(r"/\.venv/"))
        initialised_dev_stacks[flex_emulator.url] = template
    for part in ("project", "backend"):
        shutil.copytree(template / part, tmp_path / part, symlinks=True)
    env = throwaway_env(tmp_path / "backend", "e2e-only-passphrase", SESSION_PACING_ENV)
    return CliStack(project=tmp_path / "project", env=env)
