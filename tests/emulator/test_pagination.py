"""Paging in each wire form Segment's SDKs use, cursors, bounds, and the sync list's top-level count."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from segment_emulator import Emulator
from segment_emulator.catalog import DESTINATIONS
from tests.emulator.conftest import Api, data, error

CATALOG = "/catalog/destinations"
Form = Callable[[int, str | None], dict[str, str]]


def bracket_form(count: int, cursor: str | None) -> dict[str, str]:
    return {"pagination[count]": str(count), **({"pagination[cursor]": cursor} if cursor else {})}


def dot_form(count: int, cursor: str | None) -> dict[str, str]:
    return {"pagination.count": str(count), **({"pagination.cursor": cursor} if cursor else {})}


def json_form(count: int, cursor: str | None) -> dict[str, str]:
    return {"pagination": json.dumps({"count": count, **({"cursor": cursor} if cursor else {})})}


def walk(api: Api, form: Form, count: int) -> list[dict[str, Any]]:
    """Every page of the destinations catalog, following pagination.next."""
    pages, cursor = [], None
    while True:
        answer = data(api.get(CATALOG, params=form(count, cursor)))
        pages.append(answer)
        cursor = answer["pagination"]["next"]
        if cursor is None:
            return pages


@pytest.mark.parametrize("form", [bracket_form, dot_form, json_form], ids=["brackets", "dots", "json"])
def test_each_form_pages_through_the_whole_list(api: Api, form: Form) -> None:
    pages = walk(api, form, 150)

    ids = [item["id"] for page in pages for item in page["destinationsCatalog"]]
    assert ids == [item["id"] for item in DESTINATIONS]
    assert [len(page["destinationsCatalog"]) for page in pages] == [150, 150, 150, len(DESTINATIONS) - 450]
    assert pages[0]["pagination"]["current"] == "MA=="
    assert pages[0]["pagination"]["previous"] is None
    assert [page["pagination"]["previous"] for page in pages[1:]] == [
        p["pagination"]["current"] for p in pages[:-1]
    ]
    assert {page["pagination"]["totalEntries"] for page in pages} == {len(DESTINATIONS)}


def test_all_forms_give_the_same_pages(api: Api) -> None:
    assert walk(api, bracket_form, 200) == walk(api, dot_form, 200) == walk(api, json_form, 200)


def test_without_pagination_a_page_holds_200(api: Api) -> None:
    answer = data(api.get(CATALOG))

    assert len(answer["destinationsCatalog"]) == 200
    assert answer["pagination"]["next"] is not None


def test_segment_profiles_is_not_on_the_first_page(api: Api) -> None:
    first = data(api.get(CATALOG))["destinationsCatalog"]

    assert "actions-segment-profiles" not in {item["slug"] for item in first}
    assert "actions-segment-profiles" in {item["slug"] for item in DESTINATIONS}


def test_a_count_of_1000_gets_everything_at_once(api: Api) -> None:
    answer = data(api.get(CATALOG, params=bracket_form(1000, None)))

    assert len(answer["destinationsCatalog"]) == len(DESTINATIONS)
    assert answer["pagination"]["next"] is None


@pytest.mark.parametrize("count", ["0", "1001", "-1", "ten", "2.5"])
@pytest.mark.parametrize("form", [bracket_form, dot_form], ids=["brackets", "dots"])
def test_a_count_out_of_range_is_422(api: Api, form: Form, count: str) -> None:
    params = {key: (count if "count" in key else value) for key, value in form(1, None).items()}

    item = error(api.get(CATALOG, params=params), 422)

    assert item["field"] == "pagination.count"


@pytest.mark.parametrize("count", [0, 1001, "x", True])
def test_a_json_count_out_of_range_is_422(api: Api, count: Any) -> None:
    item = error(api.get(CATALOG, params={"pagination": json.dumps({"count": count})}), 422)

    assert item["field"] == "pagination.count"


def test_a_cursor_without_a_count_is_422(api: Api) -> None:
    item = error(api.get(CATALOG, params={"pagination[cursor]": "MA=="}), 422)

    assert (item["field"], item["message"]) == ("pagination.count", '"pagination.count" is required')


@pytest.mark.parametrize("cursor", ["not base64!", "eA==", "LTE="])
def test_a_cursor_the_api_never_returned_is_422(api: Api, cursor: str) -> None:
    item = error(api.get(CATALOG, params=bracket_form(10, cursor)), 422)

    assert item["field"] == "pagination.cursor"


@pytest.mark.parametrize("raw", ["{", "[1]", '"count"'])
def test_a_json_pagination_that_is_not_an_object_is_422(api: Api, raw: str) -> None:
    assert error(api.get(CATALOG, params={"pagination": raw}), 422)["field"] == "pagination"


def test_a_cursor_past_the_end_gives_an_empty_last_page(api: Api) -> None:
    beyond = data(api.get(CATALOG, params=bracket_form(10, "OTk5OQ==")))  # base64 of 9999

    assert beyond["destinationsCatalog"] == [] and beyond["pagination"]["next"] is None


def test_lists_of_objects_page_in_creation_order(api: Api) -> None:
    created = [api.source(f"paged_{n}")["id"] for n in range(5)]

    pages = []
    cursor = None
    while True:
        answer = data(api.get("/sources", params=bracket_form(2, cursor)))
        pages.append([s["id"] for s in answer["sources"]])
        cursor = answer["pagination"]["next"]
        if cursor is None:
            break

    listed = [source_id for page in pages for source_id in page]
    assert listed[-5:] == created
    assert [len(page) for page in pages] == [2, 2, 2, 1]


# ---------------------------------------------------------------------------- the sync list's top-level count


@pytest.fixture
def sync_list(api: Api) -> str:
    """The sync list of a subscription that has run three manual syncs."""
    source = api.source()["id"]
    model = api.model(source)["id"]
    subscription = api.subscription(api.destination(source)["id"], modelId=model)["id"]
    for _ in range(3):
        data(
            api.post(
                "/reverse-etl-syncs", {"sourceId": source, "modelId": model, "subscriptionId": subscription}
            )
        )
    return f"/reverse-etl-models/{model}/subscriptionId/{subscription}/syncs"


def test_the_sync_list_pages_with_a_top_level_count_and_cursor(api: Api, sync_list: str) -> None:
    first = data(api.get(sync_list, params={"count": 2}))
    second = data(api.get(sync_list, params={"count": 2, "cursor": first["pagination"]["next"]}))

    assert len(first["syncStatuses"]) == 2 and len(second["syncStatuses"]) == 1
    assert second["pagination"]["next"] is None
    ids = {s["syncId"] for s in first["syncStatuses"] + second["syncStatuses"]}
    assert len(ids) == 3


def test_the_sync_list_defaults_to_10_and_ignores_nested_pagination(api: Api, sync_list: str) -> None:
    answer = data(api.get(sync_list, params={"pagination[count]": 1}))

    assert len(answer["syncStatuses"]) == 3


@pytest.mark.parametrize("count", ["0", "101", "many"])
def test_the_sync_list_count_is_1_to_100(api: Api, sync_list: str, count: str) -> None:
    assert error(api.get(sync_list, params={"count": count}), 422)["field"] == "count"


def test_the_request_log_keeps_the_query_as_lists(api: Api, emulator: Emulator) -> None:
    api.get(CATALOG, params=[("pagination[count]", "5"), ("pagination[cursor]", "MA==")])

    assert emulator.requests[-1].query == {"pagination[count]": ["5"], "pagination[cursor]": ["MA=="]}
