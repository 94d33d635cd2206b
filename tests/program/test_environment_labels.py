"""Segment's side of "one environment, one stack": each source the stack creates or adopts carries the stack's
environment label, and a source labelled for another environment, with everything beneath it, is never adopted,
updated or deleted (issue 13, item 1). Driven through the engine stand-in against the emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest

from tests.harness import DeploymentFailed, ProviderServer
from tests.program.test_program import MAIN, engine_for, flex_emulator, mutating

PROD_LABEL = {"key": "environment", "value": "prod", "description": None}
DEV_SLUGS = ("flex_dev_salesforce", "flex_dev_reverse_etl")
ADOPT = {"flex-unified-profiles:adopt": "true"}
__all__ = ["flex_emulator"]  # the fixture, shared with test_program


@pytest.fixture(scope="module")
def server() -> Iterator[ProviderServer]:
    from tests.harness import REPO_ROOT

    with ProviderServer(cwd=REPO_ROOT) as running:
        yield running


def labels_of(emulator: Any, slug: str) -> list[str]:
    with emulator.store_lock:
        source = emulator.store.source_by_slug(slug)
        return [f"{x['key']}:{x['value']}" for x in source["labels"]]


def relabel(emulator: Any, slug: str) -> None:
    """Someone marks the source as prod's in the Segment app."""
    with emulator.store_lock:
        emulator.store.source_by_slug(slug)["labels"] = [dict(PROD_LABEL)]


def test_every_source_the_stack_creates_carries_its_environment_label(
    server: ProviderServer, flex_emulator: Any
) -> None:
    engine_for(server, flex_emulator).up(MAIN)

    assert [labels_of(flex_emulator, slug) for slug in DEV_SLUGS] == [["environment:dev"]] * 2


def test_an_adopted_source_is_labelled_and_a_lost_label_is_put_back(
    server: ProviderServer, flex_emulator: Any
) -> None:
    engine = engine_for(server, flex_emulator)
    engine.up(MAIN)
    with flex_emulator.store_lock:
        flex_emulator.store.source_by_slug("flex_dev_salesforce")["labels"] = []
    engine.refresh()
    engine.up(MAIN)
    assert labels_of(flex_emulator, "flex_dev_salesforce") == ["environment:dev"]

    adopting = engine_for(server, flex_emulator, **ADOPT)
    with flex_emulator.store_lock:
        flex_emulator.store.source_by_slug("flex_dev_reverse_etl")["labels"] = []
    adopting.up(MAIN)
    assert labels_of(flex_emulator, "flex_dev_reverse_etl") == ["environment:dev"]


def test_adopting_a_source_labelled_prod_is_refused_before_any_mutating_call(
    server: ProviderServer, flex_emulator: Any
) -> None:
    engine_for(server, flex_emulator).up(MAIN)
    relabel(flex_emulator, "flex_dev_reverse_etl")
    flex_emulator.clear_requests()

    adopting = engine_for(server, flex_emulator, **ADOPT)
    with pytest.raises((DeploymentFailed, pulumi.RunError)) as raised:
        adopting.up(MAIN)

    message = str(raised.value)
    assert "flex-unified-profiles:reverseEtl.sourceSlug" in message and "environment:prod" in message
    assert "Traceback" not in message
    assert mutating(flex_emulator) == []


def test_destroy_leaves_a_source_labelled_prod_and_everything_beneath_it(
    server: ProviderServer, flex_emulator: Any
) -> None:
    engine = engine_for(server, flex_emulator)  # dev: protect false
    engine.up(MAIN)
    relabel(flex_emulator, "flex_dev_reverse_etl")
    relabel(flex_emulator, "flex_dev_salesforce")
    flex_emulator.clear_requests()

    with pytest.raises(DeploymentFailed) as raised:
        engine.destroy()

    refused = {failure.name for failure in raised.value.failures}
    # The first deletes refused; what they depend on (mapping, model, destination, sources, warehouse) waits.
    assert refused == {"profiles-destination-enabled", "salesforce-to-warehouse"}
    assert all("labelled environment:prod" in f.message for f in raised.value.failures)
    deleted = [call for call in mutating(flex_emulator) if not call.endswith("removeComputedTraitFromSpace")]
    assert deleted == []
    with flex_emulator.store_lock:
        assert {s["slug"] for s in flex_emulator.store.sources.values()} >= set(DEV_SLUGS)


def test_an_update_under_a_source_labelled_prod_is_refused(
    server: ProviderServer, flex_emulator: Any
) -> None:
    engine = engine_for(server, flex_emulator)
    engine.up(MAIN)
    relabel(flex_emulator, "flex_dev_reverse_etl")
    engine.config["flex-unified-profiles:profiles"] = json.dumps({"destinationName": "Renamed Profiles"})
    flex_emulator.clear_requests()

    with pytest.raises((DeploymentFailed, pulumi.RunError), match="environment:prod"):
        engine.up(MAIN)
    assert mutating(flex_emulator) == []
