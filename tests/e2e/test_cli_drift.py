"""Changes made in the Segment app, under the real ``pulumi`` CLI: the project option ``refresh: always`` makes a
plain ``pulumi preview`` read every object back and name the field that drifted, and a plain ``pulumi up`` put
it back. ``--refresh=false`` is the one switch back to trusting the state."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from segment_emulator import Emulator
from segment_provider.api import SegmentClient
from segment_provider.api.models import TraitDefinition
from tests.e2e.conftest import CliStack, mutating, stack_file
from tests.e2e.test_cli_lifecycle import RENAMED, client

EDITED_QUERY = "SELECT 1 AS edited_in_the_app"
EDITED_TRAIT_QUERY = "event('Flex - Engagement Initiated').count()"


def drift_the_model(emulator: Emulator, segment: SegmentClient) -> None:
    (model,) = emulator.store.models.values()
    segment.update_reverse_etl_model(model["id"], query=EDITED_QUERY)


def disable_the_mapping(emulator: Emulator, segment: SegmentClient) -> None:
    (mapping,) = emulator.store.subscriptions.values()
    segment.update_subscription(mapping["destinationId"], mapping["id"], enabled=False)


def reschedule_the_mapping(emulator: Emulator, segment: SegmentClient) -> None:
    (mapping,) = emulator.store.subscriptions.values()
    segment.update_subscription(
        mapping["destinationId"],
        mapping["id"],
        schedule={"strategy": "PERIODIC", "config": {"interval": "3h"}},
    )


def redefine_a_trait(emulator: Emulator, segment: SegmentClient) -> None:
    trait = next(t for t in emulator.store.computed_traits.values() if t["key"] == "total_inbounds")
    definition = trait["definition"]
    assert definition["query"] != EDITED_TRAIT_QUERY, definition
    segment.update_computed_trait(
        trait["spaceId"],
        trait["id"],
        definition=TraitDefinition(type=definition["type"], query=EDITED_TRAIT_QUERY),
    )


def rename_a_source(emulator: Emulator, segment: SegmentClient) -> None:
    source = emulator.store.source_by_slug(stack_file()["salesforce"]["sourceSlug"])
    assert source is not None
    segment.update_source(source["id"], name=RENAMED)


# What a refresh sends, one per object: none of them is among the program's own checks.
OBJECT_READS = {
    "getSpace",
    "getSource",
    "getWarehouse",
    "getReverseEtlModel",
    "getDestination",
    "getSubscriptionFromDestination",
    "getComputedTrait",
}

# (a change in the app, the resource it drifts, the field the preview must name, the call that puts it back)
DRIFTS: dict[str, tuple[Callable[[Emulator, SegmentClient], None], str, str, str]] = {
    "model query": (drift_the_model, "model", "query", "PATCH updateReverseEtlModel"),
    "mapping enabled": (
        disable_the_mapping,
        "send-identify",
        "enabled",
        "PATCH updateSubscriptionForDestination",
    ),
    "mapping schedule": (
        reschedule_the_mapping,
        "send-identify",
        "schedule",
        "PATCH updateSubscriptionForDestination",
    ),
    "trait definition": (
        redefine_a_trait,
        "trait-total_inbounds",
        "definition",
        "PATCH updateComputedTraitForSpace",
    ),
    "source name": (rename_a_source, "salesforce-source", "name", "PATCH updateSource"),
}


def previewed_fields(preview: str, resource: str) -> set[str]:
    """The fields a preview lists as changing for one resource (its ``[diff: ~a,b]`` line)."""
    line = next(
        line for line in preview.splitlines() if re.search(rf"\b{re.escape(resource)}\b.*\[diff: ", line)
    )
    (listed,) = re.findall(r"\[diff: ([^\]]*)\]", line)
    return {field.strip().lstrip("~+-") for field in listed.split(",")}


@pytest.mark.parametrize("drift", sorted(DRIFTS))
def test_a_plain_preview_names_the_drifted_field_and_a_plain_up_puts_it_back(
    drift: str, cli_stack: CliStack, flex_emulator: Emulator
) -> None:
    change, resource, field, repair = DRIFTS[drift]
    cli_stack.deploy()
    segment = client(flex_emulator)
    change(flex_emulator, segment)

    flex_emulator.clear_requests()
    preview = cli_stack.pulumi("preview", "--stack", "dev", "--expect-no-changes", check=False)
    assert preview.returncode != 0, f"the drift went unseen:\n{preview.stdout}"
    assert mutating(flex_emulator) == [], "a preview only reads"
    assert previewed_fields(preview.stdout, resource) == {field}, preview.stdout
    changed = re.findall(r"^\s*~\s+\S+:\S+\s+(\S+)\s+update\b", preview.stdout, flags=re.M)
    assert changed == [resource], preview.stdout

    flex_emulator.clear_requests()
    cli_stack.pulumi("up", "--stack", "dev", "--yes")
    assert mutating(flex_emulator) == [repair]
    # The up previews, then updates, and each half runs the program after its own refresh (docs/drift.md): the
    # space is read back twice (the program itself finds it through listSpaces).
    assert [r.operation_id for r in flex_emulator.requests].count("getSpace") == 2
    cli_stack.pulumi("preview", "--stack", "dev", "--expect-no-changes")


def test_refresh_false_is_the_switch_back_to_trusting_the_state(
    cli_stack: CliStack, flex_emulator: Emulator
) -> None:
    cli_stack.deploy()
    disable_the_mapping(flex_emulator, client(flex_emulator))

    flex_emulator.clear_requests()
    cli_stack.pulumi("preview", "--stack", "dev", "--refresh=false", "--expect-no-changes")
    cli_stack.pulumi("up", "--stack", "dev", "--yes", "--refresh=false")
    read_back = {r.operation_id for r in flex_emulator.requests} & OBJECT_READS
    assert read_back == set(), "without the refresh no object is read back (the program's own checks remain)"
    (mapping,) = flex_emulator.store.subscriptions.values()
    assert mapping["enabled"] is False, "the drift stays until a refresh sees it"

    flex_emulator.clear_requests()
    cli_stack.pulumi("preview", "--stack", "dev", "--expect-no-changes", check=False)
    assert {r.operation_id for r in flex_emulator.requests} >= OBJECT_READS, (
        "without the switch, it reads back"
    )


DYNAMIC_PROVIDER_WORKERS = 4
"""Calls Pulumi's dynamic provider server answers at once (``max_workers`` in ``pulumi.dynamic.__main__``)."""


def test_a_refresh_reads_every_kind_over_one_pool_of_connections(
    cli_stack: CliStack, flex_emulator: Emulator
) -> None:
    """The engine unpickles one provider object per kind; they share the process's client, so a refresh opens at
    most a connection per provider worker, not one per kind (against Segment, each is a TLS handshake)."""
    cli_stack.deploy()
    kinds = {r["type"] for r in cli_stack.resources() if r["type"].startswith("pulumi-python:dynamic/")}
    assert len(kinds) > DYNAMIC_PROVIDER_WORKERS, kinds
    before = flex_emulator.connections_accepted
    flex_emulator.clear_requests()

    # One pass, one provider process (without --skip-preview the refresh runs twice, each in its own).
    cli_stack.pulumi("refresh", "--yes", "--skip-preview", "--stack", "dev")

    opened = flex_emulator.connections_accepted - before
    assert {r.operation_id for r in flex_emulator.requests} >= OBJECT_READS
    assert 1 <= opened <= DYNAMIC_PROVIDER_WORKERS, f"{opened} connections for {len(kinds)} kinds"
