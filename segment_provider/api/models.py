"""Wire models of the Segment objects this package manages (Public API 73.2.0 schemas).

Attributes are snake_case; on the wire they are camelCase. Models accept either spelling, ignore fields they
do not know (Segment adds fields over time), and ``to_api()`` gives the camelCase dict without unset fields.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Literal, Self

import pydantic
from pydantic.alias_generators import to_camel

from segment_provider.api import secrets as secret_values

ScheduleStrategy = Literal["CRON", "DBT_CLOUD", "MANUAL", "PERIODIC", "SPECIFIC_DAYS"]
TraitType = Literal["USERS", "ACCOUNTS"]


class WireModel(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="ignore",
        frozen=True,
        # Each model's validator is built the first time it reads an answer: a process builds only the kinds it
        # touches (the provider process of one preview reads a handful), not all of them at import.
        defer_build=True,
    )

    masked_in_repr: ClassVar[frozenset[str]] = frozenset()
    """Fields that may hold secrets (write keys, passwords, private keys): reprs show their keys only."""

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield (name, _masked(value)) if name in self.masked_in_repr else (name, value)

    @classmethod
    def from_api(cls, data: Any) -> Self:
        return cls.model_validate(data)

    def to_api(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _masked(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: "***" for key in value}
    if isinstance(value, list):
        return ["***"] * len(value)
    return value if value is None else "***"


# ------------------------------------------------------------------------------------------ workspace, space


class Workspace(WireModel):
    id: str
    slug: str
    name: str


class Space(WireModel):
    id: str
    slug: str
    name: str


# --------------------------------------------------------------------------------------------------- catalog


class IntegrationOption(WireModel):
    """One setting a catalog item accepts (``IntegrationOptionBeta``)."""

    name: str
    type: str
    required: bool
    description: str | None = None
    default_value: Any = None
    label: str | None = None


class MetadataRef(WireModel):
    """The catalog item an instance was made from (the ``metadata`` of a source, warehouse or destination)."""

    id: str
    slug: str
    name: str


class SourceMetadata(WireModel):
    id: str
    name: str
    slug: str
    description: str
    options: list[IntegrationOption]
    categories: list[str]
    is_cloud_event_source: bool
    status: str
    partner_owned: bool | None = None


class WarehouseMetadata(WireModel):
    id: str
    name: str
    slug: str
    description: str
    options: list[IntegrationOption]


class ActionField(WireModel):
    id: str
    sort_order: float
    field_key: str
    label: str
    type: str
    description: str
    placeholder: str | None = None
    default_value: Any = None
    required: bool
    multiple: bool
    choices: Any = None
    dynamic: bool
    allow_null: bool
    hidden: bool | None = None


class DestinationAction(WireModel):
    id: str
    slug: str
    name: str
    description: str
    platform: str
    hidden: bool
    default_trigger: str | None
    fields: list[ActionField]


class DestinationPreset(WireModel):
    action_id: str
    name: str
    fields: dict[str, Any]
    trigger: str


class DestinationMetadata(WireModel):
    id: str
    name: str
    description: str
    slug: str
    options: list[IntegrationOption]
    status: str
    previous_names: list[str]
    categories: list[str]
    website: str
    actions: list[DestinationAction]
    presets: list[DestinationPreset]
    supported_regions: list[str] | None = None

    def action(self, slug: str) -> DestinationAction | None:
        return next((a for a in self.actions if a.slug == slug), None)


# -------------------------------------------------------------------------------- sources, warehouses, dests


class Label(WireModel):
    key: str
    value: str
    description: str | None = None


class Source(WireModel):
    id: str
    slug: str
    name: str | None = None
    metadata: MetadataRef
    workspace_id: str
    enabled: bool
    write_keys: list[str]
    settings: dict[str, Any] | None = None
    labels: list[Label]

    # A write key lets anyone send data into the workspace.
    masked_in_repr = frozenset({"write_keys", "settings"})

    @pydantic.field_validator("write_keys")
    @classmethod
    def _write_keys_are_secrets(cls, keys: list[str]) -> list[str]:
        secret_values.register(*keys)
        return keys


WAREHOUSE_NAME_SETTING = "name"
"""❓ The settings key Segment keeps a warehouse's name in: ``WarehouseV1`` has no ``name``, and whether Segment
echoes the ``name`` given at creation (and where) is not documented. The program writes the name here on every
create and update, and an answer without it is not drift (the warehouse is then matched by its connection)."""


class Warehouse(WireModel):
    """A warehouse destination (``WarehouseV1``).

    Segment's schema has no top-level ``name``: the name is read from ``settings`` (``WAREHOUSE_NAME_SETTING``),
    or from a top-level ``name`` when the answer carries one. It is None when Segment echoes neither.
    """

    id: str
    metadata: MetadataRef
    workspace_id: str
    enabled: bool
    settings: dict[str, Any]
    name: str | None = None

    masked_in_repr = frozenset({"settings"})

    @pydantic.model_validator(mode="after")
    def _name_from_settings(self) -> Self:
        named = self.settings.get(WAREHOUSE_NAME_SETTING)
        if self.name is None and isinstance(named, str) and named:
            object.__setattr__(self, "name", named)
        return self


class Destination(WireModel):
    id: str
    name: str | None = None
    enabled: bool
    metadata: MetadataRef
    source_id: str
    settings: dict[str, Any]

    masked_in_repr = frozenset({"settings"})


class WarehouseValidation(WireModel):
    status: str

    @property
    def connected(self) -> bool:
        return self.status == "CONNECTED"


# ----------------------------------------------------------------------------------------------- reverse ETL


class ReverseEtlSchedule(WireModel):
    """``ReverseEtlScheduleDefinition``; the ``config`` shape depends on ``strategy``."""

    strategy: ScheduleStrategy
    config: dict[str, Any] | None = None

    @pydantic.field_validator("strategy", mode="before")
    @classmethod
    def _upper_case(cls, value: Any) -> Any:
        # Segment's web reference writes strategies in lower case; the API's enum is upper case.
        return value.upper() if isinstance(value, str) else value


class DestinationSubscription(WireModel):
    id: str
    name: str
    action_id: str
    action_slug: str
    destination_id: str
    enabled: bool
    settings: dict[str, Any]
    trigger: str
    model_id: str | None = None
    reverse_etl_schedule: ReverseEtlSchedule | None = pydantic.Field(default=None, alias="reverseETLSchedule")

    # Send Identify's ``engage_space`` setting is the space's write key.
    masked_in_repr = frozenset({"settings"})


class ReverseEtlModel(WireModel):
    id: str
    source_id: str
    name: str
    description: str
    enabled: bool
    query: str
    query_identifier_column: str


class ManualSync(WireModel):
    sync_id: str
    started_at: str


class SyncExtractPhase(WireModel):
    added_count: str
    updated_count: str
    deleted_count: str
    extract_count: str
    error_code: str
    started_at: str
    finished_at: str


class SyncLoadPhase(WireModel):
    deliver_success_count: str
    deliver_failure_count: str
    error_code: str
    started_at: str
    finished_at: str


class SyncStatus(WireModel):
    sync_id: str
    model_id: str
    source_id: str
    sync_status: str
    duration: str
    started_at: str
    finished_at: str | None = None
    extract_phase: SyncExtractPhase | None = None
    load_phase: SyncLoadPhase | None = None
    error: str | None = None
    error_code: str | None = None


# ------------------------------------------------------------------------------------------- computed traits


class TraitDefinition(WireModel):
    type: TraitType
    query: str


class TraitOptions(WireModel):
    include_historical_data: bool | None = None
    include_anonymous_users: bool | None = None
    backfill_duration_days: float | None = None


class ComputedTrait(WireModel):
    """``ComputedTraitSummary``."""

    id: str
    space_id: str
    name: str
    description: str | None = None
    key: str
    enabled: bool
    definition: TraitDefinition | None
    status: str | None = None
    created_by: str
    updated_by: str
    created_at: str
    updated_at: str
    options: TraitOptions | None = None
