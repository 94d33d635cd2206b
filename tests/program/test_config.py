"""Stack config and shared definitions: every bad value is refused with its key and the fix, before anything runs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from flex_program.config import NAMESPACE, ConfigError, load_program_config

REPO = Path(__file__).resolve().parents[2]
NS = NAMESPACE

SNOWFLAKE_SETTINGS = {
    "account": "acme-main",
    "database": "SEGMENT_EVENTS",
    "warehouse": "SEGMENT_WAREHOUSE",
    "username": "SEGMENT_USER",
}
VALID_STACK: dict[str, Any] = {
    f"{NS}:environment": "dev",
    f"{NS}:space": {"slug": "unified-profiles-dev"},
    f"{NS}:salesforce": {"sourceSlug": "flex_dev_salesforce", "name": "Flex Dev Salesforce"},
    f"{NS}:warehouse": {
        "type": "snowflake",
        "name": "Flex Dev Snowflake",
        "settings": SNOWFLAKE_SETTINGS,
    },
    f"{NS}:reverseEtl": {"sourceSlug": "flex_dev_reverse_etl", "settings": SNOWFLAKE_SETTINGS},
    f"{NS}:schedule": {"strategy": "PERIODIC", "config": {"interval": "1h"}},
    f"{NS}:warehouseCredentials": {"private_key": "KEY"},
    f"{NS}:reverseEtlCredentials": {"private_key": "KEY"},
    "segment:token": "tok",
}
SECRET = {
    f"{NS}:warehouseCredentials",
    "segment:token",
    f"{NS}:profileApiToken",
    f"{NS}:reverseEtlCredentials",
}


def load(
    stack: dict[str, Any], *, secret: set[str] = SECRET, stack_name: str = "dev", project: Path = REPO
) -> Any:
    # Pulumi hands structured config to programs as JSON strings, scalars as strings.
    wire = {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in stack.items()}
    return load_program_config(wire.get, lambda key: key in secret, stack_name, project)


def definitions_dir(tmp_path: Path, data: dict[str, Any]) -> Path:
    (tmp_path / "definitions.yaml").write_text(yaml.safe_dump(data))
    return tmp_path


def test_the_committed_example_stacks_and_definitions_are_valid() -> None:
    for name in ("dev", "prod"):
        data = yaml.safe_load((REPO / f"Pulumi.{name}.yaml").read_text())["config"]
        secrets = {
            "segment:token": "tok",
            f"{NS}:warehouseCredentials": {"private_key": "KEY"},
            f"{NS}:reverseEtlCredentials": {"private_key": "KEY"},
        }
        program = load({**data, **secrets}, stack_name=name)
        assert program.stack.environment == name
        assert program.stack.protect is (name == "prod")
        assert len(program.traits) == 6


def test_dev_and_prod_differ_only_in_environment_values() -> None:
    dev = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())["config"]
    prod = yaml.safe_load((REPO / "Pulumi.prod.yaml").read_text())["config"]
    assert set(dev) == set(prod)
    shared_keys = [k for k in dev if k.endswith((":model", ":mapping", ":traits"))]
    assert shared_keys == [], "shared definitions belong in definitions.yaml, not in a stack file"


def test_secrets_never_show_in_the_config_repr() -> None:
    program = load(VALID_STACK)
    assert "KEY" not in repr(program)
    assert "tok" not in repr(program.stack.segment_token)


def drop(key: str) -> Any:
    def change(stack: dict[str, Any]) -> None:
        stack.pop(key)

    return change


def put(key: str, value: Any) -> Any:
    def change(stack: dict[str, Any]) -> None:
        stack[key] = value

    return change


def patch(key: str, **fields: Any) -> Any:
    def change(stack: dict[str, Any]) -> None:
        stack[key] = {**stack[key], **fields}

    return change


STACK_CASES = [
    ("no space", drop(f"{NS}:space"), f"{NS}:space", "required"),
    ("space without slug or name", put(f"{NS}:space", {}), f"{NS}:space", "slug"),
    ("space slug with spaces", put(f"{NS}:space", {"slug": "Dev Space"}), f"{NS}:space.slug", "letters"),
    ("unknown space key", put(f"{NS}:space", {"slug": "a", "nmae": "x"}), f"{NS}:space.nmae", "unknown key"),
    ("unknown warehouse type", patch(f"{NS}:warehouse", type="oracle"), f"{NS}:warehouse.type", "snowflake"),
    ("empty warehouse name", patch(f"{NS}:warehouse", name=""), f"{NS}:warehouse.name", "at least 1"),
    (
        "warehouse name too long",
        patch(f"{NS}:warehouse", name="x" * 101),
        f"{NS}:warehouse.name",
        "at most 100",
    ),
    (
        "salesforce slug uppercase",
        patch(f"{NS}:salesforce", sourceSlug="Flex_SF"),
        f"{NS}:salesforce.sourceSlug",
        "lower-case letters",
    ),
    (
        "salesforce slug forbidden chars",
        patch(f"{NS}:salesforce", sourceSlug="flex/sf"),
        f"{NS}:salesforce.sourceSlug",
        "lower-case letters",
    ),
    (
        "salesforce environment",
        patch(f"{NS}:salesforce", environment="staging"),
        f"{NS}:salesforce.environment",
        "production",
    ),
    ("no reverse etl", drop(f"{NS}:reverseEtl"), f"{NS}:reverseEtl", "required"),
    (
        "schedule strategy",
        put(f"{NS}:schedule", {"strategy": "HOURLY"}),
        f"{NS}:schedule.strategy",
        "PERIODIC",
    ),
    (
        "periodic too short",
        put(f"{NS}:schedule", {"strategy": "PERIODIC", "config": {"interval": "5m"}}),
        f"{NS}:schedule",
        "more than 10m",
    ),
    (
        "periodic without interval",
        put(f"{NS}:schedule", {"strategy": "PERIODIC", "config": {}}),
        f"{NS}:schedule",
        "interval",
    ),
    (
        "interval in days",
        put(f"{NS}:schedule", {"strategy": "PERIODIC", "config": {"interval": "1d"}}),
        f"{NS}:schedule",
        "24h",
    ),
    (
        "manual with config",
        put(f"{NS}:schedule", {"strategy": "MANUAL", "config": {"interval": "1h"}}),
        f"{NS}:schedule",
        "no config",
    ),
    (
        "specific days out of range",
        put(
            f"{NS}:schedule",
            {"strategy": "SPECIFIC_DAYS", "config": {"days": [7], "hours": [9], "timezone": "UTC"}},
        ),
        f"{NS}:schedule",
        "0-6",
    ),
    (
        "bad timezone",
        put(
            f"{NS}:schedule",
            {"strategy": "SPECIFIC_DAYS", "config": {"days": [1], "hours": [9], "timezone": "Moon/Base"}},
        ),
        f"{NS}:schedule",
        "IANA",
    ),
    (
        "cron too frequent",
        put(f"{NS}:schedule", {"strategy": "CRON", "config": {"spec": "*/5 * * * *", "timezone": "UTC"}}),
        f"{NS}:schedule",
        "every 15 minutes",
    ),
    (
        "cron wrong fields",
        put(f"{NS}:schedule", {"strategy": "CRON", "config": {"spec": "0 * *", "timezone": "UTC"}}),
        f"{NS}:schedule",
        "5 fields",
    ),
    ("prod without protection", put(f"{NS}:protect", "false"), f"{NS}", "must be protected"),
    ("secret in plain text", put(f"{NS}:profileApiToken", "plain"), f"{NS}:profileApiToken", "--secret"),
    ("token in plain text", put("segment:token", "tok"), "segment:token", "--secret"),
    ("wrong region", put("segment:region", "apac"), "segment:region", "'us' or 'eu'"),
    (
        "environment contradicting the stack",
        put(f"{NS}:environment", "staging"),
        f"{NS}:environment",
        "is the dev stack",
    ),
    ("managed snowflake without spec", put(f"{NS}:snowflake", {"manage": True}), f"{NS}:snowflake", "spec"),
]


@pytest.mark.parametrize(("case", "change", "key", "message"), STACK_CASES, ids=[c[0] for c in STACK_CASES])
def test_bad_stack_config_is_refused_with_key_and_fix(case: str, change: Any, key: str, message: str) -> None:
    stack = copy.deepcopy(VALID_STACK)
    stack_name = "dev"
    if case == "prod without protection":
        stack[f"{NS}:environment"] = "prod"
        stack_name = "prod"
    change(stack)
    secret = set(SECRET)
    if case == "token in plain text":
        secret.discard("segment:token")
    if case == "secret in plain text":
        secret.discard(f"{NS}:profileApiToken")
    with pytest.raises(ConfigError) as raised:
        load(stack, secret=secret, stack_name=stack_name)
    problems = [(p.key, p.message) for p in raised.value.problems]
    assert any(k.startswith(key) and message.lower() in m.lower() for k, m in problems), problems
    assert "KEY" not in str(raised.value)


DEFINITION_CASES = [
    ("empty query", {"model": {"query": "   "}}, "model.query", "empty"),
    (
        "multi statement",
        {"model": {"query": "SELECT 1 AS ID; DROP TABLE x"}},
        "model.query",
        "several statements",
    ),
    ("trailing semicolon", {"model": {"query": "SELECT ID FROM accounts;"}}, "model.query", "trailing"),
    (
        "identifier column not selected",
        {"model": {"columns": ["NAME"], "identifierColumn": "ID"}},
        "model",
        "identifierColumn",
    ),
    ("mapping column not selected", {"mapping": {"userIdColumn": "EMAIL"}}, "definitions.yaml", "EMAIL"),
    ("bad column name", {"model": {"columns": ["ID", "NAME; --"]}}, "model.columns", "identifiers"),
    (
        "too many traits",
        {"mapping": {"traits": {f"t{i}": "ID" for i in range(300)}}},
        "mapping.traits",
        "300",
    ),
    ("unknown trigger", {"mapping": {"trigger": "always"}}, "mapping.trigger", "added_or_updated"),
    ("unknown guide trait", {"traits": {"guide": {"total_calls": True}}}, "traits.guide", "guide traits are"),
    (
        "duplicate trait names",
        {
            "traits": {
                "custom": [
                    {
                        "name": "Total inbounds",
                        "event": "Flex - Engagement Initiated",
                        "aggregation": {"type": "count"},
                    }
                ]
            }
        },
        "traits.custom[0].name",
        "clashes",
    ),
]


@pytest.mark.parametrize(
    ("case", "data", "key", "message"), DEFINITION_CASES, ids=[c[0] for c in DEFINITION_CASES]
)
def test_bad_definitions_are_refused_with_key_and_fix(
    case: str, data: dict[str, Any], key: str, message: str, tmp_path: Path
) -> None:
    project = definitions_dir(tmp_path, data)
    with pytest.raises(ConfigError) as raised:
        load(VALID_STACK, project=project)
    problems = [(p.key, p.message) for p in raised.value.problems]
    assert any(key in k and message.lower() in m.lower() for k, m in problems), problems


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    stack = copy.deepcopy(VALID_STACK)
    stack[f"{NS}:warehouse"] = {**stack[f"{NS}:warehouse"], "type": "oracle"}
    stack[f"{NS}:salesforce"] = {"sourceSlug": "Bad Slug"}
    project = definitions_dir(tmp_path, {"model": {"query": "SELECT 1;SELECT 2"}})
    with pytest.raises(ConfigError) as raised:
        load(stack, project=project)
    keys = " ".join(p.key for p in raised.value.problems)
    assert "warehouse.type" in keys and "salesforce.sourceSlug" in keys and "model.query" in keys


def load_with_keys(stack: dict[str, Any]) -> Any:
    wire = {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in stack.items()}
    return load_program_config(wire.get, lambda key: key in SECRET, "dev", REPO, keys=wire)


def test_a_misspelt_top_level_key_is_named_with_the_nearest_known_key_under_its_file() -> None:
    stack = {**VALID_STACK}
    stack[f"{NS}:warehous"] = stack.pop(f"{NS}:warehouse")
    stack["segment:tokn"] = "x"
    with pytest.raises(ConfigError) as raised:
        load_with_keys(stack)
    message = str(raised.value)
    assert "  in Pulumi.dev.yaml:\n" in message
    assert (
        f"- {NS}:warehous: unknown key: did you mean {NS}:warehouse? Rename it in Pulumi.dev.yaml" in message
    )
    assert "- segment:tokn: unknown key: did you mean segment:token?" in message
    assert f"{NS}:warehouse: required" not in message, "the misspelt key already says it"


def test_a_key_in_a_namespace_nobody_reads_is_a_warning_naming_the_namespace_meant() -> None:
    from flex_program.config import unread_namespace_warnings

    keys = [f"{NS}:space", "flex-unified-profile:warehouse", "snowflake:accountName", "pulumi:tags"]
    (warning,) = unread_namespace_warnings(keys, "Pulumi.dev.yaml")
    assert "flex-unified-profile:warehouse" in warning and "nothing in this program reads" in warning
    assert f"did you mean {NS}:warehouse?" in warning
