"""A hostile or broken server, through the emulator's faults: redirects, plain http, a dripped answer, a huge
one, endless cursors, HTML, deep JSON. Each ends in a typed error that names the problem and holds no secret,
and nothing is sent anywhere but the configured address.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from segment_provider.api import (
    ApiError,
    ClientSettings,
    ConfigurationError,
    OutcomeUnknownError,
    ProfileApiClient,
    ProfileApiSettings,
    SegmentClient,
    ServerError,
    TransportError,
)
from segment_provider.api.transport import MAX_JSON_DEPTH, MAX_PAGES, ResponseRefusedError, _depth_within
from tests.api.conftest import SNOWFLAKE_WAREHOUSE, ClientFactory, requests_for

PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----"


class Catcher:
    """A loopback listener recording every byte sent to it: where a followed redirect would have gone."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.received = b""
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self._socket.settimeout(0.2)
        while self._socket.fileno() != -1:
            try:
                connection, _ = self._socket.accept()
            except (TimeoutError, OSError):
                continue
            with connection:
                connection.settimeout(1)
                with contextlib.suppress(OSError):
                    self.received += connection.recv(65536)

    def close(self) -> None:
        self._socket.close()
        self._thread.join(timeout=2)


@pytest.fixture
def catcher() -> Iterator[Catcher]:
    listener = Catcher()
    yield listener
    listener.close()


def assert_secret_free(error: BaseException, *secrets: str) -> None:
    texts = [
        str(error),
        repr(error),
        str(getattr(error, "segment_message", "")),
        repr(getattr(error, "errors", "")),
    ]
    for secret in secrets:
        for line in secret.splitlines():
            assert all(line not in text for text in texts), f"{line!r} leaked"


# ----------------------------------------------------------------------------------------------- redirects


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_never_followed(
    fresh_emulator: Any, client: SegmentClient, catcher: Catcher, status: int
) -> None:
    location = f"http://127.0.0.1:{catcher.port}/warehouses"
    fresh_emulator.add_fault(
        "status", operation="createWarehouse", status=status, headers={"Location": location}
    )

    with pytest.raises(ResponseRefusedError) as caught:
        client.create_warehouse(
            metadata_id=SNOWFLAKE_WAREHOUSE, name="w", settings={"account": "a", "private_key": PRIVATE_KEY}
        )

    time.sleep(0.3)  # anything sent to the catcher has arrived by now
    assert catcher.received == b""
    assert f"HTTP {status}" in str(caught.value) and "127.0.0.1" in str(caught.value)
    assert "segment:endpoint" in str(caught.value)
    assert len(requests_for(fresh_emulator, "createWarehouse")) == 1
    assert_secret_free(caught.value, PRIVATE_KEY, fresh_emulator.token)


def test_a_redirect_of_the_profile_api_is_never_followed(emulator: Any, catcher: Catcher) -> None:
    settings = ProfileApiSettings.resolve(token=emulator.profile_api_token(), endpoint=emulator.url, env={})
    profiles = ProfileApiClient(settings, sleep=lambda _: None)
    emulator.add_fault(
        "status", path="/traits$", status=302, headers={"Location": f"http://127.0.0.1:{catcher.port}/x"}
    )

    with pytest.raises(ResponseRefusedError) as caught:
        profiles.user_traits("spa_1", "u1")

    time.sleep(0.3)
    assert catcher.received == b""
    assert "HTTP 302" in str(caught.value) and "profileApi.endpoint" in str(caught.value)
    assert_secret_free(caught.value, emulator.profile_api_token())


# ------------------------------------------------------------------------------------------------ addresses


@pytest.mark.parametrize(
    "endpoint",
    ["http://api.segmentapis.com", "http://10.0.0.1:8080", "http://127.0.0.1.evil.example"],
    ids=["public-host", "private-ip", "loopback-lookalike"],
)
def test_plain_http_is_refused_except_on_loopback(endpoint: str) -> None:
    for resolve, key in (
        (lambda: ClientSettings.resolve(token="t", endpoint=endpoint, env={}), "segment:endpoint"),
        (lambda: ClientSettings.resolve(token="t", env={"SEGMENT_API_URL": endpoint}), "segment:endpoint"),
        (
            lambda: ProfileApiSettings.resolve(token="t", endpoint=endpoint, env={}),
            "flex-unified-profiles:profileApi.endpoint",
        ),
    ):
        with pytest.raises(ConfigurationError) as caught:
            resolve()
        assert caught.value.key == key
        assert "plain http" in str(caught.value) and "https" in str(caught.value)


@pytest.mark.parametrize(
    "endpoint", ["http://127.0.0.1:9", "http://[::1]:9", "http://localhost:9", "http://127.8.0.1"]
)
def test_plain_http_is_accepted_on_loopback(endpoint: str) -> None:
    assert ClientSettings.resolve(token="t", endpoint=endpoint, env={}).base_url == endpoint
    assert ProfileApiSettings.resolve(token="t", endpoint=endpoint, env={}).base_url == endpoint


@pytest.mark.parametrize(
    ("endpoint", "words"),
    [
        ("https://admin:hunter2-secret@api.segmentapis.com", "user name or password"),
        ("https://api.segmentapis.com\r\nX-Evil: 1", "line breaks"),
        ("https://api.segment\tapis.com", "spaces"),
        ("https://api.segmentapis.com:port", "port"),
    ],
    ids=["userinfo", "line-break", "tab", "bad-port"],
)
def test_an_address_with_credentials_or_control_characters_is_refused(endpoint: str, words: str) -> None:
    for resolve in (
        lambda: ClientSettings.resolve(token="t", endpoint=endpoint, env={}),
        lambda: ProfileApiSettings.resolve(token="t", endpoint=endpoint, env={}),
    ):
        with pytest.raises(ConfigurationError) as caught:
            resolve()
        assert words in str(caught.value)
        assert "hunter2-secret" not in str(caught.value)


# ---------------------------------------------------------------------------------------- slow and big answers


def test_a_dripped_answer_ends_at_the_deadline(fresh_emulator: Any, make_client: ClientFactory) -> None:
    client = make_client(deadline=0.5, read_timeout=2, max_retries=0)
    fresh_emulator.add_fault("drip", operation="getWorkspace", seconds=0.05)

    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        client.get_workspace()

    # The body is ~150 bytes: read whole it would take ~7 s; the deadline plus one read bounds it.
    assert time.monotonic() - started < 2.5
    assert "timed out" in str(caught.value)


def test_a_dripped_answer_to_a_create_is_an_unknown_outcome(
    fresh_emulator: Any, make_client: ClientFactory
) -> None:
    client = make_client(deadline=0.3, read_timeout=2)
    fresh_emulator.add_fault("drip", operation="createSource", seconds=0.05)

    with pytest.raises(OutcomeUnknownError):
        client.create_source(slug="dripped", metadata_id="BQp3zGUgjV", enabled=True)

    assert len(requests_for(fresh_emulator, "createSource")) == 1  # never sent twice


def test_an_answer_larger_than_the_cap_is_refused(fresh_emulator: Any, make_client: ClientFactory) -> None:
    client = make_client(max_response_bytes=4096)
    huge = {"data": {"workspace": {"id": "w", "name": "x" * 100_000, "slug": "s"}}}
    fresh_emulator.add_fault("status", operation="getWorkspace", status=200, body=huge)

    with pytest.raises(ResponseRefusedError) as caught:
        client.get_workspace()

    assert "larger than 4096 bytes" in str(caught.value) and "getWorkspace" in str(caught.value)


def test_a_large_error_answer_is_cut_not_refused(fresh_emulator: Any, make_client: ClientFactory) -> None:
    client = make_client(max_retries=0)
    fresh_emulator.add_fault("status", operation="getWorkspace", status=418, body="teapot " * 100_000)

    with pytest.raises(ServerError) as caught:
        client.get_workspace()

    assert "HTTP 418" in str(caught.value) and len(str(caught.value)) < 1000


# ----------------------------------------------------------------------------------------------- pagination


def test_a_server_that_never_stops_paging_is_stopped(fresh_emulator: Any, client: SegmentClient) -> None:
    fresh_emulator.add_fault("endless_pages", operation="listSources", count=MAX_PAGES + 10)

    with pytest.raises(ServerError) as caught:
        client.list_sources()

    assert f"past {MAX_PAGES} pages" in str(caught.value)
    assert len(requests_for(fresh_emulator, "listSources")) == MAX_PAGES


def test_a_repeated_cursor_is_stopped(fresh_emulator: Any, client: SegmentClient) -> None:
    page = {"data": {"sources": [], "pagination": {"current": "c", "next": "same"}}}
    fresh_emulator.add_fault("status", operation="listSources", status=200, body=page, count=5)

    with pytest.raises(ServerError) as caught:
        client.list_sources()

    assert "same page cursor twice" in str(caught.value)


# -------------------------------------------------------------------------------------------- not JSON at all


@pytest.mark.parametrize(
    ("body", "content_type", "words"),
    [
        ("<html><body>Login required</body></html>", "text/html", "is not JSON"),
        ("\x00\xff garbage {", "application/octet-stream", "is not JSON"),
        ("[" * 100_000 + "]" * 100_000, "application/json", f"deeper than {MAX_JSON_DEPTH}"),
        ('{"a":' * (MAX_JSON_DEPTH + 5) + "1" + "}" * (MAX_JSON_DEPTH + 5), "application/json", "deeper"),
    ],
    ids=["html", "garbage", "deep-json", "moderately-deep-json"],
)
def test_a_body_that_is_not_usable_json_names_status_and_content_type(
    fresh_emulator: Any, client: SegmentClient, body: str, content_type: str, words: str
) -> None:
    fresh_emulator.add_fault(
        "status", operation="getWorkspace", status=200, body=body, headers={"Content-Type": content_type}
    )

    with pytest.raises(ResponseRefusedError) as caught:
        client.get_workspace()

    assert words in str(caught.value)
    assert "HTTP 200" in str(caught.value) and content_type in str(caught.value)


def _nesting(document: Any) -> int:
    if isinstance(document, dict):
        document = list(document.values())
    if isinstance(document, list):
        return 1 + max(map(_nesting, document), default=0)
    return 0


JSON_DOCUMENTS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=3),
    max_leaves=40,
)


@given(document=JSON_DOCUMENTS, limit=st.integers(min_value=0, max_value=12))
def test_the_depth_check_agrees_with_the_documents_nesting(document: Any, limit: int) -> None:
    assert _depth_within(document, limit) == (_nesting(document) <= limit)


def test_deep_json_in_an_error_answer_is_quoted_not_parsed(
    fresh_emulator: Any, make_client: ClientFactory
) -> None:
    client = make_client(max_retries=0)
    fresh_emulator.add_fault("status", operation="getWorkspace", status=503, body="[" * 100_000)

    with pytest.raises(ServerError) as caught:
        client.get_workspace()

    assert "HTTP 503" in str(caught.value)


def test_html_answer_to_a_create_is_an_unknown_outcome(fresh_emulator: Any, client: SegmentClient) -> None:
    fresh_emulator.add_fault(
        "status", operation="createSource", status=201, body="<html/>", headers={"Content-Type": "text/html"}
    )

    with pytest.raises(OutcomeUnknownError) as caught:
        client.create_source(slug="html", metadata_id="BQp3zGUgjV", enabled=True)

    assert "text/html" in str(caught.value)


def test_the_profile_api_refuses_deep_json(emulator: Any) -> None:
    settings = ProfileApiSettings.resolve(token=emulator.profile_api_token(), endpoint=emulator.url, env={})
    profiles = ProfileApiClient(settings, sleep=lambda _: None)
    emulator.add_fault(
        "status",
        path="/traits$",
        status=200,
        body="[" * 50_000 + "]" * 50_000,
        headers={"Content-Type": "application/json"},
    )

    with pytest.raises(ApiError) as caught:
        profiles.user_traits("spa_1", "u1")

    assert "deeper" in str(caught.value) and "The Profile API" in str(caught.value)


# --------------------------------------------------------------------------------------------------- tokens


@pytest.mark.parametrize("token", ["sgp_tökén", "sgp_a b", "sgp_a\u00a0b", "sgp_\u200bzero", "Basic abc"])
def test_a_token_that_cannot_be_a_header_is_refused_for_both_apis(token: str) -> None:
    with pytest.raises(ConfigurationError) as segment:
        ClientSettings.resolve(token=token, env={})
    with pytest.raises(ConfigurationError) as profile:
        ProfileApiSettings.resolve(token=token, env={})

    assert segment.value.key == "segment:token"
    assert profile.value.key == "flex-unified-profiles:profileApiToken"
    for caught in (segment, profile):
        assert token not in str(caught.value)
