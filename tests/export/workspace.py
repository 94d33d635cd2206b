"""A Unify setup built by hand through the Public API, the way the Segment app builds it (no program involved).

Differences from what the program writes are deliberate where the app is known to differ: the Salesforce source
stores no ``salesforce-environment`` (the app shows the catalog default), trait queries are spaced the way people
type them, and a few traits are outside the typed builder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from segment_emulator import Emulator
from segment_provider.api import ClientSettings, SegmentClient
from segment_provider.api.models import Label, TraitDefinition, TraitOptions
from segment_provider.resources.base import ENVIRONMENT_LABEL
from tests.conftest import SESSION_PACING_ENV

SPACE = "unified-profiles-dev"
PROFILES = "actions-segment-profiles"
# Sentinels: none of these may appear in anything the export writes.
WAREHOUSE_PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nSENTINEL-WAREHOUSE-KEY-6c1f\n-----END PRIVATE KEY-----"
RETL_PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nSENTINEL-RETL-KEY-90ab\n-----END PRIVATE KEY-----"
SEND_IDENTIFY_TRIGGER = 'event = "new" or event = "updated"'
# Fields the app fills in on every Send Identify mapping it builds, which the program does not map.
APP_MAPPING_SETTINGS = {
    "consent": {"@path": "$.context.consent"},
    "message_id": {"@path": "$.messageId"},
}
RAW_QUERY = (
    "event('Flex - Engagement Initiated').where(property('channelType') = trait('preferred_channel')).count()"
)


@dataclass(frozen=True)
class HandTrait:
    name: str
    query: str
    description: str | None = None
    enabled: bool = True
    options: TraitOptions | None = None


APP_TRAITS = (
    # Builder-expressible, spaced the way the app's editor leaves it.
    HandTrait(
        "Total inbounds",
        "event( 'Flex - Engagement Initiated' ).where( property('direction') = 'Inbound' ).count()",
        "Inbound Flex interactions",
    ),
    HandTrait(
        "Inbound calls last 30 days",
        "event('Flex - Engagement Initiated').where(property('direction') = 'Inbound' AND "
        "property('channelType') = 'voice').within(30 days).count()",
        options=TraitOptions(include_historical_data=True, backfill_duration_days=90),
    ),
    HandTrait(
        "Last known service agent",
        "event('Flex - Engagement Initiated').last(property('lastKnownAgentWorkerSid'))",
    ),
    HandTrait(
        "Sentiment in last interaction",
        "event('Flex - Engagement Completed').last(property('sentiment'))",
        "Customer sentiment in the last interaction",
        enabled=False,
    ),
    # Outside the builder's grammar: compared with another trait.
    HandTrait("Preferred channel contacts", RAW_QUERY, "Contacts on the customer's preferred channel"),
)


@dataclass
class HandBuilt:
    salesforce_ids: list[str]
    warehouse_id: str
    retl_source_id: str
    model_id: str
    destination_id: str
    mapping_id: str
    trait_ids: dict[str, str] = field(default_factory=dict)
    engage_key: str = ""


def client_for(emulator: Emulator) -> SegmentClient:
    return SegmentClient(
        ClientSettings.resolve(token=emulator.token, endpoint=emulator.url, env=SESSION_PACING_ENV)
    )


def snowflake_settings(database: str, username: str, private_key: str) -> dict[str, Any]:
    return {
        "account": "acme-flex",
        "database": database,
        "warehouse": "SEGMENT_WH",
        "username": username,
        "role": "SEGMENT_ROLE",
        "private_key": private_key,
    }


def label_as(client: SegmentClient, source_id: str, environment: str | None) -> None:
    if environment is not None:
        client.add_labels_to_source(source_id, [Label(key=ENVIRONMENT_LABEL, value=environment)])


def build_by_hand(
    emulator: Emulator,
    *,
    salesforce_slugs: tuple[str, ...] = ("salesforce_crm",),
    traits: tuple[HandTrait, ...] = APP_TRAITS,
    engage_key: str | None = None,
    disabled: frozenset[str] = frozenset(),
    environment: str | None = "dev",
) -> HandBuilt:
    """Create the whole setup as a person would in the app; returns the ids Segment gave each object.

    ``disabled`` names the objects switched off in the app: ``salesforce``, ``warehouse``, ``retl``, ``model``,
    ``destination``, ``mapping``. Each source carries the workspace's default label ``environment:<environment>``,
    as Segment's convention has it; ``environment=None`` leaves them unlabelled.
    """
    client = client_for(emulator)
    catalog = client.catalog
    salesforce_ids = []
    for slug in salesforce_slugs:
        source = client.create_source(
            slug=slug,
            metadata_id=catalog.source_by_slug("salesforce").id,
            enabled="salesforce" not in disabled,
            name="Salesforce CRM",
        )
        # Completing the OAuth in the app stores the instance URL.
        client.update_source(source.id, settings={"instance-url": "https://acme.my.salesforce.com"})
        salesforce_ids.append(source.id)
        label_as(client, source.id, environment)
    warehouse = client.create_warehouse(
        metadata_id=catalog.warehouse_by_slug("snowflake").id,
        name="Acme Snowflake",
        settings=snowflake_settings("SEGMENT_EVENTS", "SEGMENT_USER", WAREHOUSE_PRIVATE_KEY),
        enabled="warehouse" not in disabled,
        disconnect_all_sources=True,
    )
    client.connect_source_to_warehouse(warehouse.id, salesforce_ids[0])
    retl = client.create_source(
        slug="snowflake_reverse_etl",
        metadata_id=catalog.source_by_slug("snowflake").id,
        enabled="retl" not in disabled,
        name="Snowflake Reverse ETL",
        settings=snowflake_settings("SEGMENT_REVERSE_ETL", "SEGMENT_RETL_USER", RETL_PRIVATE_KEY),
    )
    label_as(client, retl.id, environment)
    model = client.create_reverse_etl_model(
        source_id=retl.id,
        name="Salesforce accounts",
        description="Accounts for Flex",
        enabled="model" not in disabled,
        query="SELECT ID, NAME, PHONE, BILLING_COUNTRY FROM salesforce.accounts",
        query_identifier_column="ID",
    )
    destination = client.create_destination(
        source_id=retl.id,
        metadata_id=catalog.destination_by_slug(PROFILES).id,
        settings={},
        name="Segment Profiles",
        enabled=False,
    )
    key = engage_key or emulator.personas_source(SPACE)["writeKeys"][0]
    mapping = client.create_subscription(
        destination.id,
        name="Send Identify",
        action_id=catalog.action_id(PROFILES, "sendIdentify"),
        trigger=SEND_IDENTIFY_TRIGGER,
        enabled="mapping" not in disabled,
        settings={
            **APP_MAPPING_SETTINGS,
            "engage_space": key,
            "user_id": {"@path": "$.properties.ID"},
            "traits": {
                "name": {"@path": "$.properties.NAME"},
                "phone": {"@path": "$.properties.PHONE"},
                "billing_country": {"@path": "$.properties.BILLING_COUNTRY"},
            },
        },
        model_id=model.id,
    )
    client.update_subscription(
        destination.id, mapping.id, schedule={"strategy": "PERIODIC", "config": {"interval": "15m"}}
    )
    client.update_destination(destination.id, enabled="destination" not in disabled)
    space_id = emulator.space(SPACE)["id"]
    trait_ids = {}
    for trait in traits:
        created = client.create_computed_trait(
            space_id,
            name=trait.name,
            definition=TraitDefinition(type="USERS", query=trait.query),
            enabled=trait.enabled,
            description=trait.description,
            options=trait.options,
        )
        trait_ids[trait.name] = created.id
    return HandBuilt(
        salesforce_ids=salesforce_ids,
        warehouse_id=warehouse.id,
        retl_source_id=retl.id,
        model_id=model.id,
        destination_id=destination.id,
        mapping_id=mapping.id,
        trait_ids=trait_ids,
        engage_key=key,
    )
