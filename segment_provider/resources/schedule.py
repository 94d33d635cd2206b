"""Reverse ETL schedules of a mapping (``reverseETLSchedule``), validated before anything is sent.

Segment's schema does not tie ``config`` to ``strategy``; the rules below are the ones Segment documents for each
strategy, checked here so a bad schedule fails in ``check`` instead of after the mapping was created.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Literal

import pydantic

from segment_provider.rules import hidden_character, number_problem

if TYPE_CHECKING:
    from croniter import croniter as Croniter

Strategy = Literal["PERIODIC", "SPECIFIC_DAYS", "CRON", "DBT_CLOUD", "MANUAL"]
MIN_INTERVAL_MINUTES = 10
"""A PERIODIC interval must be longer than this (Segment's reference: "more than 10m and less than 168h")."""
MAX_INTERVAL_MINUTES = 168 * 60
CRON_MIN_GAP_MINUTES = 15
"""A CRON schedule may fire at most this often."""
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(h|m|s)")
DBT_ID = re.compile(r"[0-9]{1,20}")
_UNIT_MINUTES = {"h": 60.0, "m": 1.0, "s": 1 / 60}


def duration_minutes(text: str) -> float:
    """Minutes in a Go duration string such as ``15m``, ``1h30m`` or ``24h`` (Segment's interval format)."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(
            f"interval '{text}' is not a duration like 15m, 1h or 24h (units h, m, s; use 24h for a day)"
        )
    return sum(float(n) * _UNIT_MINUTES[u] for n, u in parts)


def _croniter() -> type[Croniter]:
    """croniter's class, imported only where a cron spec is read: its import starts ``file -b`` on the Python
    binary (``platform.architecture``), a process of its own, which every program and provider would pay."""
    from croniter import croniter

    return croniter


def cron_runs(spec: str, weeks: int = 1) -> Iterator[datetime]:
    """The runs of a 5-field cron ``spec`` from a fixed Sunday on (UTC), over ``weeks`` weeks and one run more."""
    croniter = _croniter()
    runs = croniter(spec, datetime(2026, 1, 4, tzinfo=UTC))
    end = datetime(2026, 1, 4, tzinfo=UTC) + timedelta(weeks=weeks)
    while True:
        run: datetime = runs.get_next(datetime)
        yield run
        if run > end:
            return


def cron_problem(spec: str) -> str | None:
    if (
        not spec.isascii()
        or not spec.isprintable()
        or len(spec.split()) != 5
        or not _croniter().is_valid(spec)
    ):
        return f"cron spec '{spec}' is not a cron expression with 5 fields (minute hour day-of-month month day-of-week)"
    # Gaps are read over a week of runs: every pattern of minutes, hours and weekdays repeats within it.
    if any(
        later - earlier < timedelta(minutes=CRON_MIN_GAP_MINUTES)
        for earlier, later in pairwise(cron_runs(spec))
    ):
        return f"cron spec '{spec}' fires more often than every {CRON_MIN_GAP_MINUTES} minutes, which Segment refuses"
    return None


NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})
"""Files of a tz database that are not IANA zones: ``localtime`` is the machine's own zone, under any name."""


@functools.cache
def iana_zones() -> frozenset[str]:
    """The IANA zone names this machine's tz database knows (a set, so no name is ever opened as a file)."""
    return frozenset(zoneinfo.available_timezones()) - NOT_ZONES


def timezone_problem(name: Any) -> str | None:
    if isinstance(name, str) and name in iana_zones():
        return None
    shown = f"'{name}'" if isinstance(name, str) and len(name) <= 60 and not hidden_character(name) else None
    shown = shown or (repr(name[:60]) + "…" if isinstance(name, str) else f"of type {type(name).__name__}")
    return f"timezone {shown} is not an IANA time zone such as America/New_York or UTC"


class Schedule(pydantic.BaseModel):
    """A Reverse ETL schedule: ``{strategy, config}`` as Segment stores it."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True, defer_build=True)

    strategy: Strategy
    config: dict[str, Any] | None = None

    @pydantic.field_validator("strategy", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        # Segment's web reference spells strategies in lower case; its SDK only accepts upper case.
        return value.upper() if isinstance(value, str) else value

    @pydantic.model_validator(mode="after")
    def _config_fits_strategy(self) -> Schedule:
        problem = schedule_problem(self.strategy, self.config or {})
        if problem:
            raise ValueError(problem)
        return self


def _keys_problem(strategy: str, config: dict[str, Any], required: set[str]) -> str | None:
    missing, extra = required - set(config), set(config) - required
    if missing or extra:
        return (
            f"a {strategy} schedule needs config with exactly {sorted(required)}"
            + (f"; missing {sorted(missing)}" if missing else "")
            + (f"; unexpected {sorted(extra)}" if extra else "")
        )
    return None


def _int_list_problem(name: str, values: Any, low: int, high: int) -> str | None:
    if not isinstance(values, list) or not values:
        return f"config.{name} must be a non-empty list of numbers {low}-{high}"
    if any(number_problem(v, low=low, high=high) for v in values):
        return f"config.{name} must only hold whole numbers {low}-{high}"
    if len(set(values)) != len(values):
        return f"config.{name} lists a value twice"
    return None


def _dbt_ids_problem(config: dict[str, Any]) -> str | None:
    # The Public API types both ids as strings: the numbers dbt Cloud shows in its URLs.
    for name in ("accountId", "jobId"):
        value = config[name]
        if not isinstance(value, str) or not DBT_ID.fullmatch(value):
            got = f"{value[:30]!r}" if isinstance(value, str) else type(value).__name__
            return (
                f"config.{name} must be the dbt Cloud {name[:-2]} id as a non-empty string of digits, without "
                f'spaces (quote it, e.g. {name}: "12345"), got {got}'
            )
    return None


def schedule_problem(strategy: str, config: dict[str, Any]) -> str | None:
    if strategy == "MANUAL":
        return "a MANUAL schedule takes no config" if config else None
    if strategy == "PERIODIC":
        problem = _keys_problem(strategy, config, {"interval"})
        if problem:
            return problem
        try:
            minutes = duration_minutes(str(config["interval"]))
        except ValueError as error:
            return str(error)
        if not MIN_INTERVAL_MINUTES < minutes < MAX_INTERVAL_MINUTES:
            return f"a PERIODIC interval must be more than {MIN_INTERVAL_MINUTES}m and less than 168h"
        return None
    if strategy == "SPECIFIC_DAYS":
        return (
            _keys_problem(strategy, config, {"days", "hours", "timezone"})
            or _int_list_problem("days", config["days"], 0, 6)
            or _int_list_problem("hours", config["hours"], 0, 23)
            or timezone_problem(config["timezone"])
        )
    if strategy == "CRON":
        return (
            _keys_problem(strategy, config, {"spec", "timezone"})
            or cron_problem(str(config["spec"]))
            or timezone_problem(config["timezone"])
        )
    if strategy == "DBT_CLOUD":
        return _keys_problem(strategy, config, {"jobId", "accountId"}) or _dbt_ids_problem(config)
    return f"unknown schedule strategy '{strategy}'"
