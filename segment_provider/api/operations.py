"""The Segment Public API operations this package uses (API 73.2.0), keyed by operationId.

Each entry is checked against Segment's contract by ``tests/api/test_operations_contract.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

Maturity = Literal["alpha", "beta", "stable"]
Method = Literal["GET", "POST", "PATCH", "DELETE"]
Pagination = Literal["none", "nested", "top-level"]

# Segment routes a request to an API version by its media type. Alpha-only operations are served only under
# the alpha type; every other operation is asked for in its most mature version.
MEDIA_TYPES: dict[Maturity, str] = {
    "alpha": "application/vnd.segment.v1alpha+json",
    "beta": "application/vnd.segment.v1beta+json",
    "stable": "application/vnd.segment.v1+json",
}

# Page sizes. ``PaginationInput.count`` is 1..1000 in the SDK but 1..200 on one copy of Segment's docs, so
# 200 is the safe default; the Reverse ETL sync list takes a top-level ``count`` of at most 100.
DEFAULT_PAGE_SIZE = 200
# ❓ The SDK's upper bound (PY ``models/pagination_input.py``: 1..1000); one stored copy of the web docs says 200.
# Used only for the catalogs (hundreds of entries): if Segment refuses it, this is the one value to lower.
MAX_PAGE_SIZE = 1000
MAX_TOP_LEVEL_PAGE_SIZE = 100


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: Method
    path: str
    maturity: Maturity
    success_status: int
    data_key: str
    """The key under the answer's ``data``: the object, the list of items, or ``status``."""
    pagination: Pagination = "none"
    idempotent: bool | None = None
    """Sending it twice does what sending it once does, so an answer lost is sent again. None: every method
    but POST (a create: no idempotency keys exist, a second one may make a second object)."""

    @property
    def safe_to_resend(self) -> bool:
        return self.method != "POST" if self.idempotent is None else self.idempotent

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.maturity]

    def url_path(self, path_params: Mapping[str, str] | None = None) -> str:
        """The path with each ``{name}`` replaced by its percent-encoded value (event names have spaces)."""
        path = self.path
        for name, value in (path_params or {}).items():
            placeholder = "{" + name + "}"
            if placeholder not in path:
                raise KeyError(f"{self.operation_id} has no path parameter '{name}'")
            path = path.replace(placeholder, quote(str(value), safe=""))
        if "{" in path:
            raise KeyError(f"{self.operation_id} is missing path parameters: {path}")
        return path


def _op(
    operation_id: str,
    method: Method,
    path: str,
    maturity: Maturity,
    success_status: int,
    data_key: str,
    pagination: Pagination = "none",
    *,
    idempotent: bool | None = None,
) -> Operation:
    return Operation(operation_id, method, path, maturity, success_status, data_key, pagination, idempotent)


_ALL = (
    # Workspace
    _op("getWorkspace", "GET", "/", "stable", 200, "workspace"),
    # Spaces and what they have seen (read-only: the API cannot create a space)
    _op("listSpaces", "GET", "/spaces", "alpha", 200, "spaces", pagination="nested"),
    _op("getSpace", "GET", "/spaces/{spaceId}", "alpha", 200, "space"),
    _op("listEvents", "GET", "/spaces/{spaceId}/events", "alpha", 200, "events", pagination="nested"),
    _op(
        "listPropertiesFromEvent",
        "GET",
        "/spaces/{spaceId}/events/{eventName}/properties",
        "alpha",
        200,
        "eventProperties",
        pagination="nested",
    ),
    # Catalog
    _op("getSourcesCatalog", "GET", "/catalog/sources", "stable", 200, "sourcesCatalog", pagination="nested"),
    _op("getSourceMetadata", "GET", "/catalog/sources/{sourceMetadataId}", "stable", 200, "sourceMetadata"),
    _op(
        "getDestinationsCatalog",
        "GET",
        "/catalog/destinations",
        "stable",
        200,
        "destinationsCatalog",
        pagination="nested",
    ),
    _op(
        "getDestinationMetadata",
        "GET",
        "/catalog/destinations/{destinationMetadataId}",
        "stable",
        200,
        "destinationMetadata",
    ),
    _op(
        "getWarehousesCatalog",
        "GET",
        "/catalog/warehouses",
        "stable",
        200,
        "warehousesCatalog",
        pagination="nested",
    ),
    _op(
        "getWarehouseMetadata",
        "GET",
        "/catalog/warehouses/{warehouseMetadataId}",
        "stable",
        200,
        "warehouseMetadata",
    ),
    # Sources
    _op("listSources", "GET", "/sources", "stable", 200, "sources", pagination="nested"),
    _op("getSource", "GET", "/sources/{sourceId}", "stable", 200, "source"),
    _op("createSource", "POST", "/sources", "stable", 201, "source"),
    _op("updateSource", "PATCH", "/sources/{sourceId}", "stable", 200, "source"),
    _op("deleteSource", "DELETE", "/sources/{sourceId}", "stable", 200, "status"),
    # Labels (Segment's environment labels environment:dev / environment:prod mark which stack owns a source)
    # Adding a label the source holds already leaves it as it is: safe to send again.
    _op("addLabelsToSource", "POST", "/sources/{sourceId}/labels", "stable", 200, "labels", idempotent=True),
    _op(
        "listConnectedWarehousesFromSource",
        "GET",
        "/sources/{sourceId}/connected-warehouses",
        "stable",
        200,
        "warehouses",
        pagination="nested",
    ),
    # Warehouses and their source connections
    _op("listWarehouses", "GET", "/warehouses", "stable", 200, "warehouses", pagination="nested"),
    _op("getWarehouse", "GET", "/warehouses/{warehouseId}", "stable", 200, "warehouse"),
    _op("createWarehouse", "POST", "/warehouses", "stable", 201, "warehouse"),
    _op("updateWarehouse", "PATCH", "/warehouses/{warehouseId}", "stable", 200, "warehouse"),
    _op("deleteWarehouse", "DELETE", "/warehouses/{warehouseId}", "stable", 200, "status"),
    # Only tests the settings: nothing is made.
    _op(
        "createValidationInWarehouse",
        "POST",
        "/warehouses/validation",
        "stable",
        200,
        "status",
        idempotent=True,
    ),
    # A source and a warehouse are connected or not: connecting them again makes no second link.
    _op(
        "addConnectionFromSourceToWarehouse",
        "POST",
        "/warehouses/{warehouseId}/connected-sources/{sourceId}",
        "stable",
        201,
        "status",
        idempotent=True,
    ),
    _op(
        "removeSourceConnectionFromWarehouse",
        "DELETE",
        "/warehouses/{warehouseId}/connected-sources/{sourceId}",
        "stable",
        200,
        "status",
    ),
    _op(
        "listConnectedSourcesFromWarehouse",
        "GET",
        "/warehouses/{warehouseId}/connected-sources",
        "stable",
        200,
        "sources",
        pagination="nested",
    ),
    # Read-only state the doctor checks (flex_tools.checks)
    _op(
        "getConnectionStateFromWarehouse",
        "GET",
        "/warehouses/{warehouseId}/connection-state",
        "stable",
        200,
        "connectionState",
    ),
    _op(
        "listSyncsFromWarehouseAndSource",
        "GET",
        "/warehouses/{warehouseId}/connected-sources/{sourceId}/syncs",
        "stable",
        200,
        "reports",
        pagination="nested",
    ),
    # Destinations and their subscriptions (mappings)
    _op("listDestinations", "GET", "/destinations", "stable", 200, "destinations", pagination="nested"),
    _op("getDestination", "GET", "/destinations/{destinationId}", "stable", 200, "destination"),
    _op("createDestination", "POST", "/destinations", "stable", 200, "destination"),
    _op("updateDestination", "PATCH", "/destinations/{destinationId}", "stable", 200, "destination"),
    _op("deleteDestination", "DELETE", "/destinations/{destinationId}", "stable", 200, "status"),
    _op(
        "listSubscriptionsFromDestination",
        "GET",
        "/destinations/{destinationId}/subscriptions",
        "alpha",
        200,
        "subscriptions",
        pagination="nested",
    ),
    _op(
        "getSubscriptionFromDestination",
        "GET",
        "/destinations/{destinationId}/subscriptions/{id}",
        "alpha",
        200,
        "subscription",
    ),
    _op(
        "createDestinationSubscription",
        "POST",
        "/destinations/{destinationId}/subscriptions",
        "alpha",
        200,
        "destinationSubscription",
    ),
    _op(
        "updateSubscriptionForDestination",
        "PATCH",
        "/destinations/{destinationId}/subscriptions/{id}",
        "alpha",
        200,
        "subscription",
    ),
    _op(
        "removeSubscriptionFromDestination",
        "DELETE",
        "/destinations/{destinationId}/subscriptions/{id}",
        "alpha",
        200,
        "status",
    ),
    # Reverse ETL
    _op("listReverseEtlModels", "GET", "/reverse-etl-models", "alpha", 200, "models", pagination="nested"),
    _op("getReverseEtlModel", "GET", "/reverse-etl-models/{modelId}", "alpha", 200, "reverseEtlModel"),
    _op("createReverseEtlModel", "POST", "/reverse-etl-models", "alpha", 201, "reverseEtlModel"),
    _op("updateReverseEtlModel", "PATCH", "/reverse-etl-models/{modelId}", "alpha", 200, "reverseEtlModel"),
    _op("deleteReverseEtlModel", "DELETE", "/reverse-etl-models/{modelId}", "alpha", 200, "status"),
    _op("createReverseETLManualSync", "POST", "/reverse-etl-syncs", "alpha", 200, "reverseETLManualSync"),
    _op(
        "getReverseETLSyncStatus",
        "GET",
        "/reverse-etl-models/{modelId}/syncs/{syncId}",
        "alpha",
        200,
        "reverseETLSyncStatus",
    ),
    _op(
        "listReverseETLSyncStatusesFromModelAndSubscriptionId",
        "GET",
        "/reverse-etl-models/{modelId}/subscriptionId/{subscriptionId}/syncs",
        "alpha",
        200,
        "syncStatuses",
        pagination="top-level",
    ),
    # Computed traits
    _op(
        "listComputedTraits",
        "GET",
        "/spaces/{spaceId}/computed-traits",
        "alpha",
        200,
        "computedTraits",
        pagination="nested",
    ),
    _op("getComputedTrait", "GET", "/spaces/{spaceId}/computed-traits/{id}", "alpha", 200, "computedTrait"),
    _op("createComputedTrait", "POST", "/spaces/{spaceId}/computed-traits", "alpha", 200, "computedTrait"),
    _op(
        "updateComputedTraitForSpace",
        "PATCH",
        "/spaces/{spaceId}/computed-traits/{id}",
        "alpha",
        200,
        "computedTrait",
    ),
    _op(
        "removeComputedTraitFromSpace",
        "DELETE",
        "/spaces/{spaceId}/computed-traits/{id}",
        "alpha",
        200,
        "status",
    ),
)

OPERATIONS: Mapping[str, Operation] = {op.operation_id: op for op in _ALL}


def operation(operation_id: str) -> Operation:
    """The table entry for ``operation_id``; KeyError names the operation when it is not in the table."""
    try:
        return OPERATIONS[operation_id]
    except KeyError:
        raise KeyError(f"operation '{operation_id}' is not in segment_provider.api.operations") from None
