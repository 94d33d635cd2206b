"""Every typed method against the emulator over real HTTP: what is sent and what comes back."""

from __future__ import annotations

from typing import Any

import pytest

from segment_provider.api import (
    NotFoundError,
    ReverseEtlSchedule,
    SegmentClient,
    TraitDefinition,
    TraitOptions,
)
from tests.api.conftest import (
    DEV_SPACE,
    PROFILES,
    SALESFORCE,
    SNOWFLAKE_RETL,
    SNOWFLAKE_WAREHOUSE,
    requests_for,
)

FLEX_EVENT = "Flex - Engagement Initiated"


def make_retl_source(client: SegmentClient, slug: str = "snowflake_retl") -> str:
    return client.create_source(slug=slug, metadata_id=SNOWFLAKE_RETL, enabled=True, settings={}).id


def make_model(client: SegmentClient, source_id: str, name: str = "Accounts") -> str:
    return client.create_reverse_etl_model(
        source_id=source_id,
        name=name,
        description="Salesforce accounts",
        enabled=True,
        query="SELECT ID, NAME FROM salesforce.accounts",
        query_identifier_column="ID",
    ).id


def make_destination(client: SegmentClient, source_id: str) -> str:
    return client.create_destination(
        source_id=source_id, metadata_id=PROFILES, settings={}, name="Profiles"
    ).id


# ------------------------------------------------------------------------------------- workspace and spaces


def test_get_workspace(client: SegmentClient, fresh_emulator: Any) -> None:
    workspace = client.get_workspace()

    assert workspace.id == fresh_emulator.workspace["id"]
    assert workspace.slug == fresh_emulator.workspace["slug"]


def test_list_and_get_spaces(client: SegmentClient, fresh_emulator: Any) -> None:
    seeded = fresh_emulator.space(DEV_SPACE)

    spaces = client.list_spaces()

    assert DEV_SPACE in {s.slug for s in spaces}
    space = client.get_space(seeded["id"])
    assert (space.id, space.slug, space.name) == (seeded["id"], DEV_SPACE, seeded["name"])


def test_get_space_that_does_not_exist(client: SegmentClient) -> None:
    with pytest.raises(NotFoundError):
        client.get_space("spa_does_not_exist")


def test_space_events_and_their_properties(client: SegmentClient, fresh_emulator: Any) -> None:
    space_id = fresh_emulator.space(DEV_SPACE)["id"]
    assert FLEX_EVENT not in client.list_space_events(space_id)

    fresh_emulator.seed_flex_events(DEV_SPACE)

    assert FLEX_EVENT in client.list_space_events(space_id)
    properties = client.list_space_event_properties(space_id, FLEX_EVENT)
    assert properties and all(isinstance(p, str) for p in properties)
    assert len(properties) == len(set(properties))
    sent = requests_for(fresh_emulator, "listPropertiesFromEvent")[-1]
    assert sent.path.endswith("/events/Flex%20-%20Engagement%20Initiated/properties")


# ---------------------------------------------------------------------------------------------------- sources


def test_source_lifecycle(client: SegmentClient, fresh_emulator: Any) -> None:
    created = client.create_source(
        slug="salesforce_prod",
        metadata_id=SALESFORCE,
        enabled=False,
        settings={"salesforce-environment": "production"},
    )

    assert created.slug == "salesforce_prod"
    assert created.metadata.id == SALESFORCE
    assert created.enabled is False
    assert client.get_source(created.id) == created
    assert created.id in {s.id for s in client.list_sources()}

    updated = client.update_source(created.id, enabled=True, settings={"salesforce-environment": "sandbox"})

    assert updated.enabled is True
    assert updated.settings == {"salesforce-environment": "sandbox"}
    client.delete_source(created.id)
    with pytest.raises(NotFoundError):
        client.get_source(created.id)


def test_create_source_sends_the_stable_body_and_sets_the_name_with_an_update(
    client: SegmentClient, fresh_emulator: Any
) -> None:
    source = client.create_source(
        slug="retl", metadata_id=SNOWFLAKE_RETL, enabled=True, name="Snowflake RETL"
    )

    assert source.name == "Snowflake RETL"
    create = requests_for(fresh_emulator, "createSource")[-1]
    assert create.body == {
        "slug": "retl",
        "enabled": True,
        "metadataId": SNOWFLAKE_RETL,
        "disconnectAllWarehouses": True,
    }
    assert requests_for(fresh_emulator, "updateSource")[-1].body == {"name": "Snowflake RETL"}


def test_update_source_sends_only_the_fields_given(client: SegmentClient, fresh_emulator: Any) -> None:
    source_id = make_retl_source(client)

    client.update_source(source_id, name="Renamed")

    assert requests_for(fresh_emulator, "updateSource")[-1].body == {"name": "Renamed"}


# ------------------------------------------------------------------------------------------------- warehouses


def test_warehouse_lifecycle(client: SegmentClient, fresh_emulator: Any) -> None:
    settings = {"account": "acme", "database": "SEGMENT_EVENTS"}

    created = client.create_warehouse(metadata_id=SNOWFLAKE_WAREHOUSE, settings=settings, name="Snowflake")

    assert created.metadata.id == SNOWFLAKE_WAREHOUSE
    assert created.name == "Snowflake"
    assert requests_for(fresh_emulator, "createWarehouse")[-1].body["disconnectAllSources"] is True
    assert client.get_warehouse(created.id).id == created.id
    assert created.id in {w.id for w in client.list_warehouses()}

    updated = client.update_warehouse(created.id, settings={**settings, "database": "OTHER"}, enabled=False)

    assert updated.enabled is False
    assert updated.settings["database"] == "OTHER"
    client.delete_warehouse(created.id)
    with pytest.raises(NotFoundError):
        client.get_warehouse(created.id)


def test_validate_warehouse(client: SegmentClient, fresh_emulator: Any) -> None:
    result = client.validate_warehouse(metadata_id=SNOWFLAKE_WAREHOUSE, settings={"account": "acme"})

    assert result.status in {"CONNECTED", "FAILED"}
    assert requests_for(fresh_emulator, "createValidationInWarehouse")[-1].body == {
        "metadataId": SNOWFLAKE_WAREHOUSE,
        "settings": {"account": "acme"},
    }


def test_connect_and_disconnect_a_source(client: SegmentClient, fresh_emulator: Any) -> None:
    warehouse_id = client.create_warehouse(metadata_id=SNOWFLAKE_WAREHOUSE, settings={"account": "acme"}).id
    source_id = client.create_source(slug="sfdc", metadata_id=SALESFORCE, enabled=True).id
    assert client.list_connected_sources(warehouse_id) == []

    status = client.connect_source_to_warehouse(warehouse_id, source_id)

    assert status == "CONNECTED"
    assert [s.id for s in client.list_connected_sources(warehouse_id)] == [source_id]
    assert [w.id for w in client.list_connected_warehouses(source_id)] == [warehouse_id]
    client.disconnect_source_from_warehouse(warehouse_id, source_id)
    assert client.list_connected_sources(warehouse_id) == []
    assert client.list_connected_warehouses(source_id) == []


# ----------------------------------------------------------------------------------------------- destinations


def test_destination_lifecycle(client: SegmentClient, fresh_emulator: Any) -> None:
    source_id = make_retl_source(client)

    created = client.create_destination(
        source_id=source_id, metadata_id=PROFILES, settings={}, name="Profiles"
    )

    assert (created.source_id, created.metadata.id, created.name, created.enabled) == (
        source_id,
        PROFILES,
        "Profiles",
        False,
    )
    assert client.get_destination(created.id) == created
    assert created.id in {d.id for d in client.list_destinations()}
    assert client.update_destination(created.id, enabled=True).enabled is True
    assert requests_for(fresh_emulator, "updateDestination")[-1].body == {"enabled": True}
    client.delete_destination(created.id)
    with pytest.raises(NotFoundError):
        client.get_destination(created.id)


def test_subscription_lifecycle(client: SegmentClient, fresh_emulator: Any) -> None:
    source_id = make_retl_source(client)
    model_id = make_model(client, source_id)
    destination_id = make_destination(client, source_id)
    action_id = client.catalog.action_id("actions-segment-profiles", "sendIdentify")

    created = client.create_subscription(
        destination_id,
        name="Send Identify",
        action_id=action_id,
        trigger='event = "new" or event = "updated"',
        enabled=True,
        settings={"user_id": {"@path": "$.properties.ID"}},
        model_id=model_id,
    )

    assert (created.destination_id, created.action_id, created.action_slug) == (
        destination_id,
        action_id,
        "sendIdentify",
    )
    assert created.model_id == model_id
    assert client.get_subscription(destination_id, created.id) == created
    assert [s.id for s in client.list_subscriptions(destination_id)] == [created.id]

    schedule = ReverseEtlSchedule(strategy="PERIODIC", config={"interval": "1h"})
    updated = client.update_subscription(destination_id, created.id, model_id=model_id, schedule=schedule)

    assert updated.reverse_etl_schedule == schedule
    assert requests_for(fresh_emulator, "updateSubscriptionForDestination")[-1].body == {
        "input": {
            "reverseETLModelId": model_id,
            "reverseETLSchedule": {"strategy": "PERIODIC", "config": {"interval": "1h"}},
        }
    }
    renamed = client.update_subscription(
        destination_id, created.id, name="Identify", schedule={"strategy": "MANUAL"}
    )
    assert renamed.name == "Identify"
    assert renamed.reverse_etl_schedule is not None and renamed.reverse_etl_schedule.strategy == "MANUAL"
    client.delete_subscription(destination_id, created.id)
    with pytest.raises(NotFoundError):
        client.get_subscription(destination_id, created.id)


# ------------------------------------------------------------------------------------------------ reverse ETL


def test_reverse_etl_model_lifecycle(client: SegmentClient, fresh_emulator: Any) -> None:
    source_id = make_retl_source(client)

    model_id = make_model(client, source_id)

    model = client.get_reverse_etl_model(model_id)
    assert (model.source_id, model.name, model.query_identifier_column) == (source_id, "Accounts", "ID")
    assert model_id in {m.id for m in client.list_reverse_etl_models()}
    updated = client.update_reverse_etl_model(model_id, query="SELECT ID FROM salesforce.accounts")
    assert updated.query == "SELECT ID FROM salesforce.accounts"
    assert updated.name == "Accounts"
    assert requests_for(fresh_emulator, "updateReverseEtlModel")[-1].body == {
        "query": "SELECT ID FROM salesforce.accounts"
    }
    client.delete_reverse_etl_model(model_id)
    with pytest.raises(NotFoundError):
        client.get_reverse_etl_model(model_id)


def test_manual_sync_and_its_status(client: SegmentClient, fresh_emulator: Any) -> None:
    source_id = make_retl_source(client)
    model_id = make_model(client, source_id)
    destination_id = make_destination(client, source_id)
    subscription = client.create_subscription(
        destination_id,
        name="Send Identify",
        action_id=client.catalog.action_id("actions-segment-profiles", "sendIdentify"),
        trigger='event = "new"',
        enabled=True,
        model_id=model_id,
    )

    sync = client.create_manual_sync(source_id=source_id, model_id=model_id, subscription_id=subscription.id)

    status = client.get_sync_status(model_id, sync.sync_id)
    assert (status.sync_id, status.model_id, status.source_id) == (sync.sync_id, model_id, source_id)
    statuses = client.list_sync_statuses(model_id, subscription.id)
    assert sync.sync_id in {s.sync_id for s in statuses}
    listed = requests_for(fresh_emulator, "listReverseETLSyncStatusesFromModelAndSubscriptionId")[-1]
    assert "count" in dict(listed.query)


# -------------------------------------------------------------------------------------------- computed traits


def test_computed_trait_lifecycle(client: SegmentClient, fresh_emulator: Any) -> None:
    space_id = fresh_emulator.space(DEV_SPACE)["id"]
    definition = TraitDefinition(type="USERS", query=f"event('{FLEX_EVENT}').count()")

    created = client.create_computed_trait(
        space_id,
        name="Total inbounds",
        definition=definition,
        description="Inbound engagements",
        options=TraitOptions(include_historical_data=True),
    )

    assert (created.space_id, created.name, created.definition, created.enabled) == (
        space_id,
        "Total inbounds",
        definition,
        True,
    )
    assert requests_for(fresh_emulator, "createComputedTrait")[-1].body == {
        "name": "Total inbounds",
        "enabled": True,
        "description": "Inbound engagements",
        "definition": {"type": "USERS", "query": definition.query},
        "options": {"includeHistoricalData": True},
    }
    assert client.get_computed_trait(space_id, created.id).key == created.key
    assert created.id in {t.id for t in client.list_computed_traits(space_id)}
    assert client.update_computed_trait(space_id, created.id, enabled=False).enabled is False
    client.delete_computed_trait(space_id, created.id)
    with pytest.raises(NotFoundError):
        client.get_computed_trait(space_id, created.id)


def test_update_with_nothing_to_change_reads_instead_of_writing(
    client: SegmentClient, fresh_emulator: Any
) -> None:
    source_id = make_retl_source(client)
    fresh_emulator.clear_requests()

    source = client.update_source(source_id)

    assert source.id == source_id
    assert [r.operation_id for r in fresh_emulator.requests] == ["getSource"]
