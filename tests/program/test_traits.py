"""The computed-trait builder: compiling, quoting, validation, schema needs and parsing queries back."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pydantic
import pytest
import yaml

from flex_program.traits import (
    GUIDE_TRAITS,
    MAX_NAME_LENGTH,
    AllOf,
    AnyOf,
    Condition,
    CountAggregation,
    DayRange,
    Duration,
    ExtremeAggregation,
    FirstLastAggregation,
    FlexSchema,
    MostFrequentAggregation,
    Not,
    NumericAggregation,
    PropertyCondition,
    RawTrait,
    TraitDefinitionError,
    TraitOptions,
    TraitSpec,
    UniqueCountAggregation,
    UniqueListAggregation,
    Window,
    compile_query,
    guide_traits,
    literal,
    parse_trait_config,
    property_path_text,
    quote,
    required_schema,
    split_property_path,
    trait_key,
    try_from_query,
    unquote,
)

INITIATED = "Flex - Engagement Initiated"

# Segment's Flex guide, table §1a of the reference: the exact definition.query of each of the six traits.
GUIDE_QUERIES = {
    "total_inbounds": "event('Flex - Engagement Initiated').where(property('direction') = 'Inbound').count()",
    "frequent_inbound_channel": (
        "event('Flex - Engagement Initiated').where(property('direction') = 'Inbound')"
        ".mode(property('channelType'), 2)"
    ),
    "total_outbounds": (
        "event('Flex - Engagement Initiated').where(property('direction') = 'Outbound').count()"
    ),
    "last_known_service_agent": (
        "event('Flex - Engagement Initiated').last(property('lastKnownAgentWorkerSid'))"
    ),
    "last_interaction_duration": "event('Flex - Engagement Initiated').last(property('duration'))",
    "sentiment_in_last_interaction": "event('Flex - Engagement Completed').last(property('sentiment'))",
}


def spec(**fields: Any) -> TraitSpec:
    defaults: dict[str, Any] = {"name": "Test trait", "event": "E", "aggregation": CountAggregation()}
    return TraitSpec(**{**defaults, **fields})


def where(condition: Condition) -> str:
    """The text inside .where(…) of a trait filtered by the condition."""
    query = spec(where=condition).query
    prefix, suffix = "event('E').where(", ").count()"
    assert query.startswith(prefix) and query.endswith(suffix), query
    return query[len(prefix) : -len(suffix)]


def cond(name: str | list[str], operator: str = "=", value: Any = 1) -> PropertyCondition:
    return PropertyCondition(property=name, operator=operator, value=value)


# ----------------------------------------------------------------------------- the guide's traits


@pytest.mark.parametrize("trait_id", sorted(GUIDE_QUERIES))
def test_guide_traits_compile_to_the_guides_exact_queries(trait_id: str) -> None:
    trait = GUIDE_TRAITS[trait_id]
    assert trait.query == GUIDE_QUERIES[trait_id]
    assert trait.to_definition() == {"type": "USERS", "query": GUIDE_QUERIES[trait_id]}
    assert trait_key(trait.name) == trait_id
    assert trait.description and "\n" not in trait.description


def test_guide_trait_ids_are_the_six_of_the_guide() -> None:
    assert set(GUIDE_TRAITS) == set(GUIDE_QUERIES)
    assert guide_traits() == GUIDE_TRAITS


def test_one_schema_setting_changes_every_guide_query_using_it() -> None:
    twilio = guide_traits(FlexSchema(direction="Direction", duration="Duration"))
    for trait_id in ("total_inbounds", "frequent_inbound_channel", "total_outbounds"):
        assert "property('Direction') = " in twilio[trait_id].query
        assert "'direction'" not in twilio[trait_id].query
    assert twilio["last_interaction_duration"].query == f"event('{INITIATED}').last(property('Duration'))"
    unchanged = ("last_known_service_agent", "sentiment_in_last_interaction")
    assert all(twilio[t].query == GUIDE_QUERIES[t] for t in unchanged)


def test_flex_schema_reads_camel_case_config_and_changes_values_and_events() -> None:
    schema = FlexSchema.model_validate(
        {"inbound": "inbound", "channelType": "Channel", "completedEvent": "Flex Completed"}
    )
    traits = guide_traits(schema)
    assert traits["total_inbounds"].query.endswith("= 'inbound').count()")
    assert "mode(property('Channel'), 2)" in traits["frequent_inbound_channel"].query
    assert traits["sentiment_in_last_interaction"].query.startswith("event('Flex Completed')")


def test_flex_schema_rejects_empty_names_and_unknown_settings() -> None:
    with pytest.raises(pydantic.ValidationError, match="property name must not be empty"):
        FlexSchema(direction=" ")
    with pytest.raises(pydantic.ValidationError, match="direction value must not be empty"):
        FlexSchema(inbound="")
    with pytest.raises(pydantic.ValidationError, match="Extra inputs"):
        FlexSchema.model_validate({"directionProperty": "Direction"})


# ----------------------------------------------------------------------------- aggregations and windows

AGGREGATIONS = [
    (CountAggregation(), "count()"),
    (NumericAggregation(type="sum", property="spend"), "sum(property('spend'))"),
    (NumericAggregation(type="avg", property="spend"), "avg(property('spend'))"),
    (ExtremeAggregation(type="min", property="spend"), "min(property('spend'))"),
    (ExtremeAggregation(type="max", property="spend", as_string=True), "max(property('spend') as string)"),
    (MostFrequentAggregation(property="channel"), "mode(property('channel'), 2)"),
    (MostFrequentAggregation(property="channel", min_frequency=1, value_type="array"),
     "mode(property('channel') as array, 1)"),
    (FirstLastAggregation(type="first", property="agent"), "first(property('agent'))"),
    (FirstLastAggregation(type="last", property="agent"), "last(property('agent'))"),
    (UniqueListAggregation(property="topic"), "unique(property('topic'))"),
    (UniqueCountAggregation(property="topic"), "unique(property('topic')).count()"),
]  # fmt: skip


@pytest.mark.parametrize(("aggregation", "expected"), AGGREGATIONS, ids=[a[1] for a in AGGREGATIONS])
def test_every_aggregation(aggregation: Any, expected: str) -> None:
    assert spec(aggregation=aggregation).query == f"event('E').{expected}"


def test_aggregations_from_config_use_type_as_discriminator() -> None:
    trait = parse_trait_config(
        "t",
        {"name": "Top channel", "event": "E", "aggregation": {"type": "most_frequent", "property": "c",
                                                               "minFrequency": 3, "valueType": "string"}},
    )  # fmt: skip
    assert isinstance(trait, TraitSpec)
    assert isinstance(trait.aggregation, MostFrequentAggregation)
    assert trait.query == "event('E').mode(property('c') as string, 3)"


WINDOWS = [
    (Window(within=Duration(days=30)), "within(30 days)"),
    (Window(within=Duration(days=1)), "within(1 day)"),
    (Window(within=Duration(hours=24)), "within(24 hours)"),
    (Window(within=Duration(hours=1)), "within(1 hour)"),
    (Window(between=DayRange(from_days=7, to_days=10)), "between(7 days, 10 days)"),
    (Window(between=DayRange(from_days=0, to_days=1)), "between(0 days, 1 day)"),
]


@pytest.mark.parametrize(("window", "expected"), WINDOWS, ids=[w[1] for w in WINDOWS])
def test_windows(window: Window, expected: str) -> None:
    assert spec(window=window).query == f"event('E').{expected}.count()"


def test_where_comes_before_the_window() -> None:
    trait = spec(where=cond("p"), window=Window(within=Duration(days=7)), aggregation=CountAggregation())
    assert trait.query == "event('E').where(property('p') = 1).within(7 days).count()"


# ----------------------------------------------------------------------------- conditions

OPERATORS = [
    (cond("p", "=", "a"), "property('p') = 'a'"),
    (cond("p", "!=", "a"), "property('p') != 'a'"),
    (cond("p", ">", 5), "property('p') > 5"),
    (cond("p", ">=", 5), "property('p') >= 5"),
    (cond("p", "<", 5), "property('p') < 5"),
    (cond("p", "<=", 5), "property('p') <= 5"),
    (cond("p", "equals", "a"), "property('p') = 'a'"),
    (cond("p", "at_most", 5), "property('p') <= 5"),
    (cond("p", "contains", ["a", "b"]), "property('p').contains('a', 'b')"),
    (cond("p", "one_of", ["a", "b"]), "property('p').one_of('a', 'b')"),
    (cond("p", "none_of", "a"), "property('p').none_of('a')"),
    (cond("p", "omits", "a"), "property('p').omits('a')"),
    (cond("p", "starts_with", ["a"]), "property('p').starts_with('a')"),
    (cond("p", "ends_with", "a"), "property('p').ends_with('a')"),
    (cond("p", "exists", None), "property('p').exists()"),
    (cond("p", "absent", None), "property('p').absent()"),
]


@pytest.mark.parametrize(("condition", "expected"), OPERATORS, ids=[o[1] for o in OPERATORS])
def test_every_operator(condition: PropertyCondition, expected: str) -> None:
    assert where(condition) == expected


a, b, c, d = (cond(name) for name in "abcd")
A, B, C, D = (f"property('{name}') = 1" for name in "abcd")
JUNCTIONS = [
    (AllOf(conditions=(a, b)), f"{A} AND {B}"),
    (AnyOf(conditions=(a, b)), f"{A} OR {B}"),
    (AnyOf(conditions=(AllOf(conditions=(a, b)), c)), f"{A} AND {B} OR {C}"),
    (AllOf(conditions=(AnyOf(conditions=(a, b)), c)), f"({A} OR {B}) AND {C}"),
    (AllOf(conditions=(a, AnyOf(conditions=(b, c)), d)), f"{A} AND ({B} OR {C}) AND {D}"),
    (AnyOf(conditions=(a, AnyOf(conditions=(b, c)))), f"{A} OR {B} OR {C}"),
    (AllOf(conditions=(a, AllOf(conditions=(b, c)))), f"{A} AND {B} AND {C}"),
    (Not(condition=a), f"NOT ({A})"),
    (Not(condition=AnyOf(conditions=(a, b))), f"NOT ({A} OR {B})"),
    (AllOf(conditions=(Not(condition=AnyOf(conditions=(a, b))), c)), f"NOT ({A} OR {B}) AND {C}"),
    (AllOf(conditions=(AnyOf(conditions=(AnyOf(conditions=(a, b)),)), c)), f"({A} OR {B}) AND {C}"),
    (AllOf(conditions=(a,)), A),
    (AllOf(conditions=(AnyOf(conditions=(a, b)),)), f"{A} OR {B}"),  # one operand: no AND, no parentheses
    (AnyOf(conditions=(AllOf(conditions=(a, b)), AllOf(conditions=(c, d)))), f"{A} AND {B} OR {C} AND {D}"),
]


@pytest.mark.parametrize(("condition", "expected"), JUNCTIONS, ids=[j[1] for j in JUNCTIONS])
def test_and_binds_tighter_than_or_so_only_or_inside_and_is_parenthesised(
    condition: Any, expected: str
) -> None:
    assert where(condition) == expected


def test_conditions_from_config_use_all_any_not_keys() -> None:
    trait = parse_trait_config("t", {
        "name": "Long voice calls", "event": INITIATED, "aggregation": {"type": "count"},
        "where": {"all": [
            {"property": "channelType", "operator": "one_of", "value": ["Voice", "WhatsApp"]},
            {"any": [{"property": "duration", "operator": ">", "value": 600},
                     {"not": {"property": "x", "operator": "exists"}}]},
        ]},
    })  # fmt: skip
    assert where_text(trait) == (
        "property('channelType').one_of('Voice', 'WhatsApp') AND "
        "(property('duration') > 600 OR NOT (property('x').exists()))"
    )


def where_text(trait: TraitSpec | RawTrait) -> str:
    query = compile_query(trait)
    return query[query.index(".where(") + len(".where(") : query.rindex(").count()")]


# ----------------------------------------------------------------------------- quoting and literals

NAMES = [
    ("O'Brien", "'O''Brien'"),
    ("''", "''''''"),
    ("it's a\\'b", r"'it''s a\\''b'"),
    ("back\\slash", r"'back\\slash'"),
    ("with space", "'with space'"),
    ("Flex - Engagement", "'Flex - Engagement'"),
    ("a.b", "'a.b'"),
    ("", "''"),
    ("é ü 中", "'é ü 中'"),
]


@pytest.mark.parametrize(("text", "expected"), NAMES, ids=[n[0] or "empty" for n in NAMES])
def test_quote_escapes_quotes_and_backslashes(text: str, expected: str) -> None:
    assert quote(text) == expected
    assert unquote(quote(text)) == text


def balanced(query: str) -> bool:
    """What a checker that knows no escapes sees: every quote opened is closed (an even number of them)."""
    return query.count("'") % 2 == 0 and "\\'" not in query.replace("\\\\", "")


@pytest.mark.parametrize("text", [t for t, _ in NAMES if t], ids=[n[0] for n in NAMES if n[0]])
def test_a_quote_in_a_name_keeps_the_query_balanced_and_reads_back(text: str) -> None:
    trait = spec(event="Order", where=PropertyCondition(property=text, operator="=", value=text))

    assert balanced(trait.query), trait.query
    parsed = try_from_query(trait.query, "Quoted")
    assert parsed is not None and parsed.query == trait.query


def test_event_names_are_quoted_without_path_escaping() -> None:
    assert spec(event="It's a.b - c\\d").query == r"event('It''s a.b - c\\d').count()"


PATHS = [
    (("channelType",), "property('channelType')"),
    (("a.b",), r"property('a\\.b')"),  # one key containing a dot: \. in the path, quoted as \\.
    (("a", "b"), "property('a.b')"),  # nested: the dot is a separator
    (("context", "page.url", "x"), r"property('context.page\\.url.x')"),
    (("it's",), "property('it''s')"),
    (("back\\slash",), r"property('back\\\\slash')"),
    (("with space", "and-hyphen"), "property('with space.and-hyphen')"),
]


@pytest.mark.parametrize(("path", "expected"), PATHS, ids=[p[1] for p in PATHS])
def test_property_paths(path: tuple[str, ...], expected: str) -> None:
    name: str | list[str] = path[0] if len(path) == 1 else list(path)
    trait = spec(aggregation=FirstLastAggregation(type="last", property=name))
    assert trait.query == f"event('E').last({expected})"
    assert split_property_path(property_path_text(path)) == path


def test_a_string_property_is_one_key_and_a_list_is_a_nested_path() -> None:
    assert NumericAggregation(type="sum", property="a.b").property == ("a.b",)
    assert NumericAggregation(type="sum", property=["a", "b"]).property == ("a", "b")


LITERALS = [
    (5, "5"),
    (-3, "-3"),
    (0, "0"),
    (2.5, "2.5"),
    (2.0, "2.0"),
    (-0.125, "-0.125"),
    (1e-07, "1e-07"),
    (True, "true"),
    (False, "false"),
    ("5", "'5'"),
    ("true", "'true'"),
]


@pytest.mark.parametrize(("value", "expected"), LITERALS, ids=[repr(v[0]) for v in LITERALS])
def test_numbers_are_bare_booleans_are_words_strings_are_quoted(value: Any, expected: str) -> None:
    assert literal(value) == expected
    assert where(cond("p", "=", value)) == f"property('p') = {expected}"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinity_are_rejected(value: float) -> None:
    with pytest.raises(pydantic.ValidationError, match="finite number"):
        cond("p", ">", value)
    with pytest.raises(TraitDefinitionError):
        literal(value)


# ----------------------------------------------------------------------------- validation

COUNT = {"type": "count"}
BAD_DEFINITIONS: list[tuple[str, dict[str, Any], str, str]] = [
    ("unknown operator", {"where": {"property": "p", "operator": "like", "value": "a"}},
     "where.operator", "unknown operator 'like'"),
    ("unknown operator in a list", {"where": {"all": [{"property": "p", "operator": "=", "value": 1},
                                                      {"property": "q", "operator": "~", "value": 1}]}},
     "where.all[1].operator", "use one of"),
    ("min frequency 0", {"aggregation": {"type": "most_frequent", "property": "c", "minFrequency": 0}},
     "aggregation.minFrequency", "at least 1"),
    ("window of 0 days", {"window": {"within": {"days": 0}}}, "window.within.days", "at least 1"),
    ("window of negative hours", {"window": {"within": {"hours": -2}}}, "window.within.hours", "at least 1"),
    ("window with days and hours", {"window": {"within": {"days": 1, "hours": 2}}}, "window.within",
     "exactly one of days or hours"),
    ("window with within and between", {"window": {"within": {"days": 1}, "between": {"fromDays": 1,
                                                                                       "toDays": 2}}},
     "window", "exactly one of within"),
    ("between from = to", {"window": {"between": {"fromDays": 7, "toDays": 7}}}, "window.between",
     "less than toDays"),
    ("between from > to", {"window": {"between": {"fromDays": 9, "toDays": 3}}}, "window.between",
     "less than toDays"),
    ("empty event", {"event": ""}, "event", "must not be empty"),
    ("blank event", {"event": "   "}, "event", "must not be empty"),
    ("empty property", {"aggregation": {"type": "sum", "property": ""}}, "aggregation.property",
     "property name must not be empty"),
    ("empty nested path", {"aggregation": {"type": "sum", "property": []}}, "aggregation.property",
     "must name a property"),
    ("empty key in nested path", {"where": {"property": ["a", ""], "operator": "exists"}}, "where.property",
     "property name must not be empty"),
    ("empty one_of list", {"where": {"property": "p", "operator": "one_of", "value": []}}, "where.value",
     "at least one value"),
    ("empty contains list", {"where": {"property": "p", "operator": "contains", "value": []}}, "where.value",
     "at least one value"),
    ("two starts_with values", {"where": {"property": "p", "operator": "starts_with", "value": ["a", "b"]}},
     "where.value", "exactly one string"),
    ("numbers in one_of", {"where": {"property": "p", "operator": "one_of", "value": [1, 2]}}, "where.value",
     "list of strings"),
    ("list with =", {"where": {"property": "p", "operator": "=", "value": ["a"]}}, "where.value", "one_of"),
    ("missing comparison value", {"where": {"property": "p", "operator": ">"}}, "where.value",
     "needs a value"),
    ("value with exists", {"where": {"property": "p", "operator": "exists", "value": "x"}}, "where.value",
     "takes no value"),
    ("boolean ordering", {"where": {"property": "p", "operator": ">", "value": True}}, "where.value",
     "compare booleans with = or !="),
    ("NaN value", {"where": {"property": "p", "operator": "=", "value": float("nan")}}, "where.value",
     "finite number"),
    ("unquoted date value", {"where": {"property": "p", "operator": "=", "value": {"y": 2024}}},
     "where.value", "quote dates"),
    ("empty all", {"where": {"all": []}}, "where.all", "at least one condition"),
    ("unknown condition shape", {"where": {"prop": "p"}}, "where", "a condition is"),
    ("unknown aggregation", {"aggregation": {"type": "median", "property": "p"}}, "aggregation",
     "most_frequent"),
    ("aggregation without type", {"aggregation": {"property": "p"}}, "aggregation", "needs a type"),
    ("sum without property", {"aggregation": {"type": "sum"}}, "aggregation.property", "required"),
    ("count with property", {"aggregation": {"type": "count", "property": "p"}}, "aggregation.property",
     "unknown setting"),
    ("misspelt setting", {"windw": {"within": {"days": 1}}}, "windw", "unknown setting"),
    ("name too long", {"name": "n" * (MAX_NAME_LENGTH + 1)}, "name", f"at most {MAX_NAME_LENGTH}"),
    ("empty name", {"name": ""}, "name", "must not be empty"),
    ("newline in name", {"name": "Total\ninbounds"}, "name", "control character"),
    ("tab in event", {"event": "Flex\tEvent"}, "event", "control character"),
    ("control character in property", {"aggregation": {"type": "last", "property": "a\x00b"}},
     "aggregation.property", "control character"),
    ("control character in value", {"where": {"property": "p", "operator": "=", "value": "a\nb"}},
     "where.value", "control character"),
    ("unknown entity", {"entity": "GROUPS"}, "entity", "'USERS' or 'ACCOUNTS'"),
    ("backfill of 0 days", {"options": {"backfillDurationDays": 0}}, "options.backfillDurationDays",
     "at least 1"),
    ("raw and builder together", {"query": "event('E').count()"}, "", "not both"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "change", "location", "message"), BAD_DEFINITIONS, ids=[case[0] for case in BAD_DEFINITIONS]
)
def test_invalid_definitions_are_rejected_naming_the_field_and_the_fix(
    case: str, change: dict[str, Any], location: str, message: str
) -> None:
    prefix = "unified-profiles:traits.custom[2]"
    raw = {"name": "A trait", "event": "E", "aggregation": COUNT, **change}
    with pytest.raises(TraitDefinitionError) as raised:
        parse_trait_config(prefix, raw)
    wanted = f"{prefix}.{location}" if location else prefix
    problems = raised.value.problems
    assert any(at == wanted and message in text for at, text in problems), problems
    assert isinstance(raised.value, ValueError)


def test_every_problem_of_a_trait_is_reported_at_once() -> None:
    raw = {"name": "", "event": "", "aggregation": {"type": "sum"}, "window": {"within": {"days": 0}}}
    with pytest.raises(TraitDefinitionError) as raised:
        parse_trait_config("t", raw)
    assert {at for at, _ in raised.value.problems} == {
        "t.name", "t.event", "t.aggregation.property", "t.window.within.days",
    }  # fmt: skip


def test_a_trait_that_is_not_a_mapping_is_rejected() -> None:
    with pytest.raises(TraitDefinitionError, match="a trait is a mapping"):
        parse_trait_config("t", ["name", "event"])


def test_the_longest_allowed_name_is_accepted() -> None:
    assert spec(name="n" * MAX_NAME_LENGTH).name == "n" * MAX_NAME_LENGTH


def test_python_construction_validates_too() -> None:
    with pytest.raises(pydantic.ValidationError, match="minFrequency must be at least 1"):
        MostFrequentAggregation(property="c", min_frequency=0)
    with pytest.raises(pydantic.ValidationError, match="fromDays"):
        DayRange(from_days=3, to_days=2)
    with pytest.raises(pydantic.ValidationError, match="unknown operator"):
        PropertyCondition(property="p", operator="LIKE", value="a")


def test_definitions_are_immutable() -> None:
    with pytest.raises(pydantic.ValidationError):
        GUIDE_TRAITS["total_inbounds"].name = "Renamed"  # type: ignore[misc]


# ----------------------------------------------------------------------------- raw traits, options, keys


def test_raw_trait_keeps_its_query_verbatim() -> None:
    query = "event('Shoes Bought').where( property('price') >= trait('avg_spend') ).count()"
    raw = parse_trait_config("t", {"name": "Raw", "query": query, "entity": "ACCOUNTS"})
    assert isinstance(raw, RawTrait)
    assert compile_query(raw) == query
    assert raw.to_definition() == {"type": "ACCOUNTS", "query": query}


def test_raw_trait_query_must_not_be_empty() -> None:
    with pytest.raises(TraitDefinitionError, match=r"t\.query: query must not be empty"):
        parse_trait_config("t", {"name": "Raw", "query": "  "})


def test_options_dump_as_the_computed_trait_resource_expects() -> None:
    trait = parse_trait_config("t", {
        "name": "T", "event": "E", "aggregation": COUNT,
        "options": {"includeHistoricalData": True, "backfillDurationDays": 90},
    })  # fmt: skip
    assert trait.options == TraitOptions(include_historical_data=True, backfill_duration_days=90)
    assert trait.options.model_dump(exclude_none=True) == {
        "include_historical_data": True, "backfill_duration_days": 90,
    }  # fmt: skip


def test_snake_case_config_keys_are_accepted_too() -> None:
    trait = parse_trait_config("t", {
        "name": "T", "event": "E", "aggregation": {"type": "max", "property": "p", "as_string": True},
        "window": {"between": {"from_days": 1, "to_days": 2}},
    })  # fmt: skip
    assert trait.query == "event('E').between(1 day, 2 days).max(property('p') as string)"


TRAIT_KEYS = [
    ("Total inbounds", "total_inbounds"),
    ("Frequent inbound channel", "frequent_inbound_channel"),
    ("  Lifetime value (90d)  ", "lifetime_value_90d"),
    ("last-known agent", "last_known_agent"),
    ("lastKnownAgent", "last_known_agent"),
    ("LTV score", "ltv_score"),
    ("already_snake_case", "already_snake_case"),
    ("Durée moyenne", "durée_moyenne"),
]


@pytest.mark.parametrize(("name", "key"), TRAIT_KEYS, ids=[k[1] for k in TRAIT_KEYS])
def test_trait_key_is_the_snake_cased_name(name: str, key: str) -> None:
    assert trait_key(name) == key


# ----------------------------------------------------------------------------- required schema


def test_required_schema_of_the_guide_traits() -> None:
    needs = {trait_id: required_schema(trait) for trait_id, trait in GUIDE_TRAITS.items()}
    assert needs["total_inbounds"] == {INITIATED: {"direction"}}
    assert needs["frequent_inbound_channel"] == {INITIATED: {"direction", "channelType"}}
    assert needs["last_interaction_duration"] == {INITIATED: {"duration"}}
    assert needs["sentiment_in_last_interaction"] == {"Flex - Engagement Completed": {"sentiment"}}


def test_required_schema_collects_every_condition_and_writes_paths_as_the_schema_does() -> None:
    condition = AllOf(
        conditions=(cond("a"), AnyOf(conditions=(cond(["ctx", "b"]), Not(condition=cond("c.d")))))
    )
    trait = spec(event="Order", where=condition, aggregation=NumericAggregation(type="sum", property="total"))
    assert required_schema(trait) == {"Order": {"a", "ctx.b", r"c\.d", "total"}}


def test_required_schema_of_a_count_without_filter_is_just_the_event() -> None:
    assert required_schema(spec(event="Signed Up")) == {"Signed Up": set()}


def test_required_schema_of_a_raw_trait_is_read_from_its_query() -> None:
    query = (
        "event('Shoes Bought').where(property('price') >= trait('avg_spend') AND "
        "event('Shoes Returned').within(parent: 5 days).where(property('reason') = 'size').count() >= 1)"
        ".sum(property('It\\'s'))"
    )
    raw = RawTrait(name="Raw", query=query)
    assert required_schema(raw) == {"Shoes Bought": {"price", "It's"}, "Shoes Returned": {"reason"}}


# ----------------------------------------------------------------------------- parsing queries back


@pytest.mark.parametrize("trait_id", sorted(GUIDE_QUERIES))
def test_guide_queries_parse_back_into_the_guide_specs(trait_id: str) -> None:
    guide = GUIDE_TRAITS[trait_id]
    parsed = try_from_query(GUIDE_QUERIES[trait_id], guide.name, description=guide.description)
    assert parsed == guide


def test_parsed_traits_take_the_fields_a_query_does_not_hold() -> None:
    options = TraitOptions(include_anonymous_users=True)
    parsed = try_from_query(GUIDE_QUERIES["total_inbounds"], "Inbound", entity="ACCOUNTS", options=options,
                            enabled=False)  # fmt: skip
    assert parsed is not None
    assert (parsed.name, parsed.entity, parsed.options, parsed.enabled) == (
        "Inbound",
        "ACCOUNTS",
        options,
        False,
    )


def test_queries_from_segments_docs_parse_with_their_whitespace_normalised() -> None:
    query = (
        "event('Shoes Bought').where( property('price') > 100 AND property('brand') = 'My Brand' )"
        ".min(property('spend'))"
    )
    parsed = try_from_query(query)
    assert parsed is not None
    assert parsed.query == query.replace("( ", "(").replace(" )", ")")


OUTSIDE_THE_GRAMMAR = [
    "",
    "count()",
    "event('Shoes Bought').count() >= 1",  # an audience, not a trait
    "event('A').where(property('p') >= trait('avg_spend')).count()",
    "event('A').where(property('d').within_last(7 days)).count()",
    "event('A').within(7 days).where(property('p') = 1).count()",  # window first: compiles differently
    "event('A').within(1 days).count()",  # compiles as "1 day"
    "event('A').where((property('a') = 1 AND property('b') = 1) OR property('c') = 1).count()",
    "event('A').where(property('p').starts_with('a', 'b')).count()",
    "event('A').where(property('p').exists('x')).count()",
    "event('A').unique(property('p') as string)",
    "event('A').mode(property('p') as text, 2)",
    "event('A').mode(property('p'), 0)",
    "event('').count()",
    "event('A').where(property('p') = 1.50).count()",
    "event('A').sources({exclude: 'abc'}).count()",
    "event('A').median(property('p'))",
    "event('A').count() extra",
    "event('A'.count()",
    "event('unterminated).count()",
]


@pytest.mark.parametrize("query", OUTSIDE_THE_GRAMMAR)
def test_queries_outside_the_builders_grammar_give_none(query: str) -> None:
    assert try_from_query(query) is None


class TraitGenerator:
    """Random trait specs covering every aggregation, operator, window and tricky name."""

    ALPHABET = "ab Z09'\\.-_é"

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)

    def text(self) -> str:
        length = self.random.randint(1, 8)
        text = "".join(self.random.choice(self.ALPHABET) for _ in range(length))
        return text if text.strip() else text + "x"

    def path(self) -> str | list[str]:
        if self.random.random() < 0.7:
            return self.text()
        return [self.text() for _ in range(self.random.randint(1, 3))]

    def number(self) -> int | float:
        choices = [
            lambda: self.random.randint(-1000, 1000),
            lambda: round(self.random.uniform(-100, 100), self.random.randint(0, 4)),
            lambda: self.random.choice([1e-07, 1.5e15, 2.0, -0.5, 12345.678]),
        ]
        return self.random.choice(choices)()

    def property_condition(self) -> PropertyCondition:
        operator = self.random.choice(
            ["=", "!=", ">", ">=", "<", "<=", "contains", "one_of", "none_of", "omits", "starts_with",
             "ends_with", "exists", "absent"]
        )  # fmt: skip
        value: Any
        if operator in ("exists", "absent"):
            value = None
        elif operator in ("contains", "one_of", "none_of"):
            value = [self.text() for _ in range(self.random.randint(1, 3))]
        elif operator in ("omits", "starts_with", "ends_with"):
            value = self.text()
        elif operator in ("=", "!=") and self.random.random() < 0.2:
            value = self.random.random() < 0.5
        else:
            value = self.number() if self.random.random() < 0.5 else self.text()
        return PropertyCondition(property=self.path(), operator=operator, value=value)

    def condition(self, depth: int = 0) -> Condition:
        kind = self.random.choice(["property"] * 3 + (["all", "any", "not"] if depth < 3 else []))
        if kind == "property":
            return self.property_condition()
        if kind == "not":
            return Not(condition=self.condition(depth + 1))
        children = tuple(self.condition(depth + 1) for _ in range(self.random.randint(1, 3)))
        return AllOf(conditions=children) if kind == "all" else AnyOf(conditions=children)

    def window(self) -> Window | None:
        kind = self.random.choice(["none", "days", "hours", "between"])
        if kind == "none":
            return None
        if kind == "between":
            start = self.random.randint(0, 30)
            return Window(between=DayRange(from_days=start, to_days=start + self.random.randint(1, 30)))
        amount = self.random.randint(1, 48)
        return Window(within=Duration(days=amount) if kind == "days" else Duration(hours=amount))

    def aggregation(self) -> Any:
        kind = self.random.choice(["count", "sum", "avg", "min", "max", "mode", "first", "last", "unique",
                                   "unique_count"])  # fmt: skip
        prop = self.path()
        if kind == "count":
            return CountAggregation()
        if kind in ("sum", "avg"):
            return NumericAggregation(type=kind, property=prop)
        if kind in ("min", "max"):
            return ExtremeAggregation(type=kind, property=prop, as_string=self.random.random() < 0.5)
        if kind == "mode":
            value_type = self.random.choice([None, "string", "number", "array"])
            return MostFrequentAggregation(property=prop, min_frequency=self.random.randint(1, 5),
                                           value_type=value_type)  # fmt: skip
        if kind in ("first", "last"):
            return FirstLastAggregation(type=kind, property=prop)
        return (
            UniqueListAggregation(property=prop)
            if kind == "unique"
            else UniqueCountAggregation(property=prop)
        )

    def trait(self) -> TraitSpec:
        return TraitSpec(
            # A name needs a letter (its key), and its key is ASCII snake_case.
            name=f"Trait {self.text().encode('ascii', 'ignore').decode()}",
            event=self.text(),
            where=self.condition() if self.random.random() < 0.8 else None,
            window=self.window(),
            aggregation=self.aggregation(),
        )


GENERATED = [TraitGenerator(seed).trait() for seed in range(400)]


def test_generated_traits_cover_every_aggregation_and_operator() -> None:
    queries = " ".join(trait.query for trait in GENERATED)
    for fragment in (
        "count()",
        ".sum(",
        ".avg(",
        ".min(",
        ".max(",
        " as string",
        ".mode(",
        ".first(",
        ".last(",
        ".unique(",
        ").count()",
        " AND ",
        " OR ",
        "NOT (",
        ".within(",
        ".between(",
        r"\'",
        r"\\.",
    ):
        assert fragment in queries, fragment  # fmt: skip
    operators = {c.operator for t in GENERATED for c in _conditions(t.where)}
    assert operators >= {"=", "!=", ">", ">=", "<", "<=", "contains", "one_of", "none_of", "omits",
                         "starts_with", "ends_with", "exists", "absent"}  # fmt: skip


def _conditions(condition: Condition | None) -> list[PropertyCondition]:
    from flex_program.traits import iter_conditions

    return list(iter_conditions(condition))


@pytest.mark.parametrize("index", range(0, len(GENERATED), 8))
def test_compiled_queries_parse_back_to_the_same_query(index: int) -> None:
    for trait in GENERATED[index : index + 8]:
        parsed = try_from_query(trait.query, trait.name)
        assert parsed is not None, trait.query
        assert parsed.query == trait.query
        assert required_schema(parsed) == required_schema(trait)


def test_generated_traits_survive_the_config_round_trip() -> None:
    for index, trait in enumerate(GENERATED):
        assert parse_trait_config(f"custom[{index}]", trait.to_config()) == trait, trait.to_config()


def test_raw_schema_reading_agrees_with_the_builder_on_generated_traits() -> None:
    for trait in GENERATED:
        raw = RawTrait(name=trait.name, query=trait.query)
        needs = required_schema(trait)
        # Raw reading sees the quoted path text, which is what the builder reports too.
        assert required_schema(raw) == needs, trait.query


# ----------------------------------------------------------------------------- docs/traits.md stays true

DOCS = Path(__file__).resolve().parents[2] / "docs" / "traits.md"
EXAMPLE = re.compile(r"```yaml\n(?P<trait>[^`]*)```\s*```text\n(?P<query>[^`]*?)\n```")


def test_every_documented_example_compiles_to_the_documented_query() -> None:
    examples = EXAMPLE.findall(DOCS.read_text())
    assert len(examples) >= 10
    for index, (trait_yaml, query) in enumerate(examples):
        trait = parse_trait_config(f"docs example {index}", yaml.safe_load(trait_yaml))
        assert compile_query(trait) == query, trait_yaml


def test_the_documented_python_example_runs() -> None:
    block = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.DOTALL)
    assert block is not None
    namespace: dict[str, Any] = {}
    exec(block.group(1), namespace)
    assert namespace["trait"].query == (
        "event('Flex - Engagement Initiated').where(property('Direction') = 'Inbound' AND "
        "property('channelType') = 'Voice').within(30 days).count()"
    )
