"""Settings in creates and updates: ``null`` removes a setting (Segment's Terraform provider deletes one that
way), a removed secret never reads back as set, and the one switch for what Segment does not document: whether
an update's settings replace the stored ones ("replace", the default) or merge into them ("merge")."""

from __future__ import annotations

from typing import Any

import pytest

from segment_emulator import Emulator
from segment_emulator.views import MASK
from tests.emulator.conftest import SNOWFLAKE_SETTINGS, Api, EmulatorFactory, data

PASSWORD_SETTINGS = {"host": "db.example.com", "password": "hunter2-is-a-password"}


@pytest.fixture(params=["replace", "merge"])
def patching(request: pytest.FixtureRequest, make_emulator: EmulatorFactory) -> tuple[Api, Emulator]:
    emulator = make_emulator(settings_patch=request.param)
    return Api(emulator), emulator


def test_a_null_setting_in_a_create_is_not_stored(api: Api, emulator: Emulator) -> None:
    source = api.source(settings={"kept": "yes", "dropped": None})

    assert source["settings"] == {"kept": "yes"}
    assert emulator.store.sources[source["id"]]["settings"] == {"kept": "yes"}


def test_a_secret_sent_as_null_is_removed_and_does_not_read_back_as_set(
    patching: tuple[Api, Emulator],
) -> None:
    api, emulator = patching
    source = api.source(settings=PASSWORD_SETTINGS)

    updated = data(
        api.patch(f"/sources/{source['id']}", {"settings": {"host": "db.example.com", "password": None}})
    )

    assert source["settings"]["password"].startswith(MASK)
    assert updated["source"]["settings"] == {"host": "db.example.com"}
    assert "password" not in emulator.store.sources[source["id"]]["settings"]


@pytest.mark.parametrize("kind", ["warehouse", "destination", "subscription"])
def test_null_removes_a_setting_of_every_kind(patching: tuple[Api, Emulator], kind: str) -> None:
    api, _ = patching
    path, settings = _object_with_settings(api, kind)

    answer = data(api.patch(path, _update_body(kind, {**settings, "extra": None, "username": None})))

    assert "username" not in _settings_in(answer) and "extra" not in _settings_in(answer)


def test_replace_drops_what_an_update_leaves_out(make_emulator: EmulatorFactory) -> None:
    api = Api(make_emulator(settings_patch="replace"))
    source = api.source(settings={"a": 1, "b": 2})

    updated = data(api.patch(f"/sources/{source['id']}", {"settings": {"a": 10}}))

    assert updated["source"]["settings"] == {"a": 10}


def test_merge_keeps_what_an_update_leaves_out(make_emulator: EmulatorFactory) -> None:
    api = Api(make_emulator(settings_patch="merge"))
    source = api.source(settings={"a": 1, "b": 2})

    updated = data(api.patch(f"/sources/{source['id']}", {"settings": {"a": 10}}))

    assert updated["source"]["settings"] == {"a": 10, "b": 2}


def test_a_masked_secret_sent_back_keeps_the_stored_value(patching: tuple[Api, Emulator]) -> None:
    api, emulator = patching
    source = api.source(settings=PASSWORD_SETTINGS)

    data(api.patch(f"/sources/{source['id']}", {"settings": source["settings"]}))

    assert emulator.store.sources[source["id"]]["settings"] == PASSWORD_SETTINGS


def test_the_mode_must_be_one_of_the_two() -> None:
    with pytest.raises(ValueError, match="replace, merge"):
        Emulator(settings_patch="patch")  # type: ignore[arg-type]


def _object_with_settings(api: Api, kind: str) -> tuple[str, dict[str, Any]]:
    if kind == "warehouse":
        return f"/warehouses/{api.warehouse()['id']}", dict(SNOWFLAKE_SETTINGS)
    settings = {"username": "u", "region": "us"}
    destination = api.destination(api.source()["id"], settings=settings)["id"]
    if kind == "destination":
        return f"/destinations/{destination}", settings
    subscription = api.subscription(destination, settings=settings)["id"]
    return f"/destinations/{destination}/subscriptions/{subscription}", settings


def _update_body(kind: str, settings: dict[str, Any]) -> dict[str, Any]:
    return {"input": {"settings": settings}} if kind == "subscription" else {"settings": settings}


def _settings_in(answer: dict[str, Any]) -> dict[str, Any]:
    (shown,) = answer.values()
    return dict(shown["settings"])
