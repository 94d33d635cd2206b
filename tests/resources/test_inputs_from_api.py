"""Each kind's module maps an API answer back to its inputs (``inputs_from_api``), the way the export uses it.

The round trip for every kind: an object made by the provider, read back through the API and described as
inputs, is adopted by a new resource with exactly those inputs (plus the secrets only the user has) without one
mutating call. The helpers the export relies on (columns, triggers, schedules, options, credentials) have their
own cases below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pydantic
import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from segment_provider.api.models import ReverseEtlSchedule
from segment_provider.api.models import TraitOptions as ApiTraitOptions
from segment_provider.resources import (
    computed_trait,
    destination,
    destination_subscription,
    reverse_etl_model,
    source,
    space,
    warehouse,
    warehouse_connection,
)
from segment_provider.resources.base import FoundInputs, SegmentProvider, split_settings
from segment_provider.resources.destination_subscription import (
    RETL_TRIGGERS,
    column_path,
    path_column,
    schedule_from_api,
    trigger_name,
)
from tests.harness import ResourceDriver
from tests.resources.cases import ALL_CASES, Context, KindCase

MUTATING = ("POST", "PATCH", "PUT", "DELETE")

Describe = Callable[[Any, Context], FoundInputs]
DESCRIBE: dict[str, Describe] = {
    "UnifySpace": lambda remote, ctx: space.inputs_from_api(remote),
    "Source": lambda remote, ctx: source.inputs_from_api(
        remote, ctx.client.catalog.source_by_slug(remote.metadata.slug).options
    ),
    "Warehouse": lambda remote, ctx: warehouse.inputs_from_api(
        remote, ctx.client.catalog.warehouse_by_slug(remote.metadata.slug).options
    ),
    "WarehouseConnection": lambda remote, ctx: warehouse_connection.inputs_from_api(remote),
    "Destination": lambda remote, ctx: destination.inputs_from_api(remote),
    "DestinationActivation": lambda remote, ctx: destination.activation_inputs_from_api(remote),
    "ReverseEtlModel": lambda remote, ctx: reverse_etl_model.inputs_from_api(remote),
    # Segment Profiles' engage_space field takes the space's write key.
    "DestinationSubscription": lambda remote, ctx: destination_subscription.inputs_from_api(
        remote, secret_fields=["engage_space"]
    ),
    "ComputedTrait": lambda remote, ctx: computed_trait.inputs_from_api(remote),
}
NOT_IN_THE_ANSWER = {"DestinationSubscription": ("catalog_slug",)}
"""Inputs Segment's answer does not carry: a mapping names its action, not its destination's catalog type."""


def configured(provider: SegmentProvider[Any, Any], ctx: Context) -> SegmentProvider[Any, Any]:
    endpoint = ctx.client.settings.endpoint
    values = {"segment:token": ctx.emulator.token, "segment:endpoint": endpoint}
    provider.configure(ConfigureRequest(Config(values, "test")))
    return provider


def test_every_kind_has_a_description() -> None:
    assert set(DESCRIBE) == {case.kind for case in ALL_CASES}


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.kind)
def test_the_inputs_read_from_the_api_adopt_the_object_without_a_change(
    case: KindCase, driver: ResourceDriver, ctx: Context, emulator: Any
) -> None:
    inputs = case.inputs(ctx)
    made = driver.create("made", case.type_token, case.provider(), inputs)
    remote = configured(case.provider(), ctx).get_remote(made.id, made.outputs)

    found = DESCRIBE[case.kind](remote, ctx)

    secrets = inputs.get("secret_settings", {})
    assert set(found.secret_keys) == set(secrets), "every credential, and only those, is named"
    assert not set(found.secret_keys) & set(found.inputs.get("settings") or {}), "no credential value is kept"
    described = {**found.inputs, **{k: inputs[k] for k in NOT_IN_THE_ANSWER.get(case.kind, ())}}
    if found.secret_keys:
        described["secret_settings"] = {key: secrets[key] for key in found.secret_keys}
    given = {key: value for key, value in inputs.items() if key not in ("secret_settings", "adopt")}
    assert {key: described.get(key) for key in given} == given, (
        "every input the object was made with reads back"
    )
    case.provider().inputs_model.model_validate(described)
    emulator.clear_requests()
    adopted = driver.create("adopted", case.type_token, case.provider(), {**described, "adopt": True})
    assert [f"{r.method} {r.operation_id}" for r in emulator.requests if r.method in MUTATING] == []
    assert adopted.id == made.id


def test_a_column_path_reads_back_as_its_column_and_nothing_else_does() -> None:
    assert path_column(column_path("BILLING_COUNTRY")) == "BILLING_COUNTRY"
    for value in (
        {"@path": "$.properties.ID", "@template": "x"},
        {"@path": "$.traits.ID"},
        {"@path": "$.properties.a.b"},
        {"@template": "{{properties.ID}}"},
        "$.properties.ID",
        None,
    ):
        assert path_column(value) is None, value


def test_a_trigger_is_named_whatever_its_spacing_and_an_unknown_one_is_not() -> None:
    for name, text in RETL_TRIGGERS.items():
        assert trigger_name(text.replace(" = ", "=").replace(" or ", "  or  ")) == name
    assert trigger_name('event = "new" and event = "updated"') is None


def test_a_schedule_the_program_would_refuse_raises_and_a_good_one_reads_back() -> None:
    good = ReverseEtlSchedule(strategy="PERIODIC", config={"interval": "15m"})
    assert schedule_from_api(good).model_dump(mode="json", exclude_none=True) == {
        "strategy": "PERIODIC",
        "config": {"interval": "15m"},
    }
    with pytest.raises(pydantic.ValidationError):
        schedule_from_api(ReverseEtlSchedule(strategy="PERIODIC", config={"interval": "1m"}))


def test_trait_options_keep_what_can_be_asked_for() -> None:
    assert computed_trait.options_from_api(None) is None
    assert computed_trait.options_from_api(ApiTraitOptions()) is None
    whole = ApiTraitOptions(include_historical_data=True, backfill_duration_days=90.0)
    assert computed_trait.options_from_api(whole) == {
        "include_historical_data": True,
        "backfill_duration_days": 90,
    }
    assert computed_trait.options_from_api(ApiTraitOptions(backfill_duration_days=1.5)) is None


def test_settings_split_credentials_by_name_catalog_type_mask_or_request() -> None:
    from segment_provider.api.models import IntegrationOption

    options = [IntegrationOption(name="secretless", type="password", required=False)]
    settings = {
        "account": "acme",
        "private_key": "-----BEGIN",
        "secretless": "x",
        "note": "•••••abcd",
        "engage_space": "wk",
        "dropped": 1,
    }
    plain, secret = split_settings(settings, options, drop={"dropped"}, secret={"engage_space"})
    assert plain == {"account": "acme"}
    assert secret == ("engage_space", "note", "private_key", "secretless")
