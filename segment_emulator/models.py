"""The request bodies the emulator accepts, one pydantic model per operation input (Public API 73.2.0).

Models are strict (no "true" for true, no 1 for "1") and refuse every field the contract does not declare for
the operation (``"scheduleStrategy" is not allowed``, as Segment's validation words it): a field the emulator
dropped would let a misspelt program field pass every test while doing nothing. Only ``settings`` objects are
open (the contract gives them ``additionalProperties: true``). Fields Segment is documented not to take in one
body but takes in another get a reason (``refused_fields``: a schedule in a mapping's create, ``modelId`` in its
update, ``options`` in a trait's update, ``name`` in the stable createSource). Models add the rules Segment documents in prose: Reverse ETL schedule configs per strategy
(no unknown keys, no duplicates, IANA time zones, cron at most every 15 minutes, PERIODIC over 10m and under
168h), and query limits. ``parse_body`` turns the first failure into Segment's 422 answer:
``{"type": "input-validation", "message": "\\"name\\" is required", "field": "name"}``.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal, Self, TypeVar

import pydantic
from croniter import croniter
from pydantic.alias_generators import to_camel

from segment_emulator.errors import ApiProblem

Settings = dict[str, Any]
ScheduleStrategy = Literal["CRON", "DBT_CLOUD", "MANUAL", "PERIODIC", "SPECIFIC_DAYS"]
TraitType = Literal["ACCOUNTS", "USERS"]
Location = tuple[str | int, ...]
ModelT = TypeVar("ModelT", bound="RequestModel")

MAX_QUERY_LENGTH = 65535
MAX_IDENTIFIER_COLUMN_LENGTH = 191
MIN_PERIODIC_INTERVAL = 10 * 60
"""PERIODIC intervals must be longer than this (Segment's reference: "more than 10m and less than 168h")."""
MAX_PERIODIC_INTERVAL = 168 * 3600
MIN_CRON_GAP = timedelta(minutes=15)
"""A cron schedule may fire at most this often."""


class InputProblem(ValueError):
    """A documented rule failed at ``path`` (relative to the model or field that checked it)."""

    def __init__(self, path: Location, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


class RequestModel(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(
        strict=True,
        extra="forbid",
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
        protected_namespaces=(),
    )

    refused_fields: ClassVar[Mapping[str, str]] = {}
    """Wire names Segment does not take in this body, with the reason (any other undeclared name is refused as
    "is not allowed")."""

    @pydantic.model_validator(mode="before")
    @classmethod
    def _refuse_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, reason in cls.refused_fields.items():
                if name in data:
                    raise InputProblem((name,), reason)
        return data

    def provided(self) -> dict[str, Any]:
        """The fields the request really carried (by attribute name), as plain JSON values."""
        dumped = self.model_dump(mode="json")
        return {name: dumped[name] for name in self.model_fields_set}


def _not_blank(value: str) -> str:
    if not value.strip():
        raise InputProblem((), "is not allowed to be empty")
    return value


Query = Annotated[
    str, pydantic.Field(min_length=1, max_length=MAX_QUERY_LENGTH), pydantic.AfterValidator(_not_blank)
]
NonBlank = Annotated[str, pydantic.Field(min_length=1), pydantic.AfterValidator(_not_blank)]
IdentifierColumn = Annotated[
    str,
    pydantic.Field(min_length=1, max_length=MAX_IDENTIFIER_COLUMN_LENGTH),
    pydantic.AfterValidator(_not_blank),
]

# ---------------------------------------------------------------------------------------------- sources


class CreateSourceV1(RequestModel):
    refused_fields = {"name": "is not allowed: only the alpha createSource takes a name"}

    slug: str
    enabled: bool
    metadata_id: str
    settings: Settings | None = None
    disconnect_all_warehouses: bool | None = None


class CreateSourceAlpha(RequestModel):
    """The alpha create takes a ``name`` and has no ``disconnectAllWarehouses``."""

    slug: str
    enabled: bool
    name: str | None = None
    metadata_id: str
    settings: Settings | None = None


class UpdateSource(RequestModel):
    name: str | None = None
    enabled: bool | None = None
    slug: str | None = None
    settings: Settings | None = None


# ------------------------------------------------------------------------------------------------ labels

# Segment: "Labels must use the key:value format. Both the key and value must begin with a letter, and they can
# only contain letters, numbers, hyphens, or dashes" (segment-app/iam/labels).
LABEL_PART = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


def _label_part(value: str) -> str:
    if not LABEL_PART.match(value):
        raise InputProblem(
            (), "must begin with a letter and hold only letters, numbers, hyphens or underscores"
        )
    return value


LabelPart = Annotated[str, pydantic.Field(min_length=1, max_length=100), pydantic.AfterValidator(_label_part)]


class LabelInput(RequestModel):
    key: LabelPart
    value: LabelPart
    description: str | None = None


class CreateLabel(RequestModel):
    label: LabelInput


class SourceLabels(RequestModel):
    """The body of addLabelsToSource and replaceLabelsInSource."""

    labels: list[LabelInput]


# ------------------------------------------------------------------------------------------- warehouses


class CreateWarehouse(RequestModel):
    metadata_id: str
    name: str | None = None
    enabled: bool | None = None
    settings: Settings
    disconnect_all_sources: bool | None = None


class UpdateWarehouse(RequestModel):
    """Segment requires ``settings`` on every warehouse update."""

    name: str | None = None
    enabled: bool | None = None
    settings: Settings


class ValidateWarehouse(RequestModel):
    metadata_id: str
    settings: Settings


# ----------------------------------------------------------------------------------------- destinations


class CreateDestination(RequestModel):
    source_id: str
    metadata_id: str
    enabled: bool | None = None
    name: str | None = None
    settings: Settings


class UpdateDestination(RequestModel):
    name: str | None = None
    enabled: bool | None = None
    settings: Settings | None = None


# ------------------------------------------------------------------------------ Reverse ETL schedules


class ScheduleConfig(RequestModel):
    """A schedule's config takes only its strategy's keys."""


def _time_zone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InputProblem((), "must be an IANA time zone such as America/New_York") from None
    return value


TimeZone = Annotated[str, pydantic.Field(min_length=1), pydantic.AfterValidator(_time_zone)]


def _distinct(values: list[int]) -> list[int]:
    if len(set(values)) != len(values):
        raise InputProblem((), "must not contain duplicate values")
    return values


class PeriodicConfig(ScheduleConfig):
    interval: str

    @pydantic.model_validator(mode="after")
    def _interval_in_range(self) -> Self:
        seconds = go_duration_seconds(self.interval)
        if seconds is None:
            raise InputProblem(("interval",), "must be a Go duration such as 15m, 1h or 1h30m")
        if not MIN_PERIODIC_INTERVAL < seconds < MAX_PERIODIC_INTERVAL:
            raise InputProblem(("interval",), "must be more than 10m and less than 168h")
        return self


class SpecificDaysConfig(ScheduleConfig):
    days: Annotated[
        list[Annotated[int, pydantic.Field(ge=0, le=6)]],
        pydantic.Field(min_length=1, max_length=7),
        pydantic.AfterValidator(_distinct),
    ]
    hours: Annotated[
        list[Annotated[int, pydantic.Field(ge=0, le=23)]],
        pydantic.Field(min_length=1, max_length=24),
        pydantic.AfterValidator(_distinct),
    ]
    timezone: TimeZone


class CronConfig(ScheduleConfig):
    spec: str
    timezone: TimeZone

    @pydantic.model_validator(mode="after")
    def _at_most_every_15_minutes(self) -> Self:
        if len(self.spec.split()) != 5 or not croniter.is_valid(self.spec):
            raise InputProblem(("spec",), "must be a cron expression with 5 fields")
        if cron_shortest_gap(self.spec) < MIN_CRON_GAP:
            raise InputProblem(("spec",), "must not run more often than every 15 minutes")
        return self


class DbtCloudConfig(ScheduleConfig):
    job_id: NonBlank
    account_id: NonBlank


SCHEDULE_CONFIGS: dict[str, type[RequestModel]] = {
    "PERIODIC": PeriodicConfig,
    "SPECIFIC_DAYS": SpecificDaysConfig,
    "CRON": CronConfig,
    "DBT_CLOUD": DbtCloudConfig,
}


class ScheduleInput(RequestModel):
    strategy: ScheduleStrategy
    config: Settings | None = None

    @pydantic.field_validator("strategy", mode="before")
    @classmethod
    def _upper_case(cls, value: Any) -> Any:
        # Segment's reference pages write the strategies in lower case, its SDK in upper case.
        return value.upper() if isinstance(value, str) else value

    @pydantic.model_validator(mode="after")
    def _config_fits_strategy(self) -> Self:
        config_model = SCHEDULE_CONFIGS.get(self.strategy)
        if config_model is None:
            # MANUAL: the contract's config shapes all belong to the other strategies.
            if self.config is not None:
                raise InputProblem(("config",), "must be null for strategy MANUAL")
            return self
        if self.config is None:
            raise InputProblem(("config",), f"is required for strategy {self.strategy}")
        try:
            config_model.model_validate(self.config)
        except pydantic.ValidationError as error:
            location, reason = describe(error.errors(include_url=False)[0])
            raise InputProblem(("config", *location), reason) from None
        return self

    def to_record(self) -> dict[str, Any]:
        """The schedule as Segment returns it: upper-case strategy; MANUAL has a null config."""
        return {"strategy": self.strategy, "config": self.config if self.strategy != "MANUAL" else None}


# -------------------------------------------------------------------------------------- subscriptions


class CreateSubscription(RequestModel):
    """The create body has no schedule: Segment sets it with an update."""

    refused_fields = {
        "reverseETLSchedule": "is not allowed: a mapping's schedule is set with an update",
        "reverseETLModelId": "is not allowed: the model id is modelId when a mapping is created",
    }

    name: str
    action_id: str
    trigger: str
    enabled: bool
    settings: Settings | None = None
    model_id: str | None = None


class SubscriptionChanges(RequestModel):
    refused_fields = {"modelId": "is not allowed: the model id is reverseETLModelId in an update"}

    name: str | None = None
    trigger: str | None = None
    enabled: bool | None = None
    settings: Settings | None = None
    # Named modelId on create but reverseETLModelId here.
    reverse_etl_model_id: str | None = pydantic.Field(default=None, alias="reverseETLModelId")
    reverse_etl_schedule: ScheduleInput | None = pydantic.Field(default=None, alias="reverseETLSchedule")


class UpdateSubscription(RequestModel):
    """The update body is wrapped: ``{"input": {...}}``."""

    input: SubscriptionChanges


# ------------------------------------------------------------------------------------------ Reverse ETL


class CreateReverseEtlModel(RequestModel):
    source_id: str
    name: str
    description: str
    enabled: bool
    query: Query
    query_identifier_column: IdentifierColumn


class UpdateReverseEtlModel(RequestModel):
    name: str | None = None
    description: str | None = None
    enabled: bool | None = None
    query: Query | None = None
    query_identifier_column: IdentifierColumn | None = None


class CreateManualSync(RequestModel):
    source_id: str
    model_id: str
    subscription_id: str


# -------------------------------------------------------------------------------------- computed traits


class TraitDefinitionInput(RequestModel):
    type: TraitType
    query: str


class TraitOptionsInput(RequestModel):
    include_historical_data: bool | None = None
    include_anonymous_users: bool | None = None
    backfill_duration_days: float | None = None


class CreateComputedTrait(RequestModel):
    name: str
    enabled: bool | None = None
    description: str | None = None
    definition: TraitDefinitionInput
    options: TraitOptionsInput | None = None


class UpdateComputedTrait(RequestModel):
    """Segment accepts ``options`` only at creation."""

    refused_fields = {"options": "is not allowed: a trait's options can only be set when it is created"}

    enabled: bool | None = None
    name: str | None = None
    description: str | None = None
    definition: TraitDefinitionInput | None = None


# ------------------------------------------------------------------------------------- error translation


def parse_body(model: type[ModelT], body: Any) -> ModelT:
    """``body`` validated as ``model``, or ApiProblem 422 naming the first offending field."""
    try:
        return model.model_validate(body)
    except pydantic.ValidationError as error:
        location, reason = describe(error.errors(include_url=False)[0])
        field = field_path(location)
        raise ApiProblem(422, f'"{field or "value"}" {reason}', field=field or None) from None


def field_path(location: Location) -> str:
    """``("input", "reverseETLSchedule", "config", "days", 0)`` → ``input.reverseETLSchedule.config.days[0]``."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def describe(error: Any) -> tuple[Location, str]:
    """The location and Joi-style reason ("is required", "must be a string", …) of one pydantic error."""
    location: Location = tuple(error["loc"])
    kind = str(error["type"])
    context = error.get("ctx") or {}
    problem = context.get("error")
    if isinstance(problem, InputProblem):
        return location + problem.path, problem.reason
    if kind == "literal_error":
        allowed = ", ".join(re.findall(r"'([^']*)'", str(context.get("expected", ""))))
        return location, f"must be one of [{allowed}]"
    template = _REASONS.get(kind)
    if template is None:
        return location, f"is invalid ({error['msg']})"
    return location, template.format(**context)


_REASONS = {
    "missing": "is required",
    "extra_forbidden": "is not allowed",
    "string_type": "must be a string",
    "bool_type": "must be a boolean",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "dict_type": "must be of type object",
    "model_type": "must be of type object",
    "model_attributes_type": "must be of type object",
    "list_type": "must be an array",
    "string_too_short": "is not allowed to be empty",
    "string_too_long": "length must be less than or equal to {max_length} characters long",
    "greater_than_equal": "must be greater than or equal to {ge}",
    "less_than_equal": "must be less than or equal to {le}",
    "too_short": "must contain at least {min_length} items",
    "too_long": "must contain less than or equal to {max_length} items",
}

# ---------------------------------------------------------------------------------------- Go durations

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_duration_seconds(text: str) -> float | None:
    """Seconds in a Go duration string (``1h30m``, ``15m``, ``1.5h``, ``0``), or None when it is not one."""
    if text == "0":
        return 0.0
    position, total = 0, 0.0
    while position < len(text):
        match = _DURATION_PART.match(text, position)
        if match is None:
            return None
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    return total if position > 0 else None


def cron_shortest_gap(spec: str) -> timedelta:
    """The shortest time between two runs of a 5-field cron ``spec`` over a week of runs (UTC)."""
    runs = croniter(spec, datetime(2026, 1, 4, tzinfo=UTC))
    previous: datetime = runs.get_next(datetime)
    shortest = timedelta.max
    end = previous + timedelta(days=8)
    while previous <= end:
        following: datetime = runs.get_next(datetime)
        shortest = min(shortest, following - previous)
        if shortest < MIN_CRON_GAP:
            break
        previous = following
    return shortest
