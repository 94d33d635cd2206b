"""Labels: the workspace's ``key:value`` labels, and the labels of each source.

What Segment documents and the emulator enforces: every workspace has ``environment:dev`` and
``environment:prod``; a source can only carry labels that exist in the workspace; a label in use (on a source)
cannot be deleted.
"""

from __future__ import annotations

from segment_emulator.errors import ApiProblem
from segment_emulator.handlers.common import SUCCESS, Call, require
from segment_emulator.models import CreateLabel, LabelInput, SourceLabels
from segment_emulator.store import Record, Store, label_id


def label_view(label: Record) -> Record:
    return {"key": label["key"], "value": label["value"], "description": label.get("description")}


def list_labels(call: Call) -> Record:
    return {"labels": [label_view(label) for label in call.store.labels.values()]}


def create_label(call: Call) -> Record:
    label = call.input(CreateLabel).label
    identifier = label_id(label.key, label.value)
    if identifier in call.store.labels:
        raise ApiProblem(409, f"The label '{identifier}' already exists in this workspace")
    stored = {"key": label.key, "value": label.value, "description": label.description}
    call.store.labels[identifier] = stored
    return {"label": label_view(stored)}


def delete_label(call: Call) -> Record:
    identifier = label_id(call.params["key"], call.params["value"])
    require(call.store.labels, identifier, "label")
    if any(_carries(source, identifier) for source in call.store.sources.values()):
        raise ApiProblem(
            422, f"The label '{identifier}' is in use: remove it from every source before deleting it"
        )
    del call.store.labels[identifier]
    return dict(SUCCESS)


def add_labels_to_source(call: Call) -> Record:
    source = require(call.store.sources, call.params["sourceId"], "source")
    labels = _existing(call.store, call.input(SourceLabels).labels)
    held = {label_id(label["key"], label["value"]) for label in source.get("labels", [])}
    source["labels"] = [
        *source.get("labels", []),
        *(label for label in labels if label_id(label["key"], label["value"]) not in held),
    ]
    return {"labels": [label_view(label) for label in source["labels"]]}


def replace_labels_in_source(call: Call) -> Record:
    source = require(call.store.sources, call.params["sourceId"], "source")
    source["labels"] = _existing(call.store, call.input(SourceLabels).labels)
    return {"labels": [label_view(label) for label in source["labels"]]}


def _existing(store: Store, labels: list[LabelInput]) -> list[Record]:
    """The workspace's copies of ``labels`` (each once), or 422 naming the first that does not exist."""
    found: dict[str, Record] = {}
    for index, label in enumerate(labels):
        identifier = label_id(label.key, label.value)
        if identifier not in store.labels:
            raise ApiProblem(
                422,
                f"The label '{identifier}' does not exist in this workspace: create it first",
                field=f"labels[{index}]",
            )
        found.setdefault(identifier, label_view(store.labels[identifier]))
    return list(found.values())


def _carries(source: Record, identifier: str) -> bool:
    return any(label_id(label["key"], label["value"]) == identifier for label in source.get("labels", []))
