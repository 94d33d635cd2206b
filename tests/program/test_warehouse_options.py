"""The warehouse option table the stack config is checked against, the emulator's catalog that must agree with
it, and the SQL model's parse in each warehouse's dialect."""

from __future__ import annotations

import pytest

from flex_program.warehouse_options import WAREHOUSE_OPTIONS, settings_problems
from segment_emulator.catalog import SOURCES, WAREHOUSES
from segment_provider.model_sql import missing_columns, query_problem


def _catalog_options(items: tuple[dict, ...], slug: str) -> set[tuple[str, str, bool]]:
    (item,) = [i for i in items if i["slug"] == slug]
    return {(o["name"], o["type"], o["required"]) for o in item["options"]}


@pytest.mark.parametrize("kind", sorted(WAREHOUSE_OPTIONS))
def test_the_emulator_catalog_lists_the_options_of_the_table(kind: str) -> None:
    table = {(o.name, o.type, o.required) for o in WAREHOUSE_OPTIONS[kind]}
    assert _catalog_options(WAREHOUSES, kind) == table, "warehouse destination"
    assert _catalog_options(SOURCES, kind) == table, "Reverse ETL source of the same type"


def test_every_warehouse_type_of_the_config_has_options() -> None:
    from flex_program.config import WAREHOUSE_TYPES

    assert sorted(WAREHOUSE_OPTIONS) == sorted(WAREHOUSE_TYPES)


SNOWFLAKE = {"account": "a", "database": "d", "warehouse": "w", "username": "u"}


def problems(kind: str, settings: dict, credentials: dict | None = None) -> dict[str, str]:
    return dict(settings_problems(kind, settings, credentials or {}, "warehouse", "warehouseCredentials"))


def test_complete_settings_pass_and_an_option_the_table_does_not_know_is_passed_on() -> None:
    assert problems("snowflake", {**SNOWFLAKE, "note": "x"}, {"private_key": "k"}) == {}
    assert problems("bigquery", {"project": "p"}, {"credentials": "{}"}) == {}


def test_missing_wrong_type_and_other_type_options_are_each_named() -> None:
    found = problems("postgres", {"hostname": "h", "port": "5432", "database": "d", "account": "a"})
    assert set(found) == {
        "warehouse.settings.port",
        "warehouse.settings.username",
        "warehouse.settings.account",
        "warehouseCredentials.password",
    }
    assert "must be a number" in found["warehouse.settings.port"]
    assert "is a snowflake option" in found["warehouse.settings.account"]


def test_required_credentials_are_asked_for_unless_they_are_not_read() -> None:
    assert list(problems("snowflake", SNOWFLAKE)) == ["warehouseCredentials.private_key"]
    kept = settings_problems("snowflake", SNOWFLAKE, {}, "warehouse", "w", require_credentials=False)
    assert kept == []
    found = problems("snowflake", SNOWFLAKE, {"private_key_passphrase": "p"})
    assert list(found) == ["warehouseCredentials.private_key"]


def test_a_managed_snowflake_side_provides_the_connection_settings() -> None:
    credentials = {"private_key": "k"}
    assert (
        settings_problems("snowflake", {}, credentials, "warehouse", "warehouseCredentials", SNOWFLAKE) == []
    )


def test_a_credential_value_is_never_repeated() -> None:
    found = problems(
        "snowflake", {**SNOWFLAKE, "private_key_passphrase": "x"}, {"private_key_passphrase": "s3cr3t"}
    )
    assert "s3cr3t" not in str(found) and "warehouse.settings.private_key_passphrase" in found


@pytest.mark.parametrize("dialect", ["snowflake", "bigquery", "postgres", "redshift"])
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT ID, NAME FROM salesforce.accounts",
        "WITH a AS (SELECT ID, NAME FROM salesforce.accounts) SELECT ID, NAME FROM a",
        "SELECT ID, NAME FROM a UNION ALL SELECT ID, NAME FROM b",
        "SELECT * FROM salesforce.accounts",
    ],
)
def test_one_select_is_accepted_in_every_dialect(dialect: str, sql: str) -> None:
    assert query_problem(sql, dialect) is None


@pytest.mark.parametrize(
    ("sql", "dialect", "words"),
    [
        ("SELECT ID FROM t // note\n; DROP TABLE t", "snowflake", "several statements"),
        ("SELECT ID FROM t WHERE n = 'a\\''; DROP TABLE t", "snowflake", "several statements"),
        ("SELECT ID FROM t WHERE n = 'a\\''; DROP TABLE t", "bigquery", "several statements"),
        ("SELECT 1; SELECT 2", "postgres", "several statements"),
        ("DELETE FROM t", "redshift", "not a SELECT"),
        ("INSERT INTO t SELECT 1", "snowflake", "not a SELECT"),
        ("CREATE TABLE x AS SELECT 1", "snowflake", "not a SELECT"),
        ("SELEC NAME FORM salesforce.accounts", "snowflake", "not valid snowflake SQL"),
        ("SELECT ID FROM t;", "snowflake", "trailing ';'"),
        ("   ", "snowflake", "empty"),
    ],
)
def test_anything_but_one_select_is_refused(sql: str, dialect: str, words: str) -> None:
    problem = query_problem(sql, dialect)
    assert problem is not None and words in problem


def test_a_dollar_quoted_snowflake_string_is_one_statement() -> None:
    sql = "SELECT ID, $$it's; DROP TABLE t$$ AS NOTE FROM salesforce.accounts"
    assert query_problem(sql, "snowflake") is None
    assert missing_columns(sql, "snowflake", ["ID", "NOTE", "NAME"]) == ["NAME"]


def test_columns_are_checked_only_where_the_select_list_is_known() -> None:
    assert missing_columns("SELECT a.ID AS id, name FROM t a", "snowflake", ["ID", "NAME"]) == []
    assert missing_columns("SELECT * FROM t", "snowflake", ["ANY"]) == []
    assert missing_columns("SELECT ID, COUNT(*) FROM t GROUP BY ID", "snowflake", ["X"]) == []
