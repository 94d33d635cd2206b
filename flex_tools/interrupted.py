"""What an interrupted ``pulumi`` run left in a stack, and the commands that clear it (the doctor's first rows).

Two traces, both read without changing anything:

* **pending operations**: ``pulumi stack export`` → ``deployment.pending_operations``. The engine records an
  operation there before it asks a provider to create, update or delete, and removes it when the answer comes; a
  run killed in between leaves it. A pending *create* may or may not have made its object in Segment.
* **a lock**: a file or object-store backend (``file://``, ``s3://``) holds one lock file per running update under
  ``.pulumi/locks/<org>/<project>/<stack>/``, holding the ``pid``, ``username``, ``hostname`` and ``timestamp`` of
  the ``pulumi`` process that took it. A run that was killed never deletes its lock, and every later ``up`` refuses
  to start. A lock is *stale* when it was taken on this machine by a process that no longer runs (or runs something
  other than ``pulumi``); *live* when that process still runs; from another machine the doctor cannot tell, and
  says how old the lock is. Pulumi Cloud needs none of this: it ends an abandoned update itself (``pulumi cancel``
  there too).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flex_tools.checks import Check

LOCKS_DIR = ".pulumi/locks"
CLI_TIMEOUT = 120

Runner = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]


class StackUnreadable(Exception):
    """Pulumi could not export the stack or name its backend; the message is the CLI's."""


@dataclass(frozen=True)
class Lock:
    where: str
    pid: int | None
    username: str
    hostname: str
    taken: datetime | None

    def owner(self) -> str:
        return f"{self.username or '?'}@{self.hostname or '?'} (pid {self.pid})"

    def age(self, now: datetime) -> str:
        if self.taken is None:
            return "of unknown age"
        minutes = int((now - self.taken).total_seconds() // 60)
        return f"{minutes // 60} h {minutes % 60} min old" if minutes >= 60 else f"{minutes} min old"


@dataclass(frozen=True)
class StackTraces:
    """What ``pulumi stack export`` and the backend show for one stack."""

    owned_ids: frozenset[str]
    pending: list[dict[str, Any]]
    locks: list[Lock] | None
    """None: the backend's locks cannot be read from here (Pulumi Cloud, or a scheme the doctor does not read)."""
    backend_url: str
    torn: list[str] = field(default_factory=list)
    """Empty ``<stack>.json.attrs`` files of a file backend: a kill in the middle of a state write left them, and
    Pulumi cannot load the stack until they are removed (its state file beside them is read then)."""


def run_pulumi(project_dir: Path, env: Mapping[str, str]) -> Runner:
    def run(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["pulumi", *args, "--non-interactive"],
            cwd=project_dir,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
        )

    return run


def read_traces(stack: str, project: str, run: Runner, env: Mapping[str, str]) -> StackTraces:
    whoami = run(["whoami", "--json"])
    if whoami.returncode != 0:
        raise StackUnreadable(whoami.stderr.strip() or whoami.stdout.strip())
    url = str(json.loads(whoami.stdout or "{}").get("url") or "")
    exported = run(["stack", "export", "--stack", stack])
    if exported.returncode != 0:
        torn = torn_state_files(url, project, stack)
        if not torn or "failed to load checkpoint" not in exported.stderr:
            raise StackUnreadable(exported.stderr.strip() or exported.stdout.strip())
        return StackTraces(frozenset(), [], read_locks(url, project, stack, env), url, torn)
    deployment = json.loads(exported.stdout or "{}").get("deployment") or {}
    resources = deployment.get("resources") or []
    return StackTraces(
        owned_ids=frozenset(str(r["id"]) for r in resources if r.get("id")),
        pending=list(deployment.get("pending_operations") or []),
        locks=read_locks(url, project, stack, env),
        backend_url=url,
    )


def read_locks(url: str, project: str, stack: str, env: Mapping[str, str]) -> list[Lock] | None:
    scheme = urlsplit(url).scheme
    if scheme == "file":
        root = Path(urlsplit(url).path) / LOCKS_DIR
        files = sorted(root.rglob("*.json")) if root.is_dir() else []
        return [
            _lock(str(path), path.read_bytes())
            for path in files
            if _for_stack(path.relative_to(root).as_posix(), project, stack)
        ]
    if scheme == "s3":
        return _s3_locks(url, project, stack, env)
    return None


def torn_state_files(url: str, project: str, stack: str) -> list[str]:
    if urlsplit(url).scheme != "file":
        return []
    folder = Path(urlsplit(url).path) / ".pulumi" / "stacks"
    name = stack.rsplit("/", 1)[-1]
    candidates = [folder / project / f"{name}.json.attrs", folder / f"{name}.json.attrs"]
    return [str(path) for path in candidates if path.is_file() and path.stat().st_size == 0]


def _for_stack(relative: str, project: str, stack: str) -> bool:
    """Lock files sit in ``<org>/<project>/<stack>/`` (or ``<stack>/`` on a backend from before projects); ``stack``
    may be qualified (``organization/<project>/dev``)."""
    stack = stack.rsplit("/", 1)[-1]
    parts = relative.split("/")[:-1]
    return parts[-2:] == [project, stack] or parts == [stack]


def _s3_locks(url: str, project: str, stack: str, env: Mapping[str, str]) -> list[Lock]:
    import boto3
    from botocore.config import Config

    parts = urlsplit(url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    endpoint = query.get("endpoint")
    if endpoint and "://" not in endpoint:
        endpoint = ("http://" if query.get("disableSSL") == "true" else "https://") + endpoint
    path_style = query.get("s3ForcePathStyle") == "true" or query.get("use_path_style") == "true"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=query.get("region") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
        config=Config(s3={"addressing_style": "path" if path_style else "auto"}),
    )
    prefix = "/".join(p for p in (parts.path.strip("/"), LOCKS_DIR) if p) + "/"
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=parts.netloc, Prefix=prefix)
    keys = [
        item["Key"] for page in pages for item in page.get("Contents", []) if item["Key"].endswith(".json")
    ]
    return [
        _lock(f"s3://{parts.netloc}/{key}", client.get_object(Bucket=parts.netloc, Key=key)["Body"].read())
        for key in keys
        if _for_stack(key.removeprefix(prefix), project, stack)
    ]


def _lock(where: str, content: bytes) -> Lock:
    try:
        data = json.loads(content)
    except ValueError:
        data = {}
    taken = None
    if isinstance(data.get("timestamp"), str):
        try:
            taken = datetime.fromisoformat(data["timestamp"].replace("Z", "+00:00"))
        except ValueError:
            taken = None
    pid = data.get("pid")
    return Lock(
        where=where,
        pid=pid if isinstance(pid, int) else None,
        username=str(data.get("username") or ""),
        hostname=str(data.get("hostname") or ""),
        taken=taken,
    )


def lock_holder_runs(lock: Lock, hostname: str | None = None) -> bool | None:
    """True: the process that took the lock still runs ``pulumi`` here; False: it is gone (stale); None: the lock
    was taken on another machine."""
    if lock.hostname != (hostname or socket.gethostname()):
        return None
    if lock.pid is None:
        return False
    try:
        os.kill(lock.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        command = Path(f"/proc/{lock.pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return True
    return Path(command.decode(errors="replace")).name.startswith("pulumi")


# ------------------------------------------------------------------------------------------------ rows


def cancel_command(stack: str) -> str:
    return f"pulumi cancel --stack {stack} --yes"


def clear_pending_command(stack: str) -> str:
    return f"pulumi refresh --clear-pending-creates --stack {stack} --yes"


def up_command(stack: str) -> str:
    return f"pulumi up --stack {stack}"


def lock_check(
    traces: StackTraces, stack: str, now: datetime | None = None, hostname: str | None = None
) -> Check:
    name = "Stack lock"
    if traces.locks is None:
        return Check(
            name,
            "manual",
            f"the doctor does not read locks in this backend ({urlsplit(traces.backend_url).scheme or 'Pulumi Cloud'})",
            f"if `pulumi up` says the stack is locked and no run is live, `{cancel_command(stack)}`",
        )
    if not traces.locks:
        return Check(name, "ok", "no lock: no run holds the stack", "")
    now = now or datetime.now(UTC)
    live = [lock for lock in traces.locks if lock_holder_runs(lock, hostname) is True]
    unknown = [lock for lock in traces.locks if lock_holder_runs(lock, hostname) is None]
    described = "; ".join(f"{lock.where}: {lock.owner()}, {lock.age(now)}" for lock in traces.locks)
    if live:
        return Check(
            name,
            "gap",
            f"a run is live: {described}",
            "wait for it to finish; do not run `pulumi cancel` while it runs (it would let a second run start "
            "beside it)",
        )
    if unknown:
        return Check(
            name,
            "gap",
            f"locked from another machine, cannot tell whether that run is live: {described}",
            f"make sure no `pulumi` run for this stack is live there (the CI job finished or was cancelled), "
            f"then `{cancel_command(stack)}`",
        )
    return Check(
        name,
        "gap",
        f"stale: the run that took it has ended without releasing it: {described}",
        f"`{cancel_command(stack)}`",
    )


def pending_check(traces: StackTraces, stack: str) -> Check:
    name = "Pending operations"
    if traces.torn:
        return Check(
            name,
            "gap",
            f'Pulumi cannot load the stack ("failed to load checkpoint: EOF"): a kill in the middle of a state '
            f"write left {', '.join(traces.torn)} empty",
            f"remove it (`rm {' '.join(traces.torn)}`), then `{clear_pending_command(stack)}` and "
            f"`{up_command(stack)}`",
        )
    if not traces.pending:
        return Check(name, "ok", "none: the last run finished what it started", "")
    listed = ", ".join(
        f"{op.get('type', '?')} {str((op.get('resource') or {}).get('urn', '?')).rsplit('::', 1)[-1]}"
        for op in traces.pending
    )
    creates = any(op.get("type") == "creating" for op in traces.pending)
    detail = f"an interrupted run left {len(traces.pending)}: {listed}"
    if creates:
        detail += (
            ". A pending create may have made its object in Segment; the next `up` looks each object up by its "
            "natural key before creating it and adopts what it finds, so clearing them is safe"
        )
    action = f"`{clear_pending_command(stack)}`, then `{up_command(stack)}`"
    if traces.locks:
        action = f"after the lock row, {action}"
    return Check(name, "gap", detail, action)


def interruption_checks(
    traces: StackTraces, stack: str, now: datetime | None = None, hostname: str | None = None
) -> list[Check]:
    return [lock_check(traces, stack, now, hostname), pending_check(traces, stack)]


def recovery_commands(traces: StackTraces, stack: str, hostname: str | None = None) -> list[str]:
    """The commands that clear what an interrupted run left, in order; empty when nothing is left or a run is
    still live (then nothing may be cleared)."""
    locks = traces.locks or []
    if any(lock_holder_runs(lock, hostname) is not False for lock in locks):
        return []
    commands = [f"rm {path}" for path in traces.torn]
    commands += [cancel_command(stack)] if locks else []
    if traces.pending or traces.torn:
        commands += [clear_pending_command(stack)]
    # Whatever was left, the run did not finish: the next `up` does.
    return [*commands, up_command(stack)] if commands else []
