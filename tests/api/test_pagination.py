"""Paging: pagination[count] and pagination[cursor] are sent, and pagination.next is followed to the end."""

from __future__ import annotations

from typing import Any

from segment_provider.api import SegmentClient
from tests.api.conftest import SNOWFLAKE_RETL, requests_for


def query_value(request: Any, name: str) -> str | None:
    value = dict(request.query).get(name)
    if isinstance(value, list):
        return str(value[0]) if value else None
    return None if value is None else str(value)


def test_list_sources_follows_cursors_across_pages(client: SegmentClient, fresh_emulator: Any) -> None:
    created = {
        client.create_source(slug=f"source_{n:02d}", metadata_id=SNOWFLAKE_RETL, enabled=True).id
        for n in range(14)
    }
    fresh_emulator.clear_requests()

    listed = [item["id"] for item in client.paginate("listSources", "sources", page_size=4)]

    assert created <= set(listed)
    assert len(listed) == len(set(listed))
    pages = requests_for(fresh_emulator, "listSources")
    assert len(pages) == -(-len(listed) // 4)
    assert {query_value(p, "pagination[count]") for p in pages} == {"4"}
    assert query_value(pages[0], "pagination[cursor]") is None
    cursors = [query_value(p, "pagination[cursor]") for p in pages[1:]]
    assert None not in cursors and len(set(cursors)) == len(cursors)


def test_typed_lists_ask_for_pages_of_200(client: SegmentClient, fresh_emulator: Any) -> None:
    client.list_sources()

    (page,) = requests_for(fresh_emulator, "listSources")
    assert query_value(page, "pagination[count]") == "200"


def test_the_destinations_catalog_spans_several_pages(client: SegmentClient, fresh_emulator: Any) -> None:
    items = list(client.paginate("getDestinationsCatalog", "destinationsCatalog"))

    pages = requests_for(fresh_emulator, "getDestinationsCatalog")
    assert len(items) > 400
    assert len({item["id"] for item in items}) == len(items)
    assert len(pages) == -(-len(items) // 200)
    cursors = [query_value(p, "pagination[cursor]") for p in pages[1:]]
    assert len(set(cursors)) == len(cursors) and None not in cursors


def test_page_size_is_sent_as_asked(client: SegmentClient, fresh_emulator: Any) -> None:
    items = list(client.paginate("getDestinationsCatalog", "destinationsCatalog", page_size=50))

    pages = requests_for(fresh_emulator, "getDestinationsCatalog")
    assert len(pages) == -(-len(items) // 50)
    assert {query_value(p, "pagination[count]") for p in pages} == {"50"}
