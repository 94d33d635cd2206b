"""Typed computed-trait definitions, compiled to Segment's query language.

A computed trait is a :class:`TraitSpec` (event, optional ``where`` condition, optional time window, one
aggregation) or, for queries the builder cannot express, a :class:`RawTrait` holding the query verbatim. Both
come from ``definitions.yaml`` (through :func:`parse_trait_config`) or from Python.

Quoting rules (one place each, below): strings are single-quoted with backslash escapes (:func:`quote`);
nested property keys are joined with ``.`` and a dot inside a key is escaped (:func:`property_path_text`);
numbers are bare and booleans are ``true``/``false`` (:func:`literal`).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal, TypeAlias

import pydantic
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    PlainSerializer,
    Tag,
    ValidationInfo,
)
from pydantic.alias_generators import to_camel

from flex_program.guards import MAX_NUMBER, MAX_TEXT_LENGTH, hidden_problem, number_problem
from segment_provider.query_tokens import Token, same_query, tokens

# The Public API's CreateComputedTraitAlphaInput sets no maxLength on `name`; Segment's app refuses very long
# names, so the builder stops at 255 characters (the computed-trait resource uses the same limit).
MAX_NAME_LENGTH = 255
TRAIT_KEY_SHAPE = re.compile(r"[a-z0-9]+(_[a-z0-9]+)*")
"""A computed trait's key as Segment's app makes it from the name: ASCII snake_case."""

Entity: TypeAlias = Literal["USERS", "ACCOUNTS"]
Scalar: TypeAlias = bool | int | float | str

COMPARISON_OPERATORS = ("=", "!=", ">", ">=", "<", "<=")
ORDERING_OPERATORS = (">", ">=", "<", "<=")
MULTI_VALUE_OPERATORS = ("contains", "one_of", "none_of")
SINGLE_VALUE_OPERATORS = ("omits", "starts_with", "ends_with")
PRESENCE_OPERATORS = ("exists", "absent")
OPERATORS = COMPARISON_OPERATORS + MULTI_VALUE_OPERATORS + SINGLE_VALUE_OPERATORS + PRESENCE_OPERATORS
# Segment's function names for the comparison symbols; accepted in config and stored as the symbol.
OPERATOR_ALIASES = {
    "==": "=",
    "equals": "=",
    "differs": "!=",
    "greater_than": ">",
    "at_least": ">=",
    "less_than": "<",
    "at_most": "<=",
}
Operator: TypeAlias = Literal[
    "=", "!=", ">", ">=", "<", "<=",
    "contains", "one_of", "none_of", "omits", "starts_with", "ends_with", "exists", "absent",
]  # fmt: skip

AGGREGATION_TYPES = (
    "count", "sum", "avg", "min", "max", "most_frequent", "first", "last", "unique_list", "unique_count",
)  # fmt: skip


class TraitDefinitionError(ValueError):
    """A trait definition that cannot be compiled; each problem names where it is and how to fix it."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{where}: {message}" for where, message in problems))


# ----------------------------------------------------------------------------- quoting

# Segment documents single-quoted strings but no way to write a quote inside one (❓). The chosen rule is SQL's:
# a quote inside a string is doubled, so `customer's tier` is written 'customer''s tier' and every string keeps
# its quotes balanced (a quote escaped with a backslash leaves an odd number of them, which a checker that knows
# no escapes reads as an unclosed string). A backslash is still the escape of the dot in a property path (below),
# so a backslash in the text is written \\. Both rules live in `quote` and `unquote` only.
ESCAPE = "\\"
QUOTE = "'"
QUOTE_IN_STRING = QUOTE * 2
"""❓ How a quote is written inside a quoted string."""
# `.` in a property name means "go into a nested object"; a key that itself contains a dot is written with the
# dot escaped (Segment's schema shows such a key as `ingredients\.salad`). The path is then quoted like any
# string, so the query holds `'ingredients\\.salad'`.
PATH_SEPARATOR = "."


def quote(text: str) -> str:
    """A single-quoted query-language string."""
    escaped = text.replace(ESCAPE, ESCAPE * 2).replace(QUOTE, QUOTE_IN_STRING)
    return f"{QUOTE}{escaped}{QUOTE}"


def unquote(quoted: str) -> str:
    """The text of a string written by :func:`quote` (or of an older query's backslash-escaped quote)."""
    return _unescape(quoted[1:-1].replace(QUOTE_IN_STRING, QUOTE))


def property_path_text(path: tuple[str, ...]) -> str:
    """A property path as Segment writes it: keys joined by ``.``, dots inside a key escaped."""
    return PATH_SEPARATOR.join(_escape_key(key) for key in path)


def _escape_key(key: str) -> str:
    return key.replace(ESCAPE, ESCAPE * 2).replace(PATH_SEPARATOR, ESCAPE + PATH_SEPARATOR)


def split_property_path(text: str) -> tuple[str, ...]:
    """The keys of a property path written by :func:`property_path_text`."""
    keys: list[str] = []
    current: list[str] = []
    chars = iter(text)
    for char in chars:
        if char == ESCAPE:
            current.append(next(chars, ""))
        elif char == PATH_SEPARATOR:
            keys.append("".join(current))
            current = []
        else:
            current.append(char)
    keys.append("".join(current))
    return tuple(keys)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL)


def literal(value: Scalar) -> str:
    """A value as the query language writes it: strings quoted, numbers bare, booleans ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TraitDefinitionError([("value", "NaN and infinity cannot be written in a Segment query")])
        return repr(value)
    return quote(value)


# ----------------------------------------------------------------------------- names


def _check_text(text: str, what: str, fix: str = "") -> str:
    if not text.strip():
        raise ValueError(f"{what} must not be empty{fix}")
    if len(text) > MAX_TEXT_LENGTH:
        raise ValueError(f"{what} is {len(text)} characters long; use at most {MAX_TEXT_LENGTH}")
    if problem := hidden_problem(text, what):
        raise ValueError(problem)
    return text


def _check_trait_name(name: str) -> str:
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"trait name is {len(name)} characters long; use at most {MAX_NAME_LENGTH}")
    _check_text(name, "trait name")
    if (normal := unicodedata.normalize("NFKC", name)) != name:
        raise ValueError(
            f"trait name {name!r} holds look-alike characters (fullwidth letters, ligatures…) that Segment keeps "
            f"in the trait key: write it as {normal!r}"
        )
    key = trait_key(name)
    if not key:
        raise ValueError(
            f"trait name {name!r} has no letter or digit, so Segment's trait key for it would be empty: "
            "name it in words (e.g. 'Total inbounds')"
        )
    if not TRAIT_KEY_SHAPE.fullmatch(key):
        raise ValueError(
            f"trait name {name!r} makes the key {key!r}, not ASCII snake_case as Segment's app makes trait keys "
            "(a letter from another script looks the same but is another key): write the name in ASCII letters "
            "and digits"
        )
    return name


def _check_event_name(name: str) -> str:
    return _check_text(
        name, "event name", ": use the name the space's schema shows, e.g. 'Flex - Engagement Initiated'"
    )


def _check_property_name(name: str) -> str:
    return _check_text(name, "property name")


def _check_direction_value(value: str) -> str:
    return _check_text(value, "direction value", ": use the value the space's schema shows, e.g. 'Inbound'")


def _to_property_path(value: Any) -> Any:
    return (value,) if isinstance(value, str) else value


def _check_property_path(path: tuple[str, ...]) -> tuple[str, ...]:
    if not path:
        raise ValueError("property must name a property: a name, or a list of keys for a nested property")
    for key in path:
        _check_property_name(key)
    return path


def _path_for_config(path: tuple[str, ...]) -> str | list[str]:
    return path[0] if len(path) == 1 else list(path)


TraitName = Annotated[str, AfterValidator(_check_trait_name)]
EventName = Annotated[str, AfterValidator(_check_event_name)]
PropertyName = Annotated[str, AfterValidator(_check_property_name)]
DirectionValue = Annotated[str, AfterValidator(_check_direction_value)]
# A property is either one name, taken literally (a `.` in it is part of the name), or a list of keys that
# leads into nested objects: `[context, page, url]`.
PropertyPath = Annotated[
    tuple[str, ...],
    BeforeValidator(_to_property_path),
    AfterValidator(_check_property_path),
    PlainSerializer(_path_for_config),
]


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(
        extra="forbid",
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        alias_generator=to_camel,
        defer_build=True,
    )


# ----------------------------------------------------------------------------- conditions


class PropertyCondition(_Model):
    """One test of an event property: ``property('p') = 'x'``, ``property('p').one_of('a', 'b')``, …"""

    property: PropertyPath
    operator: Operator
    value: Scalar | tuple[str, ...] | None = Field(default=None, validate_default=True)

    @pydantic.field_validator("operator", mode="before")
    @classmethod
    def _known_operator(cls, operator: Any) -> Any:
        operator = OPERATOR_ALIASES.get(operator, operator) if isinstance(operator, str) else operator
        if operator not in OPERATORS:
            raise ValueError(f"unknown operator {operator!r}: use one of {', '.join(OPERATORS)}")
        return operator

    @pydantic.field_validator("value", mode="plain")
    @classmethod
    def _value_fits_operator(cls, value: Any, info: ValidationInfo) -> Scalar | tuple[str, ...] | None:
        operator = info.data.get("operator")
        if operator is None:
            return None  # the operator itself is wrong and reported on its own
        if operator in PRESENCE_OPERATORS:
            if value is not None:
                raise ValueError(f"'{operator}' takes no value: remove value")
            return None
        if operator in COMPARISON_OPERATORS:
            return _comparison_value(operator, value)
        return _string_values(operator, value)

    @pydantic.field_serializer("value")
    def _value_for_config(self, value: Scalar | tuple[str, ...] | None) -> Scalar | list[str] | None:
        return list(value) if isinstance(value, tuple) else value


def _comparison_value(operator: str, value: Any) -> Scalar:
    if value is None:
        raise ValueError(f"'{operator}' needs a value to compare with")
    if not isinstance(value, bool | int | float | str):
        raise ValueError(
            f"'{operator}' compares with one string, number or boolean (quote dates); "
            "for a list of values use one_of or none_of"
        )
    if isinstance(value, bool) and operator in ORDERING_OPERATORS:
        raise ValueError(f"'{operator}' needs a number or a string; compare booleans with = or !=")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("value must be a finite number: a Segment query cannot hold NaN or infinity")
    if not isinstance(value, bool | str) and (problem := number_problem(value, low=-MAX_NUMBER, whole=False)):
        raise ValueError(f"value {problem}")
    if isinstance(value, str) and (problem := hidden_problem(value, "value")):
        raise ValueError(problem)
    return value


def _string_values(operator: str, value: Any) -> tuple[str, ...]:
    values = (value,) if isinstance(value, str) else value
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise ValueError(f"'{operator}' needs a list of strings as value, e.g. ['Voice', 'SMS']")
    if not values:
        raise ValueError(
            f"'{operator}' needs at least one value: add strings to value, or drop the condition"
        )
    if operator in SINGLE_VALUE_OPERATORS and len(values) != 1:
        raise ValueError(
            f"'{operator}' takes exactly one string in Segment's language; "
            "for several, combine conditions with any: [...]"
        )
    for text in values:
        if problem := hidden_problem(text, "value"):
            raise ValueError(problem)
    return tuple(values)


class AllOf(_Model):
    """Every condition holds (``AND``). In config: ``all: [ … ]``."""

    conditions: tuple[Condition, ...] = Field(alias="all")

    @pydantic.field_validator("conditions")
    @classmethod
    def _not_empty(cls, conditions: tuple[Condition, ...]) -> tuple[Condition, ...]:
        if not conditions:
            raise ValueError("all needs at least one condition")
        return conditions


class AnyOf(_Model):
    """At least one condition holds (``OR``). In config: ``any: [ … ]``."""

    conditions: tuple[Condition, ...] = Field(alias="any")

    @pydantic.field_validator("conditions")
    @classmethod
    def _not_empty(cls, conditions: tuple[Condition, ...]) -> tuple[Condition, ...]:
        if not conditions:
            raise ValueError("any needs at least one condition")
        return conditions


class Not(_Model):
    """The condition does not hold (``NOT ( … )``). In config: ``not: { … }``."""

    condition: Condition = Field(alias="not")


_CONDITION_TAGS: dict[type[pydantic.BaseModel], str] = {
    PropertyCondition: "<property>",
    AllOf: "<all>",
    AnyOf: "<any>",
    Not: "<not>",
}


def _condition_tag(value: Any) -> str | None:
    if isinstance(value, pydantic.BaseModel):
        return _CONDITION_TAGS.get(type(value))
    if isinstance(value, Mapping):
        kinds = {"property", "all", "any", "not"} & set(value)
        return f"<{kinds.pop()}>" if len(kinds) == 1 else None
    return None


Condition: TypeAlias = Annotated[
    Annotated[PropertyCondition, Tag("<property>")]
    | Annotated[AllOf, Tag("<all>")]
    | Annotated[AnyOf, Tag("<any>")]
    | Annotated[Not, Tag("<not>")],
    Discriminator(
        _condition_tag,
        custom_error_type="invalid_condition",
        custom_error_message=(
            "a condition is {property, operator, value}, {all: [...]}, {any: [...]} or {not: {...}}"
        ),
    ),
]

for _junction in (AllOf, AnyOf, Not):
    _junction.model_rebuild()


# ----------------------------------------------------------------------------- windows


MAX_WINDOW_DAYS = 3650
"""The longest window, in days (ten years): Segment publishes no limit; a longer one is a typo, not a window."""
MAX_WINDOW_HOURS = 8760
"""The longest window in hours (a year): write a longer one in days."""
MAX_MIN_FREQUENCY = 10_000
"""The largest ``minFrequency`` of a most-frequent trait."""
WINDOW_LIMITS = {"days": MAX_WINDOW_DAYS, "hours": MAX_WINDOW_HOURS}


class Duration(_Model):
    """A sliding window: the last N days or hours (``within(30 days)``)."""

    days: pydantic.StrictInt | None = None
    hours: pydantic.StrictInt | None = None

    @pydantic.field_validator("days", "hours")
    @classmethod
    def _positive(cls, amount: int | None, info: ValidationInfo) -> int | None:
        if amount is not None and amount < 1:
            raise ValueError(
                f"{info.field_name} must be at least 1: a window of {amount} {info.field_name} has no events"
            )
        limit = WINDOW_LIMITS[str(info.field_name)]
        if amount is not None and amount > limit:
            raise ValueError(f"{info.field_name} must be at most {limit}, got {amount}")
        return amount

    @pydantic.model_validator(mode="after")
    def _one_unit(self) -> Duration:
        if (self.days is None) == (self.hours is None):
            raise ValueError("set exactly one of days or hours, e.g. {days: 30}")
        return self


class DayRange(_Model):
    """Events between ``from_days`` and ``to_days`` days ago (``between(7 days, 10 days)``)."""

    from_days: pydantic.StrictInt
    to_days: pydantic.StrictInt

    @pydantic.model_validator(mode="after")
    def _ordered(self) -> DayRange:
        if self.from_days < 0:
            raise ValueError("fromDays must be 0 or more")
        if self.to_days > MAX_WINDOW_DAYS:
            raise ValueError(f"toDays must be at most {MAX_WINDOW_DAYS}, got {self.to_days}")
        if self.from_days >= self.to_days:
            raise ValueError(
                f"fromDays ({self.from_days}) must be less than toDays ({self.to_days}): "
                "the range runs from the nearer day to the farther one"
            )
        return self


class Window(_Model):
    """Which events count, by age: ``within`` (sliding) or ``between`` (a range of days)."""

    within: Duration | None = None
    between: DayRange | None = None

    @pydantic.model_validator(mode="after")
    def _one_kind(self) -> Window:
        if (self.within is None) == (self.between is None):
            raise ValueError("set exactly one of within: {days: N} or between: {fromDays: A, toDays: B}")
        return self


# ----------------------------------------------------------------------------- aggregations


class CountAggregation(_Model):
    """How many matching events (``count()``)."""

    type: Literal["count"] = "count"


class NumericAggregation(_Model):
    """Sum or average of a number property (``sum(property('p'))``, ``avg(…)``)."""

    type: Literal["sum", "avg"]
    property: PropertyPath


class ExtremeAggregation(_Model):
    """Smallest or largest value; numeric order unless ``as_string`` asks for lexical order."""

    type: Literal["min", "max"]
    property: PropertyPath
    as_string: bool = False


class MostFrequentAggregation(_Model):
    """The value seen most often, at least ``min_frequency`` times (``mode(property('p'), 2)``).

    A tie returns the alphabetically first value. Values are compared as strings unless ``value_type`` says
    otherwise (Segment's ``as number`` behaves like strings; ``as array`` matters only with ``$``).
    """

    type: Literal["most_frequent"] = "most_frequent"
    property: PropertyPath
    min_frequency: pydantic.StrictInt = 2
    value_type: Literal["string", "number", "array"] | None = None

    @pydantic.field_validator("min_frequency")
    @classmethod
    def _at_least_once(cls, min_frequency: int) -> int:
        if min_frequency < 1:
            raise ValueError(
                f"minFrequency must be at least 1, got {min_frequency} (Segment's app uses 2: seen twice)"
            )
        if min_frequency > MAX_MIN_FREQUENCY:
            raise ValueError(f"minFrequency must be at most {MAX_MIN_FREQUENCY}, got {min_frequency}")
        return min_frequency


class FirstLastAggregation(_Model):
    """The value of the first or last matching event (``last(property('p'))``)."""

    type: Literal["first", "last"]
    property: PropertyPath


class UniqueListAggregation(_Model):
    """The distinct values seen (``unique(property('p'))``)."""

    type: Literal["unique_list"] = "unique_list"
    property: PropertyPath


class UniqueCountAggregation(_Model):
    """How many distinct values were seen (``unique(property('p')).count()``)."""

    type: Literal["unique_count"] = "unique_count"
    property: PropertyPath


_AGGREGATION_TAGS: dict[str, str] = {
    "count": "<count>",
    "sum": "<numeric>",
    "avg": "<numeric>",
    "min": "<extreme>",
    "max": "<extreme>",
    "most_frequent": "<most_frequent>",
    "first": "<first_last>",
    "last": "<first_last>",
    "unique_list": "<unique_list>",
    "unique_count": "<unique_count>",
}


def _aggregation_tag(value: Any) -> str | None:
    kind = value.get("type") if isinstance(value, Mapping) else getattr(value, "type", None)
    return _AGGREGATION_TAGS.get(kind) if isinstance(kind, str) else None


Aggregation: TypeAlias = Annotated[
    Annotated[CountAggregation, Tag("<count>")]
    | Annotated[NumericAggregation, Tag("<numeric>")]
    | Annotated[ExtremeAggregation, Tag("<extreme>")]
    | Annotated[MostFrequentAggregation, Tag("<most_frequent>")]
    | Annotated[FirstLastAggregation, Tag("<first_last>")]
    | Annotated[UniqueListAggregation, Tag("<unique_list>")]
    | Annotated[UniqueCountAggregation, Tag("<unique_count>")],
    Discriminator(
        _aggregation_tag,
        custom_error_type="invalid_aggregation",
        custom_error_message=f"aggregation needs a type, one of: {', '.join(AGGREGATION_TYPES)}",
    ),
]

PropertyAggregation: TypeAlias = (
    NumericAggregation
    | ExtremeAggregation
    | MostFrequentAggregation
    | FirstLastAggregation
    | UniqueListAggregation
    | UniqueCountAggregation
)


# ----------------------------------------------------------------------------- traits


class TraitOptions(_Model):
    """Creation-time options; Segment accepts them only when a trait is created."""

    include_historical_data: bool | None = None
    include_anonymous_users: bool | None = None
    backfill_duration_days: pydantic.StrictInt | None = None

    @pydantic.field_validator("backfill_duration_days")
    @classmethod
    def _positive_backfill(cls, days: int | None) -> int | None:
        if days is not None and days < 1:
            raise ValueError(
                "backfillDurationDays must be at least 1, or left out (includeHistoricalData decides)"
            )
        if days is not None and days > MAX_WINDOW_DAYS:
            raise ValueError(f"backfillDurationDays must be at most {MAX_WINDOW_DAYS}, got {days}")
        return days


class _TraitBase(_Model):
    name: TraitName
    description: str | None = None
    enabled: bool = True
    entity: Entity = "USERS"
    options: TraitOptions | None = None

    def to_definition(self) -> dict[str, str]:
        """The ``definition`` object of Segment's computed-trait requests."""
        return {"type": self.entity, "query": self.query_text()}

    def query_text(self) -> str:
        raise NotImplementedError

    def to_config(self) -> dict[str, Any]:
        """The trait as it is written in ``definitions.yaml`` (defaults left out)."""
        return self.model_dump(mode="json", by_alias=True, exclude_defaults=True)


class TraitSpec(_TraitBase):
    """A computed trait the builder compiles: ``event(…)[.where(…)][.within(…)].<aggregation>``."""

    event: EventName
    where: Condition | None = None
    window: Window | None = None
    aggregation: Aggregation

    @property
    def query(self) -> str:
        return compile_query(self)

    def query_text(self) -> str:
        return self.query

    def to_config(self) -> dict[str, Any]:
        config = super().to_config()
        # The aggregation's type is its discriminator, so it stays even when it has a default.
        config["aggregation"] = {"type": self.aggregation.type, **config.get("aggregation", {})}
        return config


class RawTrait(_TraitBase):
    """A computed trait whose query is kept verbatim, for queries the builder cannot express."""

    query: str

    @pydantic.field_validator("query")
    @classmethod
    def _not_empty(cls, query: str) -> str:
        if not query.strip():
            raise ValueError(
                "query must not be empty: write a Segment query, e.g. event('Signed Up').count()"
            )
        return query

    def query_text(self) -> str:
        return self.query


# ----------------------------------------------------------------------------- compiling


def compile_query(spec: TraitSpec | RawTrait) -> str:
    """The Segment query-language text of a trait."""
    if isinstance(spec, RawTrait):
        return spec.query
    parts = [f"event({quote(spec.event)})"]
    if spec.where is not None:
        parts.append(f"where({compile_condition(spec.where)})")
    if spec.window is not None:
        parts.append(compile_window(spec.window))
    parts.append(compile_aggregation(spec.aggregation))
    return ".".join(parts)


def _property(path: tuple[str, ...]) -> str:
    return f"property({quote(property_path_text(path))})"


def compile_condition(condition: Condition) -> str:
    """A condition as the argument of ``where``; ``AND`` binds tighter than ``OR``, so only ORs inside an AND
    need parentheses."""
    match condition:
        case PropertyCondition():
            return _compile_property_condition(condition)
        case Not():
            return f"NOT ({compile_condition(condition.condition)})"
        case AllOf() if len(condition.conditions) == 1:
            return compile_condition(condition.conditions[0])
        case AllOf():
            return " AND ".join(_and_operand(c) for c in condition.conditions)
        case AnyOf():
            return " OR ".join(compile_condition(c) for c in condition.conditions)
    raise TypeError(f"not a condition: {condition!r}")


def _and_operand(condition: Condition) -> str:
    text = compile_condition(condition)
    return f"({text})" if _top_junction(condition) == "OR" else text


def _top_junction(condition: Condition) -> str | None:
    """The junction that joins the compiled text at its top level (a one-element list adds none)."""
    if isinstance(condition, AllOf | AnyOf):
        if len(condition.conditions) == 1:
            return _top_junction(condition.conditions[0])
        return "AND" if isinstance(condition, AllOf) else "OR"
    return None


def _compile_property_condition(condition: PropertyCondition) -> str:
    subject = _property(condition.property)
    value = condition.value
    if condition.operator in COMPARISON_OPERATORS:
        assert value is not None and not isinstance(value, tuple)
        return f"{subject} {condition.operator} {literal(value)}"
    values = value if isinstance(value, tuple) else ()
    return f"{subject}.{condition.operator}({', '.join(quote(v) for v in values)})"


def _amount(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def compile_window(window: Window) -> str:
    if window.between is not None:
        days = window.between
        return f"between({_amount(days.from_days, 'day')}, {_amount(days.to_days, 'day')})"
    assert window.within is not None
    if window.within.days is not None:
        return f"within({_amount(window.within.days, 'day')})"
    assert window.within.hours is not None
    return f"within({_amount(window.within.hours, 'hour')})"


def compile_aggregation(aggregation: Aggregation) -> str:
    match aggregation:
        case CountAggregation():
            return "count()"
        case ExtremeAggregation(as_string=True):
            return f"{aggregation.type}({_property(aggregation.property)} as string)"
        case MostFrequentAggregation():
            typed = f" as {aggregation.value_type}" if aggregation.value_type else ""
            return f"mode({_property(aggregation.property)}{typed}, {aggregation.min_frequency})"
        case UniqueListAggregation():
            return f"unique({_property(aggregation.property)})"
        case UniqueCountAggregation():
            return f"unique({_property(aggregation.property)}).count()"
        case NumericAggregation() | ExtremeAggregation() | FirstLastAggregation():
            return f"{aggregation.type}({_property(aggregation.property)})"
    raise TypeError(f"not an aggregation: {aggregation!r}")


# ----------------------------------------------------------------------------- keys and schema


def trait_key(name: str) -> str:
    """The key Segment gives a trait on profiles: its name in snake_case (``total_inbounds``).

    Words are runs of letters and digits; a lower-to-upper case change (``lastAgent``) also starts a word.
    Segment returns the actual key when the trait is created; this is how the program predicts it. The name is
    read in NFKC form, so a fullwidth ``TOTAL`` (U+FF34 …) gives the key of the ASCII one.
    """
    words = re.findall(r"[^\W_]+", unicodedata.normalize("NFKC", name))
    split = (re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", word) for word in words)
    return "_".join(split).lower()


def iter_conditions(condition: Condition | None) -> Iterator[PropertyCondition]:
    """Every property test inside a condition, in order."""
    match condition:
        case PropertyCondition():
            yield condition
        case Not():
            yield from iter_conditions(condition.condition)
        case AllOf() | AnyOf():
            for child in condition.conditions:
                yield from iter_conditions(child)


def required_schema(spec: TraitSpec | RawTrait) -> dict[str, set[str]]:
    """Event name → property paths the trait's query reads, as Segment's space schema lists them.

    For a :class:`RawTrait` this is best effort, read from the query's text: every ``event('…')`` is an event,
    and every ``property('…')`` belongs to the innermost ``event('…')`` call chain it appears in. Other
    extractors (``trait``, ``context``, funnel ``property(parent: …)``) are ignored.
    """
    if isinstance(spec, RawTrait):
        return _raw_schema(spec.query)
    properties = {property_path_text(c.property) for c in iter_conditions(spec.where)}
    if not isinstance(spec.aggregation, CountAggregation):
        properties.add(property_path_text(spec.aggregation.property))
    return {spec.event: properties}


def _raw_schema(query: str) -> dict[str, set[str]]:
    schema: dict[str, set[str]] = {}
    open_events: list[tuple[int, str]] = []  # (parenthesis depth of its call chain, event name)
    depth = 0
    found = tokens(query)
    for index, token in enumerate(found):
        depth += {"(": 1, ")": -1}.get(token.text, 0) if token.kind == "punctuation" else 0
        while open_events and open_events[-1][0] > depth:
            open_events.pop()
        call = found[index : index + 3]
        if len(call) < 3 or token.kind != "word" or call[1].text != "(" or call[2].kind != "string":
            continue
        name = unquote(call[2].text)
        if token.text == "event":
            open_events.append((depth, name))
            schema.setdefault(name, set())
        elif token.text == "property" and open_events:
            schema[open_events[-1][1]].add(name)
    return schema


# ----------------------------------------------------------------------------- parsing


class _Unparsable(Exception):
    """The query is outside the builder's grammar."""


class _Parser:
    """Recursive descent over the grammar :func:`compile_query` writes."""

    def __init__(self, query: str) -> None:
        self.tokens = tokens(query)
        self.position = 0

    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def accept(self, kind: str, text: str | None = None) -> Token | None:
        token = self.peek()
        if token is None or token.kind != kind or (text is not None and token.text != text):
            return None
        self.position += 1
        return token

    def take(self, kind: str, text: str | None = None) -> Token:
        token = self.accept(kind, text)
        if token is None:
            raise _Unparsable(f"expected {text or kind} at token {self.position}")
        return token

    def punctuation(self, text: str) -> None:
        self.take("punctuation", text)

    def trait(self) -> tuple[str, Condition | None, Window | None, Aggregation]:
        self.take("word", "event")
        self.punctuation("(")
        event = _check_event_name(unquote(self.take("string").text))
        self.punctuation(")")
        self.punctuation(".")
        where = window = None
        if self.accept("word", "where"):
            self.punctuation("(")
            where = self.condition()
            self.punctuation(")")
            self.punctuation(".")
        token = self.peek()
        if token is not None and token.text in ("within", "between"):
            window = self.window()
            self.punctuation(".")
        aggregation = self.aggregation()
        if self.peek() is not None:
            raise _Unparsable("text after the aggregation")
        return event, where, window, aggregation

    def condition(self) -> Condition:
        operands = [self.conjunction()]
        while self.accept("word", "OR"):
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else AnyOf(conditions=tuple(operands))

    def conjunction(self) -> Condition:
        operands = [self.unary()]
        while self.accept("word", "AND"):
            operands.append(self.unary())
        return operands[0] if len(operands) == 1 else AllOf(conditions=tuple(operands))

    def unary(self) -> Condition:
        if self.accept("word", "NOT"):
            self.punctuation("(")
            inner = self.condition()
            self.punctuation(")")
            return Not(condition=inner)
        if self.accept("punctuation", "("):
            inner = self.condition()
            self.punctuation(")")
            return inner
        return self.property_condition()

    def property_path(self) -> tuple[str, ...]:
        self.take("word", "property")
        self.punctuation("(")
        path = split_property_path(unquote(self.take("string").text))
        self.punctuation(")")
        return path

    def property_condition(self) -> PropertyCondition:
        path = self.property_path()
        operator = self.accept("operator")
        if operator is not None:
            return PropertyCondition(property=path, operator=operator.text, value=self.literal())
        self.punctuation(".")
        name = self.take("word").text
        self.punctuation("(")
        values: list[str] = []
        if not self.accept("punctuation", ")"):
            values.append(unquote(self.take("string").text))
            while self.accept("punctuation", ","):
                values.append(unquote(self.take("string").text))
            self.punctuation(")")
        return PropertyCondition(property=path, operator=name, value=tuple(values) if values else None)

    def literal(self) -> Scalar:
        token = self.peek()
        if token is None:
            raise _Unparsable("missing value")
        self.position += 1
        if token.kind == "string":
            return unquote(token.text)
        if token.kind == "number":
            return float(token.text) if re.search(r"[.eE]", token.text) else int(token.text)
        if token.kind == "word" and token.text in ("true", "false"):
            return token.text == "true"
        raise _Unparsable(f"not a value: {token.text}")

    def amount(self, units: tuple[str, ...]) -> tuple[int, str]:
        count = int(self.take("number").text)
        unit = self.take("word").text.rstrip("s")
        if unit not in units:
            raise _Unparsable(f"unsupported unit {unit}")
        return count, unit

    def window(self) -> Window:
        kind = self.take("word").text
        self.punctuation("(")
        if kind == "within":
            count, unit = self.amount(("day", "hour"))
            self.punctuation(")")
            return Window(within=Duration(days=count) if unit == "day" else Duration(hours=count))
        start, _ = self.amount(("day",))
        self.punctuation(",")
        end, _ = self.amount(("day",))
        self.punctuation(")")
        return Window(between=DayRange(from_days=start, to_days=end))

    def aggregation(self) -> Aggregation:
        kind = self.take("word").text
        self.punctuation("(")
        if kind == "count":
            self.punctuation(")")
            return CountAggregation()
        path = self.property_path()
        if kind == "mode":
            return self.mode(path)
        as_string = False
        if self.accept("word", "as"):
            self.take("word", "string")
            as_string = True
        self.punctuation(")")
        return self.property_aggregation(kind, path, as_string)

    def mode(self, path: tuple[str, ...]) -> MostFrequentAggregation:
        value_type = self.take("word").text if self.accept("word", "as") else None
        self.punctuation(",")
        min_frequency = int(self.take("number").text)
        self.punctuation(")")
        return MostFrequentAggregation(property=path, min_frequency=min_frequency, value_type=value_type)

    def property_aggregation(self, kind: str, path: tuple[str, ...], as_string: bool) -> PropertyAggregation:
        if kind in ("min", "max"):
            return ExtremeAggregation(type=kind, property=path, as_string=as_string)
        if as_string:
            raise _Unparsable(f"{kind} takes no type")
        if kind in ("sum", "avg"):
            return NumericAggregation(type=kind, property=path)
        if kind in ("first", "last"):
            return FirstLastAggregation(type=kind, property=path)
        if kind != "unique":
            raise _Unparsable(f"unknown aggregation {kind}")
        if self.accept("punctuation", "."):
            self.take("word", "count")
            self.punctuation("(")
            self.punctuation(")")
            return UniqueCountAggregation(property=path)
        return UniqueListAggregation(property=path)


def try_from_query(
    query: str,
    name: str = "Imported trait",
    *,
    description: str | None = None,
    enabled: bool = True,
    entity: Entity = "USERS",
    options: TraitOptions | None = None,
) -> TraitSpec | None:
    """The builder form of a query, or None when the query is outside the builder's grammar.

    A spec is returned only if it compiles back to the same query (whitespace aside), so replacing the query
    with the spec never changes what Segment computes. ``name`` and the other fields are not part of a query.
    """
    try:
        event, where, window, aggregation = _Parser(query).trait()
    except (_Unparsable, ValueError):  # pydantic's ValidationError is a ValueError
        return None
    spec = TraitSpec(
        name=name,
        description=description,
        enabled=enabled,
        entity=entity,
        options=options,
        event=event,
        where=where,
        window=window,
        aggregation=aggregation,
    )
    return spec if same_query(spec.query, query) else None


# ----------------------------------------------------------------------------- config

_BUILDER_KEYS = frozenset({"event", "where", "window", "aggregation"})


def parse_trait_config(key: str, raw: Any) -> TraitSpec | RawTrait:
    """A trait from ``definitions.yaml``; a mapping with ``query`` is a :class:`RawTrait`.

    Problems raise :class:`TraitDefinitionError`, each prefixed with ``key`` plus the path inside the trait,
    e.g. ``definitions.yaml:traits.custom[2].where.operator``.
    """
    if not isinstance(raw, Mapping):
        raise TraitDefinitionError(
            [(key, "a trait is a mapping: {name, event, aggregation, …} or {name, query}")]
        )
    model: type[TraitSpec] | type[RawTrait] = TraitSpec
    if "query" in raw:
        both = sorted(_BUILDER_KEYS & set(raw))
        if both:
            raise TraitDefinitionError(
                [(key, f"set either query (a raw Segment query) or event and aggregation, not both ({both})")]
            )
        model = RawTrait
    try:
        return model.model_validate(raw)
    except pydantic.ValidationError as error:
        raise TraitDefinitionError(_problems(key, error)) from None


def _problems(prefix: str, error: pydantic.ValidationError) -> list[tuple[str, str]]:
    return [(prefix + _location(detail["loc"]), _message(detail)) for detail in error.errors()]


def _location(loc: tuple[int | str, ...]) -> str:
    parts = []
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif not part.startswith("<"):  # union tags ("<all>", "<numeric>") are not config keys
            parts.append(f".{part}")
    return "".join(parts)


def _message(detail: Any) -> str:
    if detail["type"] == "value_error":
        return str(detail["ctx"]["error"])
    if detail["type"] == "extra_forbidden":
        return "unknown setting: check its spelling (docs/traits.md lists every setting)"
    if detail["type"] == "missing":
        return "is required"
    return str(detail["msg"])


# ----------------------------------------------------------------------------- the Flex guide's traits


class FlexSchema(_Model):
    """Event and property names of the Flex enrichment events, as the space shows them.

    Segment's guide writes ``direction`` and ``duration``; Twilio's enrichment page writes ``Direction`` and
    ``Duration``.
    Check the space (Unify → Schema) and set the one it shows; every guide trait follows.
    """

    initiated_event: EventName = "Flex - Engagement Initiated"
    completed_event: EventName = "Flex - Engagement Completed"
    direction: PropertyName = "direction"
    inbound: DirectionValue = "Inbound"
    outbound: DirectionValue = "Outbound"
    channel_type: PropertyName = "channelType"
    last_known_agent: PropertyName = "lastKnownAgentWorkerSid"
    duration: PropertyName = "duration"
    sentiment: PropertyName = "sentiment"


def _direction_is(schema: FlexSchema, value: str) -> PropertyCondition:
    return PropertyCondition(property=schema.direction, operator="=", value=value)


def guide_traits(schema: FlexSchema | None = None) -> dict[str, TraitSpec]:
    """The six computed traits of Segment's Flex guide, by stable id."""
    flex = schema or FlexSchema()
    initiated, completed = flex.initiated_event, flex.completed_event
    inbound, outbound = _direction_is(flex, flex.inbound), _direction_is(flex, flex.outbound)
    return {
        "total_inbounds": TraitSpec(
            name="Total inbounds",
            description="Number of inbound Flex interactions of the customer.",
            event=initiated,
            where=inbound,
            aggregation=CountAggregation(),
        ),
        "frequent_inbound_channel": TraitSpec(
            name="Frequent inbound channel",
            description="Channel the customer uses most for inbound interactions (seen at least twice).",
            event=initiated,
            where=inbound,
            aggregation=MostFrequentAggregation(property=flex.channel_type, min_frequency=2),
        ),
        "total_outbounds": TraitSpec(
            name="Total outbounds",
            description="Number of outbound Flex interactions with the customer.",
            event=initiated,
            where=outbound,
            aggregation=CountAggregation(),
        ),
        "last_known_service_agent": TraitSpec(
            name="Last known service agent",
            description="Worker SID of the agent who last handled the customer.",
            event=initiated,
            aggregation=FirstLastAggregation(type="last", property=flex.last_known_agent),
        ),
        "last_interaction_duration": TraitSpec(
            name="Last interaction duration",
            description="Duration in seconds of the customer's last interaction.",
            event=initiated,
            aggregation=FirstLastAggregation(type="last", property=flex.duration),
        ),
        "sentiment_in_last_interaction": TraitSpec(
            name="Sentiment in last interaction",
            description="Customer sentiment (positive, neutral, negative) in the last interaction (Copilot).",
            event=completed,
            aggregation=FirstLastAggregation(type="last", property=flex.sentiment),
        ),
    }


GUIDE_TRAITS: dict[str, TraitSpec] = guide_traits()
