"""Auth, unknown routes, unknown ids (in paths and in bodies) and duplicate slugs."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest
import requests

from segment_emulator import Emulator
from tests.emulator.conftest import (
    DEV_SPACE,
    PROFILES,
    SALESFORCE,
    SEND_IDENTIFY,
    SNOWFLAKE_RETL,
    SNOWFLAKE_WAREHOUSE,
    STABLE,
    Api,
    data,
    error,
)

MISSING = "doesNotExist0000000000"


def test_a_request_without_a_token_is_401(emulator: Emulator) -> None:
    item = error(requests.get(emulator.url + "/", timeout=10), 401)

    assert item["type"] == "unauthorized"
    assert "Bearer" in item["message"]


def test_a_wrong_token_is_401_and_never_echoed(emulator: Emulator) -> None:
    wrong = "sgp_a_wrong_but_real_looking_token_4711"

    response = Api(emulator, token=wrong).get("/")

    assert error(response, 401)["type"] == "unauthorized"
    assert wrong not in response.text


def test_a_token_without_the_bearer_scheme_is_401(emulator: Emulator) -> None:
    response = requests.get(emulator.url + "/", headers={"Authorization": emulator.token}, timeout=10)

    error(response, 401)


def test_an_unknown_route_is_404_naming_it(api: Api, emulator: Emulator) -> None:
    item = error(api.get("/no-such-collection"), 404)

    assert item["type"] == "not-found"
    assert "/no-such-collection" in item["message"]
    assert emulator.requests[-1].operation_id is None


def test_a_known_path_with_another_method_is_404(api: Api) -> None:
    assert "PUT /sources" in error(api.send("PUT", "/sources", {}), 404)["message"]


@pytest.mark.parametrize(
    "path",
    [
        f"/sources/{MISSING}",
        f"/warehouses/{MISSING}",
        f"/warehouses/{MISSING}/connection-state",
        f"/destinations/{MISSING}",
        f"/destinations/{MISSING}/subscriptions",
        f"/reverse-etl-models/{MISSING}",
        f"/spaces/{MISSING}",
        f"/spaces/{MISSING}/computed-traits",
        f"/spaces/{MISSING}/events",
        f"/catalog/sources/{MISSING}",
        f"/catalog/destinations/{MISSING}",
        f"/catalog/warehouses/{MISSING}",
    ],
)
def test_an_unknown_id_in_the_path_is_404_naming_it(api: Api, path: str) -> None:
    item = error(api.get(path), 404)

    assert MISSING in item["message"]


def test_an_unknown_child_id_is_404(api: Api, emulator: Emulator) -> None:
    space_id = emulator.space(DEV_SPACE)["id"]
    destination = api.destination(api.source()["id"])

    assert MISSING in error(api.get(f"/spaces/{space_id}/computed-traits/{MISSING}"), 404)["message"]
    assert (
        MISSING
        in error(api.get(f"/destinations/{destination['id']}/subscriptions/{MISSING}"), 404)["message"]
    )
    assert MISSING in error(api.get(f"/spaces/{space_id}/events/{MISSING}/properties"), 404)["message"]


BodyCase = Callable[[Api, Emulator], Any]


def _subscription_parent(api: Api) -> tuple[str, str, str]:
    source = api.source()["id"]
    destination = api.destination(source)["id"]
    return source, destination, api.model(source)["id"]


def _update_subscription_model(api: Api, emulator: Emulator) -> Any:
    _, destination, _ = _subscription_parent(api)
    subscription = api.subscription(destination)["id"]
    path = f"/destinations/{destination}/subscriptions/{subscription}"
    return api.patch(path, {"input": {"reverseETLModelId": MISSING}})


def _manual_sync(field: str) -> BodyCase:
    def send(api: Api, emulator: Emulator) -> Any:
        source, destination, model = _subscription_parent(api)
        subscription = api.subscription(destination, modelId=model)["id"]
        body = {"sourceId": source, "modelId": model, "subscriptionId": subscription, field: MISSING}
        return api.post("/reverse-etl-syncs", body)

    return send


BODY_CASES: dict[str, BodyCase] = {
    "source metadataId": lambda api, emu: api.post(
        "/sources", {"slug": "s", "enabled": True, "metadataId": MISSING}
    ),
    "warehouse metadataId": lambda api, emu: api.post("/warehouses", {"metadataId": MISSING, "settings": {}}),
    "validation metadataId": lambda api, emu: api.post(
        "/warehouses/validation", {"metadataId": MISSING, "settings": {}}
    ),
    "destination sourceId": lambda api, emu: api.post(
        "/destinations", {"sourceId": MISSING, "metadataId": PROFILES, "settings": {}}
    ),
    "destination metadataId": lambda api, emu: api.post(
        "/destinations", {"sourceId": api.source()["id"], "metadataId": MISSING, "settings": {}}
    ),
    "subscription actionId": lambda api, emu: api.post(
        f"/destinations/{_subscription_parent(api)[1]}/subscriptions",
        {"name": "n", "actionId": MISSING, "trigger": "", "enabled": True},
    ),
    "subscription modelId": lambda api, emu: api.post(
        f"/destinations/{_subscription_parent(api)[1]}/subscriptions",
        {"name": "n", "actionId": SEND_IDENTIFY, "trigger": "", "enabled": True, "modelId": MISSING},
    ),
    "subscription update reverseETLModelId": _update_subscription_model,
    "model sourceId": lambda api, emu: api.post(
        "/reverse-etl-models",
        {
            "sourceId": MISSING,
            "name": "m",
            "description": "",
            "enabled": True,
            "query": "SELECT 1",
            "queryIdentifierColumn": "ID",
        },
    ),
    "manual sync sourceId": _manual_sync("sourceId"),
    "manual sync modelId": _manual_sync("modelId"),
    "manual sync subscriptionId": _manual_sync("subscriptionId"),
    "connection warehouse": lambda api, emu: api.post(
        f"/warehouses/{MISSING}/connected-sources/{api.source()['id']}"
    ),
    "connection source": lambda api, emu: api.post(
        f"/warehouses/{api.warehouse()['id']}/connected-sources/{MISSING}"
    ),
}


@pytest.mark.parametrize("case", BODY_CASES, ids=str)
def test_an_unknown_id_inside_a_request_is_404_naming_it(case: str, api: Api, emulator: Emulator) -> None:
    item = error(BODY_CASES[case](api, emulator), 404)

    assert MISSING in item["message"]


def test_an_action_of_another_catalog_entry_is_404(api: Api) -> None:
    source = api.source()["id"]
    other = data(api.get("/catalog/destinations", params={"pagination[count]": 1}))["destinationsCatalog"][0]
    destination = api.destination(source, metadataId=other["id"])["id"]
    body = {"name": "n", "actionId": SEND_IDENTIFY, "trigger": "", "enabled": True}

    item = error(api.post(f"/destinations/{destination}/subscriptions", body), 404)

    assert SEND_IDENTIFY in item["message"] and other["id"] in item["message"]


def test_a_subscription_is_only_found_under_its_own_destination(api: Api) -> None:
    source = api.source()["id"]
    first, second = api.destination(source)["id"], api.destination(source)["id"]
    subscription = api.subscription(first)["id"]

    error(api.get(f"/destinations/{second}/subscriptions/{subscription}"), 404)
    data(api.get(f"/destinations/{first}/subscriptions/{subscription}"))


def test_a_duplicate_source_slug_is_409(api: Api) -> None:
    api.source("only_once")

    item = error(api.post("/sources", {"slug": "only_once", "enabled": True, "metadataId": SALESFORCE}), 409)

    assert item["type"] == "conflict"
    assert "only_once" in item["message"]


def test_renaming_a_source_to_a_taken_slug_is_409_and_to_its_own_slug_is_fine(api: Api) -> None:
    api.source("taken")
    mine = api.source("mine")["id"]

    error(api.patch(f"/sources/{mine}", {"slug": "taken"}), 409)
    assert data(api.patch(f"/sources/{mine}", {"slug": "mine"}))["source"]["slug"] == "mine"


def test_a_seeded_personas_slug_is_taken_too(api: Api, emulator: Emulator) -> None:
    slug = emulator.personas_source(DEV_SPACE)["slug"]

    error(api.post("/sources", {"slug": slug, "enabled": True, "metadataId": SNOWFLAKE_RETL}), 409)


def test_a_refused_request_changes_nothing(api: Api, emulator: Emulator) -> None:
    before = emulator.store.to_json()

    error(api.post("/warehouses", {"metadataId": SNOWFLAKE_WAREHOUSE}), 422)
    error(api.post("/destinations", {"sourceId": MISSING, "metadataId": PROFILES, "settings": {}}), 404)

    assert emulator.store.to_json() == before


def patch_source_head(emulator: Emulator, source_id: str, content_length: str) -> bytes:
    """The head of a raw ``updateSource`` request, sent over a socket of the test's own."""
    return (
        f"PATCH /sources/{source_id} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {emulator.token}\r\nContent-Type: {STABLE}\r\n"
        f"Content-Length: {content_length}\r\n\r\n"
    ).encode()


@pytest.mark.parametrize("sent", [b"", b'{"name": "Ren'], ids=["headers-only", "half-the-body"])
def test_a_request_whose_client_hangs_up_before_its_whole_body_is_never_served(
    api: Api, emulator: Emulator, sent: bytes
) -> None:
    """What a CLI killed between a request's headers and its body leaves: Segment never sees the request."""
    source = api.source()
    body = b'{"name": "Renamed"}'
    before = emulator.store.to_json()
    served_before = len(emulator.requests)
    head = patch_source_head(emulator, source["id"], str(len(body)))

    with socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as connection:
        connection.sendall(head + sent)
        connection.shutdown(socket.SHUT_WR)
        answer = connection.recv(1024)

    assert answer == b""
    assert len(emulator.requests) == served_before
    assert emulator.store.to_json() == before


@pytest.mark.parametrize("length", ["ten", "-5", "1e3"])
def test_a_content_length_that_is_not_a_number_is_answered_400_and_nothing_is_served(
    api: Api, emulator: Emulator, length: str
) -> None:
    source = api.source()
    before = emulator.store.to_json()
    served_before = len(emulator.requests)
    request = patch_source_head(emulator, source["id"], length) + b'{"name": "Renamed"}'

    with socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(4096):
            answer += chunk

    assert answer.startswith(b"HTTP/1.0 400 ") or answer.startswith(b"HTTP/1.1 400 "), answer[:80]
    assert b"Content-Length is not a number of bytes" in answer
    assert len(emulator.requests) == served_before
    assert emulator.store.to_json() == before
    # The emulator goes on serving.
    assert api.get(f"/sources/{source['id']}").status_code == 200
