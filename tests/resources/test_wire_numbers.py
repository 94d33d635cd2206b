"""Numbers off the engine's wire: a whole float where Segment wants an integer becomes an int, and a fraction is a
clean check failure naming the field (never a 422 from Segment, never a silently rounded value)."""

from __future__ import annotations

from typing import Any

import pytest

from segment_provider.resources.computed_trait import ComputedTraitProvider
from segment_provider.resources.destination_subscription import DestinationSubscriptionProvider

TRAIT = {
    "space_id": "spa_1",
    "name": "Total inbounds",
    "definition": {"type": "USERS", "query": "event('E').count()"},
}


def trait_check(days: Any) -> Any:
    return ComputedTraitProvider().check({}, {**TRAIT, "options": {"backfill_duration_days": days}})


def test_a_whole_float_backfill_is_sent_as_an_integer() -> None:
    result = trait_check(90.0)

    assert result.failures == []
    days = result.inputs["options"]["backfill_duration_days"]
    assert days == 90 and type(days) is int


@pytest.mark.parametrize("days", [2.5, 0.1])
def test_a_fractional_backfill_fails_the_check_naming_the_field(days: float) -> None:
    (failure,) = trait_check(days).failures

    assert failure.property == "options.backfill_duration_days"
    assert "integer" in failure.reason


SUBSCRIPTION = {
    "destination_id": "dst_1",
    "catalog_slug": "actions-segment-profiles",
    "name": "Send Identify",
    "action_slug": "sendIdentify",
    "trigger": 'event = "new" or event = "updated"',
    "model_id": "mdl_1",
    "settings": {},
}


def schedule_check(days: list[Any]) -> Any:
    schedule = {"strategy": "SPECIFIC_DAYS", "config": {"days": days, "hours": [6.0], "timezone": "UTC"}}
    return DestinationSubscriptionProvider().check({}, {**SUBSCRIPTION, "schedule": schedule})


def test_whole_float_days_are_sent_as_integers() -> None:
    result = schedule_check([1.0, 3.0])

    assert result.failures == []
    config = result.inputs["schedule"]["config"]
    assert config["days"] == [1, 3] and all(type(d) is int for d in config["days"] + config["hours"])


def test_a_fractional_day_fails_the_check_naming_the_schedule() -> None:
    failures = schedule_check([1.5]).failures

    assert [f.property for f in failures] == ["schedule"]
    assert "whole numbers" in failures[0].reason
