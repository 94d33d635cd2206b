"""The emulator's state: every object, id generation and persistence to a JSON file.

Collections are plain dicts keyed by id, holding the objects in Segment's wire shape (``metadataId`` stands
in for the expanded ``metadata``), so tests can read them and change them out of band.
"""

from __future__ import annotations

import copy
import json
import os
import random
import string
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATE_FORMAT = 1
BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
Record = dict[str, Any]
# Every workspace has these two labels (Segment's environment labels); others are created by the owners.
DEFAULT_LABELS: tuple[Record, ...] = (
    {"key": "environment", "value": "dev", "description": None},
    {"key": "environment", "value": "prod", "description": None},
)


def label_id(key: str, value: str) -> str:
    return f"{key}:{value}"


def default_labels() -> dict[str, Record]:
    return {label_id(label["key"], label["value"]): dict(label) for label in DEFAULT_LABELS}


class StateFileError(Exception):
    """The state file exists but cannot be used."""


@dataclass
class IdFactory:
    """Segment-looking ids (base62) drawn from an RNG seeded by ``seed`` and a counter, so runs repeat."""

    seed: str
    counter: int = 0
    issued: set[str] = field(default_factory=set)
    """Ids drawn by ``keyed``, so none is handed out twice (kept in the state file)."""

    def next(self, length: int = 22) -> str:
        rng = random.Random(f"{self.seed}:{self.counter}")
        self.counter += 1
        return "".join(rng.choice(BASE62) for _ in range(length))

    def keyed(self, key: str, length: int = 22) -> str:
        """An id drawn from ``key`` (an object's natural key), not from the order of creation: a program that
        creates its objects concurrently gets the same ids on every run. A key used again gets the next id of
        its own sequence."""
        rng = random.Random(f"{self.seed}:{key}")
        while True:
            candidate = "".join(rng.choice(BASE62) for _ in range(length))
            if candidate not in self.issued:
                self.issued.add(candidate)
                return candidate


@dataclass
class Store:
    seed: str
    ids: IdFactory
    workspace: Record
    user_id: str
    spaces: dict[str, Record] = field(default_factory=dict)
    sources: dict[str, Record] = field(default_factory=dict)
    warehouses: dict[str, Record] = field(default_factory=dict)
    connections: set[tuple[str, str]] = field(default_factory=set)
    """(warehouseId, sourceId) pairs."""
    destinations: dict[str, Record] = field(default_factory=dict)
    subscriptions: dict[str, Record] = field(default_factory=dict)
    models: dict[str, Record] = field(default_factory=dict)
    syncs: dict[str, Record] = field(default_factory=dict)
    computed_traits: dict[str, Record] = field(default_factory=dict)
    events: dict[str, dict[str, Record]] = field(default_factory=dict)
    """spaceId → event name → {name, type, lastSeenAt, properties: {name → {type, lastSeenAt, samples}}}."""
    warehouse_syncs: dict[str, Record] = field(default_factory=dict)
    """Warehouse load reports by id: {id, warehouseId, sourceId, start, end, status, count, notices}."""
    profiles: dict[str, dict[str, Record]] = field(default_factory=dict)
    """spaceId → user_id → {traits: {key → value}} (the Profile API; see segment_emulator/profiles.py)."""
    profile_api_tokens: dict[str, str] = field(default_factory=dict)
    """spaceId → Profile API token set through the controls; other spaces use their seeded token."""
    labels: dict[str, Record] = field(default_factory=default_labels)
    """The workspace's labels by ``key:value`` (each {key, value, description}); sources hold copies."""
    echo_warehouse_names: bool = True
    """❓ Whether answers show a warehouse's name in ``settings.name`` (``WarehouseV1`` has no name field, and
    Segment does not document an echo). Tests switch it off to play a Segment that keeps the name to itself;
    a reset turns it back on. Not saved in the state file."""

    def __repr__(self) -> str:
        # Settings may hold credentials: show sizes only.
        sizes = ", ".join(f"{name}={len(getattr(self, name))}" for name in _COLLECTIONS)
        return f"Store(workspace={self.workspace.get('slug')!r}, {sizes})"

    def new_id(self, key: str | None = None) -> str:
        """A new object id; with ``key`` (kind and natural key) independent of the order of creation."""
        return self.ids.next(22) if key is None else self.ids.keyed(key)

    def new_write_key(self) -> str:
        return self.ids.next(32)

    def space_by_slug(self, slug: str) -> Record | None:
        return next((s for s in self.spaces.values() if s["slug"] == slug), None)

    def source_by_slug(self, slug: str) -> Record | None:
        return next((s for s in self.sources.values() if s["slug"] == slug), None)

    def restore(self, other: Store) -> None:
        """Take over every field of ``other`` in place, so references to this store stay valid."""
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(other, name))

    # -------------------------------------------------------------------------------------------- persistence

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready copy of the whole state (changing it does not change the store)."""
        document: dict[str, Any] = {
            "format": STATE_FORMAT,
            "seed": self.seed,
            "idCounter": self.ids.counter,
            "issuedIds": sorted(self.ids.issued),
            "workspace": self.workspace,
            "userId": self.user_id,
            "connections": [list(pair) for pair in sorted(self.connections)],
        }
        for name in _COLLECTIONS:
            if name != "connections":
                document[_json_key(name)] = getattr(self, name)
        return copy.deepcopy(document)

    @classmethod
    def from_json(cls, document: Any) -> Store:
        if not isinstance(document, dict):
            raise StateFileError("the state is not a JSON object")
        if document.get("format") != STATE_FORMAT:
            raise StateFileError(
                f"unsupported state format {document.get('format')!r} (expected {STATE_FORMAT})"
            )
        store = cls(
            seed=str(document["seed"]),
            ids=IdFactory(
                str(document["seed"]), int(document["idCounter"]), set(document.get("issuedIds", []))
            ),
            workspace=dict(document["workspace"]),
            user_id=str(document["userId"]),
            connections={(str(w), str(s)) for w, s in document.get("connections", [])},
        )
        for name in _COLLECTIONS:
            if name != "connections":
                setattr(store, name, dict(document.get(_json_key(name), {})))
        if (
            "labels" not in document
        ):  # a state saved before labels were served: the workspace had its defaults
            store.labels = default_labels()
        return store

    def save(self, path: Path) -> None:
        """Write the state to ``path`` atomically (a temporary file in the same folder, then a rename)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(self.to_json(), stream, indent=1, sort_keys=True)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> Store:
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError, StateFileError) as error:
            raise StateFileError(f"cannot load emulator state from {path}: {error}") from None


_COLLECTIONS = (
    "spaces",
    "sources",
    "warehouses",
    "connections",
    "destinations",
    "subscriptions",
    "models",
    "syncs",
    "computed_traits",
    "events",
    "warehouse_syncs",
    "profiles",
    "profile_api_tokens",
    "labels",
)


def _json_key(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
