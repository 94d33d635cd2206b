"""The doctor's reading of what an interrupted run left: a lock (stale, live, or from another machine), pending
operations, and two objects matching one natural key (which one the state owns, which to delete). The same rows
under the real CLI, after a real kill on a file and an ``s3://`` backend, are in ``tests/interruptions``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from flex_tools.checks import run_checks
from flex_tools.doctor import FileConfig, clients_for, load_program, with_overrides
from flex_tools.interrupted import (
    Lock,
    StackTraces,
    interruption_checks,
    lock_holder_runs,
    read_locks,
    read_traces,
    recovery_commands,
)
from segment_emulator import Emulator
from tests.conftest import SESSION_PACING_ENV

REPO = Path(__file__).resolve().parents[2]
PROJECT = "flex-unified-profiles"
NOW = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)
PENDING_CREATE = {
    "resource": {"urn": f"urn:pulumi:dev::{PROJECT}::flex:segment:Warehouse::warehouse", "type": "x"},
    "type": "creating",
}


def write_lock(backend: Path, pid: int, hostname: str, stack: str = "dev") -> Path:
    folder = backend / ".pulumi" / "locks" / "organization" / PROJECT / stack
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{len(list(folder.iterdir()))}-lock.json"
    taken = (NOW - timedelta(minutes=42)).isoformat()
    path.write_text(json.dumps({"pid": pid, "username": "ci", "hostname": hostname, "timestamp": taken}))
    return path


def traces(locks: list[Lock] | None, pending: list[dict[str, object]]) -> StackTraces:
    return StackTraces(owned_ids=frozenset(), pending=pending, locks=locks, backend_url="file:///state")


def ended_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


@pytest.fixture
def running_pulumi(tmp_path: Path) -> Iterator[int]:
    """A process whose program is called ``pulumi`` (a stand-in for a live run), by pid."""
    pulumi = tmp_path / "bin" / "pulumi"
    pulumi.parent.mkdir()
    pulumi.symlink_to(Path(sys.executable))
    process = subprocess.Popen(
        [str(pulumi), "-c", "import time; print(flush=True); time.sleep(120)"], stdout=subprocess.PIPE
    )
    try:
        assert process.stdout is not None and process.stdout.readline() == b"\n", "the stand-in runs"
        yield process.pid
    finally:
        process.kill()
        process.wait()


def test_a_lock_whose_process_has_ended_is_stale_and_the_commands_clear_it_then_the_pending_creates(
    tmp_path: Path,
) -> None:
    write_lock(tmp_path, ended_pid(), socket.gethostname())
    write_lock(tmp_path, ended_pid(), socket.gethostname(), stack="prod")
    locks = read_locks(tmp_path.as_uri(), PROJECT, "dev", os.environ)
    assert locks is not None and len(locks) == 1, "only the dev stack's lock"

    found = traces(locks, [PENDING_CREATE])
    lock_row, pending_row = interruption_checks(found, "dev", now=NOW)

    assert lock_row.state == "gap" and lock_row.detail.startswith("stale")
    assert "42 min old" in lock_row.detail and "ci@" in lock_row.detail
    assert lock_row.next_action == "`pulumi cancel --stack dev --yes`"
    assert pending_row.state == "gap" and "creating warehouse" in pending_row.detail
    assert "adopts what it finds" in pending_row.detail
    assert recovery_commands(found, "dev") == [
        "pulumi cancel --stack dev --yes",
        "pulumi refresh --clear-pending-creates --stack dev --yes",
        "pulumi up --stack dev",
    ]


def test_a_live_run_is_never_cancelled(tmp_path: Path, running_pulumi: int) -> None:
    write_lock(tmp_path, running_pulumi, socket.gethostname())
    locks = read_locks(tmp_path.as_uri(), PROJECT, "dev", os.environ)
    assert locks is not None
    assert lock_holder_runs(locks[0]) is True

    found = traces(locks, [PENDING_CREATE])
    lock_row, _ = interruption_checks(found, "dev", now=NOW)

    assert lock_row.detail.startswith("a run is live")
    assert "do not run `pulumi cancel`" in lock_row.next_action
    assert recovery_commands(found, "dev") == [], "nothing may be cleared while a run is live"


def test_a_stale_lock_alone_is_cancelled_then_the_up_finishes_the_run(tmp_path: Path) -> None:
    ended = subprocess.Popen(["true"])
    ended.wait()
    write_lock(tmp_path, ended.pid, socket.gethostname())
    found = traces(read_locks(tmp_path.as_uri(), PROJECT, "dev", os.environ), [])
    assert recovery_commands(found, "dev") == ["pulumi cancel --stack dev --yes", "pulumi up --stack dev"]


def test_a_pid_reused_by_another_program_is_stale(tmp_path: Path) -> None:
    write_lock(tmp_path, os.getpid(), socket.gethostname())
    (lock,) = read_locks(tmp_path.as_uri(), PROJECT, "dev", os.environ) or []
    assert lock_holder_runs(lock) is False, "this pytest process is alive but is not pulumi"


def test_a_lock_from_another_machine_names_its_age_and_what_to_check_first(tmp_path: Path) -> None:
    write_lock(tmp_path, 4242, "ci-runner-17")
    found = traces(read_locks(tmp_path.as_uri(), PROJECT, "dev", os.environ), [])

    lock_row, pending_row = interruption_checks(found, "dev", now=NOW)

    assert "cannot tell whether that run is live" in lock_row.detail
    assert "ci@ci-runner-17 (pid 4242), 42 min old" in lock_row.detail
    assert lock_row.next_action.endswith("then `pulumi cancel --stack dev --yes`")
    assert pending_row.state == "ok"
    assert recovery_commands(found, "dev") == []


def test_a_clean_stack_has_two_ok_rows_and_no_commands(tmp_path: Path) -> None:
    found = traces(read_locks(tmp_path.as_uri(), PROJECT, "dev", os.environ), [])
    assert [row.state for row in interruption_checks(found, "dev", now=NOW)] == ["ok", "ok"]
    assert recovery_commands(found, "dev") == []


def test_a_backend_whose_locks_the_doctor_cannot_read_is_a_reminder() -> None:
    assert read_locks("https://api.pulumi.com", PROJECT, "dev", os.environ) is None
    lock_row, _ = interruption_checks(traces(None, []), "dev", now=NOW)
    assert lock_row.state == "manual" and "pulumi cancel --stack dev --yes" in lock_row.next_action


def test_two_warehouses_matching_the_name_name_the_one_the_state_owns_and_the_one_to_delete(
    emulator: Emulator, tmp_path: Path
) -> None:
    document = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())
    env = {"SEGMENT_API_TOKEN": emulator.token, **SESSION_PACING_ENV}
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(yaml.safe_dump(document))
    config = with_overrides(
        FileConfig(stack_file, env).load("dev"), endpoint=emulator.url, profile_api_endpoint=None
    )
    program = load_program(config, "dev", REPO)
    client, _ = clients_for(program, env)
    warehouse = program.stack.warehouse
    metadata = client.catalog.warehouse_by_slug(warehouse.type)
    made = [
        client.create_warehouse(
            metadata_id=metadata.id, settings=dict(warehouse.settings), name=warehouse.name
        )
        for _ in range(2)
    ]
    kept, extra = made[1].id, made[0].id

    checks = {c.name: c for c in run_checks(program, client, None, owned_ids=frozenset({kept, "other-id"}))}
    row = checks["Warehouse connection"]
    assert row.state == "gap"
    assert f"the stack owns {kept}" in row.detail
    assert (
        row.next_action.startswith(f"delete {extra} in the Segment app") and f"keep {kept}" in row.next_action
    )

    unread = {c.name: c for c in run_checks(program, client, None)}["Warehouse connection"]
    assert kept in unread.detail and extra in unread.detail
    assert "without --config-file" in unread.next_action


def test_a_state_write_cut_by_a_kill_is_named_with_the_file_to_remove(tmp_path: Path) -> None:
    folder = tmp_path / ".pulumi" / "stacks" / PROJECT
    folder.mkdir(parents=True)
    (folder / "dev.json").write_text("{}")
    (folder / "dev.json.attrs").write_text("")
    write_lock(tmp_path, ended_pid(), socket.gethostname())

    def pulumi(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        if args[0] == "whoami":
            return subprocess.CompletedProcess(args, 0, json.dumps({"url": tmp_path.as_uri()}), "")
        return subprocess.CompletedProcess(args, 255, "", "error: failed to load checkpoint: EOF\n")

    found = read_traces("dev", PROJECT, pulumi, os.environ)

    torn = str(folder / "dev.json.attrs")
    assert found.torn == [torn]
    _, pending_row = interruption_checks(found, "dev", now=NOW)
    assert torn in pending_row.detail and pending_row.next_action.startswith(f"remove it (`rm {torn}`)")
    assert recovery_commands(found, "dev") == [
        f"rm {torn}",
        "pulumi cancel --stack dev --yes",
        "pulumi refresh --clear-pending-creates --stack dev --yes",
        "pulumi up --stack dev",
    ]
