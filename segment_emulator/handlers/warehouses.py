"""Warehouse destinations, their connection checks, which sources load into them, and their load reports."""

from __future__ import annotations

from segment_emulator import catalog
from segment_emulator.clock import iso_timestamp
from segment_emulator.errors import ApiProblem, not_found
from segment_emulator.handlers.common import SUCCESS, Call, listed, require
from segment_emulator.models import CreateWarehouse, UpdateWarehouse, ValidateWarehouse
from segment_emulator.store import Record, Store
from segment_emulator.views import settings_created, source_view, warehouse_view


def create_warehouse(call: Call) -> Record:
    body = call.input(CreateWarehouse)
    _metadata(body.metadata_id)
    store = call.store
    settings = settings_created(body.settings)
    # WarehouseV1 has no name field: the name given at creation lives in settings.name.
    if body.name is not None:
        settings["name"] = body.name
    warehouse: Record = {
        "id": store.new_id(f"warehouse:{settings.get('name')}"),
        "metadataId": body.metadata_id,
        "workspaceId": store.workspace["id"],
        "enabled": True if body.enabled is None else body.enabled,
        "settings": settings,
    }
    store.warehouses[warehouse["id"]] = warehouse
    # Segment connects a new warehouse to every source unless told not to.
    if not body.disconnect_all_sources:
        store.connections.update((warehouse["id"], source_id) for source_id in store.sources)
    return {"warehouse": warehouse_view(warehouse, echo_name=call.store.echo_warehouse_names)}


def get_warehouse(call: Call) -> Record:
    return {
        "warehouse": warehouse_view(
            require(call.store.warehouses, call.params["warehouseId"], "warehouse"),
            echo_name=call.store.echo_warehouse_names,
        )
    }


def list_warehouses(call: Call) -> Record:
    return listed(
        "warehouses",
        [
            warehouse_view(w, echo_name=call.store.echo_warehouse_names)
            for w in call.store.warehouses.values()
        ],
        call,
    )


def update_warehouse(call: Call) -> Record:
    warehouse = require(call.store.warehouses, call.params["warehouseId"], "warehouse")
    body = call.input(UpdateWarehouse)
    settings = call.updated_settings(warehouse["settings"], body.settings)
    if "name" in body.model_fields_set:
        settings.pop("name", None)
        if body.name is not None:
            settings["name"] = body.name
    elif "name" not in settings and "name" in warehouse["settings"]:
        settings["name"] = warehouse["settings"]["name"]
    warehouse["settings"] = settings
    if body.enabled is not None:
        warehouse["enabled"] = body.enabled
    return {"warehouse": warehouse_view(warehouse, echo_name=call.store.echo_warehouse_names)}


def delete_warehouse(call: Call) -> Record:
    warehouse = require(call.store.warehouses, call.params["warehouseId"], "warehouse")
    del call.store.warehouses[warehouse["id"]]
    call.store.connections = {pair for pair in call.store.connections if pair[0] != warehouse["id"]}
    return dict(SUCCESS)


def create_validation_in_warehouse(call: Call) -> Record:
    # The emulator reaches no warehouse: settings "connect" when every option the catalog marks required is set.
    body = call.input(ValidateWarehouse)
    metadata = _metadata(body.metadata_id)
    return {"status": "FAILED" if catalog.missing_required_options(metadata, body.settings) else "CONNECTED"}


def get_connection_state_from_warehouse(call: Call) -> Record:
    warehouse = require(call.store.warehouses, call.params["warehouseId"], "warehouse")
    metadata = _metadata(warehouse["metadataId"])
    failed = catalog.missing_required_options(metadata, warehouse["settings"])
    return {"connectionState": "FAILED" if failed else "CONNECTED"}


def add_connection_from_source_to_warehouse(call: Call) -> Record:
    warehouse, source = _warehouse_and_source(call)
    call.store.connections.add((warehouse["id"], source["id"]))
    return {"status": "CONNECTED"}


def list_connected_sources_from_warehouse(call: Call) -> Record:
    warehouse = require(call.store.warehouses, call.params["warehouseId"], "warehouse")
    connected = [
        source_view(s)
        for s in call.store.sources.values()
        if (warehouse["id"], s["id"]) in call.store.connections
    ]
    return listed("sources", connected, call)


def remove_source_connection_from_warehouse(call: Call) -> Record:
    warehouse, source = _warehouse_and_source(call)
    pair = (warehouse["id"], source["id"])
    if pair not in call.store.connections:
        raise ApiProblem(404, f"source '{source['id']}' is not connected to warehouse '{warehouse['id']}'")
    call.store.connections.discard(pair)
    return dict(SUCCESS)


def list_syncs_from_warehouse_and_source(call: Call) -> Record:
    warehouse, source = _warehouse_and_source(call)
    reports = [
        r
        for r in call.store.warehouse_syncs.values()
        if r["warehouseId"] == warehouse["id"] and r["sourceId"] == source["id"]
    ]
    # Newest first, as a sync history reads; Segment does not document the order.
    reports.sort(key=lambda r: str(r["start"]), reverse=True)
    return listed("reports", [warehouse_sync_view(r) for r in reports], call)


def record_warehouse_sync(
    store: Store, warehouse_id: str, source_id: str, *, now: float, status: str, count: int
) -> Record:
    """A finished load of ``source_id`` into ``warehouse_id`` (the emulator loads nothing by itself)."""
    if warehouse_id not in store.warehouses:
        raise KeyError(f"no warehouse '{warehouse_id}'")
    if source_id not in store.sources:
        raise KeyError(f"no source '{source_id}'")
    if not isinstance(status, str) or not status:
        raise ValueError("a warehouse sync needs a non-empty status")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError("a warehouse sync's count must be a whole number >= 0")
    seconds = 42
    failed = status.lower() in ("failed", "failure", "error")
    report: Record = {
        "id": store.new_id(),
        "warehouseId": warehouse_id,
        "sourceId": source_id,
        "start": iso_timestamp(now - seconds),
        "end": iso_timestamp(now),
        "status": status,
        "duration": seconds,
        "humanDuration": f"{seconds}s",
        "count": count,
        "notices": [
            {"level": "error", "message": "the load failed (emulated)", "createdAt": iso_timestamp(now)}
        ]
        if failed
        else [],
    }
    store.warehouse_syncs[report["id"]] = report
    return warehouse_sync_view(report)


def warehouse_sync_view(report: Record) -> Record:
    return {key: value for key, value in report.items() if key not in ("id", "warehouseId")}


def _warehouse_and_source(call: Call) -> tuple[Record, Record]:
    warehouse = require(call.store.warehouses, call.params["warehouseId"], "warehouse")
    source = require(call.store.sources, call.params["sourceId"], "source")
    return warehouse, source


def _metadata(metadata_id: str) -> Record:
    found = catalog.warehouse_metadata(metadata_id)
    if found is None:
        raise not_found("warehouse metadata", metadata_id)
    return found
