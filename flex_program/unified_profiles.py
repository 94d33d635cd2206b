"""The whole Flex Unified Profiles setup of one stack, as one component.

Dependency order (each arrow is an Output passed on, so Pulumi creates left to right and destroys right to left):

    UnifySpace ───────────────────────────────────────────────────────────────┐
    [Snowflake objects] ─► Warehouse ─┐                                        │
    Salesforce Source ────────────────┴► WarehouseConnection                   │
    [Snowflake objects] ─► Reverse ETL Source ─► ReverseEtlModel ─┐            │
                           Reverse ETL Source ─► Segment Profiles Destination ─► Send Identify mapping
                                                                   └──► DestinationActivation ─┴► ComputedTrait
                                                                                                   (each)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from flex_program.config import Program, StackConfig
from flex_program.preflight import Preflight
from flex_program.snowflake import SegmentSnowflake
from segment_provider.resources import (
    RETL_TRIGGERS,
    ComputedTrait,
    Destination,
    DestinationActivation,
    DestinationSubscription,
    ReverseEtlModel,
    Source,
    UnifySpace,
    Warehouse,
    WarehouseConnection,
)
from segment_provider.resources.destination_subscription import column_path

PROFILES_DESTINATION_SLUG = "actions-segment-profiles"
SEND_IDENTIFY_ACTION_SLUG = "sendIdentify"
SALESFORCE_CATALOG_SLUG = "salesforce"
COMPONENT_TYPE = "flex-unified-profiles:index:UnifiedProfiles"


def secret_dict(values: dict[str, Any]) -> pulumi.Output[dict[str, Any]] | None:
    plain = {k: v.get_secret_value() if hasattr(v, "get_secret_value") else v for k, v in values.items()}
    return pulumi.Output.secret(plain) if plain else None


class UnifiedProfiles(pulumi.ComponentResource):
    """Space, Salesforce → warehouse, Reverse ETL → Segment Profiles, and computed traits for one environment."""

    def __init__(
        self, name: str, program: Program, preflight: Preflight, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        stack = program.stack
        protect = pulumi.ResourceOptions(protect=stack.protect)
        super().__init__(COMPONENT_TYPE, name, None, pulumi.ResourceOptions.merge(opts, protect))
        child = pulumi.ResourceOptions(parent=self)

        self.space = UnifySpace(
            "space",
            slug=stack.space.slug,
            name=stack.space.name,
            found=preflight.space,
            profiles_source=preflight.profiles_source,
            opts=child,
        )

        warehouse_settings, retl_settings, snowflake_deps = self._warehouse_settings(stack, child)
        with_snowflake = pulumi.ResourceOptions(parent=self, depends_on=snowflake_deps)

        self.salesforce = Source(
            "salesforce-source",
            slug=stack.salesforce.source_slug,
            catalog_slug=SALESFORCE_CATALOG_SLUG,
            name=stack.salesforce.name,
            enabled=stack.salesforce.enabled,
            settings={"salesforce-environment": stack.salesforce.environment},
            adopt=stack.adopt or stack.salesforce.adopt,
            adopt_id=stack.adopt_ids.get("salesforce-source"),
            environment=stack.environment,
            opts=child,
        )
        self.warehouse = Warehouse(
            "warehouse",
            catalog_slug=stack.warehouse.type,
            name=stack.warehouse.name,
            enabled=stack.warehouse.enabled,
            settings=warehouse_settings,
            secret_settings=secret_dict(stack.warehouse_credentials),
            validate_connection=stack.warehouse.validate_connection,
            adopt=stack.adopt or stack.warehouse.adopt,
            adopt_id=stack.adopt_ids.get("warehouse"),
            environment=stack.environment,
            opts=with_snowflake,
        )
        self.connection = WarehouseConnection(
            "salesforce-to-warehouse",
            warehouse_id=self.warehouse.id,
            source_id=self.salesforce.id,
            adopt=stack.adopt or (stack.warehouse.adopt and stack.salesforce.adopt),
            environment=stack.environment,
            opts=child,
        )
        self.reverse_etl_source = Source(
            "reverse-etl-source",
            slug=stack.reverse_etl.source_slug,
            catalog_slug=stack.warehouse.type,
            name=stack.reverse_etl.name,
            enabled=stack.reverse_etl.enabled,
            settings=retl_settings,
            secret_settings=secret_dict(stack.reverse_etl_credentials),
            adopt=stack.adopt or stack.reverse_etl.adopt,
            adopt_id=stack.adopt_ids.get("reverse-etl-source"),
            environment=stack.environment,
            opts=with_snowflake,
        )
        model = program.definitions.model
        self.model = ReverseEtlModel(
            "model",
            source_id=self.reverse_etl_source.id,
            name=model.name,
            description=model.description,
            enabled=model.enabled,
            query=model.sql(),
            query_identifier_column=model.identifier_column,
            warehouse_type=stack.warehouse.type,
            adopt=stack.adopt or stack.reverse_etl.adopt,
            adopt_id=stack.adopt_ids.get("model"),
            environment=stack.environment,
            opts=child,
        )
        self.profiles_destination = Destination(
            "profiles-destination",
            source_id=self.reverse_etl_source.id,
            catalog_slug=PROFILES_DESTINATION_SLUG,
            name=stack.profiles.destination_name,
            adopt=stack.adopt or stack.profiles.adopt,
            adopt_id=stack.adopt_ids.get("profiles-destination"),
            environment=stack.environment,
            opts=child,
        )
        mapping = program.definitions.mapping
        engage_space: pulumi.Output[str | None] = (
            pulumi.Output.from_input(stack.engage_space_write_key.get_secret_value())
            if stack.engage_space_write_key
            else self.space.profiles_source_write_key
        )
        engage_settings: pulumi.Output[dict[str, Any]] = engage_space.apply(lambda key: {"engage_space": key})
        self.mapping = DestinationSubscription(
            "send-identify",
            destination_id=self.profiles_destination.id,
            catalog_slug=PROFILES_DESTINATION_SLUG,
            action_slug=SEND_IDENTIFY_ACTION_SLUG,
            name=mapping.name,
            trigger=RETL_TRIGGERS[mapping.trigger],
            enabled=mapping.enabled,
            settings={
                "user_id": column_path(mapping.user_id_column),
                "traits": {trait: column_path(column) for trait, column in mapping.traits.items()},
            },
            secret_settings=pulumi.Output.secret(engage_settings),
            model_id=self.model.id,
            schedule=stack.schedule.model_dump(mode="json"),
            adopt=stack.adopt or stack.profiles.adopt,
            adopt_id=stack.adopt_ids.get("send-identify"),
            environment=stack.environment,
            opts=child,
        )
        self.activation = DestinationActivation(
            "profiles-destination-enabled",
            destination_id=self.profiles_destination.id,
            enabled=stack.profiles.enabled,
            environment=stack.environment,
            adopt=stack.adopt or stack.profiles.adopt,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.mapping]),
        )

        # The data path first: Pulumi's dynamic providers run in one process with 4 workers, and a trait waiting
        # its turn under Segment's 10 creates a minute holds one. Started together, 500 traits would take every
        # worker and the mapping would go live ~50 minutes late; after the activation, they only lose the data
        # path's few seconds. (A data path that fails leaves the traits for the next `up`.)
        after_data_path = pulumi.ResourceOptions(parent=self, depends_on=[self.activation])
        self.traits: dict[str, ComputedTrait] = {}
        for trait_id, spec in program.traits.items():
            if not preflight.ready(trait_id):
                continue
            definition = spec.to_definition()
            options = getattr(spec, "options", None)
            self.traits[trait_id] = ComputedTrait(
                f"trait-{trait_id}",
                space_id=self.space.id,
                name=spec.name,
                query=definition["query"],
                entity=definition["type"],
                description=spec.description,
                enabled=spec.enabled,
                options=options.model_dump(exclude_none=True) if options is not None else None,
                # A kept trait exists in Segment: should the state not know it, take it over, never duplicate.
                adopt=stack.adopt or trait_id in preflight.kept,
                adopt_id=stack.adopt_ids.get(f"trait-{trait_id}"),
                opts=after_data_path,
            )
        self.register_outputs({})

    def segment_objects(self) -> list[pulumi.CustomResource]:
        """Every Segment object of the stack, in the order they are declared."""
        return [
            self.space,
            self.salesforce,
            self.warehouse,
            self.connection,
            self.reverse_etl_source,
            self.model,
            self.profiles_destination,
            self.mapping,
            self.activation,
            *self.traits.values(),
        ]

    def _warehouse_settings(
        self, stack: StackConfig, child: pulumi.ResourceOptions
    ) -> tuple[Any, Any, list[pulumi.Resource]]:
        """Non-secret settings of the warehouse destination and the Reverse ETL source."""
        if not stack.snowflake.manage or stack.snowflake.spec is None:
            return stack.warehouse.settings, stack.reverse_etl.settings, []
        snowflake = SegmentSnowflake("snowflake", stack.snowflake.spec, opts=child)
        self.snowflake = snowflake
        destination = _with_snowflake_objects(
            stack.warehouse.settings,
            snowflake.account,
            snowflake.events_database,
            snowflake.load_warehouse,
            snowflake.destination_user,
        )
        retl = _with_snowflake_objects(
            stack.reverse_etl.settings,
            snowflake.account,
            snowflake.retl_database,
            snowflake.retl_warehouse,
            snowflake.retl_user,
        )
        return destination, retl, [snowflake]


def _with_snowflake_objects(
    settings: Mapping[str, Any], account: Any, database: Any, warehouse: Any, username: Any
) -> pulumi.Output[dict[str, Any]]:
    """``settings`` with the account, database, warehouse and user that pulumi-snowflake made for them."""
    return pulumi.Output.all(account, database, warehouse, username).apply(
        lambda v: {**settings, "account": v[0], "database": v[1], "warehouse": v[2], "username": v[3]}
    )
