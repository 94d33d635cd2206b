"""One description per resource kind, so every kind runs through the same test matrix.

A case knows how to build valid inputs (creating any parent objects straight through the API client), which
input change updates in place, which forces a replacement, and how to change or delete the object out of band.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from segment_provider.api import SegmentClient
from segment_provider.api.models import TraitDefinition
from segment_provider.resources.base import SegmentProvider
from segment_provider.resources.computed_trait import ComputedTrait, ComputedTraitProvider
from segment_provider.resources.destination import (
    Destination,
    DestinationActivation,
    DestinationActivationProvider,
    DestinationProvider,
)
from segment_provider.resources.destination_subscription import (
    DestinationSubscription,
    DestinationSubscriptionProvider,
)
from segment_provider.resources.reverse_etl_model import ReverseEtlModel, ReverseEtlModelProvider
from segment_provider.resources.source import Source, SourceProvider
from segment_provider.resources.space import UnifySpace, UnifySpaceProvider
from segment_provider.resources.warehouse import Warehouse, WarehouseProvider
from segment_provider.resources.warehouse_connection import WarehouseConnection, WarehouseConnectionProvider

SECRET_SENTINEL = "SENTINEL-PRIVATE-KEY-3f9c1a"
SALESFORCE = "2baks93n"
SNOWFLAKE_RETL = "BQp3zGUgjV"
SNOWFLAKE_WAREHOUSE = "CCIl4HLQPz"
PROFILES = "639c2dbb1309fdcad13951b6"
SEND_IDENTIFY = "vm2tNA5U1zxUusQkdC4D7Z"
DEV_SPACE = "unified-profiles-dev"
PROD_SPACE = "unified-profiles-prod"

Inputs = dict[str, Any]


@dataclass
class Context:
    """What a case may use: the emulator, a client on it, and a counter for unique names."""

    emulator: Any
    client: SegmentClient
    counter: int = 0

    def unique(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def retl_source(self) -> str:
        return self.client.create_source(
            slug=self.unique("retl").replace("-", "_"), metadata_id=SNOWFLAKE_RETL, enabled=True, settings={}
        ).id

    def warehouse(self) -> str:
        return self.client.create_warehouse(
            metadata_id=SNOWFLAKE_WAREHOUSE, settings={"account": "acme"}, name=self.unique("wh")
        ).id

    def salesforce(self) -> str:
        return self.client.create_source(
            slug=self.unique("sfdc").replace("-", "_"), metadata_id=SALESFORCE, enabled=True
        ).id

    def model(self, source_id: str) -> str:
        return self.client.create_reverse_etl_model(
            source_id=source_id,
            name=self.unique("model"),
            description="",
            enabled=True,
            query="SELECT ID FROM salesforce.accounts",
            query_identifier_column="ID",
        ).id

    def destination(self, source_id: str) -> str:
        return self.client.create_destination(
            source_id=source_id, metadata_id=PROFILES, settings={}, name=self.unique("dest")
        ).id

    def space_id(self, slug: str = DEV_SPACE) -> str:
        return str(self.emulator.space(slug)["id"])


@dataclass
class KindCase:
    kind: str
    resource: type
    provider: Callable[[], SegmentProvider[Any, Any]]
    create_operation: str | None
    """operationId of the mutating create call (None: the kind never creates)."""
    inputs: Callable[[Context], Inputs]
    update: Callable[[Inputs], Inputs] | None
    replace: Callable[[Context, Inputs], Inputs] | None
    change_out_of_band: Callable[[Context, str, Inputs], None] | None
    delete_out_of_band: Callable[[Context, str], None]
    exists: Callable[[Context, str], bool]
    pre_create: Callable[[Context, Inputs], None] | None = None
    """Create the object straight through the API (for adopt); None when the kind cannot be pre-created."""
    secret_inputs: tuple[str, ...] = ()
    deletes_remote: bool = True
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def type_token(self) -> str:
        return f"pulumi-python:dynamic/segment:{self.kind}"


def with_changes(inputs: Inputs, **changes: Any) -> Inputs:
    updated = copy.deepcopy(inputs)
    updated.update(changes)
    return updated


def _gone(fetch: Callable[[], Any]) -> bool:
    from segment_provider.api.errors import NotFoundError

    try:
        fetch()
    except NotFoundError:
        return False
    return True


# ----------------------------------------------------------------------------- the kinds


def _space_inputs(ctx: Context) -> Inputs:
    return {"slug": DEV_SPACE, "adopt": True}


SPACE = KindCase(
    kind="UnifySpace",
    resource=UnifySpace,
    provider=UnifySpaceProvider,
    create_operation=None,
    inputs=_space_inputs,
    update=None,
    replace=lambda ctx, inputs: with_changes(inputs, slug=PROD_SPACE),
    change_out_of_band=None,
    delete_out_of_band=lambda ctx, id_: ctx.emulator.store.spaces.pop(id_),
    exists=lambda ctx, id_: _gone(lambda: ctx.client.get_space(id_)),
    deletes_remote=False,
    notes={"update": "a space has no inputs Segment lets us change", "adopt": "a space is always adopted"},
)


def _source_inputs(ctx: Context) -> Inputs:
    return {
        "slug": ctx.unique("flex_sfdc").replace("-", "_"),
        "catalog_slug": "snowflake",
        "name": ctx.unique("Reverse ETL"),
        "enabled": True,
        "settings": {"account": "acme", "database": "SEGMENT_REVERSE_ETL"},
        "secret_settings": {"private_key": SECRET_SENTINEL},
    }


SOURCE = KindCase(
    kind="Source",
    resource=Source,
    provider=SourceProvider,
    create_operation="createSource",
    inputs=_source_inputs,
    update=lambda inputs: with_changes(inputs, name=inputs["name"] + " renamed", enabled=False),
    replace=lambda ctx, inputs: with_changes(inputs, slug=inputs["slug"] + "_v2"),
    change_out_of_band=lambda ctx, id_, inputs: ctx.client.update_source(id_, name="changed in the app"),
    delete_out_of_band=lambda ctx, id_: ctx.client.delete_source(id_),
    exists=lambda ctx, id_: _gone(lambda: ctx.client.get_source(id_)),
    pre_create=lambda ctx, inputs: ctx.client.create_source(
        slug=inputs["slug"],
        metadata_id=SNOWFLAKE_RETL,
        enabled=inputs["enabled"],
        name=inputs["name"],
        settings={**inputs["settings"], **inputs["secret_settings"]},
    ),
    secret_inputs=("secret_settings",),
)


def _warehouse_inputs(ctx: Context) -> Inputs:
    return {
        "catalog_slug": "snowflake",
        "name": ctx.unique("Flex Snowflake"),
        "enabled": True,
        "settings": {
            "account": "acme",
            "database": "SEGMENT_EVENTS",
            "warehouse": "SEGMENT",
            "username": "SEG",
        },
        "secret_settings": {"private_key": SECRET_SENTINEL},
    }


WAREHOUSE = KindCase(
    kind="Warehouse",
    resource=Warehouse,
    provider=WarehouseProvider,
    create_operation="createWarehouse",
    inputs=_warehouse_inputs,
    update=lambda inputs: with_changes(inputs, settings={**inputs["settings"], "database": "OTHER_DB"}),
    replace=lambda ctx, inputs: with_changes(
        inputs,
        catalog_slug="postgres",
        settings={"hostname": "db.example.com", "port": 5432},
        validate_connection=False,
    ),
    change_out_of_band=lambda ctx, id_, inputs: ctx.client.update_warehouse(
        id_, settings={**inputs["settings"], **inputs["secret_settings"], "database": "DRIFTED"}
    ),
    delete_out_of_band=lambda ctx, id_: ctx.client.delete_warehouse(id_),
    exists=lambda ctx, id_: _gone(lambda: ctx.client.get_warehouse(id_)),
    pre_create=lambda ctx, inputs: ctx.client.create_warehouse(
        metadata_id=SNOWFLAKE_WAREHOUSE,
        settings={**inputs["settings"], **inputs["secret_settings"]},
        name=inputs["name"],
        enabled=inputs["enabled"],
    ),
    secret_inputs=("secret_settings",),
)


def _connection_inputs(ctx: Context) -> Inputs:
    return {"warehouse_id": ctx.warehouse(), "source_id": ctx.salesforce()}


def _connection_exists(ctx: Context, id_: str) -> bool:
    warehouse_id, _, source_id = id_.partition(":")
    return any(s.id == source_id for s in ctx.client.list_connected_sources(warehouse_id))


WAREHOUSE_CONNECTION = KindCase(
    kind="WarehouseConnection",
    resource=WarehouseConnection,
    provider=WarehouseConnectionProvider,
    create_operation="addConnectionFromSourceToWarehouse",
    inputs=_connection_inputs,
    update=None,
    replace=lambda ctx, inputs: with_changes(inputs, source_id=ctx.salesforce()),
    change_out_of_band=None,
    delete_out_of_band=lambda ctx, id_: ctx.client.disconnect_source_from_warehouse(*id_.split(":", 1)),
    exists=_connection_exists,
    pre_create=lambda ctx, inputs: ctx.client.connect_source_to_warehouse(
        inputs["warehouse_id"], inputs["source_id"]
    ),
    notes={"update": "a connection has nothing to change in place", "drift": "a connection exists or not"},
)


def _destination_inputs(ctx: Context) -> Inputs:
    return {
        "source_id": ctx.retl_source(),
        "catalog_slug": "actions-segment-profiles",
        "name": ctx.unique("Segment Profiles"),
        "enabled": False,
        "settings": {},
    }


DESTINATION = KindCase(
    kind="Destination",
    resource=Destination,
    provider=DestinationProvider,
    create_operation="createDestination",
    inputs=_destination_inputs,
    update=lambda inputs: with_changes(inputs, name=inputs["name"] + " renamed", enabled=True),
    replace=lambda ctx, inputs: with_changes(inputs, source_id=ctx.retl_source()),
    change_out_of_band=lambda ctx, id_, inputs: ctx.client.update_destination(id_, name="changed in the app"),
    delete_out_of_band=lambda ctx, id_: ctx.client.delete_destination(id_),
    exists=lambda ctx, id_: _gone(lambda: ctx.client.get_destination(id_)),
    pre_create=lambda ctx, inputs: ctx.client.create_destination(
        source_id=inputs["source_id"], metadata_id=PROFILES, settings={}, name=inputs["name"], enabled=False
    ),
)


def _activation_inputs(ctx: Context) -> Inputs:
    return {"destination_id": ctx.destination(ctx.retl_source()), "enabled": True}


DESTINATION_ACTIVATION = KindCase(
    kind="DestinationActivation",
    resource=DestinationActivation,
    provider=DestinationActivationProvider,
    create_operation="updateDestination",
    inputs=_activation_inputs,
    update=lambda inputs: with_changes(inputs, enabled=False),
    replace=lambda ctx, inputs: with_changes(inputs, destination_id=ctx.destination(ctx.retl_source())),
    change_out_of_band=lambda ctx, id_, inputs: ctx.client.update_destination(id_, enabled=False),
    delete_out_of_band=lambda ctx, id_: ctx.client.delete_destination(id_),
    exists=lambda ctx, id_: _gone(lambda: ctx.client.get_destination(id_)),
    deletes_remote=False,
    notes={"adopt": "activation always works on an existing destination", "lost": "PATCH is retried safely"},
)


def _model_inputs(ctx: Context) -> Inputs:
    return {
        "source_id": ctx.retl_source(),
        "name": ctx.unique("Salesforce accounts"),
        "description": "accounts",
        "enabled": True,
        "query": "SELECT ID, NAME FROM salesforce.accounts",
        "query_identifier_column": "ID",
    }


REVERSE_ETL_MODEL = KindCase(
    kind="ReverseEtlModel",
    resource=ReverseEtlModel,
    provider=ReverseEtlModelProvider,
    create_operation="createReverseEtlModel",
    inputs=_model_inputs,
    update=lambda inputs: with_changes(inputs, query="SELECT ID, NAME, PHONE FROM salesforce.accounts"),
    replace=lambda ctx, inputs: with_changes(inputs, source_id=ctx.retl_source()),
    change_out_of_band=lambda ctx, id_, inputs: ctx.client.update_reverse_etl_model(
        id_, query="SELECT 1 AS ID"
    ),
    delete_out_of_band=lambda ctx, id_: ctx.client.delete_reverse_etl_model(id_),
    exists=lambda ctx, id_: _gone(lambda: ctx.client.get_reverse_etl_model(id_)),
    pre_create=lambda ctx, inputs: ctx.client.create_reverse_etl_model(
        **{k: v for k, v in inputs.items() if k != "adopt"}
    ),
)


def _subscription_inputs(ctx: Context) -> Inputs:
    source_id = ctx.retl_source()
    return {
        "destination_id": ctx.destination(source_id),
        "catalog_slug": "actions-segment-profiles",
        "action_slug": "sendIdentify",
        "name": ctx.unique("Send Identify"),
        "trigger": 'event = "new" or event = "updated"',
        "enabled": True,
        "settings": {
            "user_id": {"@path": "$.properties.ID"},
            "traits": {"name": {"@path": "$.properties.NAME"}},
        },
        "secret_settings": {"engage_space": SECRET_SENTINEL},
        "model_id": ctx.model(source_id),
        "schedule": {"strategy": "PERIODIC", "config": {"interval": "15m"}},
    }


def _subscription_exists(ctx: Context, id_: str) -> bool:
    destination_id, _, subscription_id = id_.partition(":")
    return _gone(lambda: ctx.client.get_subscription(destination_id, subscription_id))


def _pre_create_subscription(ctx: Context, inputs: Inputs) -> None:
    created = ctx.client.create_subscription(
        inputs["destination_id"],
        name=inputs["name"],
        action_id=SEND_IDENTIFY,
        trigger=inputs["trigger"],
        enabled=inputs["enabled"],
        settings={**inputs["settings"], **inputs["secret_settings"]},
        model_id=inputs["model_id"],
    )
    ctx.client.update_subscription(
        inputs["destination_id"], created.id, model_id=inputs["model_id"], schedule=inputs["schedule"]
    )


DESTINATION_SUBSCRIPTION = KindCase(
    kind="DestinationSubscription",
    resource=DestinationSubscription,
    provider=DestinationSubscriptionProvider,
    create_operation="createDestinationSubscription",
    inputs=_subscription_inputs,
    update=lambda inputs: with_changes(
        inputs, trigger='event = "new"', schedule={"strategy": "PERIODIC", "config": {"interval": "1h"}}
    ),
    replace=lambda ctx, inputs: with_changes(inputs, action_slug="sendTrack"),
    change_out_of_band=lambda ctx, id_, inputs: ctx.client.update_subscription(
        *id_.split(":", 1), trigger='event = "deleted"'
    ),
    delete_out_of_band=lambda ctx, id_: ctx.client.delete_subscription(*id_.split(":", 1)),
    exists=_subscription_exists,
    pre_create=_pre_create_subscription,
    secret_inputs=("secret_settings",),
)


def _trait_inputs(ctx: Context) -> Inputs:
    return {
        "space_id": ctx.space_id(),
        "name": ctx.unique("Total inbounds"),
        "description": "inbound engagements",
        "enabled": True,
        "definition": {
            "type": "USERS",
            "query": "event('Flex - Engagement Initiated').where(property('direction') = 'Inbound').count()",
        },
        "options": {"include_historical_data": True},
    }


def _trait_exists(ctx: Context, id_: str) -> bool:
    space_id, _, trait_id = id_.partition(":")
    return _gone(lambda: ctx.client.get_computed_trait(space_id, trait_id))


COMPUTED_TRAIT = KindCase(
    kind="ComputedTrait",
    resource=ComputedTrait,
    provider=ComputedTraitProvider,
    create_operation="createComputedTrait",
    inputs=_trait_inputs,
    update=lambda inputs: with_changes(
        inputs,
        definition={
            "type": "USERS",
            "query": "event('Flex - Engagement Initiated').where(property('direction') = 'Outbound').count()",
        },
    ),
    replace=lambda ctx, inputs: with_changes(inputs, options={"include_historical_data": False}),
    change_out_of_band=lambda ctx, id_, inputs: ctx.client.update_computed_trait(
        *id_.split(":", 1), definition=TraitDefinition(type="USERS", query="event('Other').count()")
    ),
    delete_out_of_band=lambda ctx, id_: ctx.client.delete_computed_trait(*id_.split(":", 1)),
    exists=_trait_exists,
    pre_create=lambda ctx, inputs: ctx.client.create_computed_trait(
        inputs["space_id"],
        name=inputs["name"],
        definition=TraitDefinition(**inputs["definition"]),
        description=inputs["description"],
    ),
)

ALL_CASES = [
    SPACE,
    SOURCE,
    WAREHOUSE,
    WAREHOUSE_CONNECTION,
    DESTINATION,
    DESTINATION_ACTIVATION,
    REVERSE_ETL_MODEL,
    DESTINATION_SUBSCRIPTION,
    COMPUTED_TRAIT,
]
