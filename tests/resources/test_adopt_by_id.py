"""``adopt_id``: every kind takes over the object with the Segment id it is given, which wins over the natural
key, through the SDK's provider server as the engine drives it (the stack config's ``adoptIds``)."""

from __future__ import annotations

from typing import Any

import pytest

from segment_provider.api.models import Label
from segment_provider.resources.base import ENVIRONMENT_LABEL, SegmentProvider
from tests.harness import ProviderError, ResourceDriver
from tests.resources.cases import ALL_CASES, Context, KindCase
from tests.resources.test_matrix import create, mutating_calls


def kinds(predicate: Any = lambda case: True) -> Any:
    return pytest.mark.parametrize("case", [c for c in ALL_CASES if predicate(c)], ids=lambda c: c.kind)


def found_id(case: KindCase, ctx: Context, inputs: dict[str, Any]) -> str:
    """The resource id of the object with these inputs' natural key, as the kind's own lookup finds it."""
    provider: SegmentProvider[Any, Any] = case.provider()
    provider.__dict__["_client"] = ctx.client
    remote = provider.find_existing(provider.inputs_model.model_validate(inputs))
    assert remote is not None
    return provider.resource_id(remote)


def as_a_user_writes_it(resource_id: str, case: KindCase) -> str:
    """Mappings and traits are named by their own id (the app's URL shows it); their parent is in the config."""
    return (
        resource_id.partition(":")[2]
        if case.kind in ("DestinationSubscription", "ComputedTrait")
        else resource_id
    )


# The space is always looked up; a warehouse connection and a destination's activation are named by their parents.
OWN_ID_KINDS = (
    "Source",
    "Warehouse",
    "ReverseEtlModel",
    "Destination",
    "DestinationSubscription",
    "ComputedTrait",
)


def adoptable(case: KindCase) -> bool:
    return case.pre_create is not None and case.kind in OWN_ID_KINDS


def doubled(case: KindCase) -> bool:
    """Kinds whose natural key Segment lets two objects share."""
    return adoptable(case) and case.provider().unique_key is False


@kinds(adoptable)
def test_adopt_id_takes_over_that_object_without_a_create(
    case: KindCase, driver: ResourceDriver, ctx: Context, emulator: Any
) -> None:
    assert case.pre_create is not None
    inputs = case.inputs(ctx)
    case.pre_create(ctx, inputs)
    existing = found_id(case, ctx, inputs)
    emulator.clear_requests()

    given = as_a_user_writes_it(existing, case)
    state = create(driver, case, {**inputs, "adopt_id": given})

    assert state.id == existing
    assert mutating_calls(emulator) == []
    refreshed = driver.read(state)
    assert refreshed is not None
    assert driver.diff(refreshed, case.provider(), {**inputs, "adopt_id": given}).changes is False


@kinds(adoptable)
def test_an_adopt_id_segment_does_not_have_fails_naming_it_and_creates_nothing(
    case: KindCase, driver: ResourceDriver, ctx: Context, emulator: Any
) -> None:
    inputs = case.inputs(ctx)  # its parents are made here
    emulator.clear_requests()
    with pytest.raises(ProviderError, match="'nosuchid0123456789'"):
        create(driver, case, {**inputs, "adopt_id": "nosuchid0123456789"})
    assert mutating_calls(emulator) == []


@kinds(doubled)
def test_two_objects_with_one_name_stop_the_create_and_an_adopt_id_picks_one(
    case: KindCase, driver: ResourceDriver, ctx: Context, emulator: Any
) -> None:
    assert case.pre_create is not None
    inputs = case.inputs(ctx)
    case.pre_create(ctx, inputs)
    first = found_id(case, ctx, inputs)
    case.pre_create(ctx, inputs)

    with pytest.raises(ProviderError, match="adoptIds") as stopped:
        create(driver, case, inputs)
    assert as_a_user_writes_it(first, case) in str(stopped.value)

    emulator.clear_requests()
    state = create(driver, case, {**inputs, "adopt_id": as_a_user_writes_it(first, case)}, name="picked")
    assert state.id == first
    assert mutating_calls(emulator) == []


def test_every_kind_with_an_id_of_its_own_is_covered() -> None:
    assert sorted(c.kind for c in ALL_CASES if adoptable(c)) == sorted(OWN_ID_KINDS)


def test_an_adopt_id_under_another_environments_source_is_refused_and_nothing_changes(
    driver: ResourceDriver, ctx: Context, emulator: Any
) -> None:
    case = next(c for c in ALL_CASES if c.kind == "ReverseEtlModel")
    inputs = case.inputs(ctx)
    assert case.pre_create is not None
    case.pre_create(ctx, inputs)
    existing = found_id(case, ctx, inputs)
    ctx.client.add_labels_to_source(inputs["source_id"], [Label(key=ENVIRONMENT_LABEL, value="prod")])
    emulator.clear_requests()

    with pytest.raises(ProviderError, match=r"refusing to adopt .*environment:prod"):
        create(driver, case, {**inputs, "environment": "dev", "adopt_id": existing, "name": "Renamed"})
    assert mutating_calls(emulator) == []
