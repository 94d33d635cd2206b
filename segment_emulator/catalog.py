"""The fixture catalog: the real ids and slugs this product needs, plus generated filler destinations.

Real ids and slugs come from Segment's published catalog data (sources, Reverse ETL sources, warehouses, the
Segment Profiles destination and its actions). Descriptions, option lists, action field ids and logos are
the emulator's own: plausible, valid against the contract, but not Segment's exact text.
About 500 generated "Fixture Destination NNN" entries sort before "Segment Profiles", so finding
``actions-segment-profiles`` by slug takes more than one page of 200, as it does against the real catalog.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from segment_emulator.store import IdFactory, Record

SEGMENT_PROFILES_ID = "639c2dbb1309fdcad13951b6"
FIXTURE_DESTINATIONS = 500


def _logos(slug: str) -> Record:
    return {"default": f"https://emulator.invalid/logos/{slug}.svg", "mark": None, "alt": None}


def _option(
    name: str,
    option_type: str = "string",
    *,
    required: bool = False,
    label: str | None = None,
    default: Any = None,
) -> Record:
    return {
        "name": name,
        "type": option_type,
        "required": required,
        "description": f"{label or name} ({'required' if required else 'optional'}).",
        "defaultValue": default,
        "label": label or name.replace("_", " ").title(),
    }


def _secret(name: str, label: str, *, required: bool = True) -> Record:
    # Secret settings are "password" options; their values come back masked.
    return _option(name, "password", required=required, label=label)


# -------------------------------------------------------------------------------------- connection options

SNOWFLAKE_OPTIONS = (
    _option("account", required=True, label="Account ID"),
    _option("database", required=True, label="Database"),
    _option("warehouse", required=True, label="Warehouse"),
    _option("username", required=True, label="Username"),
    _option("role", label="Role"),
    _option("auth_type", label="Authentication type"),
    _secret("private_key", "Private key (PKCS#8 PEM)"),
    _secret("private_key_passphrase", "Private key passphrase", required=False),
)
BIGQUERY_OPTIONS = (
    _option("project", required=True, label="Project ID"),
    _option("location", label="Location", default="US"),
    _secret("credentials", "Service account key (JSON)"),
)
POSTGRES_OPTIONS = (
    _option("hostname", required=True, label="Host"),
    _option("port", "number", required=True, label="Port", default=5432),
    _option("database", required=True, label="Database"),
    _option("username", required=True, label="Username"),
    _secret("password", "Password"),
)
REDSHIFT_OPTIONS = (
    _option("hostname", required=True, label="Host"),
    _option("port", "number", required=True, label="Port", default=5439),
    _option("database", required=True, label="Database"),
    _option("username", required=True, label="Username"),
    _secret("password", "Password"),
)
DATABRICKS_OPTIONS = (
    _option("host", required=True, label="Server hostname"),
    _option("http_path", required=True, label="HTTP path"),
    _option("catalog", label="Catalog"),
    _secret("token", "Access token"),
)

# ------------------------------------------------------------------------------------------------ sources


def _source(
    metadata_id: str,
    slug: str,
    name: str,
    categories: Iterable[str],
    options: Iterable[Record] = (),
    *,
    cloud_event: bool = False,
) -> Record:
    return {
        "id": metadata_id,
        "name": name,
        "slug": slug,
        "description": f"{name} source (emulator fixture).",
        "logos": _logos(slug),
        "options": list(options),
        "categories": list(categories),
        "isCloudEventSource": cloud_event,
        "status": "PUBLIC",
        "partnerOwned": False,
    }


SOURCES: tuple[Record, ...] = (
    _source(
        "2baks93n",
        "salesforce",
        "Salesforce",
        ["CRM"],
        [_option("salesforce-environment", label="Environment", default="production")],
    ),
    # Reverse ETL sources are source-catalog items in the Warehouse category.
    _source("BQp3zGUgjV", "snowflake", "Snowflake", ["Warehouse"], SNOWFLAKE_OPTIONS),
    _source("78PbvP2yv8", "bigquery", "BigQuery", ["Warehouse"], BIGQUERY_OPTIONS),
    _source("WvlvcGEJsT", "postgres", "Postgres", ["Warehouse"], POSTGRES_OPTIONS),
    _source("0yMe8VfuDc", "redshift", "Redshift", ["Warehouse"], REDSHIFT_OPTIONS),
    _source("aSPS4yE0CZ", "databricks", "Databricks", ["Warehouse"], DATABRICKS_OPTIONS),
    # The internal source behind each Unify space.
    _source("dBg7wLNWBb", "personas-compute", "Personas Compute", ["Personas"]),
)

# --------------------------------------------------------------------------------------------- warehouses


def _warehouse(metadata_id: str, slug: str, name: str, options: Iterable[Record]) -> Record:
    return {
        "id": metadata_id,
        "name": name,
        "slug": slug,
        "description": f"{name} warehouse destination (emulator fixture).",
        "logos": _logos(slug),
        "options": list(options),
    }


WAREHOUSES: tuple[Record, ...] = (
    _warehouse("CCIl4HLQPz", "snowflake", "Snowflake", SNOWFLAKE_OPTIONS),
    _warehouse("kwX50Df0hr", "bigquery", "BigQuery", BIGQUERY_OPTIONS),
    _warehouse("55d3d3aea3c", "postgres", "Postgres", POSTGRES_OPTIONS),
    _warehouse("aea3c55dsz", "redshift", "Redshift", REDSHIFT_OPTIONS),
)

# ------------------------------------------------------------------------------------------- destinations


class _ActionFields:
    """Builds action fields with stable generated ids and increasing sort order."""

    def __init__(self, ids: IdFactory) -> None:
        self._ids = ids
        self._order = 0

    def field(
        self,
        key: str,
        label: str,
        field_type: str,
        *,
        required: bool = False,
        dynamic: bool = False,
        hidden: bool = False,
        default: Any = None,
    ) -> Record:
        self._order += 1
        return {
            "id": self._ids.next(),
            "sortOrder": self._order,
            "fieldKey": key,
            "label": label,
            "type": field_type,
            "description": f"{label}.",
            "placeholder": "",
            "defaultValue": default,
            "required": required,
            "multiple": False,
            "choices": None,
            "dynamic": dynamic,
            "allowNull": False,
            "hidden": hidden,
        }


def _path(json_path: str) -> Record:
    return {"@path": json_path}


def _profile_fields(ids: IdFactory, *, group_required: bool = False, event: bool = False) -> list[Record]:
    fields = _ActionFields(ids)
    built = [
        fields.field("engage_space", "Profile Space", "STRING", required=True, dynamic=True),
        fields.field("user_id", "User ID", "STRING", default=_path("$.userId")),
        fields.field("anonymous_id", "Anonymous ID", "STRING", default=_path("$.anonymousId")),
        fields.field("group_id", "Group ID", "STRING", required=group_required, default=_path("$.groupId")),
    ]
    if event:
        built += [
            fields.field("event_name", "Event Name", "STRING", required=True, default=_path("$.event")),
            fields.field("properties", "Properties", "OBJECT", default=_path("$.properties")),
        ]
    else:
        built.append(fields.field("traits", "Traits", "OBJECT", default=_path("$.traits")))
    built += [
        fields.field("timestamp", "Timestamp", "DATETIME", default=_path("$.timestamp")),
        fields.field("message_id", "Message ID", "STRING", hidden=True, default=_path("$.messageId")),
        fields.field("consent", "Consent", "OBJECT", hidden=True, default=_path("$.context.consent")),
    ]
    return built


def _action(action_id: str, slug: str, name: str, trigger: str | None, fields: list[Record]) -> Record:
    return {
        "id": action_id,
        "slug": slug,
        "name": name,
        "description": f"{name} to a Unify space.",
        "platform": "CLOUD",
        "hidden": False,
        "defaultTrigger": trigger,
        "fields": fields,
    }


def _segment_profiles() -> Record:
    ids = IdFactory("catalog:actions-segment-profiles")
    actions = [
        _action(
            "vm2tNA5U1zxUusQkdC4D7Z",
            "sendIdentify",
            "Send Identify",
            'type = "identify"',
            _profile_fields(ids),
        ),
        _action(
            "zfCkGpUYbWN9ns5jr1jvU",
            "sendGroup",
            "Send Group",
            'type = "group"',
            _profile_fields(ids, group_required=True),
        ),
        _action(
            "bJDm8aeYaQaGLVGtnRa28W",
            "sendSubscription",
            "Send Subscriptions",
            'type = "identify"',
            _profile_fields(ids),
        ),
        _action("ujsJxBdpg7XkYwKSKREnQt", "sendTrack", "Send Track", None, _profile_fields(ids, event=True)),
    ]
    presets = [
        {
            "actionId": "vm2tNA5U1zxUusQkdC4D7Z",
            "name": "Send Identify",
            "fields": {
                "user_id": _path("$.userId"),
                "anonymous_id": _path("$.anonymousId"),
                "traits": _path("$.traits"),
                "timestamp": _path("$.timestamp"),
            },
            "trigger": 'type = "identify"',
        },
        {
            "actionId": "zfCkGpUYbWN9ns5jr1jvU",
            "name": "Send Group",
            "fields": {
                "user_id": _path("$.userId"),
                "anonymous_id": _path("$.anonymousId"),
                "group_id": _path("$.groupId"),
                "traits": _path("$.traits"),
                "timestamp": _path("$.timestamp"),
            },
            "trigger": 'type = "group"',
        },
    ]
    return _destination(
        SEGMENT_PROFILES_ID,
        "actions-segment-profiles",
        "Segment Profiles",
        ["Raw Data"],
        actions=actions,
        presets=presets,
        methods={"identify": True, "group": True, "track": True},
        platforms={"server": True, "warehouse": True},
    )


def _destination(
    metadata_id: str,
    slug: str,
    name: str,
    categories: list[str],
    *,
    actions: list[Record] | None = None,
    presets: list[Record] | None = None,
    methods: Record | None = None,
    platforms: Record | None = None,
) -> Record:
    return {
        "id": metadata_id,
        "name": name,
        "description": f"{name} destination (emulator fixture).",
        "slug": slug,
        "logos": _logos(slug),
        "options": [],
        "status": "PUBLIC",
        "previousNames": [name],
        "categories": categories,
        "website": "https://emulator.invalid",
        "components": [],
        "supportedFeatures": {},
        "supportedMethods": methods or {},
        "supportedPlatforms": platforms or {},
        "actions": actions or [],
        "presets": presets or [],
        "contacts": [],
        "partnerOwned": False,
        "supportedRegions": ["us-west-2", "eu-west-1"],
    }


def _fixture_destination(number: int) -> Record:
    slug = f"fixture-destination-{number:03d}"
    metadata_id = hashlib.sha256(slug.encode()).hexdigest()[:24]
    return _destination(
        metadata_id,
        slug,
        f"Fixture Destination {number:03d}",
        ["Analytics"],
        methods={"track": True, "identify": True},
        platforms={"server": True},
    )


DESTINATIONS: tuple[Record, ...] = tuple(
    sorted(
        [_segment_profiles(), *(_fixture_destination(n) for n in range(1, FIXTURE_DESTINATIONS + 1))],
        key=lambda item: str(item["name"]),
    )
)

_SOURCES_BY_ID = {item["id"]: item for item in SOURCES}
_WAREHOUSES_BY_ID = {item["id"]: item for item in WAREHOUSES}
_DESTINATIONS_BY_ID = {item["id"]: item for item in DESTINATIONS}


def source_metadata(metadata_id: str) -> Record | None:
    return _SOURCES_BY_ID.get(metadata_id)


def warehouse_metadata(metadata_id: str) -> Record | None:
    return _WAREHOUSES_BY_ID.get(metadata_id)


def destination_metadata(metadata_id: str) -> Record | None:
    return _DESTINATIONS_BY_ID.get(metadata_id)


def missing_required_options(metadata: Record, settings: Record) -> list[str]:
    """Names of the options the catalog marks required that ``settings`` leaves out or empty."""
    return [
        option["name"]
        for option in metadata["options"]
        if option["required"] and settings.get(option["name"]) in (None, "", [], {})
    ]
