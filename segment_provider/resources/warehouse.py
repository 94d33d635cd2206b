"""Warehouse destinations (Snowflake, BigQuery, Postgres, Redshift) that Salesforce data is loaded into.

Natural key: catalog type + name, or catalog type + connection identity (account or host, database, user) where
Segment's answer carries no name: ``WarehouseV1`` has none, so the name is written into the settings
(``WAREHOUSE_NAME_SETTING``) on every create and update, and a name absent from an answer is not drift.
Credentials live in ``secret_settings``; Segment masks them when reading back, so they are compared with what
was last applied, never with what the API shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pulumi
import pydantic

from segment_provider.api.models import WAREHOUSE_NAME_SETTING, IntegrationOption
from segment_provider.api.models import Source as ApiSource
from segment_provider.api.models import Warehouse as ApiWarehouse
from segment_provider.resources.base import (
    FoundInputs,
    ResourceError,
    SegmentProvider,
    SegmentResource,
    SettingsInputs,
    configured_subset,
    resource_props,
    settings_keeping_unmanaged,
    split_settings,
    with_secret_outputs,
)

WAREHOUSE_TYPES = ("snowflake", "bigquery", "postgres", "redshift")
# ❓ The settings that say which database a warehouse loads into, per catalog type (the catalog's option names
# as far as we know them): two warehouses of one type with the same values are the same connection.
CONNECTION_IDENTITY: dict[str, tuple[str, ...]] = {
    "snowflake": ("account", "database", "username"),
    "bigquery": ("project",),
    "postgres": ("hostname", "port", "database", "username"),
    "redshift": ("hostname", "port", "database", "username"),
}


def connection_identity(catalog_slug: str, settings: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The connection identity of warehouse ``settings`` (case-insensitive), None when a part of it is unset."""
    keys = CONNECTION_IDENTITY.get(catalog_slug, ())
    values = [settings.get(key) for key in keys]
    if not keys or any(v is None or v == "" for v in values):
        return None
    return tuple(str(v).strip().casefold() for v in values)


def inputs_from_api(remote: ApiWarehouse, options: Iterable[IntegrationOption] = ()) -> FoundInputs:
    """The warehouse as ``Warehouse`` inputs; ``name`` is None when Segment's answer carries none.

    The name Segment keeps in the settings (``WAREHOUSE_NAME_SETTING``) is the ``name`` input, not a setting.
    """
    settings, secret_keys = split_settings(remote.settings, options, drop={WAREHOUSE_NAME_SETTING})
    inputs = {
        "catalog_slug": remote.metadata.slug,
        "name": remote.name or None,
        "enabled": remote.enabled,
        "settings": settings,
    }
    return FoundInputs(inputs, secret_keys)


class WarehouseInputs(SettingsInputs):
    catalog_slug: str = pydantic.Field(pattern=r"^(snowflake|bigquery|postgres|redshift)$")
    name: str = pydantic.Field(min_length=1, max_length=100)
    enabled: bool = True
    validate_connection: bool = True
    """Ask Segment to test the settings (``POST /warehouses/validation``) before creating."""


class WarehouseProvider(SegmentProvider[WarehouseInputs, ApiWarehouse]):
    kind = "Warehouse"
    inputs_model = WarehouseInputs
    replace_on = frozenset({"catalog_slug"})
    # Segment makes a second warehouse with the same name and type without complaint: looked up before a create.
    unique_key = False
    ignored_in_diff = frozenset({"adopt", "environment", "validate_connection"})

    def owning_sources(self, props: Mapping[str, Any], remote: ApiWarehouse | None) -> list[ApiSource]:
        """A warehouse hangs off the sources connected to it."""
        return self.client.list_connected_sources(remote.id if remote is not None else str(props["id"]))

    def describe(self, inputs: WarehouseInputs) -> str:
        return f"'{inputs.name}' ({inputs.catalog_slug})"

    def extra_checks(self, inputs: WarehouseInputs) -> list[tuple[str, str]]:
        if WAREHOUSE_NAME_SETTING in inputs.merged_settings():
            return [
                (
                    f"settings.{WAREHOUSE_NAME_SETTING}",
                    "the warehouse's name is set by `name`, not in settings",
                )
            ]
        return []

    def find_existing(self, inputs: WarehouseInputs) -> ApiWarehouse | None:
        same_type = [w for w in self.client.list_warehouses() if w.metadata.slug == inputs.catalog_slug]
        named = [w for w in same_type if w.name == inputs.name]
        if named:
            return self.single_match(named, inputs)
        # Where Segment does not echo the name, the connection says which warehouse this is.
        identity = connection_identity(inputs.catalog_slug, inputs.merged_settings())
        unnamed = [
            w
            for w in same_type
            if w.name is None
            and identity is not None
            and connection_identity(inputs.catalog_slug, w.settings) == identity
        ]
        return self.single_match(unnamed, inputs)

    def remote_settings(self, inputs: WarehouseInputs) -> dict[str, Any]:
        """The settings sent on create and update: the configured ones, credentials, and the name."""
        return {**inputs.merged_settings(), WAREHOUSE_NAME_SETTING: inputs.name}

    def create_remote(self, inputs: WarehouseInputs) -> ApiWarehouse:
        metadata = self.client.catalog.warehouse_by_slug(inputs.catalog_slug)
        settings = self.remote_settings(inputs)
        if inputs.validate_connection:
            status = self.client.validate_warehouse(
                metadata_id=metadata.id, settings=inputs.merged_settings()
            ).status
            if status != "CONNECTED":
                raise ResourceError(
                    f"Segment could not connect to {inputs.catalog_slug} warehouse {self.describe(inputs)} "
                    f"(validation status {status}). Check the account, database, user and key in the stack "
                    "config and the network policy allow-list, or set validate_connection: false to skip."
                )
        return self.client.create_warehouse(
            metadata_id=metadata.id,
            settings=settings,
            name=inputs.name,
            enabled=inputs.enabled,
            disconnect_all_sources=True,
        )

    def get_remote(self, id_: str, props: Mapping[str, Any]) -> ApiWarehouse:
        return self.client.get_warehouse(id_)

    def update_remote(
        self, id_: str, inputs: WarehouseInputs, changed: set[str], olds: Mapping[str, Any]
    ) -> ApiWarehouse:
        # Segment requires settings on every warehouse PATCH and may replace them as a whole: the name goes in
        # every time, and what the app set that the config does not is sent back as it was.
        current = self.client.get_warehouse(id_).settings
        return self.client.update_warehouse(
            id_,
            settings=settings_keeping_unmanaged(current, self.remote_settings(inputs), olds),
            name=inputs.name if "name" in changed else None,
            enabled=inputs.enabled if "enabled" in changed else None,
        )

    def delete_remote(self, id_: str, props: Mapping[str, Any]) -> None:
        self.client.delete_warehouse(id_)

    def observed(self, remote: ApiWarehouse, desired: Mapping[str, Any]) -> dict[str, Any]:
        found = inputs_from_api(remote).inputs
        return {
            "catalog_slug": found["catalog_slug"],
            # A name Segment does not echo is not drift: the warehouse was found by id (or its connection).
            "name": remote.name if remote.name is not None else desired.get("name"),
            "enabled": found["enabled"],
            "settings": configured_subset(remote.settings, desired),
        }

    def resource_id(self, remote: ApiWarehouse) -> str:
        return remote.id

    def computed_outputs(self, remote: ApiWarehouse) -> dict[str, Any]:
        return {
            "warehouse_id": remote.id,
            "metadata_id": remote.metadata.id,
            "workspace_id": remote.workspace_id,
            "app_url": self.links.url("destinations", "warehouses", remote.id, "overview"),
        }


class Warehouse(SegmentResource, module="segment", name="Warehouse"):
    """A Segment warehouse destination."""

    if TYPE_CHECKING:  # for type checkers only: see SegmentResource
        warehouse_id: pulumi.Output[str]
        metadata_id: pulumi.Output[str]
        workspace_id: pulumi.Output[str]
        app_url: pulumi.Output[str]

    OUTPUTS = ("warehouse_id", "metadata_id", "workspace_id", "app_url")
    SECRET_OUTPUTS = ("secret_settings",)

    def __init__(
        self,
        resource_name: str,
        *,
        catalog_slug: pulumi.Input[str],
        name: pulumi.Input[str],
        settings: pulumi.Input[Mapping[str, Any]] | None = None,
        secret_settings: pulumi.Input[Mapping[str, Any]] | None = None,
        enabled: pulumi.Input[bool] = True,
        validate_connection: bool = True,
        adopt: bool = False,
        adopt_id: str | None = None,
        environment: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs = {
            "environment": environment,
            "catalog_slug": catalog_slug,
            "name": name,
            "enabled": enabled,
            "settings": settings,
            "secret_settings": pulumi.Output.secret(secret_settings) if secret_settings is not None else None,
            "validate_connection": validate_connection,
            "adopt": adopt,
            "adopt_id": adopt_id,
        }
        super().__init__(
            WarehouseProvider(),
            resource_name,
            resource_props(inputs, self.OUTPUTS),
            with_secret_outputs(opts, self.SECRET_OUTPUTS),
        )
