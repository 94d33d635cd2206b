"""Labels as Segment keeps them: the workspace's environment labels, labels on sources, and what is refused."""

from __future__ import annotations

from segment_emulator import Emulator
from segment_emulator.seeds import seeded_store
from segment_emulator.store import Store
from tests.emulator.conftest import Api, data, error

DEV = {"key": "environment", "value": "dev"}
PROD = {"key": "environment", "value": "prod"}


def pairs(labels: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(label["key"], label["value"]) for label in labels]


def test_every_workspace_has_the_two_environment_labels(api: Api) -> None:
    labels = data(api.get("/labels"))["labels"]

    assert pairs(labels) == [("environment", "dev"), ("environment", "prod")]


def test_a_created_label_is_listed_and_a_second_one_with_the_same_key_value_is_refused(api: Api) -> None:
    created = data(
        api.post("/labels", {"label": {"key": "team", "value": "flex", "description": "Flex"}}), 201
    )

    assert created["label"] == {"key": "team", "value": "flex", "description": "Flex"}
    assert ("team", "flex") in pairs(data(api.get("/labels"))["labels"])
    assert error(api.post("/labels", {"label": {"key": "team", "value": "flex"}}), 409)["type"] == "conflict"


def test_a_label_must_begin_with_a_letter_and_hold_no_colon_or_space(api: Api) -> None:
    for key, value in (("1env", "dev"), ("env", "de v"), ("env", "a:b"), ("", "dev")):
        problem = error(api.post("/labels", {"label": {"key": key, "value": value}}), 422)
        assert problem["field"] in ("label.key", "label.value"), problem


def test_labels_added_to_a_source_are_kept_once_each_and_shown_on_the_source(api: Api) -> None:
    source = api.source("flex_dev_retl")

    added = data(api.post(f"/sources/{source['id']}/labels", {"labels": [DEV]}))
    again = data(api.post(f"/sources/{source['id']}/labels", {"labels": [DEV, DEV]}))

    assert pairs(added["labels"]) == pairs(again["labels"]) == [("environment", "dev")]
    shown = data(api.get(f"/sources/{source['id']}"))["source"]["labels"]
    # The contract's LabelV1 has an optional, nullable description: absent or null are both Segment's answer.
    assert [{k: v for k, v in x.items() if v is not None} for x in shown] == [
        {"key": "environment", "value": "dev"}
    ]


def test_replacing_the_labels_of_a_source_sets_exactly_those(api: Api) -> None:
    source = api.source("flex_retl")
    data(api.post(f"/sources/{source['id']}/labels", {"labels": [DEV]}))

    replaced = data(api.send("PUT", f"/sources/{source['id']}/labels", {"labels": [PROD]}))
    cleared = data(api.send("PUT", f"/sources/{source['id']}/labels", {"labels": []}))

    assert pairs(replaced["labels"]) == [("environment", "prod")]
    assert cleared["labels"] == []


def test_a_label_the_workspace_does_not_have_cannot_be_put_on_a_source(api: Api, emulator: Emulator) -> None:
    source = api.source("flex_retl")
    unknown = {"key": "environment", "value": "staging"}

    for method in ("POST", "PUT"):
        problem = error(api.send(method, f"/sources/{source['id']}/labels", {"labels": [DEV, unknown]}), 422)
        assert problem["field"] == "labels[1]" and "environment:staging" in problem["message"]
    assert emulator.store.sources[source["id"]]["labels"] == []


def test_labels_of_a_missing_source_and_a_body_without_labels_are_refused(api: Api) -> None:
    assert error(api.post("/sources/nope/labels", {"labels": [DEV]}), 404)["type"] == "not-found"
    source = api.source("flex_retl")
    assert error(api.post(f"/sources/{source['id']}/labels", {}), 422)["field"] == "labels"


def test_a_label_in_use_cannot_be_deleted_until_no_source_carries_it(api: Api) -> None:
    source = api.source("flex_retl")
    data(api.post(f"/sources/{source['id']}/labels", {"labels": [PROD]}))

    assert "in use" in error(api.delete("/labels/environment/prod"), 422)["message"]
    data(api.send("PUT", f"/sources/{source['id']}/labels", {"labels": []}))
    assert data(api.delete("/labels/environment/prod")) == {"status": "SUCCESS"}
    assert error(api.delete("/labels/environment/prod"), 404)["type"] == "not-found"
    assert pairs(data(api.get("/labels"))["labels"]) == [("environment", "dev")]


def test_labels_are_kept_in_the_state_file_and_an_older_one_gets_the_defaults() -> None:
    fresh = seeded_store(0.0)
    fresh.labels["team:flex"] = {"key": "team", "value": "flex", "description": None}
    document = fresh.to_json()

    assert sorted(Store.from_json(document).labels) == ["environment:dev", "environment:prod", "team:flex"]
    del document["labels"]
    assert sorted(Store.from_json(document).labels) == ["environment:dev", "environment:prod"]
