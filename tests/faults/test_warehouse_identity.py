"""The warehouse's name and identity: ``WarehouseV1`` has no ``name``, and Segment may not echo the one sent.

The program writes the name into the settings on create and on update, reads a missing name as "not drift", and
matches an existing warehouse by its catalog type plus its connection (account or host, database, user) when the
answer names none. Each test runs where the emulator echoes the name and where it does not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from segment_emulator import Emulator
from tests.faults.conftest import MAIN, assert_converged, calls, changes, engine_for, mutating
from tests.harness import ProviderServer

WAREHOUSE_KEY = "flex-unified-profiles:warehouse"


@pytest.fixture(params=[True, False], ids=["Segment echoes the name", "Segment does not echo the name"])
def echo(request: pytest.FixtureRequest, flex_emulator: Emulator) -> Iterator[bool]:
    with flex_emulator.store_lock:
        flex_emulator.store.echo_warehouse_names = request.param
    yield request.param
    with flex_emulator.store_lock:
        flex_emulator.store.echo_warehouse_names = True


def test_the_name_is_sent_where_segment_keeps_it_on_create_and_on_update(
    echo: bool, server: ProviderServer, flex_emulator: Emulator
) -> None:
    engine = engine_for(server, flex_emulator)
    engine.up(MAIN)
    (create,) = calls(flex_emulator, "createWarehouse")
    assert create.body["settings"]["name"] == create.body["name"]

    warehouse = json.loads(engine.config[WAREHOUSE_KEY])
    engine.config[WAREHOUSE_KEY] = json.dumps({**warehouse, "name": "Renamed warehouse"})
    flex_emulator.clear_requests()
    engine.up(MAIN)
    (update,) = calls(flex_emulator, "updateWarehouse")
    assert update.body["settings"]["name"] == "Renamed warehouse"
    with flex_emulator.store_lock:
        (stored,) = flex_emulator.store.warehouses.values()
        assert stored["settings"]["name"] == "Renamed warehouse"


def test_the_warehouse_survives_refresh_with_no_drift(
    echo: bool, server: ProviderServer, flex_emulator: Emulator
) -> None:
    engine = engine_for(server, flex_emulator)
    engine.up(MAIN)

    refreshed = engine.refresh()

    assert [d.name for d in refreshed.drift] == []
    flex_emulator.clear_requests()
    again = engine.up(MAIN)
    assert changes(again) == {}
    assert mutating(flex_emulator) == []


def test_a_lost_warehouse_create_leaves_exactly_one_warehouse(
    echo: bool, server: ProviderServer, flex_emulator: Emulator, converged: dict[str, Any]
) -> None:
    engine = engine_for(server, flex_emulator)
    flex_emulator.add_fault("commit_then_fail", operation="createWarehouse", status=None)

    result = engine.up(MAIN)

    assert result.failures == []
    assert len(calls(flex_emulator, "createWarehouse")) == 1
    with flex_emulator.store_lock:
        assert len(flex_emulator.store.warehouses) == 1
    assert_converged(engine, flex_emulator, converged)
    engine.destroy()
    with flex_emulator.store_lock:
        assert flex_emulator.store.warehouses == {}, "the adopted warehouse must not survive destroy"


def test_an_unnamed_warehouse_is_adopted_by_its_connection(
    server: ProviderServer, flex_emulator: Emulator
) -> None:
    with flex_emulator.store_lock:
        flex_emulator.store.echo_warehouse_names = False
    try:
        engine = engine_for(server, flex_emulator)
        engine.up(MAIN)
        warehouse_id = engine.state.get("warehouse").outputs["warehouse_id"]
        adopting = engine_for(server, flex_emulator, **{"flex-unified-profiles:adopt": "true"})
        flex_emulator.clear_requests()

        adopting.up(MAIN)

        assert adopting.state.get("warehouse").outputs["warehouse_id"] == warehouse_id
        assert calls(flex_emulator, "createWarehouse") == []
    finally:
        with flex_emulator.store_lock:
            flex_emulator.store.echo_warehouse_names = True
