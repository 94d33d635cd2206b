"""Each error class as the emulator produces it over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from segment_provider.api import (
    ApiError,
    AuthenticationError,
    ClientSettings,
    ConflictError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    SegmentClient,
    ServerError,
    TransportError,
    ValidationError,
)
from tests.api.conftest import SNOWFLAKE_RETL, ClientFactory, requests_for
from tests.conftest import SESSION_PACING_ENV

WRONG_TOKEN = "sgp_WRONG_token_that_must_never_be_shown_42"


def test_wrong_token_is_an_authentication_error(fresh_emulator: Any, sleeps: list[float]) -> None:
    settings = ClientSettings.resolve(token=WRONG_TOKEN, endpoint=fresh_emulator.url, env=SESSION_PACING_ENV)
    client = SegmentClient(settings, sleep=sleeps.append)

    with pytest.raises(AuthenticationError) as caught:
        client.get_workspace()

    assert caught.value.status == 401
    assert caught.value.operation == "getWorkspace"
    assert "segment:token" in str(caught.value)
    assert WRONG_TOKEN not in str(caught.value) and WRONG_TOKEN not in repr(caught.value)
    assert sleeps == []


def test_missing_object_is_not_found(client: SegmentClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.get_source("does-not-exist")

    assert caught.value.status == 404
    assert caught.value.operation == "getSource"


def test_duplicate_slug_is_a_conflict(client: SegmentClient) -> None:
    client.create_source(slug="only_once", metadata_id=SNOWFLAKE_RETL, enabled=True)

    with pytest.raises(ConflictError) as caught:
        client.create_source(slug="only_once", metadata_id=SNOWFLAKE_RETL, enabled=True)

    assert caught.value.status == 409
    assert caught.value.segment_message


def test_invalid_body_is_a_validation_error_naming_the_field(client: SegmentClient) -> None:
    with pytest.raises(ValidationError) as caught:
        client.call("createSource", body={"enabled": True, "metadataId": SNOWFLAKE_RETL})

    assert caught.value.status == 422
    assert caught.value.field
    assert f"field '{caught.value.field}'" in str(caught.value)


def test_rate_limit_after_the_last_retry(fresh_emulator: Any, make_client: ClientFactory) -> None:
    fresh_emulator.add_fault(kind="status", status=429, operation="listSources", count=5)
    client = make_client(max_retries=1)

    with pytest.raises(RateLimitedError) as caught:
        client.list_sources()

    assert caught.value.status == 429
    assert len(requests_for(fresh_emulator, "listSources")) == 2


def test_server_error_after_the_last_retry(
    fresh_emulator: Any, make_client: ClientFactory, sleeps: list[float]
) -> None:
    fresh_emulator.add_fault(kind="status", status=500, operation="getWorkspace", count=10)
    client = make_client(max_retries=2)

    with pytest.raises(ServerError) as caught:
        client.get_workspace()

    assert caught.value.status == 500
    assert len(requests_for(fresh_emulator, "getWorkspace")) == 3
    assert len(sleeps) == 2


def test_dropped_connections_after_the_last_retry(fresh_emulator: Any, make_client: ClientFactory) -> None:
    fresh_emulator.add_fault(kind="drop", operation="getWorkspace", count=10)
    client = make_client(max_retries=1)

    with pytest.raises(TransportError) as caught:
        client.get_workspace()

    assert not isinstance(caught.value, OutcomeUnknownError)
    assert caught.value.status is None
    assert f"getWorkspace at {fresh_emulator.url} lost its connection" in str(caught.value), (
        "the URL it tried is named, so a wrong endpoint or region shows"
    )


def test_every_error_is_an_api_error_carrying_its_operation(client: SegmentClient) -> None:
    with pytest.raises(ApiError) as caught:
        client.get_destination("missing")

    assert caught.value.operation == "getDestination"
