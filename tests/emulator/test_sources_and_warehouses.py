"""Sources and warehouses as Segment keeps them: write keys, masked secrets, connections, the warehouse name."""

from __future__ import annotations

import pytest

from segment_emulator import Emulator
from segment_emulator.views import MASK
from tests.emulator.conftest import (
    ALPHA,
    POSTGRES_WAREHOUSE,
    SALESFORCE,
    SNOWFLAKE_RETL,
    SNOWFLAKE_SETTINGS,
    SNOWFLAKE_WAREHOUSE,
    Api,
    data,
    error,
)

PRIVATE_KEY = SNOWFLAKE_SETTINGS["private_key"]


def test_a_new_source_gets_one_write_key_and_its_settings(api: Api) -> None:
    source = api.source("sfdc", SALESFORCE, settings={"salesforce-environment": "production"})

    assert len(source["writeKeys"]) == 1 and len(source["writeKeys"][0]) == 32
    assert source["settings"] == {"salesforce-environment": "production"}
    assert (source["metadata"]["id"], source["enabled"], source["labels"]) == (SALESFORCE, True, [])


def test_secret_settings_come_back_masked_everywhere(api: Api, emulator: Emulator) -> None:
    settings = {"account": "acme", "private_key": PRIVATE_KEY, "password": "short"}
    source = api.source("retl_secret", settings=settings)
    shown = [
        source["settings"],
        data(api.get(f"/sources/{source['id']}"))["source"]["settings"],
        next(s for s in data(api.get("/sources"))["sources"] if s["id"] == source["id"])["settings"],
    ]

    expected = {"account": "acme", "private_key": MASK + PRIVATE_KEY[-4:], "password": MASK}
    assert shown == [expected] * 3
    assert emulator.store.sources[source["id"]]["settings"]["private_key"] == PRIVATE_KEY


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "private_key",
        "privateKey",
        "private_key_passphrase",
        "credentials",
        "ciphertext",
        "token",
        "api_key",
        "client_secret",
    ],
)
def test_what_counts_as_secret(api: Api, key: str) -> None:
    warehouse = api.warehouse({"account": "acme", key: "a-long-enough-secret-value"})

    assert warehouse["settings"][key] == MASK + "alue"
    assert warehouse["settings"]["account"] == "acme"


def test_sending_back_a_masked_secret_keeps_the_stored_one(api: Api, emulator: Emulator) -> None:
    warehouse = api.warehouse()
    shown = warehouse["settings"]

    updated = data(api.patch(f"/warehouses/{warehouse['id']}", {"settings": {**shown, "database": "OTHER"}}))

    stored = emulator.store.warehouses[warehouse["id"]]["settings"]
    assert (stored["private_key"], stored["database"]) == (PRIVATE_KEY, "OTHER")
    assert updated["warehouse"]["settings"]["private_key"] == shown["private_key"]


def test_a_new_secret_replaces_the_stored_one(api: Api, emulator: Emulator) -> None:
    warehouse = api.warehouse()

    api.patch(
        f"/warehouses/{warehouse['id']}",
        {"settings": {**SNOWFLAKE_SETTINGS, "private_key": "ROTATED-KEY-0001"}},
    )

    assert emulator.store.warehouses[warehouse["id"]]["settings"]["private_key"] == "ROTATED-KEY-0001"


def test_settings_in_an_update_replace_the_old_ones(api: Api) -> None:
    source = api.source("replace", settings={"a": 1, "b": 2})

    updated = data(api.patch(f"/sources/{source['id']}", {"settings": {"b": 3}}))["source"]

    assert updated["settings"] == {"b": 3}


def test_updating_a_source(api: Api) -> None:
    source = api.source("before")

    updated = data(
        api.patch(f"/sources/{source['id']}", {"name": "Named", "enabled": False, "slug": "after"})
    )

    assert {k: updated["source"][k] for k in ("name", "enabled", "slug")} == {
        "name": "Named",
        "enabled": False,
        "slug": "after",
    }


# ------------------------------------------------------------------------------------------- connections


def connected_sources(api: Api, warehouse_id: str) -> list[str]:
    return [s["id"] for s in data(api.get(f"/warehouses/{warehouse_id}/connected-sources"))["sources"]]


def test_a_new_source_joins_every_warehouse_unless_told_not_to(api: Api) -> None:
    first, second = api.warehouse()["id"], api.warehouse()["id"]

    joined = data(api.post("/sources", {"slug": "joins", "enabled": True, "metadataId": SALESFORCE}), 201)[
        "source"
    ]
    apart = api.source("apart", SALESFORCE)

    for warehouse in (first, second):
        assert joined["id"] in connected_sources(api, warehouse)
        assert apart["id"] not in connected_sources(api, warehouse)
    connected = data(api.get(f"/sources/{joined['id']}/connected-warehouses"))["warehouses"]
    assert [w["id"] for w in connected] == [first, second]


def test_the_alpha_create_always_joins_every_warehouse(api: Api) -> None:
    warehouse = api.warehouse()["id"]
    body = {"slug": "alpha_joins", "enabled": True, "metadataId": SALESFORCE}
    alpha = {"Accept": ALPHA, "Content-Type": ALPHA}

    refused = error(api.post("/sources", {**body, "disconnectAllWarehouses": True}, headers=alpha), 422)
    source = data(api.post("/sources", body, headers=alpha), 201)["source"]

    assert refused["field"] == "disconnectAllWarehouses"
    assert source["id"] in connected_sources(api, warehouse)


def test_a_new_warehouse_takes_in_every_source_unless_told_not_to(api: Api, emulator: Emulator) -> None:
    body = {"metadataId": SNOWFLAKE_WAREHOUSE, "settings": SNOWFLAKE_SETTINGS}

    joined = data(api.post("/warehouses", body), 201)["warehouse"]
    apart = api.warehouse()

    assert sorted(connected_sources(api, joined["id"])) == sorted(emulator.store.sources)
    assert connected_sources(api, apart["id"]) == []


def test_connecting_twice_is_harmless_and_disconnecting_twice_is_404(api: Api) -> None:
    warehouse, source = api.warehouse()["id"], api.source("sfdc", SALESFORCE)["id"]
    path = f"/warehouses/{warehouse}/connected-sources/{source}"

    assert data(api.post(path), 201) == {"status": "CONNECTED"}
    assert data(api.post(path), 201) == {"status": "CONNECTED"}
    assert data(api.delete(path)) == {"status": "SUCCESS"}
    assert "not connected" in error(api.delete(path), 404)["message"]


def test_deleting_either_end_removes_the_connection(api: Api, emulator: Emulator) -> None:
    warehouse, kept = api.warehouse()["id"], api.source("kept", SALESFORCE)["id"]
    deleted = api.source("deleted", SALESFORCE)["id"]
    for source in (kept, deleted):
        data(api.post(f"/warehouses/{warehouse}/connected-sources/{source}"), 201)

    data(api.delete(f"/sources/{deleted}"))
    assert connected_sources(api, warehouse) == [kept]
    data(api.delete(f"/warehouses/{warehouse}"))
    assert emulator.store.connections == set()
    assert data(api.get(f"/sources/{kept}/connected-warehouses"))["warehouses"] == []


def test_destinations_connected_to_a_source(api: Api) -> None:
    source = api.source()["id"]
    destination = api.destination(source)["id"]
    api.destination(api.source("other")["id"])

    listed = data(api.get(f"/sources/{source}/connected-destinations"))["destinations"]

    assert [d["id"] for d in listed] == [destination]


# ----------------------------------------------------------------------------------------------- warehouses


def test_the_warehouse_name_lives_in_its_settings(api: Api) -> None:
    warehouse = api.warehouse(name="Flex Snowflake")

    assert "name" not in warehouse
    assert warehouse["settings"]["name"] == "Flex Snowflake"
    assert (warehouse["enabled"], warehouse["metadata"]["slug"]) == (True, "snowflake")


def test_a_settings_update_keeps_the_name_unless_the_body_changes_it(api: Api) -> None:
    warehouse = api.warehouse(name="Kept")["id"]
    path = f"/warehouses/{warehouse}"

    assert data(api.patch(path, {"settings": SNOWFLAKE_SETTINGS}))["warehouse"]["settings"]["name"] == "Kept"
    renamed = data(api.patch(path, {"settings": SNOWFLAKE_SETTINGS, "name": "Renamed", "enabled": False}))
    assert (renamed["warehouse"]["settings"]["name"], renamed["warehouse"]["enabled"]) == ("Renamed", False)
    cleared = data(api.patch(path, {"settings": SNOWFLAKE_SETTINGS, "name": None}))
    assert "name" not in cleared["warehouse"]["settings"]


@pytest.mark.parametrize(
    ("metadata_id", "settings", "status"),
    [
        (SNOWFLAKE_WAREHOUSE, SNOWFLAKE_SETTINGS, "CONNECTED"),
        (SNOWFLAKE_WAREHOUSE, {**SNOWFLAKE_SETTINGS, "private_key": ""}, "FAILED"),
        (SNOWFLAKE_WAREHOUSE, {"account": "acme"}, "FAILED"),
        (
            POSTGRES_WAREHOUSE,
            {"hostname": "db", "port": 5432, "database": "d", "username": "u", "password": "p"},
            "CONNECTED",
        ),
        (POSTGRES_WAREHOUSE, {"hostname": "db", "port": 5432}, "FAILED"),
    ],
)
def test_validation_connects_when_every_required_option_is_set(
    api: Api, metadata_id: str, settings: dict[str, object], status: str
) -> None:
    body = {"metadataId": metadata_id, "settings": settings}

    assert data(api.post("/warehouses/validation", body)) == {"status": status}


def test_the_connection_state_of_a_stored_warehouse(api: Api) -> None:
    complete = api.warehouse()["id"]
    incomplete = api.warehouse({"account": "acme"})["id"]

    assert data(api.get(f"/warehouses/{complete}/connection-state")) == {"connectionState": "CONNECTED"}
    assert data(api.get(f"/warehouses/{incomplete}/connection-state")) == {"connectionState": "FAILED"}


def test_a_retl_source_is_just_a_source_of_the_warehouse_category(api: Api) -> None:
    source = api.source("retl", SNOWFLAKE_RETL)

    assert source["metadata"]["categories"] == ["Warehouse"]


def test_warehouse_load_reports_are_listed_newest_first_per_source(api: Api, emulator: Emulator) -> None:
    warehouse = api.warehouse()["id"]
    sfdc, other = api.source("sfdc", SALESFORCE)["id"], api.source("other", SALESFORCE)["id"]
    path = f"/warehouses/{warehouse}/connected-sources/{sfdc}/syncs"

    assert data(api.get(path))["reports"] == []
    first = emulator.record_warehouse_sync(warehouse, sfdc, status="failed", count=0)
    with emulator.store_lock:  # the first load happened an hour earlier
        (stored,) = emulator.store.warehouse_syncs.values()
        stored["start"], stored["end"] = "2026-01-01T10:00:00.000Z", "2026-01-01T10:00:42.000Z"
    emulator.record_warehouse_sync(warehouse, sfdc, count=1250)
    emulator.record_warehouse_sync(warehouse, other)

    reports = data(api.get(path))["reports"]
    assert [(r["status"], r["count"]) for r in reports] == [("success", 1250), ("failed", 0)]
    assert reports[0]["sourceId"] == sfdc and reports[0]["notices"] == []
    assert first["notices"][0]["level"] == "error"


def test_load_reports_of_unknown_objects_are_404(api: Api, emulator: Emulator) -> None:
    warehouse = api.warehouse()["id"]

    assert error(api.get(f"/warehouses/{warehouse}/connected-sources/nope/syncs"), 404)
    with pytest.raises(KeyError):
        emulator.record_warehouse_sync("nope", "nope")
