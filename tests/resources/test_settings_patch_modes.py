"""The program is right whether Segment's settings PATCH replaces the stored settings or merges into them
(Segment does not document which; the emulator plays either, docs/emulator.md "Settings in an update").

Under both: an update keeps the keys the app added that the stack does not set, keeps the secrets, and removes a
key the stack set before and no longer sets. The whole update lifecycle of the matrix runs under both too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from segment_emulator import Emulator
from tests.harness import ResourceDriver
from tests.resources import test_matrix
from tests.resources.cases import (
    ALL_CASES,
    SECRET_SENTINEL,
    SOURCE,
    WAREHOUSE,
    Context,
    KindCase,
    with_changes,
)

APP_ADDED = {"instance-url": "https://acme.my.salesforce.com"}
"""A key Segment's app adds (a source's Salesforce OAuth), which no stack sets."""


@pytest.fixture(params=["replace", "merge"])
def patch_mode(request: pytest.FixtureRequest, emulator: Emulator) -> Iterator[str]:
    emulator.settings_patch = request.param
    try:
        yield request.param
    finally:
        emulator.settings_patch = "replace"


def stored_settings(emulator: Emulator, case: KindCase, id_: str) -> dict[str, Any]:
    collection = emulator.store.sources if case is SOURCE else emulator.store.warehouses
    with emulator.store_lock:
        return dict(collection[id_]["settings"])


@pytest.mark.parametrize("case", [SOURCE, WAREHOUSE], ids=lambda c: c.kind)
def test_an_update_keeps_the_apps_keys_and_the_secret_and_removes_a_dropped_key(
    patch_mode: str, case: KindCase, driver: ResourceDriver, ctx: Context, emulator: Emulator
) -> None:
    inputs = case.inputs(ctx)
    inputs["settings"] = {**inputs["settings"], "schema_name": "FLEX"}
    state = driver.create("r", case.type_token, case.provider(), inputs)
    with emulator.store_lock:
        collection = emulator.store.sources if case is SOURCE else emulator.store.warehouses
        collection[state.id]["settings"].update(APP_ADDED)

    dropped = {key: value for key, value in inputs["settings"].items() if key != "schema_name"}
    changed = {**dropped, "database": "CHANGED_DB"}
    driver.update(state, case.provider(), with_changes(inputs, settings=changed))

    stored = stored_settings(emulator, case, state.id)
    assert "schema_name" not in stored
    assert stored["database"] == "CHANGED_DB"
    assert {key: stored.get(key) for key in APP_ADDED} == APP_ADDED
    assert stored["private_key"] == SECRET_SENTINEL


@pytest.mark.parametrize("case", [c for c in ALL_CASES if c.update is not None], ids=lambda c: c.kind)
def test_the_update_lifecycle_holds_under_either_patch(
    patch_mode: str, case: KindCase, driver: ResourceDriver, ctx: Context, emulator: Emulator
) -> None:
    test_matrix.test_update_in_place_patches_only_the_change(case, driver, ctx, emulator)
