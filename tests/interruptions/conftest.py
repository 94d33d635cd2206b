"""Interrupting the real ``pulumi`` CLI: the tools every interruption test shares.

* an emulator of its own whose exchange hook (:class:`Tripwire`) can act on a request after Segment applied it and
  before its answer goes out: that is where a runner dying hurts most (the object exists, nobody recorded it);
* :func:`kill_tree`: ``kill -9`` of a process and every descendant at once, as a cancelled CI job or an OOM-killed
  container ends them;
* :class:`Ledger`: the emulator's objects counted against ``pulumi stack export``: duplicates (two objects for
  one natural key), orphans (an object in Segment that no resource of the state owns) and lost objects (a state
  resource whose object Segment does not have).

The fixtures ``cli_project`` and ``cli_stack`` are the real-engine layer's (``tests/e2e/conftest.py``), here bound
to this emulator.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psutil
import pytest

from flex_tools.scratch import file_backend_state
from segment_emulator import Emulator, RecordedRequest
from tests.conftest import SESSION_DEFAULT_RATE_LIMIT, SESSION_TIME_SCALE, require_pulumi_cli
from tests.contract.recorder import session_recorder
from tests.e2e.conftest import (
    MUTATING,
    PROFILE_API_TOKEN,
    SEGMENT_TOKEN,
    SPACES,
    CliStack,
    cli_project,
    cli_stack,
    initialised_dev_stacks,
)

__all__ = ["cli_project", "cli_stack", "initialised_dev_stacks"]

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.timeout(1800))


# ------------------------------------------------------------------------------------------ the tripwire


def is_mutating(record: RecordedRequest) -> bool:
    return record.operation_id is not None and record.method in MUTATING


@dataclass
class _Rule:
    when: Callable[[RecordedRequest], bool]
    action: Callable[[RecordedRequest], None]
    once: bool


class Tripwire:
    """Runs actions on requests the emulator has served, before their answers are sent.

    ``mutating_served`` counts the Segment operations that change something (POST, PATCH, PUT, DELETE) served
    since the last :meth:`reset`, whatever their answer.
    """

    def __init__(self) -> None:
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self.mutating_served = 0

    def reset(self) -> None:
        with self._lock:
            self._rules.clear()
            self.mutating_served = 0

    def on(
        self,
        when: Callable[[RecordedRequest], bool],
        action: Callable[[RecordedRequest], None],
        once: bool = True,
    ) -> None:
        with self._lock:
            self._rules.append(_Rule(when, action, once))

    def at_mutating_call(self, position: int, action: Callable[[RecordedRequest], None]) -> None:
        """``action`` once the ``position``-th mutating call (counted from now) has been applied."""
        start = self.mutating_served
        self.on(lambda record: is_mutating(record) and self.mutating_served == start + position, action)

    def exchange(self, record: RecordedRequest) -> None:
        session_recorder().record(record)
        with self._lock:
            if is_mutating(record):
                self.mutating_served += 1
            due = [rule for rule in self._rules if rule.when(record)]
            for rule in due:
                if rule.once:
                    self._rules.remove(rule)
        for rule in due:
            rule.action(record)


@pytest.fixture(scope="session")
def interruption_session() -> Iterator[tuple[Emulator, Tripwire]]:
    tripwire = Tripwire()
    emulator = Emulator(
        time_scale=SESSION_TIME_SCALE,
        default_rate_limit=SESSION_DEFAULT_RATE_LIMIT,
        on_exchange=tripwire.exchange,
        token=SEGMENT_TOKEN,
    )
    with emulator:
        yield emulator, tripwire


@pytest.fixture
def tripwire(interruption_session: tuple[Emulator, Tripwire]) -> Iterator[Tripwire]:
    _, wire = interruption_session
    wire.reset()
    yield wire
    wire.reset()


@pytest.fixture
def flex_emulator(interruption_session: tuple[Emulator, Tripwire], tripwire: Tripwire) -> Emulator:
    """This directory's emulator, reset to the seeds as ``tests/e2e``'s is: both spaces have seen the Flex events
    and carry the sentinel Profile API token."""
    require_pulumi_cli()
    emulator, _ = interruption_session
    emulator.reset()
    for slug in SPACES.values():
        emulator.seed_flex_events(slug)
        emulator.set_profile_api_token(PROFILE_API_TOKEN, slug)
    return emulator


# ------------------------------------------------------------------------------------------ killing


def kill_tree(pid: int) -> list[int]:
    """``kill -9`` of ``pid`` and all its descendants at once; returns (their pids) when every one of them is dead.

    The root is left for its parent to reap (a ``Popen`` keeps its exit status): it counts as dead once a zombie.
    """
    root = psutil.Process(pid)
    if not _alive(root):
        raise ProcessLookupError(f"process {pid} had already ended (status {root.status()}) before the kill")
    tree = [root, *root.children(recursive=True)]
    for process in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(_alive(process) for process in tree) and time.monotonic() < deadline:
        time.sleep(0.01)
    return [process.pid for process in tree]


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@dataclass
class Run:
    """A ``pulumi`` command started in the background, its output in files (the kill must not wait on pipes)."""

    process: subprocess.Popen[bytes]
    output: Path
    backend: str
    """The run's PULUMI_BACKEND_URL, which every process it starts inherits (how its orphans are found)."""
    killed: list[int] = field(default_factory=list)

    def kill_tree(self) -> None:
        self.killed = kill_tree(self.process.pid)

    def wait(self, timeout: float = 900) -> int:
        return self.process.wait(timeout=timeout)

    def text(self) -> str:
        return self.output.read_text(errors="replace")


def start(stack: CliStack, *args: str, name: str = "run") -> Run:
    output = stack.project.parent / f"{name}.log"
    sink: IO[bytes] = output.open("wb")
    process = subprocess.Popen(
        ["pulumi", *args, "--non-interactive"],
        cwd=stack.project,
        env=stack.env,
        stdin=subprocess.DEVNULL,
        stdout=sink,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    sink.close()
    return Run(process, output, stack.env["PULUMI_BACKEND_URL"])


# ------------------------------------------------------------------------------------------ recovery


def pending_operations(stack: CliStack, name: str = "dev") -> list[dict[str, Any]]:
    return list(stack.exported(name)["deployment"].get("pending_operations") or [])


TORN_STATE = None
"""What `pending_operations_after_kill` gives when the kill cut a state write (docs/reliability.md, "A state write
cut short")."""


def pending_operations_after_kill(stack: CliStack, name: str = "dev") -> list[dict[str, Any]] | None:
    """The pending operations a killed run left, or ``TORN_STATE`` when the kill landed in the middle of a state
    write: Pulumi then cannot load the stack until the empty file is removed (the doctor says so, and `recover`
    does it)."""
    saved = file_backend_state(stack.env, stack.project, name)
    if saved is not None:
        return list(saved["deployment"].get("pending_operations") or [])
    exported = stack.pulumi("stack", "export", "--stack", name, check=False)
    if exported.returncode != 0:
        assert "failed to load checkpoint" in exported.stderr, exported.stderr
        return TORN_STATE
    return list(json.loads(exported.stdout)["deployment"].get("pending_operations") or [])


DOCUMENTED_RECOVERY = [
    "pulumi cancel --stack dev --yes",
    "pulumi refresh --clear-pending-creates --stack dev --yes",
    "pulumi up --stack dev",
]
"""docs/reliability.md, "When a run was interrupted": after a killed run, once no run is live."""


def doctor_commands(stack: CliStack, name: str = "dev") -> tuple[list[str], str]:
    """``flex-doctor --stack <name>`` run in the project as a user runs it: the recovery commands it prints, in
    order, and its whole output."""
    done = stack.python("flex_tools.doctor", "--stack", name, "--project-dir", str(stack.project))
    output = done.stdout + done.stderr
    assert "Traceback" not in output, output
    lines = done.stdout.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("An interrupted run left")]
    if not starts:
        return [], output
    commands = []
    for line in lines[starts[0] + 1 :]:
        if not line.startswith("  pulumi "):
            break
        commands.append(line.strip())
    return commands, output


def recover(stack: CliStack, name: str = "dev") -> list[str]:
    """What a user does after an interrupted run: asks the doctor, runs the commands it prints (``up`` with
    ``--yes``, as a script would); returns those commands."""
    commands, output = doctor_commands(stack, name)
    torn = re.search(r"Remove it \(`rm ([^`]+)`", output)
    if torn:
        # A kill in the middle of a state write: the doctor names the empty file first, then, asked again, the rest.
        for path in torn.group(1).split():
            Path(path).unlink()
        commands, output = doctor_commands(stack, name)
        commands = [f"rm {torn.group(1)}", *commands]
    assert commands, f"the doctor printed no recovery commands:\n{output}"
    for command in commands:
        if command.startswith("rm "):
            continue
        args = command.split()[1:]
        if args[0] == "up":
            stack.pulumi(*args, "--yes")
        else:
            stack.pulumi(*args)
    return commands


def lock_files(stack: CliStack) -> list[str]:
    """The lock files in the stack's backend (Pulumi keeps them under ``.pulumi/locks/`` in a file or object-store
    backend), read from the backend itself."""
    url = stack.env["PULUMI_BACKEND_URL"]
    if url.startswith("file://"):
        root = Path(url.removeprefix("file://")) / ".pulumi" / "locks"
        return sorted(str(path) for path in root.rglob("*.json"))
    bucket = S3_BUCKETS[url]
    return sorted(
        f"s3://{bucket.name}/{key}" for key in bucket.keys(".pulumi/locks/") if key.endswith(".json")
    )


S3_BUCKETS: dict[str, Any] = {}
"""Backend URL → the test's view of its bucket (filled by the shared-backend fixture)."""


# ------------------------------------------------------------------------------------------ the ledger

ID_KINDS = ("sources", "warehouses", "models", "destinations", "subscriptions", "computed_traits")


def natural_keys(emulator: Emulator) -> dict[str, Counter[Any]]:
    """Every object the emulator holds (seeds aside), counted per kind by the natural key the program uses."""
    with emulator.store_lock:
        store = emulator.store
        return {
            "sources": Counter(
                s["slug"] for s in store.sources.values() if not s["slug"].startswith("personas_")
            ),
            "warehouses": Counter(
                (w["metadataId"], w["settings"].get("name")) for w in store.warehouses.values()
            ),
            "models": Counter((m["sourceId"], m["name"]) for m in store.models.values()),
            "destinations": Counter((d["sourceId"], d["name"]) for d in store.destinations.values()),
            "subscriptions": Counter((s["destinationId"], s["name"]) for s in store.subscriptions.values()),
            "computed_traits": Counter((t.get("spaceId"), t["key"]) for t in store.computed_traits.values()),
        }


def segment_ids(emulator: Emulator) -> dict[str, set[str]]:
    with emulator.store_lock:
        store = emulator.store
        return {
            "sources": {i for i, s in store.sources.items() if not s["slug"].startswith("personas_")},
            "warehouses": set(store.warehouses),
            "models": set(store.models),
            "destinations": set(store.destinations),
            "subscriptions": set(store.subscriptions),
            "computed_traits": set(store.computed_traits),
            "connections": {f"{w}:{s}" for w, s in store.connections},
        }


@dataclass(frozen=True)
class Ledger:
    duplicates: dict[str, list[Any]]
    orphans: dict[str, list[str]]
    lost: list[str]

    @property
    def counts(self) -> dict[str, int]:
        return {
            "duplicates": sum(len(keys) for keys in self.duplicates.values()),
            "orphans": sum(len(ids) for ids in self.orphans.values()),
            "lost": len(self.lost),
        }

    @property
    def clean(self) -> bool:
        return self.counts == {"duplicates": 0, "orphans": 0, "lost": 0}


def ledger(emulator: Emulator, resources: list[dict[str, Any]]) -> Ledger:
    """The emulator's objects against the state's resources (every stack of the emulator in ``resources``).

    A resource's id is Segment's id, or Segment's ids joined by ``:`` (a trait: space and trait; a mapping:
    destination and mapping; a connection: warehouse and source)."""
    resource_ids = {
        str(r["id"])
        for r in resources
        if r.get("id")
        and r["type"] != "pulumi:pulumi:Stack"
        and not r["type"].startswith("pulumi:providers:")
    }
    owned = resource_ids | {part for id_ in resource_ids for part in id_.split(":")}
    ids = segment_ids(emulator)
    everything = set().union(*ids.values()) | _space_ids(emulator)
    duplicates = {
        kind: sorted((key for key, count in keys.items() if count > 1), key=repr)
        for kind, keys in natural_keys(emulator).items()
    }
    return Ledger(
        duplicates={kind: keys for kind, keys in duplicates.items() if keys},
        orphans={kind: sorted(found - owned) for kind, found in ids.items() if found - owned},
        lost=sorted(
            id_ for id_ in resource_ids if id_ not in everything and id_.split(":")[-1] not in everything
        ),
    )


def _space_ids(emulator: Emulator) -> set[str]:
    with emulator.store_lock:
        return set(emulator.store.spaces)


def in_flight(emulator: Emulator) -> list[RecordedRequest]:
    """Requests the emulator is still serving (a hang not over yet)."""
    return [
        r for r in emulator.requests if r.status is None and r.fault in ("hang", None) and not r.committed
    ]


def env_choice(name: str, default: str) -> str:
    return os.environ.get(name, default).strip().lower() or default


# ------------------------------------------------------------------------------------------ a shared backend

S3_BUCKET = "flex-pulumi-state"
AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "interruptions-test-key",
    "AWS_SECRET_ACCESS_KEY": "interruptions-test-secret",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class Bucket:
    """The test's own view of the state bucket (boto3 against moto's server)."""

    name: str
    endpoint: str

    def _client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=AWS_TEST_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=AWS_TEST_ENV["AWS_SECRET_ACCESS_KEY"],
            region_name=AWS_TEST_ENV["AWS_REGION"],
        )

    def create(self) -> None:
        self._client().create_bucket(Bucket=self.name)

    def keys(self, prefix: str) -> list[str]:
        pages = self._client().get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def s3_server(tmp_path: Path) -> Iterator[str]:
    """moto's S3-compatible server on a free local port, for this test only; yields its endpoint URL."""
    port = free_port()
    log = (tmp_path / "moto.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert server.poll() is None, (tmp_path / "moto.log").read_text()
                assert time.monotonic() < deadline, "moto's server did not start in 60 s"
                time.sleep(0.2)
        yield endpoint
    finally:
        with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError):
            kill_tree(server.pid)
        server.wait()
        log.close()


@pytest.fixture
def s3_project(cli_project: CliStack, s3_server: str) -> Iterator[CliStack]:
    """The scratch project on an ``s3://`` backend in moto's server (dummy credentials in the environment)."""
    host = s3_server.removeprefix("http://")
    url = f"s3://{S3_BUCKET}?endpoint={host}&disableSSL=true&s3ForcePathStyle=true&region=us-east-1"
    bucket = Bucket(S3_BUCKET, s3_server)
    bucket.create()
    cli_project.env.update({**AWS_TEST_ENV, "PULUMI_BACKEND_URL": url})
    S3_BUCKETS[url] = bucket
    try:
        yield cli_project
    finally:
        S3_BUCKETS.pop(url, None)


@pytest.fixture
def s3_stack(s3_project: CliStack, flex_emulator: Emulator) -> CliStack:
    s3_project.init("dev", flex_emulator)
    return s3_project
