"""Catalog lookups by slug: correct ids, paged once per process and base URL, even under concurrency."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from segment_provider.api import NotFoundError, SegmentClient, ServerError, UnknownCatalogSlugError
from segment_provider.api.operations import MAX_PAGE_SIZE
from tests.api.conftest import (
    PROFILES,
    SALESFORCE,
    SNOWFLAKE_RETL,
    SNOWFLAKE_WAREHOUSE,
    ClientFactory,
    requests_for,
)

CATALOG_OPERATIONS = ("getSourcesCatalog", "getDestinationsCatalog", "getWarehousesCatalog")


def lookup_everything(client: SegmentClient) -> None:
    client.catalog.source_by_slug("salesforce")
    client.catalog.destination_by_slug("actions-segment-profiles")
    client.catalog.warehouse_by_slug("snowflake")


def test_slugs_resolve_to_catalog_ids(client: SegmentClient) -> None:
    assert client.catalog.source_by_slug("salesforce").id == SALESFORCE
    assert client.catalog.source_by_slug("snowflake").id == SNOWFLAKE_RETL
    assert client.catalog.warehouse_by_slug("snowflake").id == SNOWFLAKE_WAREHOUSE
    profiles = client.catalog.destination_by_slug("actions-segment-profiles")
    assert profiles.id == PROFILES
    assert {"sendIdentify", "sendGroup"} <= {a.slug for a in profiles.actions}


def test_action_id_comes_from_the_destination_metadata(client: SegmentClient) -> None:
    action_id = client.catalog.action_id("actions-segment-profiles", "sendIdentify")

    profiles = client.catalog.destination_by_slug("actions-segment-profiles")
    assert action_id == next(a.id for a in profiles.actions if a.slug == "sendIdentify")


def test_each_catalog_is_paged_once_per_base_url(
    client: SegmentClient, fresh_emulator: Any, make_client: ClientFactory
) -> None:
    lookup_everything(client)
    first_run = {op: len(requests_for(fresh_emulator, op)) for op in CATALOG_OPERATIONS}

    lookup_everything(client)
    lookup_everything(make_client())
    client.catalog.action_id("actions-segment-profiles", "sendIdentify")

    assert {op: len(requests_for(fresh_emulator, op)) for op in CATALOG_OPERATIONS} == first_run
    # The emulator's destination catalog is longer than the default page (200), shorter than the SDK's largest:
    # each catalog costs one request.
    assert first_run == dict.fromkeys(CATALOG_OPERATIONS, 1)
    counts = {r.query.get("pagination[count]", [""])[0] for r in fresh_emulator.requests}
    assert counts == {str(MAX_PAGE_SIZE)}


def test_concurrent_first_lookups_fetch_once(fresh_emulator: Any, make_client: ClientFactory) -> None:
    clients = [make_client() for _ in range(8)]
    start = threading.Barrier(len(clients))
    results: list[str] = []
    failures: list[BaseException] = []

    def lookup(client: SegmentClient) -> None:
        start.wait()
        try:
            results.append(client.catalog.action_id("actions-segment-profiles", "sendIdentify"))
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=lookup, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert len(set(results)) == 1 and len(results) == 8
    # Eight threads, one listing: the whole catalog in one page of the SDK's largest size.
    assert len(requests_for(fresh_emulator, "getDestinationsCatalog")) == 1


def test_unknown_slug_lists_close_matches(client: SegmentClient) -> None:
    with pytest.raises(UnknownCatalogSlugError) as caught:
        client.catalog.destination_by_slug("actions-segment-profile")

    assert isinstance(caught.value, NotFoundError)
    assert "actions-segment-profiles" in caught.value.suggestions
    assert "actions-segment-profiles" in str(caught.value)


def test_unknown_action_lists_the_destinations_actions(client: SegmentClient) -> None:
    with pytest.raises(UnknownCatalogSlugError) as caught:
        client.catalog.action_id("actions-segment-profiles", "sendIdentity")

    assert "sendIdentify" in caught.value.suggestions


def test_a_failed_fetch_is_not_cached(fresh_emulator: Any, make_client: ClientFactory) -> None:
    fresh_emulator.add_fault(kind="status", status=500, operation="getWarehousesCatalog", count=1)
    client = make_client(max_retries=0)

    with pytest.raises(ServerError):
        client.catalog.warehouse_by_slug("snowflake")

    assert client.catalog.warehouse_by_slug("snowflake").id == SNOWFLAKE_WAREHOUSE


def test_a_malformed_entry_is_an_unknown_slug_and_every_other_entry_still_resolves(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from segment_emulator.catalog import DESTINATIONS
    from segment_provider.api import Catalog

    profiles = next(entry for entry in DESTINATIONS if entry["id"] == PROFILES)
    listing = [{"slug": "broken", "name": 7}, {"name": "no slug at all"}, profiles]
    catalog = Catalog(lambda operation_id, items_key: iter(listing), scope="test-malformed-entry")

    assert catalog.destination_by_slug("actions-segment-profiles").id == PROFILES
    with pytest.raises(UnknownCatalogSlugError) as caught:
        catalog.destination_by_slug("broken")

    assert "no destination with slug 'broken'" in str(caught.value)
    warnings = [r.getMessage() for r in caplog.records if "unexpected shape" in r.getMessage()]
    assert warnings == ["skipping a destination catalog entry Segment returned in an unexpected shape"] * 2
    with pytest.raises(UnknownCatalogSlugError):
        catalog.destination_by_slug("broken")
    assert len([r for r in caplog.records if "unexpected shape" in r.getMessage()]) == 2, "judged once"
    assert catalog.destination_by_slug(profiles["slug"]) is catalog.destination_by_slug(profiles["slug"])
