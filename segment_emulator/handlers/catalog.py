"""Segment's catalog of sources, destinations and warehouses (the emulator's fixture)."""

from __future__ import annotations

from segment_emulator import catalog
from segment_emulator.errors import not_found
from segment_emulator.handlers.common import Call, listed
from segment_emulator.store import Record


def get_sources_catalog(call: Call) -> Record:
    return listed("sourcesCatalog", catalog.SOURCES, call)


def get_source_metadata(call: Call) -> Record:
    metadata_id = call.params["sourceMetadataId"]
    found = catalog.source_metadata(metadata_id)
    if found is None:
        raise not_found("source metadata", metadata_id)
    return {"sourceMetadata": found}


def get_destinations_catalog(call: Call) -> Record:
    return listed("destinationsCatalog", catalog.DESTINATIONS, call)


def get_destination_metadata(call: Call) -> Record:
    metadata_id = call.params["destinationMetadataId"]
    found = catalog.destination_metadata(metadata_id)
    if found is None:
        raise not_found("destination metadata", metadata_id)
    return {"destinationMetadata": found}


def get_warehouses_catalog(call: Call) -> Record:
    return listed("warehousesCatalog", catalog.WAREHOUSES, call)


def get_warehouse_metadata(call: Call) -> Record:
    metadata_id = call.params["warehouseMetadataId"]
    found = catalog.warehouse_metadata(metadata_id)
    if found is None:
        raise not_found("warehouse metadata", metadata_id)
    return {"warehouseMetadata": found}
