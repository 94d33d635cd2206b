"""A tiny dynamic provider for exercising the harness: each object is a JSON file in a directory.

Configuration (sent by the engine through ``configure()``):

``files:root``
    directory holding ``objects/<id>.json``, ``journal.jsonl`` (one line per provider call) and ``poison/``
    (a file ``poison/<name>`` makes creates and updates of that name fail until it is removed).
``files:label``
    copied into every object, so tests can see which config the provider got.
``files:token``
    secret; only its SHA-256 is written into objects, proving it arrived unwrapped.

Inputs: ``name`` (natural key: changing it replaces the object), ``content`` (updated in place), ``copies``
(an int, to show ints coming back as floats), ``exclusive`` (replacements delete the old object first) and
``rendezvous`` (creates wait, at most 20 s, until that many are running at once; the journal records whether
they met, which only happens when the server really runs them concurrently).
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown

INPUT_KEYS = ("name", "content", "copies", "exclusive")
RENDEZVOUS_TIMEOUT_SECONDS = 20.0


class FileObjectProvider(ResourceProvider):
    """Stateless when pickled: everything it needs arrives in ``configure``."""

    root: Path
    label: str | None
    token_sha256: str | None

    def configure(self, req: ConfigureRequest) -> None:
        self.root = Path(req.config.require("files:root"))
        self.label = req.config.get("files:label")
        token = req.config.get("files:token")
        self.token_sha256 = hashlib.sha256(token.encode()).hexdigest() if token else None
        self._lock = threading.Lock()
        self._creates_in_flight = 0
        self._barriers: dict[int, threading.Barrier] = {}
        (self.root / "objects").mkdir(parents=True, exist_ok=True)

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        name = news.get("name")
        if not isinstance(name, Unknown) and (not isinstance(name, str) or not name or "/" in name):
            failures.append(CheckFailure("name", "name must be a non-empty string without '/'"))
        content = news.get("content", "")
        if not isinstance(content, str | Unknown):
            failures.append(CheckFailure("content", "content must be a string"))
        return CheckResult({**news, "content": content}, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        self._journal("diff", news.get("name"))
        changed = [key for key in INPUT_KEYS if olds.get(key) != news.get(key)]
        return DiffResult(
            changes=bool(changed),
            replaces=["name"] if "name" in changed else [],
            delete_before_replace=bool(news.get("exclusive")),
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        in_flight, met_rendezvous = self._enter_create(props.get("rendezvous"))
        try:
            self._refuse_if_poisoned(props["name"])
            object_id = f"{props['name']}-{uuid.uuid4().hex[:8]}"
            outs = self._write(object_id, props)
            self._journal(
                "create", props["name"], object_id, in_flight=in_flight, met_rendezvous=met_rendezvous
            )
            return CreateResult(object_id, outs)
        finally:
            self._leave_create()

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        self._journal("read", props.get("name"), id_)
        path = self._path(id_)
        if not path.exists():
            return ReadResult(None, {})
        return ReadResult(id_, json.loads(path.read_text()))

    def update(self, id_: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        self._refuse_if_poisoned(news["name"])
        outs = self._write(id_, news)
        self._journal("update", news["name"], id_)
        return UpdateResult(outs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self._path(id_).unlink(missing_ok=True)
        self._journal("delete", props.get("name"), id_)

    def _write(self, object_id: str, props: dict[str, Any]) -> dict[str, Any]:
        outs = {key: props[key] for key in INPUT_KEYS if key in props}
        outs |= {
            "size": len(props.get("content", "")),
            "label": self.label,
            "token_sha256": self.token_sha256,
            "path": str(self._path(object_id)),
        }
        self._path(object_id).write_text(json.dumps(outs, sort_keys=True))
        return outs

    def _path(self, object_id: str) -> Path:
        return self.root / "objects" / f"{object_id}.json"

    def _refuse_if_poisoned(self, name: str) -> None:
        if (self.root / "poison" / name).exists():
            raise RuntimeError(f"object {name} is poisoned")

    def _enter_create(self, rendezvous: float | None) -> tuple[int, bool]:
        """Count this create in; with ``rendezvous``, wait until that many creates are in here at once."""
        parties = int(rendezvous or 0)
        with self._lock:
            self._creates_in_flight += 1
            in_flight = self._creates_in_flight
            barrier = self._barriers.setdefault(parties, threading.Barrier(parties)) if parties else None
        if barrier is None:
            return in_flight, False
        try:
            barrier.wait(timeout=RENDEZVOUS_TIMEOUT_SECONDS)
        except threading.BrokenBarrierError:
            with self._lock:
                self._barriers.pop(parties, None)
            return in_flight, False
        return in_flight, True

    def _leave_create(self) -> None:
        with self._lock:
            self._creates_in_flight -= 1

    def _journal(self, op: str, name: Any, object_id: str = "", **extra: Any) -> None:
        entry = {"op": op, "name": name, "id": object_id, "thread": threading.get_ident(), **extra}
        with self._lock, (self.root / "journal.jsonl").open("a") as journal:
            journal.write(json.dumps(entry) + "\n")


class FileObject(Resource, module="harness", name="FileObject"):
    """A JSON file managed through :class:`FileObjectProvider`."""

    name: pulumi.Output[str]
    content: pulumi.Output[str]
    size: pulumi.Output[float]
    label: pulumi.Output[str]
    path: pulumi.Output[str]
    token_sha256: pulumi.Output[str]

    def __init__(
        self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        outputs = {"size": None, "label": None, "path": None, "token_sha256": None}
        super().__init__(FileObjectProvider(), resource_name, {**outputs, **props}, opts)


def read_journal(root: Path) -> list[dict[str, Any]]:
    path = root / "journal.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]
