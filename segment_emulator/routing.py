"""The operations the emulator serves: method, path, maturity, success status, body models and handler.

Ids, paths and success statuses are Segment's (Public API 73.2.0); ``tests/contract`` checks them against
the contract.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal
from urllib.parse import unquote

from segment_emulator import models
from segment_emulator.handlers import (
    catalog,
    computed_traits,
    destinations,
    labels,
    reverse_etl,
    sources,
    warehouses,
    workspace,
)
from segment_emulator.handlers.common import Handler
from segment_emulator.media import ALPHA_VERSIONS, STABLE_VERSIONS

Maturity = Literal["stable", "alpha"]


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    maturity: Maturity
    success_status: int
    handler: Handler
    bodies: Mapping[str, type[models.RequestModel]] = field(default_factory=dict)
    """Request body model per API version; versions without their own use the v1 (or only) model."""

    @property
    def versions(self) -> tuple[str, ...]:
        return STABLE_VERSIONS if self.maturity == "stable" else ALPHA_VERSIONS

    @property
    def mutates(self) -> bool:
        return self.method != "GET"

    def body_model(self, version: str) -> type[models.RequestModel] | None:
        if not self.bodies:
            return None
        return self.bodies.get(version) or self.bodies.get("v1") or next(iter(self.bodies.values()))

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        """The path template as a regex: each ``{name}`` matches one percent-encoded segment."""
        return re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path)))

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        found = self.pattern.fullmatch(path)
        return {name: unquote(value) for name, value in found.groupdict().items()} if found else None


def _stable(
    operation_id: str,
    method: str,
    path: str,
    handler: Handler,
    *,
    status: int = 200,
    body: type[models.RequestModel] | None = None,
) -> Operation:
    return Operation(operation_id, method, path, "stable", status, handler, {"v1": body} if body else {})


def _alpha(
    operation_id: str,
    method: str,
    path: str,
    handler: Handler,
    *,
    status: int = 200,
    body: type[models.RequestModel] | None = None,
) -> Operation:
    return Operation(operation_id, method, path, "alpha", status, handler, {"v1alpha": body} if body else {})


OPERATIONS: tuple[Operation, ...] = (
    _stable("getWorkspace", "GET", "/", workspace.get_workspace),
    # Spaces and what they have seen
    _alpha("listSpaces", "GET", "/spaces", workspace.list_spaces),
    _alpha("getSpace", "GET", "/spaces/{spaceId}", workspace.get_space),
    _alpha("listEvents", "GET", "/spaces/{spaceId}/events", workspace.list_events),
    _alpha(
        "listPropertiesFromEvent",
        "GET",
        "/spaces/{spaceId}/events/{eventName}/properties",
        workspace.list_properties_from_event,
    ),
    # Catalog
    _stable("getSourcesCatalog", "GET", "/catalog/sources", catalog.get_sources_catalog),
    _stable("getSourceMetadata", "GET", "/catalog/sources/{sourceMetadataId}", catalog.get_source_metadata),
    _stable("getDestinationsCatalog", "GET", "/catalog/destinations", catalog.get_destinations_catalog),
    _stable(
        "getDestinationMetadata",
        "GET",
        "/catalog/destinations/{destinationMetadataId}",
        catalog.get_destination_metadata,
    ),
    _stable("getWarehousesCatalog", "GET", "/catalog/warehouses", catalog.get_warehouses_catalog),
    _stable(
        "getWarehouseMetadata",
        "GET",
        "/catalog/warehouses/{warehouseMetadataId}",
        catalog.get_warehouse_metadata,
    ),
    # Sources: the alpha version has its own bodies (its create takes a name)
    Operation(
        "createSource",
        "POST",
        "/sources",
        "stable",
        201,
        sources.create_source,
        {"v1": models.CreateSourceV1, "v1alpha": models.CreateSourceAlpha},
    ),
    _stable("getSource", "GET", "/sources/{sourceId}", sources.get_source),
    _stable("listSources", "GET", "/sources", sources.list_sources),
    Operation(
        "updateSource",
        "PATCH",
        "/sources/{sourceId}",
        "stable",
        200,
        sources.update_source,
        {"v1": models.UpdateSource, "v1alpha": models.UpdateSource},
    ),
    _stable("deleteSource", "DELETE", "/sources/{sourceId}", sources.delete_source),
    _stable(
        "listConnectedWarehousesFromSource",
        "GET",
        "/sources/{sourceId}/connected-warehouses",
        sources.list_connected_warehouses_from_source,
    ),
    _stable(
        "listConnectedDestinationsFromSource",
        "GET",
        "/sources/{sourceId}/connected-destinations",
        sources.list_connected_destinations_from_source,
    ),
    # Labels of the workspace and of its sources
    _stable("listLabels", "GET", "/labels", labels.list_labels),
    _stable("createLabel", "POST", "/labels", labels.create_label, status=201, body=models.CreateLabel),
    _stable("deleteLabel", "DELETE", "/labels/{key}/{value}", labels.delete_label),
    _stable(
        "addLabelsToSource",
        "POST",
        "/sources/{sourceId}/labels",
        labels.add_labels_to_source,
        body=models.SourceLabels,
    ),
    _stable(
        "replaceLabelsInSource",
        "PUT",
        "/sources/{sourceId}/labels",
        labels.replace_labels_in_source,
        body=models.SourceLabels,
    ),
    # Warehouses and their source connections
    _stable(
        "createWarehouse",
        "POST",
        "/warehouses",
        warehouses.create_warehouse,
        status=201,
        body=models.CreateWarehouse,
    ),
    _stable("getWarehouse", "GET", "/warehouses/{warehouseId}", warehouses.get_warehouse),
    _stable("listWarehouses", "GET", "/warehouses", warehouses.list_warehouses),
    _stable(
        "updateWarehouse",
        "PATCH",
        "/warehouses/{warehouseId}",
        warehouses.update_warehouse,
        body=models.UpdateWarehouse,
    ),
    _stable("deleteWarehouse", "DELETE", "/warehouses/{warehouseId}", warehouses.delete_warehouse),
    _stable(
        "createValidationInWarehouse",
        "POST",
        "/warehouses/validation",
        warehouses.create_validation_in_warehouse,
        body=models.ValidateWarehouse,
    ),
    _stable(
        "getConnectionStateFromWarehouse",
        "GET",
        "/warehouses/{warehouseId}/connection-state",
        warehouses.get_connection_state_from_warehouse,
    ),
    _stable(
        "addConnectionFromSourceToWarehouse",
        "POST",
        "/warehouses/{warehouseId}/connected-sources/{sourceId}",
        warehouses.add_connection_from_source_to_warehouse,
        status=201,
    ),
    _stable(
        "listConnectedSourcesFromWarehouse",
        "GET",
        "/warehouses/{warehouseId}/connected-sources",
        warehouses.list_connected_sources_from_warehouse,
    ),
    _stable(
        "listSyncsFromWarehouseAndSource",
        "GET",
        "/warehouses/{warehouseId}/connected-sources/{sourceId}/syncs",
        warehouses.list_syncs_from_warehouse_and_source,
    ),
    _stable(
        "removeSourceConnectionFromWarehouse",
        "DELETE",
        "/warehouses/{warehouseId}/connected-sources/{sourceId}",
        warehouses.remove_source_connection_from_warehouse,
    ),
    # Destinations and their subscriptions
    _stable(
        "createDestination",
        "POST",
        "/destinations",
        destinations.create_destination,
        body=models.CreateDestination,
    ),
    _stable("getDestination", "GET", "/destinations/{destinationId}", destinations.get_destination),
    _stable("listDestinations", "GET", "/destinations", destinations.list_destinations),
    _stable(
        "updateDestination",
        "PATCH",
        "/destinations/{destinationId}",
        destinations.update_destination,
        body=models.UpdateDestination,
    ),
    _stable("deleteDestination", "DELETE", "/destinations/{destinationId}", destinations.delete_destination),
    _alpha(
        "createDestinationSubscription",
        "POST",
        "/destinations/{destinationId}/subscriptions",
        destinations.create_destination_subscription,
        body=models.CreateSubscription,
    ),
    _alpha(
        "getSubscriptionFromDestination",
        "GET",
        "/destinations/{destinationId}/subscriptions/{id}",
        destinations.get_subscription_from_destination,
    ),
    _alpha(
        "listSubscriptionsFromDestination",
        "GET",
        "/destinations/{destinationId}/subscriptions",
        destinations.list_subscriptions_from_destination,
    ),
    _alpha(
        "updateSubscriptionForDestination",
        "PATCH",
        "/destinations/{destinationId}/subscriptions/{id}",
        destinations.update_subscription_for_destination,
        body=models.UpdateSubscription,
    ),
    _alpha(
        "removeSubscriptionFromDestination",
        "DELETE",
        "/destinations/{destinationId}/subscriptions/{id}",
        destinations.remove_subscription_from_destination,
    ),
    # Reverse ETL
    _alpha(
        "createReverseEtlModel",
        "POST",
        "/reverse-etl-models",
        reverse_etl.create_reverse_etl_model,
        status=201,
        body=models.CreateReverseEtlModel,
    ),
    _alpha("getReverseEtlModel", "GET", "/reverse-etl-models/{modelId}", reverse_etl.get_reverse_etl_model),
    _alpha("listReverseEtlModels", "GET", "/reverse-etl-models", reverse_etl.list_reverse_etl_models),
    _alpha(
        "updateReverseEtlModel",
        "PATCH",
        "/reverse-etl-models/{modelId}",
        reverse_etl.update_reverse_etl_model,
        body=models.UpdateReverseEtlModel,
    ),
    _alpha(
        "deleteReverseEtlModel",
        "DELETE",
        "/reverse-etl-models/{modelId}",
        reverse_etl.delete_reverse_etl_model,
    ),
    _alpha(
        "createReverseETLManualSync",
        "POST",
        "/reverse-etl-syncs",
        reverse_etl.create_reverse_etl_manual_sync,
        body=models.CreateManualSync,
    ),
    _alpha(
        "getReverseETLSyncStatus",
        "GET",
        "/reverse-etl-models/{modelId}/syncs/{syncId}",
        reverse_etl.get_reverse_etl_sync_status,
    ),
    _alpha(
        "listReverseETLSyncStatusesFromModelAndSubscriptionId",
        "GET",
        "/reverse-etl-models/{modelId}/subscriptionId/{subscriptionId}/syncs",
        reverse_etl.list_reverse_etl_sync_statuses_from_model_and_subscription_id,
    ),
    # Computed traits
    _alpha(
        "createComputedTrait",
        "POST",
        "/spaces/{spaceId}/computed-traits",
        computed_traits.create_computed_trait,
        body=models.CreateComputedTrait,
    ),
    _alpha(
        "getComputedTrait",
        "GET",
        "/spaces/{spaceId}/computed-traits/{id}",
        computed_traits.get_computed_trait,
    ),
    _alpha(
        "listComputedTraits", "GET", "/spaces/{spaceId}/computed-traits", computed_traits.list_computed_traits
    ),
    _alpha(
        "updateComputedTraitForSpace",
        "PATCH",
        "/spaces/{spaceId}/computed-traits/{id}",
        computed_traits.update_computed_trait_for_space,
        body=models.UpdateComputedTrait,
    ),
    _alpha(
        "removeComputedTraitFromSpace",
        "DELETE",
        "/spaces/{spaceId}/computed-traits/{id}",
        computed_traits.remove_computed_trait_from_space,
    ),
)

OPERATIONS_BY_ID: Mapping[str, Operation] = {op.operation_id: op for op in OPERATIONS}


def route(method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
    """The operation serving ``method`` ``path`` (percent-encoded) and its decoded path parameters."""
    for operation in OPERATIONS:
        params = operation.match(method, path)
        if params is not None:
            return operation, params
    return None
