"""What goes on the wire: media types per maturity, auth, user agent, one session per thread, no pickling."""

from __future__ import annotations

import pickle
import threading
from typing import Any

import pytest
import requests
import requests.sessions
import requests.utils

from segment_provider.api import USER_AGENT, ClientSettings, ConfigurationError, SegmentClient
from segment_provider.api.operations import MEDIA_TYPES, OPERATIONS
from tests.api.conftest import DEV_SPACE, SNOWFLAKE_RETL, SNOWFLAKE_WAREHOUSE, header
from tests.conftest import SESSION_PACING_ENV


def exercise(client: SegmentClient, emulator: Any) -> None:
    """Stable and alpha operations, with and without a body."""
    client.get_workspace()
    client.list_spaces()
    source = client.create_source(slug="wire", metadata_id=SNOWFLAKE_RETL, enabled=True)
    warehouse = client.create_warehouse(metadata_id=SNOWFLAKE_WAREHOUSE, settings={"account": "acme"})
    client.connect_source_to_warehouse(warehouse.id, source.id)
    client.create_reverse_etl_model(
        source_id=source.id,
        name="m",
        description="",
        enabled=True,
        query="SELECT 1 AS ID",
        query_identifier_column="ID",
    )
    client.list_computed_traits(emulator.space(DEV_SPACE)["id"])


def test_media_type_follows_each_operations_maturity(client: SegmentClient, fresh_emulator: Any) -> None:
    exercise(client, fresh_emulator)

    seen = {r.operation_id for r in fresh_emulator.requests}
    assert {"getWorkspace", "listSpaces", "createSource", "createReverseEtlModel"} <= seen
    for request in fresh_emulator.requests:
        expected = MEDIA_TYPES[OPERATIONS[request.operation_id].maturity]
        assert header(request, "Accept") == expected, request.operation_id
        if request.body is None:
            assert header(request, "Content-Type") is None, request.operation_id
        else:
            assert header(request, "Content-Type") == expected, request.operation_id


def test_alpha_and_stable_types_are_both_used(client: SegmentClient, fresh_emulator: Any) -> None:
    exercise(client, fresh_emulator)

    accepts = {header(r, "Accept") for r in fresh_emulator.requests}
    assert accepts == {"application/vnd.segment.v1+json", "application/vnd.segment.v1alpha+json"}


def test_every_request_carries_auth_and_user_agent(client: SegmentClient, fresh_emulator: Any) -> None:
    exercise(client, fresh_emulator)

    for request in fresh_emulator.requests:
        assert header(request, "Authorization") == f"Bearer {fresh_emulator.token}"
        assert header(request, "User-Agent") == USER_AGENT
    assert USER_AGENT.startswith("flex-unified-profiles/")


def test_one_session_for_every_thread_with_the_environment_read_once(
    client: SegmentClient, fresh_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[requests.Session] = []
    lock = threading.Lock()
    environment_reads: list[str] = []
    read_proxies = requests.utils.get_environ_proxies

    class RecordingSession(requests.Session):
        def __init__(self) -> None:
            super().__init__()
            with lock:
                created.append(self)

    def counting_proxies(url: str, no_proxy: str | None = None) -> dict[str, str]:
        with lock:
            environment_reads.append(url)
        return read_proxies(url, no_proxy)

    monkeypatch.setattr(requests, "Session", RecordingSession)
    # requests.sessions reads the environment through its own reference to the same function.
    monkeypatch.setattr(requests.utils, "get_environ_proxies", counting_proxies)
    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counting_proxies)

    def work() -> None:
        for _ in range(3):
            client.get_workspace()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    work()

    assert len(created) == 1
    assert environment_reads == [fresh_emulator.url]
    assert len(fresh_emulator.requests) == 15


def test_the_client_refuses_to_be_pickled(client: SegmentClient, fresh_emulator: Any) -> None:
    client.get_workspace()

    with pytest.raises(TypeError) as caught:
        pickle.dumps(client)

    assert "configure()" in str(caught.value)
    assert fresh_emulator.token not in str(caught.value)


def test_call_returns_the_unwrapped_data(client: SegmentClient, fresh_emulator: Any) -> None:
    data = client.call("getWorkspace")

    assert set(data) == {"workspace"}
    assert data["workspace"]["id"] == fresh_emulator.workspace["id"]


def test_missing_token_fails_before_any_request(fresh_emulator: Any) -> None:
    fresh_emulator.clear_requests()

    with pytest.raises(ConfigurationError):
        SegmentClient(
            ClientSettings.resolve(endpoint=fresh_emulator.url, env=SESSION_PACING_ENV)
        ).get_workspace()

    assert fresh_emulator.requests == []
