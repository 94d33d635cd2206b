"""The link between a source and a warehouse destination (Salesforce → warehouse).

Id: ``warehouseId:sourceId``. Connecting is idempotent in Segment, so a lost response needs no reconciliation
beyond connecting again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pulumi
import pydantic

from segment_provider.resources.base import (
    FoundInputs,
    ResourceInputs,
    SegmentProvider,
    SegmentResource,
    resource_props,
)


class WarehouseConnectionInputs(ResourceInputs):
    warehouse_id: str = pydantic.Field(min_length=1)
    source_id: str = pydantic.Field(min_length=1)


class Connection(pydantic.BaseModel):
    warehouse_id: str
    source_id: str


def inputs_from_api(remote: Connection) -> FoundInputs:
    """The link as ``WarehouseConnection`` inputs."""
    return FoundInputs(remote.model_dump())


def split_connection_id(id_: str) -> Connection:
    warehouse_id, _, source_id = id_.partition(":")
    return Connection(warehouse_id=warehouse_id, source_id=source_id)


class WarehouseConnectionProvider(SegmentProvider[WarehouseConnectionInputs, Connection]):
    kind = "WarehouseConnection"
    inputs_model = WarehouseConnectionInputs
    replace_on = frozenset({"warehouse_id", "source_id"})
    delete_before_replace = True
    # A source and a warehouse are connected or not: connecting them twice makes no second link, so there is
    # nothing to look up first (and the client sends a connect whose answer was lost again).
    unique_key = True

    def describe(self, inputs: WarehouseConnectionInputs) -> str:
        return f"source {inputs.source_id} → warehouse {inputs.warehouse_id}"

    def find_existing(self, inputs: WarehouseConnectionInputs) -> Connection | None:
        connected = self.client.list_connected_sources(inputs.warehouse_id)
        if any(s.id == inputs.source_id for s in connected):
            return Connection(warehouse_id=inputs.warehouse_id, source_id=inputs.source_id)
        return None

    def create_remote(self, inputs: WarehouseConnectionInputs) -> Connection:
        self.client.connect_source_to_warehouse(inputs.warehouse_id, inputs.source_id)
        return Connection(warehouse_id=inputs.warehouse_id, source_id=inputs.source_id)

    def get_remote(self, id_: str, props: Mapping[str, Any]) -> Connection | None:
        link = split_connection_id(id_)
        connected = self.client.list_connected_sources(link.warehouse_id)
        return link if any(s.id == link.source_id for s in connected) else None

    def update_remote(
        self, id_: str, inputs: WarehouseConnectionInputs, changed: set[str], olds: Mapping[str, Any]
    ) -> Connection:
        return split_connection_id(id_)

    def delete_remote(self, id_: str, props: Mapping[str, Any]) -> None:
        link = split_connection_id(id_)
        self.client.disconnect_source_from_warehouse(link.warehouse_id, link.source_id)

    def observed(self, remote: Connection, desired: Mapping[str, Any]) -> dict[str, Any]:
        return inputs_from_api(remote).inputs

    def resource_id(self, remote: Connection) -> str:
        return f"{remote.warehouse_id}:{remote.source_id}"


class WarehouseConnection(SegmentResource, module="segment", name="WarehouseConnection"):
    """Connects a source to a warehouse destination so its data is loaded there."""

    if TYPE_CHECKING:  # for type checkers only: see SegmentResource
        warehouse_id: pulumi.Output[str]
        source_id: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        warehouse_id: pulumi.Input[str],
        source_id: pulumi.Input[str],
        adopt: bool = False,
        environment: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs = {
            "warehouse_id": warehouse_id,
            "source_id": source_id,
            "adopt": adopt,
            "environment": environment,
        }
        super().__init__(WarehouseConnectionProvider(), resource_name, resource_props(inputs, ()), opts)
