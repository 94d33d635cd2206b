"""The Reverse ETL model's SQL, read with sqlglot in the warehouse's dialect, before anything is sent.

The one SQL check: the program runs it on ``definitions.yaml`` before registering anything, and the Reverse ETL
model provider runs the same function in its ``check``, so no query passes one and fails the other.

Segment runs the query inside SQL of its own (a CTE: ``WITH model AS (<query>) …``), so it must be exactly one
SELECT (a ``WITH … SELECT`` or a ``UNION`` of SELECTs counts), end without ``;``, and not end in a line comment
(``-- …``), which would swallow the closing parenthesis of the wrapper. A parser, not a regular expression, decides
where strings, comments and statements end: a Snowflake ``//`` comment, a ``\\'`` escape or a ``$$…$$`` string is
read as the warehouse reads it.

sqlglot is imported when a query is first checked, not with this module: it is a large import (0.15 s) that a
provider process answering ``diff`` or ``read`` never needs. And a check that passed is remembered, by a hash
only, in this user's cache folder (``$XDG_CACHE_HOME`` or ``~/.cache``, ``flex-unified-profiles/sql-checked``):
the program and the provider, each started afresh by every ``pulumi`` command, then skip sqlglot for a query
already passed on this machine. The hash covers the query, the dialect, the columns asked for, sqlglot's version
and this module's own text, so a new rule or a new sqlglot judges every query again. A refusal is never
remembered.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlglot.errors import ParseError, TokenError

DIALECTS = {"snowflake": "snowflake", "bigquery": "bigquery", "postgres": "postgres", "redshift": "redshift"}
"""Warehouse type → sqlglot dialect."""

ONE_SELECT = "a Reverse ETL model must be exactly one SELECT statement"


_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)


def _parse(sql: str, dialect: str | None) -> list[Any]:
    import sqlglot

    # sqlglot logs a warning when it falls back to an opaque Command (CALL, SHOW…); the refusal says it instead.
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        return sqlglot.parse(sql, read=dialect)
    finally:
        logger.setLevel(level)


def _where(error: ParseError | TokenError) -> str:
    if hasattr(error, "errors") and error.errors:
        first = error.errors[0]
        return f"{first.get('description') or 'invalid SQL'} at line {first.get('line')}, column {first.get('col')}"
    return "a string or quoted name is never closed"


def query_problem(sql: str, warehouse_type: str | None) -> str | None:
    """Why Segment (or the warehouse) would refuse ``sql`` as a model, or None."""
    if not sql.strip():
        return "the query is empty: write one SELECT statement"
    passed = _passed_check("one select", sql, warehouse_type)
    if _passed_before(passed):
        return None
    problem = _query_problem(sql, warehouse_type)
    if problem is None:
        _remember(passed)
    return problem


def _query_problem(sql: str, warehouse_type: str | None) -> str | None:
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError
    from sqlglot.tokens import TokenType

    dialect = DIALECTS.get(warehouse_type or "")
    name = warehouse_type or "generic"
    try:
        statements = [s for s in _parse(sql, dialect) if s is not None and not isinstance(s, exp.Semicolon)]
        tokens = sqlglot.tokenize(sql, read=dialect)
    except (ParseError, TokenError) as error:
        return f"the query is not valid {name} SQL ({_where(error)}): write one SELECT statement"
    if len(statements) > 1:
        return f"the query holds several statements: {ONE_SELECT}"
    if not statements or not isinstance(statements[0], exp.Query):
        kind = type(statements[0]).__name__.upper() if statements else "empty"
        return f"the query is not a SELECT (it reads as {kind}): {ONE_SELECT}"
    if tokens and tokens[-1].token_type == TokenType.SEMICOLON:
        return "remove the trailing ';': Segment wraps the query in a CTE, so it must be a single statement"
    if tokens and _BLOCK_COMMENT.sub("", sql[tokens[-1].end + 1 :]).strip():
        return (
            "the query ends in a line comment (-- …): Segment wraps the query in SQL of its own, and the comment "
            "would hide the wrapper's closing parenthesis; remove it, or write it as /* … */"
        )
    return None


def selected_columns(sql: str, warehouse_type: str | None) -> set[str] | None:
    """Upper-cased output names of the query's select list, or None when they cannot be known (``SELECT *``,
    an expression without an alias, a query that does not parse)."""
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError

    try:
        (statement,) = [s for s in _parse(sql, DIALECTS.get(warehouse_type or "")) if s is not None]
    except (ParseError, TokenError, ValueError):
        return None
    while isinstance(statement, exp.SetOperation | exp.Subquery):
        statement = statement.this  # a UNION's columns are named by its first SELECT
    if not isinstance(statement, exp.Select):
        return None
    names = set()
    for projection in statement.expressions:
        # Only a column or an alias has a name known before the warehouse runs the query; `*` and unnamed
        # expressions (the warehouse names those itself) leave the select list unknown.
        if isinstance(projection, exp.Alias) or (
            isinstance(projection, exp.Column) and not isinstance(projection.this, exp.Star)
        ):
            names.add(projection.alias_or_name.upper())
        else:
            return None
    return names


def missing_columns(sql: str, warehouse_type: str | None, needed: Iterable[str]) -> list[str]:
    """The columns of ``needed`` the query does not select (none when that cannot be known)."""
    wanted = list(dict.fromkeys(needed))
    passed = _passed_check("columns", sql, warehouse_type, *wanted)
    if _passed_before(passed):
        return []
    selected = selected_columns(sql, warehouse_type)
    missing = [] if selected is None else [c for c in wanted if c.upper() not in selected]
    if not missing:
        _remember(passed)
    return missing


# ------------------------------------------------------------------------------------- checks that passed


def passed_checks_folder() -> Path | None:
    """Where passed checks are remembered: one empty file per check, named by its hash. None where the user has
    no home folder and no ``XDG_CACHE_HOME`` (a service account, a bare container): nothing is remembered."""
    cache = os.environ.get("XDG_CACHE_HOME")
    if not cache:
        try:
            cache = str(Path.home() / ".cache")
        except RuntimeError:
            return None
    return Path(cache) / "flex-unified-profiles" / "sql-checked"


def _passed_check(check: str, sql: str, warehouse_type: str | None, *more: str) -> Path | None:
    folder = passed_checks_folder()
    if folder is None:
        return None
    text = "\0".join((_judge(), check, warehouse_type or "", sql, *more))
    return folder / hashlib.sha256(text.encode()).hexdigest()


@functools.cache
def _judge() -> str:
    """sqlglot's version and this module's text: what a remembered pass was judged by (read once a process)."""
    try:
        version = importlib.metadata.version("sqlglot")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return f"{version}/{hashlib.sha256(Path(__file__).read_bytes()).hexdigest()}"


def _passed_before(passed: Path | None) -> bool:
    if passed is None:
        return False
    try:
        return passed.is_file()
    except OSError:
        return False


def _remember(passed: Path | None) -> None:
    # A cache only: a folder that cannot be written costs the parse next time, nothing else.
    if passed is None:
        return
    try:
        passed.parent.mkdir(parents=True, exist_ok=True)
        passed.touch()
    except OSError:
        pass
