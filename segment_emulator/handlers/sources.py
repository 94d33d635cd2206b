"""Sources: create (201, with a write key), read, list, update, delete, and what they are connected to."""

from __future__ import annotations

from segment_emulator import catalog
from segment_emulator.errors import ApiProblem, not_found
from segment_emulator.handlers.common import SUCCESS, Call, listed, require
from segment_emulator.models import CreateSourceAlpha, CreateSourceV1, UpdateSource
from segment_emulator.store import Record, Store
from segment_emulator.views import destination_view, settings_created, source_view, warehouse_view


def create_source(call: Call) -> Record:
    body = call.body
    if not isinstance(body, CreateSourceV1 | CreateSourceAlpha):
        raise TypeError(f"unexpected createSource body {type(body).__name__}")
    if catalog.source_metadata(body.metadata_id) is None:
        raise not_found("source metadata", body.metadata_id)
    _refuse_taken_slug(call.store, body.slug)
    store = call.store
    source: Record = {
        "id": store.new_id(f"source:{body.slug}"),
        "slug": body.slug,
        "name": body.name if isinstance(body, CreateSourceAlpha) else None,
        "metadataId": body.metadata_id,
        "workspaceId": store.workspace["id"],
        "enabled": body.enabled,
        "writeKeys": [store.new_write_key()],
        "settings": settings_created(body.settings),
        "labels": [],
    }
    store.sources[source["id"]] = source
    # Segment connects a new source to every warehouse unless told not to (the alpha body cannot say so).
    if not (isinstance(body, CreateSourceV1) and body.disconnect_all_warehouses):
        store.connections.update((warehouse_id, source["id"]) for warehouse_id in store.warehouses)
    return {"source": source_view(source)}


def get_source(call: Call) -> Record:
    source = require(call.store.sources, call.params["sourceId"], "source")
    return {"source": source_view(source), "trackingPlanId": None}


def list_sources(call: Call) -> Record:
    return listed("sources", [source_view(s) for s in call.store.sources.values()], call)


def update_source(call: Call) -> Record:
    source = require(call.store.sources, call.params["sourceId"], "source")
    changes = call.input(UpdateSource).provided()
    if changes.get("slug") is not None and changes["slug"] != source["slug"]:
        _refuse_taken_slug(call.store, changes["slug"])
    for key in ("name", "enabled", "slug"):
        if changes.get(key) is not None:
            source[key] = changes[key]
    if changes.get("settings") is not None:
        source["settings"] = call.updated_settings(source.get("settings") or {}, changes["settings"])
    return {"source": source_view(source)}


def delete_source(call: Call) -> Record:
    source = require(call.store.sources, call.params["sourceId"], "source")
    del call.store.sources[source["id"]]
    call.store.connections = {pair for pair in call.store.connections if pair[1] != source["id"]}
    return dict(SUCCESS)


def list_connected_warehouses_from_source(call: Call) -> Record:
    source = require(call.store.sources, call.params["sourceId"], "source")
    connected = [
        warehouse_view(w, echo_name=call.store.echo_warehouse_names)
        for w in call.store.warehouses.values()
        if (w["id"], source["id"]) in call.store.connections
    ]
    return listed("warehouses", connected, call)


def list_connected_destinations_from_source(call: Call) -> Record:
    source = require(call.store.sources, call.params["sourceId"], "source")
    connected = [
        destination_view(d) for d in call.store.destinations.values() if d["sourceId"] == source["id"]
    ]
    return listed("destinations", connected, call)


def _refuse_taken_slug(store: Store, slug: str) -> None:
    if store.source_by_slug(slug) is not None:
        raise ApiProblem(409, f"A source with slug '{slug}' already exists in this workspace")
