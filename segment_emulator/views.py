"""Stored objects in the shape Segment answers with (catalog metadata expanded, secrets masked)."""

from __future__ import annotations

import re
from typing import Any, Literal

from segment_emulator import catalog
from segment_emulator.clock import iso_timestamp
from segment_emulator.store import Record

# Segment never returns warehouse or source credentials. The emulator masks every setting whose key looks
# secret as eight bullets plus the value's last four characters (bullets only for short or non-string
# values), and keeps the stored value when a client sends that masked text back in an update.
MASK = "••••••••"
_SECRET_KEY = re.compile(r"pass(word|phrase)|private_?key|secret|credential|ciphertext|token|api_?key", re.I)
_SHOWN_TAIL = 4
_MIN_LENGTH_WITH_TAIL = 12

SettingsPatch = Literal["replace", "merge"]
SETTINGS_PATCH_MODES: tuple[SettingsPatch, ...] = ("replace", "merge")
DEFAULT_SETTINGS_PATCH: SettingsPatch = "replace"
"""❓ Segment does not document whether an update's ``settings`` replace the stored ones or merge into them.
The emulator replaces by default, the stricter reading for a client: a program correct here sends every setting
it means to keep. docs/emulator.md, "Settings in an update"."""

# A manual Reverse ETL sync runs for this long (* time_scale), then reports SUCCESS.
SYNC_SECONDS = 10.0


def is_secret_key(key: str) -> bool:
    return _SECRET_KEY.search(key) is not None


def masked(value: Any) -> str:
    if isinstance(value, str) and len(value) >= _MIN_LENGTH_WITH_TAIL:
        return MASK + value[-_SHOWN_TAIL:]
    return MASK


def masked_settings(settings: Record) -> Record:
    return {key: masked(value) if is_secret_key(key) else value for key, value in settings.items()}


def settings_created(incoming: Record | None) -> Record:
    """Settings as a create stores them: a setting sent as ``null`` is absent (Segment's Terraform provider
    sends ``null`` to mean "no such setting")."""
    return {key: value for key, value in (incoming or {}).items() if value is not None}


def settings_update(stored: Record, incoming: Record, *, mode: SettingsPatch) -> Record:
    """The settings an update leaves. "replace": ``incoming`` is the whole new set; "merge": ``incoming``
    changes only the keys it names. Either way a setting sent as ``null`` is removed, and a masked secret sent
    back keeps the stored value."""
    result = dict(stored) if mode == "merge" else {}
    for key, value in incoming.items():
        if value is None:
            result.pop(key, None)
        elif key in stored and is_secret_key(key) and value == masked(stored[key]):
            result[key] = stored[key]
        else:
            result[key] = value
    return result


def source_view(source: Record) -> Record:
    return {
        "id": source["id"],
        "slug": source["slug"],
        "name": source.get("name"),
        "metadata": catalog.source_metadata(source["metadataId"]),
        "workspaceId": source["workspaceId"],
        "enabled": source["enabled"],
        "writeKeys": list(source["writeKeys"]),
        "settings": masked_settings(source.get("settings") or {}),
        "labels": list(source.get("labels", [])),
    }


def warehouse_view(warehouse: Record, *, echo_name: bool = True) -> Record:
    # WarehouseV1 has no name: the emulator keeps the name given at creation in settings.name, and shows it
    # unless told to play a Segment that does not echo it (Store.echo_warehouse_names).
    settings = masked_settings(warehouse["settings"])
    if not echo_name:
        settings.pop("name", None)
    return {
        "id": warehouse["id"],
        "metadata": catalog.warehouse_metadata(warehouse["metadataId"]),
        "workspaceId": warehouse["workspaceId"],
        "enabled": warehouse["enabled"],
        "settings": settings,
    }


def destination_view(destination: Record) -> Record:
    return {
        "id": destination["id"],
        "name": destination.get("name"),
        "enabled": destination["enabled"],
        "metadata": catalog.destination_metadata(destination["metadataId"]),
        "sourceId": destination["sourceId"],
        "settings": dict(destination["settings"]),
    }


def subscription_view(subscription: Record) -> Record:
    return {
        key: subscription.get(key)
        for key in (
            "id",
            "name",
            "actionId",
            "actionSlug",
            "destinationId",
            "enabled",
            "settings",
            "trigger",
            "modelId",
            "reverseETLSchedule",
        )
    }


def model_view(model: Record) -> Record:
    return {
        key: model[key]
        for key in ("id", "sourceId", "name", "description", "enabled", "query", "queryIdentifierColumn")
    }


def trait_view(trait: Record) -> Record:
    return dict(trait)


def sync_view(sync: Record, now: float, time_scale: float) -> Record:
    """A manual sync's status: IN_PROGRESS until SYNC_SECONDS * time_scale have passed, then SUCCESS."""
    started = float(sync["startedAtEpoch"])
    length = SYNC_SECONDS * time_scale
    elapsed = min(max(0.0, now - started), length)
    view: Record = {
        "syncId": sync["syncId"],
        "modelId": sync["modelId"],
        "sourceId": sync["sourceId"],
        "syncStatus": "IN_PROGRESS",
        "duration": f"{elapsed:.3f}s",
        "startedAt": sync["startedAt"],
        "finishedAt": None,
        "extractPhase": None,
        "loadPhase": None,
        "error": None,
        "errorCode": None,
    }
    if elapsed >= length:
        view.update(_finished_phases(sync["syncId"], started, started + length))
    return view


def _finished_phases(sync_id: str, started: float, finished: float) -> Record:
    records = str(10 + sum(map(ord, sync_id)) % 990)
    halfway = iso_timestamp((started + finished) / 2)
    return {
        "syncStatus": "SUCCESS",
        "finishedAt": iso_timestamp(finished),
        "extractPhase": {
            "addedCount": records,
            "updatedCount": "0",
            "deletedCount": "0",
            "extractCount": records,
            "errorCode": "",
            "startedAt": iso_timestamp(started),
            "finishedAt": halfway,
        },
        "loadPhase": {
            "deliverSuccessCount": records,
            "deliverFailureCount": "0",
            "errorCode": "",
            "startedAt": halfway,
            "finishedAt": iso_timestamp(finished),
        },
    }


# The answer fields Segment's contract marks x-nullable (pagination links past either end, a MANUAL schedule's
# config, catalog defaults, …). Every other field without a value is left out of an answer.
NULLABLE_IN_ANSWERS = frozenset(
    {
        "alt", "choices", "code", "config", "connectionSettings", "defaultTrigger", "defaultValue", "definition",
        "deployedAt", "displayName", "end", "function", "jsonSchema", "mark", "next", "previous", "result",
        "space", "targetEntity", "trackingPlanId",
    }
)  # fmt: skip


def without_nulls(value: Any) -> Any:
    """An answer with ``null`` left out wherever the contract does not allow it (see NULLABLE_IN_ANSWERS)."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None or k in NULLABLE_IN_ANSWERS}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value
