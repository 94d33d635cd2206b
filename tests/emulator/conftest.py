"""Helpers for the emulator's own tests: raw HTTP with ``requests`` (no product client in between)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from segment_emulator import Emulator
from segment_emulator.routing import route
from tests.contract.recorder import session_recorder

SALESFORCE = "2baks93n"
SNOWFLAKE_RETL = "BQp3zGUgjV"
SNOWFLAKE_WAREHOUSE = "CCIl4HLQPz"
POSTGRES_WAREHOUSE = "55d3d3aea3c"
PROFILES = "639c2dbb1309fdcad13951b6"
SEND_IDENTIFY = "vm2tNA5U1zxUusQkdC4D7Z"
DEV_SPACE = "unified-profiles-dev"
PROD_SPACE = "unified-profiles-prod"
ALPHA = "application/vnd.segment.v1alpha+json"
STABLE = "application/vnd.segment.v1+json"
SNOWFLAKE_SETTINGS = {
    "account": "acme-xy12345",
    "database": "SEGMENT_EVENTS",
    "warehouse": "SEGMENT_WAREHOUSE",
    "username": "SEGMENT_USER",
    "private_key": "-----BEGIN PRIVATE KEY-----MIIEvQIBADANBgkqhkiG9w0BAQEFAASC-----END PRIVATE KEY-----",
}


class Api:
    """Sends requests to one emulator with its token and, unless told otherwise, each operation's media type."""

    def __init__(self, emulator: Emulator, token: str | None = None) -> None:
        self.base = emulator.url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token or emulator.token}"

    def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Any = None,
        headers: dict[str, str | None] | None = None,
        data: str | bytes | None = None,
    ) -> requests.Response:
        """``headers`` override the media types; a None value leaves that header out."""
        sent: dict[str, str | None] = dict(
            self._media_headers(method, path, has_body=body is not None or data is not None)
        )
        sent.update(headers or {})
        return self.session.request(
            method, self.base + path, json=body, data=data, params=params, headers=sent, timeout=10
        )

    def get(self, path: str, **options: Any) -> requests.Response:
        return self.send("GET", path, **options)

    def post(self, path: str, body: Any = None, **options: Any) -> requests.Response:
        return self.send("POST", path, body, **options)

    def patch(self, path: str, body: Any = None, **options: Any) -> requests.Response:
        return self.send("PATCH", path, body, **options)

    def delete(self, path: str, **options: Any) -> requests.Response:
        return self.send("DELETE", path, **options)

    @staticmethod
    def _media_headers(method: str, path: str, *, has_body: bool) -> dict[str, str]:
        found = route(method, path.split("?")[0])
        media = ALPHA if found is not None and found[0].maturity == "alpha" else STABLE
        return {"Accept": media, "Content-Type": media} if has_body else {"Accept": media}

    # ---------------------------------------------------------------------- objects, created through the API

    def source(self, slug: str = "retl", metadata_id: str = SNOWFLAKE_RETL, **fields: Any) -> dict[str, Any]:
        body = {
            "slug": slug,
            "enabled": True,
            "metadataId": metadata_id,
            "disconnectAllWarehouses": True,
            **fields,
        }
        return data(self.post("/sources", body), 201)["source"]

    def warehouse(self, settings: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        body = {
            "metadataId": SNOWFLAKE_WAREHOUSE,
            "settings": dict(SNOWFLAKE_SETTINGS if settings is None else settings),
            "disconnectAllSources": True,
            **fields,
        }
        return data(self.post("/warehouses", body), 201)["warehouse"]

    def destination(self, source_id: str, **fields: Any) -> dict[str, Any]:
        body = {"sourceId": source_id, "metadataId": PROFILES, "settings": {}, "name": "Profiles", **fields}
        return data(self.post("/destinations", body))["destination"]

    def model(self, source_id: str, **fields: Any) -> dict[str, Any]:
        body = {
            "sourceId": source_id,
            "name": "Accounts",
            "description": "Salesforce accounts",
            "enabled": True,
            "query": "SELECT ID, NAME FROM salesforce.accounts",
            "queryIdentifierColumn": "ID",
            **fields,
        }
        return data(self.post("/reverse-etl-models", body), 201)["reverseEtlModel"]

    def subscription(self, destination_id: str, **fields: Any) -> dict[str, Any]:
        body = {
            "name": "Send Identify",
            "actionId": SEND_IDENTIFY,
            "trigger": 'event = "new"',
            "enabled": True,
            **fields,
        }
        created = data(self.post(f"/destinations/{destination_id}/subscriptions", body))
        return created["destinationSubscription"]

    def trait(self, space_id: str, name: str = "Total inbounds", **fields: Any) -> dict[str, Any]:
        body = {
            "name": name,
            "definition": {"type": "USERS", "query": "event('Flex - Engagement Initiated').count()"},
            **fields,
        }
        return data(self.post(f"/spaces/{space_id}/computed-traits", body))["computedTrait"]


def control(
    emulator: Emulator, method: str, name: str, body: Any = None, *, token: str | None = "emulator's"
) -> requests.Response:
    """A control endpoint, with the emulator's token unless ``token`` says another (None: no token at all)."""
    sent = emulator.token if token == "emulator's" else token
    headers = {"Authorization": f"Bearer {sent}"} if sent is not None else {}
    return requests.request(
        method, f"{emulator.url}/__emulator/{name}", json=body, headers=headers, timeout=10
    )


def data(response: requests.Response, status: int = 200) -> Any:
    """The ``data`` of a successful answer, after checking its status and envelope."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    document = response.json()
    assert set(document) == {"data"}, document
    return document["data"]


def error(response: requests.Response, status: int) -> dict[str, Any]:
    """The single error item of a failed answer, after checking its status and envelope."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    document = response.json()
    assert set(document) == {"errors"} and len(document["errors"]) == 1, document
    item: dict[str, Any] = document["errors"][0]
    return item


@pytest.fixture
def subscription_path(api: Api) -> str:
    """The path of a new mapping (of a new destination of a new source)."""
    destination = api.destination(api.source()["id"])["id"]
    return f"/destinations/{destination}/subscriptions/{api.subscription(destination)['id']}"


def schedule(strategy: str, config: Any = None) -> dict[str, Any]:
    """A mapping update that sets only the schedule."""
    return {"input": {"reverseETLSchedule": {"strategy": strategy, "config": config}}}


@pytest.fixture
def api(emulator: Emulator) -> Api:
    return Api(emulator)


class FakeClock:
    """A wall clock that only moves when told to."""

    def __init__(self, start: float = 1_900_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


EmulatorFactory = Callable[..., Emulator]


@pytest.fixture
def make_emulator() -> Iterator[EmulatorFactory]:
    """Start emulators with their own settings (clock, state file, limits); all are stopped afterwards.

    Their exchanges go through the session's contract check too.
    """
    started: list[Emulator] = []

    def make(**options: Any) -> Emulator:
        options.setdefault("on_exchange", session_recorder().record)
        emulator = Emulator(**options).start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()
