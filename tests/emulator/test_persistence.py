"""--state / state_file: loaded at start when present, written atomically after every change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from segment_emulator import Emulator
from segment_emulator.store import StateFileError
from tests.emulator.conftest import DEV_SPACE, SALESFORCE, Api, EmulatorFactory, data


def build_a_setup(api: Api) -> dict[str, str]:
    source = api.source("persisted_sfdc", SALESFORCE)["id"]
    warehouse = api.warehouse(name="Persisted")["id"]
    data(api.post(f"/warehouses/{warehouse}/connected-sources/{source}"), 201)
    retl = api.source("persisted_retl")["id"]
    destination = api.destination(retl)["id"]
    model = api.model(retl)["id"]
    subscription = api.subscription(destination, modelId=model)["id"]
    return {"source": source, "warehouse": warehouse, "model": model, "subscription": subscription}


def test_the_state_survives_a_restart(make_emulator: EmulatorFactory, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first = make_emulator(state_file=state)
    ids = build_a_setup(Api(first))
    before = first.store.to_json()
    first.stop()

    second = make_emulator(state_file=state)
    api = Api(second)

    assert second.store.to_json() == before
    connected = data(api.get(f"/warehouses/{ids['warehouse']}/connected-sources"))["sources"]
    assert [s["id"] for s in connected] == [ids["source"]]
    assert data(api.get(f"/reverse-etl-models/{ids['model']}"))["reverseEtlModel"]["name"] == "Accounts"


def test_ids_keep_counting_after_a_restart(make_emulator: EmulatorFactory, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first = make_emulator(state_file=state)
    earlier = {Api(first).source(f"before_{n}")["id"] for n in range(3)}
    first.stop()

    later = Api(make_emulator(state_file=state)).source("after")["id"]

    assert later not in earlier


def test_every_change_is_on_disk_at_once(make_emulator: EmulatorFactory, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    api = Api(make_emulator(state_file=state))

    source = api.source("on_disk")["id"]

    assert json.loads(state.read_text())["sources"][source]["slug"] == "on_disk"
    data(api.delete(f"/sources/{source}"))
    assert source not in json.loads(state.read_text())["sources"]
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_new_state_file_starts_from_the_seeds(make_emulator: EmulatorFactory, tmp_path: Path) -> None:
    state = tmp_path / "nested" / "state.json"

    emulator = make_emulator(state_file=state)

    written = json.loads(state.read_text())
    assert written["workspace"] == emulator.workspace
    assert len(written["spaces"]) == 2


def test_reset_and_seeding_are_written_too(make_emulator: EmulatorFactory, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    emulator = make_emulator(state_file=state)
    Api(emulator).source("to_forget")

    emulator.reset()
    emulator.seed_flex_events(DEV_SPACE)

    written = json.loads(state.read_text())
    assert "to_forget" not in {s["slug"] for s in written["sources"].values()}
    assert written["events"][emulator.space(DEV_SPACE)["id"]]


def test_out_of_band_changes_are_written_on_save(make_emulator: EmulatorFactory, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    emulator = make_emulator(state_file=state)
    space_id = emulator.space(DEV_SPACE)["id"]

    emulator.store.spaces[space_id]["name"] = "Renamed in the app"
    emulator.save()

    assert json.loads(state.read_text())["spaces"][space_id]["name"] == "Renamed in the app"


@pytest.mark.parametrize("content", ["{not json", '{"format": 99}', "[]"])
def test_an_unusable_state_file_is_refused_with_its_path(tmp_path: Path, content: str) -> None:
    state = tmp_path / "state.json"
    state.write_text(content)

    with pytest.raises(StateFileError, match="state"):
        Emulator(state_file=state)
