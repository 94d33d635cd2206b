"""The Profile API client against the emulator: settings, Basic auth, paging, typed errors, no token leaks."""

from __future__ import annotations

import base64
import logging
import pickle
import socket
from collections.abc import Callable
from typing import Any

import pytest

from segment_provider.api import (
    PROFILE_API_URLS,
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    ProfileApiClient,
    ProfileApiSettings,
    RateLimitedError,
    ServerError,
    TransportError,
)
from segment_provider.api.profiles import (
    PAGE_SIZE,
    PROFILE_ENDPOINT_KEY,
    PROFILE_TOKEN_ENV,
    PROFILE_TOKEN_KEY,
)

DEV_SPACE = "unified-profiles-dev"
USER = "0011x00000AbCdE"
SENTIMENT = "event('Flex - Engagement Completed').last(property('sentiment'))"

ProfilesFactory = Callable[..., ProfileApiClient]


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_profiles(emulator: Any, sleeps: list[float]) -> ProfilesFactory:
    def make(token: str | None = None, **options: Any) -> ProfileApiClient:
        settings = ProfileApiSettings.resolve(
            token=token or emulator.profile_api_token(), endpoint=emulator.url, env={}, **options
        )
        return ProfileApiClient(settings, sleep=sleeps.append)

    return make


@pytest.fixture
def space_id(emulator: Any) -> str:
    return str(emulator.space(DEV_SPACE)["id"])


def profile_requests(emulator: Any) -> list[Any]:
    return [r for r in emulator.requests if r.path.startswith("/v1/")]


# ---------------------------------------------------------------------------------------------- settings


def test_the_region_picks_the_documented_host() -> None:
    us = ProfileApiSettings.resolve(token="t", env={})
    eu = ProfileApiSettings.resolve(token="t", region="EU", env={})
    other = ProfileApiSettings.resolve(token="t", endpoint="http://127.0.0.1:9/", env={})

    assert us.base_url == PROFILE_API_URLS["us"] == "https://profiles.segment.com"
    assert eu.base_url == PROFILE_API_URLS["eu"] == "https://profiles.euw1.segment.com"
    assert other.base_url == "http://127.0.0.1:9"


def test_the_token_may_come_from_the_environment() -> None:
    settings = ProfileApiSettings.resolve(env={PROFILE_TOKEN_ENV: " from-env "})

    assert settings.token.get_secret_value() == "from-env"
    assert "from-env" not in repr(settings)


@pytest.mark.parametrize(
    ("options", "key", "words"),
    [
        ({}, PROFILE_TOKEN_KEY, "pulumi config set --secret profileApiToken"),
        ({"token": "t", "region": "apac"}, "segment:region", "us, eu"),
        ({"token": "t", "endpoint": "profiles.segment.com"}, PROFILE_ENDPOINT_KEY, "not an http(s) URL"),
    ],
    ids=["no-token", "region", "endpoint"],
)
def test_bad_settings_name_the_key_to_fix(options: dict[str, Any], key: str, words: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        ProfileApiSettings.resolve(env={}, **options)

    assert raised.value.key == key
    assert words in str(raised.value)


# ------------------------------------------------------------------------------------------------ reading


def test_user_traits_reads_every_page_with_basic_auth(
    emulator: Any, make_profiles: ProfilesFactory, space_id: str
) -> None:
    traits = {f"trait_{n:03d}": n for n in range(PAGE_SIZE + 17)}
    emulator.seed_profile(USER, traits)
    emulator.clear_requests()

    found = make_profiles().user_traits(space_id, USER)

    assert found == traits
    first, second = profile_requests(emulator)
    assert first.query == {"limit": [str(PAGE_SIZE)]}
    assert second.query["next"] == [first.response_body["cursor"]["next"]]
    expected = "Basic " + base64.b64encode(f"{emulator.profile_api_token()}:".encode()).decode()
    assert first.headers["Authorization"] == expected


def test_computed_only_asks_for_the_computed_trait_class(
    emulator: Any, make_profiles: ProfilesFactory, space_id: str
) -> None:
    emulator.seed_flex_events(DEV_SPACE)
    with emulator.store_lock:
        emulator.store.computed_traits["t1"] = {
            "id": "t1",
            "spaceId": space_id,
            "key": "sentiment_in_last_interaction",
            "enabled": True,
            "definition": {"type": "USERS", "query": SENTIMENT},
        }
    emulator.seed_profile(USER, {"phone": "+15555550123"})
    emulator.clear_requests()

    found = make_profiles().user_traits(space_id, USER, computed_only=True)
    picked = make_profiles().user_traits(space_id, USER, include=["phone"])

    assert list(found) == ["sentiment_in_last_interaction"]
    assert found["sentiment_in_last_interaction"] in ("positive", "neutral", "negative")
    assert picked == {"phone": "+15555550123"}
    computed, included = profile_requests(emulator)
    assert computed.query["class"] == ["computed_trait"]
    assert included.query["include"] == ["phone"]


def test_a_user_id_with_a_plus_is_percent_encoded(
    emulator: Any, make_profiles: ProfilesFactory, space_id: str
) -> None:
    emulator.seed_profile("+15555550123", {"a": 1})
    emulator.clear_requests()

    assert make_profiles().user_traits(space_id, "+15555550123") == {"a": 1}
    assert profile_requests(emulator)[0].path.endswith("/user_id:%2B15555550123/traits")


# ------------------------------------------------------------------------------------------------- errors


def test_a_refused_token_is_an_authentication_error_that_names_the_fix(
    emulator: Any, make_profiles: ProfilesFactory, space_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.seed_profile(USER)
    wrong = "wrong-profile-token-0123456789"
    caplog.set_level(logging.DEBUG)

    client = make_profiles(token=wrong)
    with pytest.raises(AuthenticationError) as raised:
        client.user_traits(space_id, USER)

    message = str(raised.value)
    assert raised.value.status == 401 and raised.value.operation == "getProfileTraits"
    assert "pulumi config set --secret profileApiToken" in message and PROFILE_TOKEN_KEY in message
    for text in (message, repr(raised.value), repr(client), caplog.text):
        assert wrong not in text


def test_an_unknown_profile_is_not_found_naming_the_user(
    make_profiles: ProfilesFactory, space_id: str
) -> None:
    with pytest.raises(NotFoundError) as raised:
        make_profiles().user_traits(space_id, "nobody")

    assert "user_id:nobody" in str(raised.value)
    assert raised.value.segment_message == "Profile was not found."


def test_server_errors_are_retried_then_answered(
    emulator: Any, make_profiles: ProfilesFactory, space_id: str, sleeps: list[float]
) -> None:
    emulator.seed_profile(USER, {"a": 1})
    emulator.add_fault("status", path=r"^/v1/", status=503, count=2)

    assert make_profiles().user_traits(space_id, USER) == {"a": 1}
    assert len(sleeps) == 2


def test_a_429_waits_as_long_as_retry_after_says(
    emulator: Any, make_profiles: ProfilesFactory, space_id: str, sleeps: list[float]
) -> None:
    emulator.seed_profile(USER, {"a": 1})
    emulator.add_fault("status", path=r"^/v1/", status=429, headers={"Retry-After": "3"})

    assert make_profiles().user_traits(space_id, USER) == {"a": 1}
    assert sleeps == [3.0]


def test_errors_that_last_are_raised_after_the_retries(
    emulator: Any, make_profiles: ProfilesFactory, space_id: str, sleeps: list[float]
) -> None:
    emulator.add_fault("status", path=r"^/v1/", status=500, count=10)
    emulator.add_fault("status", path=r"^/v1/", status=429, headers={"Retry-After": "600"})

    with pytest.raises(ServerError):
        make_profiles(max_retries=2).user_traits(space_id, USER)
    assert len(sleeps) == 2
    emulator.clear_faults()
    emulator.add_fault("status", path=r"^/v1/", status=429, headers={"Retry-After": "600"})
    with pytest.raises(RateLimitedError) as raised:
        make_profiles().user_traits(space_id, USER)
    assert raised.value.retry_after == 600


def test_no_answer_is_a_transport_error(sleeps: list[float]) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings = ProfileApiSettings.resolve(
        token="t", endpoint=f"http://127.0.0.1:{port}", env={}, max_retries=1
    )

    with pytest.raises(TransportError) as caught:
        ProfileApiClient(settings, sleep=sleeps.append).user_traits("space", USER)
    assert len(sleeps) == 1
    assert f"at http://127.0.0.1:{port} could not be reached" in str(caught.value)


def test_an_answer_without_traits_is_not_taken_for_an_empty_profile(
    emulator: Any, make_profiles: ProfilesFactory, space_id: str
) -> None:
    emulator.add_fault("status", path=r"^/v1/", status=200, body={"data": {"workspace": {}}})

    with pytest.raises(ServerError, match="no 'traits' object"):
        make_profiles().user_traits(space_id, USER)


def test_the_client_refuses_to_be_pickled(make_profiles: ProfilesFactory) -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(make_profiles(token="never-pickled"))
