"""What goes on the wire: media types per maturity, auth, user agent, one kept-open connection per thread, the
proxy settings read once, no pickling."""

from __future__ import annotations

import pickle
import threading
from typing import Any

import pytest

from segment_provider.api import USER_AGENT, ClientSettings, ConfigurationError, SegmentClient, connections
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


def test_a_connection_per_thread_kept_open_and_the_environment_read_once(
    client: SegmentClient, fresh_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    lock = threading.Lock()
    environment_reads: list[tuple[str, str]] = []
    proxy_for = connections._proxy_for

    def counting_proxy_reads(scheme: str, host: str) -> Any:
        with lock:
            environment_reads.append((scheme, host))
        return proxy_for(scheme, host)

    # The client made its connection pool already; the pool reads the proxy settings at the first request.
    monkeypatch.setattr(connections, "_proxy_for", counting_proxy_reads)
    accepted_before = fresh_emulator.connections_accepted

    def work() -> None:
        for _ in range(3):
            client.get_workspace()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    work()

    assert len(environment_reads) == 1
    assert len(fresh_emulator.requests) == 15
    # Four threads and this one: a connection each, kept open for the next two calls.
    assert fresh_emulator.connections_accepted - accepted_before == 5


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
