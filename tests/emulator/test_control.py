"""The controls: the request log, reset, seeding, the state dump, over HTTP and from Python."""

from __future__ import annotations

import requests

from segment_emulator import Emulator, RecordedRequest
from tests.emulator.conftest import (
    DEV_SPACE,
    PROD_SPACE,
    SNOWFLAKE_RETL,
    SNOWFLAKE_SETTINGS,
    Api,
    EmulatorFactory,
    control,
    data,
)

INITIATED = "Flex - Engagement Initiated"


def event_names(api: Api, emulator: Emulator, space_slug: str) -> set[str]:
    space_id = emulator.space(space_slug)["id"]
    return {event["name"] for event in data(api.get(f"/spaces/{space_id}/events"))["events"]}


# --------------------------------------------------------------------------------------------- the log


def test_the_log_records_what_arrived_and_what_was_answered(api: Api, emulator: Emulator) -> None:
    api.post(
        "/sources", {"slug": "logged", "enabled": True, "metadataId": SNOWFLAKE_RETL}, params={"trace": "1"}
    )

    (entry,) = emulator.requests
    assert (entry.method, entry.path, entry.operation_id, entry.status) == (
        "POST",
        "/sources",
        "createSource",
        201,
    )
    assert entry.query == {"trace": ["1"]}
    assert entry.body == {"slug": "logged", "enabled": True, "metadataId": SNOWFLAKE_RETL}
    assert entry.headers["Authorization"] == f"Bearer {emulator.token}"
    assert entry.response_body["data"]["source"]["slug"] == "logged"
    assert entry.timestamp > 0 and entry.committed


def test_the_log_over_http_and_clearing_it(api: Api, emulator: Emulator) -> None:
    api.get("/")
    api.get("/spaces")

    logged = control(emulator, "GET", "requests").json()["requests"]

    assert [(r["method"], r["path"], r["operationId"], r["status"]) for r in logged] == [
        ("GET", "/", "getWorkspace", 200),
        ("GET", "/spaces", "listSpaces", 200),
    ]
    assert control(emulator, "DELETE", "requests").status_code == 200
    assert emulator.requests == []


def test_control_calls_are_not_logged_and_need_no_token(emulator: Emulator) -> None:
    assert control(emulator, "GET", "state").status_code == 200
    assert control(emulator, "GET", "faults").status_code == 200

    assert emulator.requests == []


def test_clear_requests(api: Api, emulator: Emulator) -> None:
    api.get("/")

    emulator.clear_requests()

    assert emulator.requests == []


def test_on_exchange_sees_every_answer_before_the_client_does(make_emulator: EmulatorFactory) -> None:
    seen: list[RecordedRequest] = []
    emulator = make_emulator(on_exchange=seen.append)
    api = Api(emulator)

    api.get("/")
    api.get("/nowhere")

    assert [(r.operation_id, r.status) for r in seen] == [("getWorkspace", 200), (None, 404)]
    assert seen[0].response_body["data"]["workspace"]["slug"] == "flex-emulator"


def test_a_failing_on_exchange_does_not_break_serving(make_emulator: EmulatorFactory) -> None:
    def explode(record: RecordedRequest) -> None:
        raise RuntimeError("observer bug")

    api = Api(make_emulator(on_exchange=explode))

    assert data(api.get("/"))["workspace"]["slug"] == "flex-emulator"


# ---------------------------------------------------------------------------------------------- faults


def test_faults_over_http(api: Api, emulator: Emulator) -> None:
    added = control(
        emulator, "POST", "faults", {"kind": "status", "status": 503, "operation": "getWorkspace"}
    )

    assert added.status_code == 201 and added.json()["fault"]["kind"] == "status"
    assert [f["operation"] for f in control(emulator, "GET", "faults").json()["faults"]] == ["getWorkspace"]
    assert api.get("/").status_code == 503
    control(emulator, "POST", "faults", {"kind": "drop", "count": 3})
    control(emulator, "DELETE", "faults")
    assert api.get("/").status_code == 200


def test_commit_then_fail_over_http_with_a_null_status_drops(api: Api, emulator: Emulator) -> None:
    control(
        emulator, "POST", "faults", {"kind": "commit_then_fail", "operation": "getWorkspace", "status": None}
    )

    assert emulator.faults[0].status is None


def test_bad_faults_over_http_are_400(emulator: Emulator) -> None:
    assert control(emulator, "POST", "faults", {"kind": "status", "stauts": 503}).status_code == 400
    assert control(emulator, "POST", "faults", {"kind": "melt"}).status_code == 400
    assert control(emulator, "POST", "faults", {"status": 503}).status_code == 400
    assert (
        "not valid JSON"
        in requests.post(
            f"{emulator.url}/__emulator/faults",
            data="{",
            headers={"Authorization": f"Bearer {emulator.token}"},
            timeout=10,
        ).text
    )


def test_an_unknown_control_endpoint_is_404(emulator: Emulator) -> None:
    response = control(emulator, "GET", "teleport")

    assert response.status_code == 404 and "teleport" in response.json()["error"]


# ------------------------------------------------------------------------------------- reset and seeding


def test_reset_returns_to_the_seeds(api: Api, emulator: Emulator) -> None:
    seeded = emulator.store.to_json()
    api.source("temporary")
    api.warehouse()
    emulator.add_fault(kind="status", status=500, operation="listSpaces")

    emulator.reset()

    assert emulator.store.to_json() == seeded
    assert emulator.faults == [] and emulator.requests == []


def test_reset_over_http_can_seed_the_flex_events(api: Api, emulator: Emulator) -> None:
    api.source("temporary")

    assert control(emulator, "POST", "reset", {"seedFlexEvents": True}).status_code == 200

    assert "temporary" not in {s["slug"] for s in emulator.store.sources.values()}
    assert INITIATED in event_names(api, emulator, DEV_SPACE)
    assert INITIATED in event_names(api, emulator, PROD_SPACE)


def test_seeding_flex_events_touches_one_space(api: Api, emulator: Emulator) -> None:
    space = emulator.seed_flex_events(PROD_SPACE)

    assert space["slug"] == PROD_SPACE
    assert INITIATED in event_names(api, emulator, PROD_SPACE)
    assert event_names(api, emulator, DEV_SPACE) == set()


def test_seeding_over_http_defaults_to_the_dev_space(api: Api, emulator: Emulator) -> None:
    assert control(emulator, "POST", "seed-flex-events").json()["space"]["slug"] == DEV_SPACE
    assert control(emulator, "POST", "seed-flex-events", {"spaceSlug": "nope"}).status_code == 404

    assert INITIATED in event_names(api, emulator, DEV_SPACE)


def test_the_state_dump(api: Api, emulator: Emulator) -> None:
    source = api.source("dumped")
    warehouse = api.warehouse()
    data(api.post(f"/warehouses/{warehouse['id']}/connected-sources/{source['id']}"), 201)

    state = control(emulator, "GET", "state").json()

    assert state["workspace"]["slug"] == "flex-emulator"
    assert state["sources"][source["id"]]["slug"] == "dumped"
    assert [warehouse["id"], source["id"]] in state["connections"]
    assert set(state) >= {"spaces", "warehouses", "destinations", "subscriptions", "models", "computedTraits"}


# ------------------------------------------------------------------------------------------- the Python API


def test_workspace_spaces_and_personas_sources(emulator: Emulator) -> None:
    assert emulator.workspace["slug"] == "flex-emulator"
    dev = emulator.space(DEV_SPACE)
    personas = emulator.personas_source(DEV_SPACE)

    assert personas["slug"] == f"personas_{DEV_SPACE}"
    assert personas["metadata"]["slug"] == "personas-compute"
    assert personas["name"] == f"Personas {dev['name']}"


def test_an_unknown_space_is_a_key_error_listing_the_known_ones(emulator: Emulator) -> None:
    try:
        emulator.space("nowhere")
    except KeyError as error:
        assert DEV_SPACE in str(error) and PROD_SPACE in str(error)
    else:
        raise AssertionError("expected a KeyError")


def test_tests_may_change_the_store_out_of_band(api: Api, emulator: Emulator) -> None:
    source = api.source("drifting")

    with emulator.store_lock:
        emulator.store.sources[source["id"]]["name"] = "Changed in the app"
    gone = emulator.space(PROD_SPACE)["id"]
    emulator.store.spaces.pop(gone)

    assert data(api.get(f"/sources/{source['id']}"))["source"]["name"] == "Changed in the app"
    assert api.get(f"/spaces/{gone}").status_code == 404


def test_copies_handed_out_do_not_change_the_state(emulator: Emulator) -> None:
    emulator.workspace["slug"] = "mutated"
    emulator.space(DEV_SPACE)["name"] = "mutated"
    emulator.personas_source(DEV_SPACE)["writeKeys"].append("mutated")

    assert emulator.workspace["slug"] == "flex-emulator"
    assert emulator.space(DEV_SPACE)["name"] != "mutated"
    assert "mutated" not in emulator.personas_source(DEV_SPACE)["writeKeys"]


def test_reprs_show_no_token_and_no_credentials(api: Api, emulator: Emulator) -> None:
    secret = SNOWFLAKE_SETTINGS["private_key"]
    api.warehouse()

    texts = [repr(emulator), repr(emulator.store), *(repr(r) for r in emulator.requests)]

    assert all(emulator.token not in text and secret not in text for text in texts)
    assert emulator.url in repr(emulator)
