"""The process-wide secret set: every secret the process has learnt is masked in every error and log line,
whichever resource or client it belongs to, before Segment's message is shortened."""

from __future__ import annotations

import base64
import logging
from typing import Any

import pytest

from segment_provider.api import ApiError, ProfileApiClient, ProfileApiSettings, SegmentClient, ServerError
from segment_provider.api import secrets as secret_values
from segment_provider.api.secrets import is_credential_setting
from tests.api.conftest import SNOWFLAKE_RETL, ClientFactory

KEY_LINES = [
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7secretline1",
    "VGhpcyBpcyBhIHNlY3JldCBsaW5lIG9mIGEgcHJpdmF0ZSBrZXkgdGhhdA2",
]
PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(KEY_LINES) + "\n-----END PRIVATE KEY-----"
OTHER_PASSWORD = "other-resource-password-9f8e7d6c"


def texts(error: ApiError) -> str:
    return "\n".join([str(error), repr(error), str(error.segment_message), repr(error.errors)])


def test_a_credential_past_the_quote_limit_is_masked_whole_not_cut(
    fresh_emulator: Any, make_client: ClientFactory
) -> None:
    secret_values.register(PRIVATE_KEY)
    client = make_client(max_retries=0)
    # The key starts at character 280: a 300-character cut would leave its first 20 characters.
    message = "x" * 280 + KEY_LINES[0]
    body = {"errors": [{"type": "ValidationError", "message": message}]}
    fresh_emulator.add_fault("status", operation="getWorkspace", status=422, body=body)

    with pytest.raises(ApiError) as caught:
        client.get_workspace()

    assert KEY_LINES[0][:16] not in texts(caught.value)


def test_another_resources_password_in_a_5xx_is_masked(
    fresh_emulator: Any, make_client: ClientFactory
) -> None:
    secret_values.register(OTHER_PASSWORD)
    client = make_client(max_retries=0)
    body = {
        "errors": [
            {"type": "Internal", "message": f"db error: password={OTHER_PASSWORD}", "data": OTHER_PASSWORD}
        ]
    }
    fresh_emulator.add_fault("status", operation="listSources", status=500, body=body)

    with pytest.raises(ServerError) as caught:
        client.list_sources()

    assert OTHER_PASSWORD not in texts(caught.value)
    assert "***" in str(caught.value)


def test_a_write_key_seen_in_any_answer_is_masked_in_later_errors(
    fresh_emulator: Any, client: SegmentClient
) -> None:
    source = client.create_source(slug="keyed", metadata_id=SNOWFLAKE_RETL, enabled=True)
    write_key = source.write_keys[0]
    body = {"errors": [{"type": "ValidationError", "message": f"write key {write_key} is invalid"}]}
    fresh_emulator.add_fault("status", operation="updateSource", status=422, body=body)

    with pytest.raises(ApiError) as caught:
        client.update_source(source.id, name="renamed")

    assert write_key not in texts(caught.value)


def test_the_profile_api_token_echoed_in_basic_form_is_masked(emulator: Any) -> None:
    token = emulator.profile_api_token()
    profiles = ProfileApiClient(
        ProfileApiSettings.resolve(token=token, endpoint=emulator.url, env={}), sleep=lambda _: None
    )
    basic = base64.b64encode(f"{token}:".encode()).decode()
    body = {"error": {"code": "unauthorized", "message": f"bad credentials Basic {basic}"}}
    emulator.add_fault("status", path="/traits$", status=401, body=body)

    with pytest.raises(ApiError) as caught:
        profiles.user_traits("spa_1", "u1")

    assert basic not in texts(caught.value) and basic.rstrip("=") not in texts(caught.value)


def test_error_items_are_masked(fresh_emulator: Any, make_client: ClientFactory) -> None:
    secret_values.register(OTHER_PASSWORD)
    client = make_client(max_retries=0)
    body = {"errors": [{"type": "X", "message": "m", "data": {"password": OTHER_PASSWORD}}]}
    fresh_emulator.add_fault("status", operation="getWorkspace", status=400, body=body)

    with pytest.raises(ApiError) as caught:
        client.get_workspace()

    assert OTHER_PASSWORD not in repr(caught.value.errors)


def test_every_log_line_of_the_process_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    secret_values.register(PRIVATE_KEY)
    with caplog.at_level(logging.INFO):
        logging.getLogger("anything.at.all").info("sent %s and %r", KEY_LINES[1], PRIVATE_KEY)

    assert caplog.records and all(line not in caplog.text for line in KEY_LINES)
    assert "\\n".join(KEY_LINES) not in caplog.text


def test_short_values_are_not_registered() -> None:
    secret_values.register("short")
    assert "short" not in secret_values.registered()
    assert secret_values.mask("a short word") == "a short word"


@pytest.mark.parametrize(
    "key",
    ["password", "pwd", "api_key", "apikey", "apiKey", "key", "auth", "access_key_id", "ssh_key", "sshKey",
     "private_key", "passphrase", "authToken", "client-secret", "credentials_json"],
)  # fmt: skip
def test_credential_settings_are_recognised(key: str) -> None:
    assert is_credential_setting(key)


@pytest.mark.parametrize("key", ["account", "database", "username", "warehouse", "role", "host", "keyspace"])
def test_ordinary_settings_are_not_credentials(key: str) -> None:
    assert not is_credential_setting(key)


def test_a_catalog_password_option_is_a_credential_whatever_its_name() -> None:
    assert is_credential_setting("connection_string", "password")
    assert not is_credential_setting("connection_string", "string")
