"""The token never shows up in exceptions, reprs or log lines; each request logs one DEBUG line."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from segment_provider.api import ClientSettings, SegmentClient, SegmentError
from tests.api.conftest import SNOWFLAKE_RETL, ClientFactory
from tests.conftest import SESSION_PACING_ENV

LOGGER = "segment_provider.api"


def run_with_errors(client: SegmentClient, emulator: Any) -> list[SegmentError]:
    """A run touching success, retries and each kind of failure; returns the errors raised."""
    emulator.add_fault(kind="status", status=503, operation="listSources")
    emulator.add_fault(kind="drop", operation="getWorkspace")
    emulator.add_fault(kind="status", status=429, operation="listWarehouses", headers={"Retry-After": "1"})
    emulator.add_fault(kind="commit_then_fail", operation="createSource")
    client.list_sources()
    client.get_workspace()
    client.list_warehouses()
    errors: list[SegmentError] = []
    for attempt in (
        lambda: client.create_source(slug="ambiguous", metadata_id=SNOWFLAKE_RETL, enabled=True),
        lambda: client.get_source("missing"),
        lambda: client.call("createSource", body={"enabled": True}),
        lambda: client.catalog.destination_by_slug("no-such-destination"),
    ):
        with pytest.raises(SegmentError) as caught:
            attempt()
        errors.append(caught.value)
    return errors


def test_token_never_appears_in_errors_reprs_or_logs(
    client: SegmentClient, fresh_emulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    token = fresh_emulator.token
    caplog.set_level(logging.DEBUG)

    errors = run_with_errors(client, fresh_emulator)

    texts = [caplog.text, repr(client), repr(client.settings), str(client.settings)]
    texts += [str(e) for e in errors] + [repr(e) for e in errors] + [str(e.__cause__) for e in errors]
    assert len(errors) == 4
    assert all(token not in text for text in texts)
    assert all(token not in record.getMessage() for record in caplog.records)


def test_a_wrong_token_is_not_echoed(fresh_emulator: Any, caplog: pytest.LogCaptureFixture) -> None:
    wrong = "sgp_wrong_but_secret_token_77"
    caplog.set_level(logging.DEBUG)
    client = SegmentClient(
        ClientSettings.resolve(token=wrong, endpoint=fresh_emulator.url, env=SESSION_PACING_ENV)
    )

    with pytest.raises(SegmentError) as caught:
        client.get_workspace()

    assert wrong not in str(caught.value) and wrong not in caplog.text


def test_one_debug_line_per_request(
    client: SegmentClient, fresh_emulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)

    client.get_workspace()
    client.list_spaces()

    lines = [r for r in caplog.records if r.name == LOGGER and r.levelno == logging.DEBUG]
    assert len(lines) == len(fresh_emulator.requests) == 2
    assert "getWorkspace" in lines[0].getMessage() and "200" in lines[0].getMessage()
    assert "listSpaces" in lines[1].getMessage()


def test_retries_are_logged_at_info_with_the_wait(
    fresh_emulator: Any, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    fresh_emulator.add_fault(kind="status", status=429, operation="listSources", headers={"Retry-After": "4"})

    make_client().list_sources()

    retries = [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.INFO]
    assert len(retries) == 1
    assert "listSources" in retries[0] and "4.0s" in retries[0]


def test_logs_never_hold_bodies_or_headers(
    client: SegmentClient, fresh_emulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)

    client.create_source(
        slug="logged", metadata_id=SNOWFLAKE_RETL, enabled=True, settings={"password": "PW-IN-BODY-123"}
    )

    assert "PW-IN-BODY-123" not in caplog.text
    assert "Bearer" not in caplog.text and "Authorization" not in caplog.text
