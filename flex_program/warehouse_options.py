"""The connection options of each warehouse type, in one table, and the check of a stack's settings against it.

Segment's own option list lives in its catalog (``GET /catalog/warehouses/{id}``, ``GET /catalog/sources/{id}``),
which can only be read once the API is reachable. The stack config is checked before the first call, so the
program keeps what it knows of those lists here; ``tests/program/test_warehouse_options.py`` holds the emulator's
catalog to this table. Facts: ../shared/reference/segment-for-flex.md (Snowflake, "Other warehouses").

The same option list serves the warehouse destination (``warehouse.settings`` + ``warehouseCredentials``) and the
Reverse ETL source of the same type (``reverseEtl.settings`` + ``reverseEtlCredentials``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from flex_program.guards import number_problem, text_problem

OptionType = Literal["string", "number", "password"]


@dataclass(frozen=True)
class Option:
    name: str
    type: OptionType = "string"
    required: bool = False
    low: int | None = None
    high: int | None = None

    @property
    def secret(self) -> bool:
        """A "password" option of the catalog: set in the credentials object, never in plain settings."""
        return self.type == "password"


# Postgres and Redshift (a Postgres dialect) connect alike: host, port, database, user and password.
_SERVER_OPTIONS = (
    Option("hostname", required=True),
    Option("port", "number", required=True, low=1, high=65535),
    Option("database", required=True),
    Option("username", required=True),
    Option("password", "password", required=True),
)

WAREHOUSE_OPTIONS: dict[str, tuple[Option, ...]] = {
    # account, database, warehouse, username: the doc's connection fields and the exported settings.
    "snowflake": (
        Option("account", required=True),
        Option("database", required=True),
        Option("warehouse", required=True),
        Option("username", required=True),
        Option("role"),
        Option("auth_type"),  # 🟡 "password_auth" seen in exports; the key-pair value is unconfirmed ❓
        # ❓ The key-pair field names are unconfirmed (the exports never show secrets): private_key and
        # private_key_passphrase are the emulator's names; GET /catalog/warehouses/CCIl4HLQPz has Segment's.
        Option("private_key", "password", required=True),
        Option("private_key_passphrase", "password"),
    ),
    # ❓ BigQuery, Postgres and Redshift option names are not in the reference; these are the emulator's.
    "bigquery": (
        Option("project", required=True),
        Option("location"),
        Option("credentials", "password", required=True),
    ),
    "postgres": _SERVER_OPTIONS,
    "redshift": _SERVER_OPTIONS,
}


def _owners(name: str, of: str) -> list[str]:
    return [
        kind
        for kind, options in WAREHOUSE_OPTIONS.items()
        if kind != of and any(o.name == name for o in options)
    ]


def _unknown(name: str, kind: str, where: str, known: list[str]) -> str | None:
    """Why ``name`` cannot be meant for a ``kind`` warehouse, or None when it may be an option of Segment's
    catalog that the table does not know."""
    owners = _owners(name, kind)
    if owners:
        return (
            f"'{name}' is a {' and '.join(owners)} option, not a {kind} one: remove it, or set warehouse.type "
            f"to {owners[0]} if that is the warehouse you use ({kind} takes {known})"
        )
    nearest = difflib.get_close_matches(name, known, n=1, cutoff=0.75)
    if nearest:
        return f"unknown {kind} option {name[:80]!r}: did you mean {nearest[0]}? ({kind} takes {known} in {where})"
    return None


def settings_problems(
    kind: str,
    settings: Mapping[str, Any],
    credentials: Mapping[str, Any],
    section: str,
    secret_key: str,
    provided: Iterable[str] = (),
    *,
    require_credentials: bool = True,
) -> list[tuple[str, str]]:
    """``(key, problem)`` for each way ``settings`` and ``credentials`` do not fit a ``kind`` warehouse.

    A key the table does not know is refused when it is another type's option or a near miss of one of this
    type's (a typo); any other key is passed on, as Segment's catalog may hold options this table lacks.

    ``section`` is the stack key of the settings (``warehouse``), ``secret_key`` that of the credentials,
    ``provided`` the options the program sets itself (those of a Snowflake side it manages);
    ``require_credentials`` false leaves the required credentials unchecked (the doctor reads a stack file
    without its secrets).
    Keys are reported as ``<section>.settings.<name>`` and ``<secret_key>.<name>``.
    """
    options = {o.name: o for o in WAREHOUSE_OPTIONS.get(kind, ())}
    if not options:
        return []  # an unknown type is reported on warehouse.type
    plain = sorted(n for n, o in options.items() if not o.secret)
    secret = sorted(n for n, o in options.items() if o.secret)
    problems: list[tuple[str, str]] = []
    for name in sorted(set(settings) & set(credentials)):
        problems.append(
            (
                f"{section}.settings.{name}",
                f"is given both here and in {secret_key}: keep it in one place ({secret_key} if it is a secret)",
            )
        )
    for name, value in settings.items():
        key = f"{section}.settings.{name}"
        option = options.get(name)
        if option is None:
            if problem := _unknown(name, kind, f"{section}.settings", plain):
                problems.append((key, problem))
        elif option.secret:
            pass  # refused as a credential in plain settings, on the settings key
        elif problem := _value_problem(option, value):
            problems.append((key, problem))
    for name, value in credentials.items():
        key = f"{secret_key}.{name}"
        option = options.get(name)
        if option is None or not option.secret:
            if name not in settings and (problem := _unknown(name, kind, secret_key, secret)):
                problems.append((key, problem))
        elif problem := text_problem(value, max_length=16384, one_line=False):
            problems.append((key, problem))
    for name, option in options.items():
        if option.secret and not require_credentials:
            continue
        if option.required and name not in {*settings, *credentials, *provided}:
            where = (
                f"`pulumi config set --secret --path '{secret_key}.{name}' …`"
                if option.secret
                else f"{section}.settings.{name} in the stack file"
            )
            problems.append(
                (
                    f"{secret_key}.{name}" if option.secret else f"{section}.settings.{name}",
                    f"required for a {kind} warehouse: set {where}",
                )
            )
    return problems


def _value_problem(option: Option, value: Any) -> str | None:
    if option.type == "number":
        return number_problem(value, low=option.low or 0, high=option.high)
    if not isinstance(value, str):
        return f"must be a string (text), got {type(value).__name__}"
    return text_problem(value)
