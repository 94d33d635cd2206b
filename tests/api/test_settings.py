"""ClientSettings.resolve: where the token, region and base URL come from, and the errors for bad values."""

from __future__ import annotations

import pytest

from segment_provider.api import BASE_URLS, ClientSettings, ConfigurationError, SegmentClient

TOKEN = "sgp_settings_test_token_0123456789"


def test_explicit_values_win_over_environment() -> None:
    env = {
        "SEGMENT_API_TOKEN": "from-env",
        "SEGMENT_API_REGION": "eu",
        "SEGMENT_API_URL": "https://env.example",
    }

    settings = ClientSettings.resolve(token=TOKEN, region="us", endpoint="https://explicit.example/", env=env)

    assert settings.token.get_secret_value() == TOKEN
    assert settings.region == "us"
    assert settings.base_url == "https://explicit.example"


def test_environment_fills_what_is_not_given() -> None:
    env = {"SEGMENT_API_TOKEN": TOKEN, "SEGMENT_API_REGION": "EU"}

    settings = ClientSettings.resolve(env=env)

    assert settings.token.get_secret_value() == TOKEN
    assert settings.region == "eu"
    assert settings.base_url == "https://eu1.api.segmentapis.com"


def test_us_is_the_default_region() -> None:
    settings = ClientSettings.resolve(token=TOKEN, env={})

    assert settings.region == "us"
    assert settings.base_url == BASE_URLS["us"] == "https://api.segmentapis.com"


def test_endpoint_overrides_the_regional_url() -> None:
    settings = ClientSettings.resolve(
        token=TOKEN, region="eu", env={"SEGMENT_API_URL": "http://127.0.0.1:9/"}
    )

    assert settings.base_url == "http://127.0.0.1:9"


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_missing_token_names_the_config_key_and_variable(blank: str | None) -> None:
    env = {} if blank is None else {"SEGMENT_API_TOKEN": blank}

    with pytest.raises(ConfigurationError) as caught:
        ClientSettings.resolve(token=blank, env=env)

    message = str(caught.value)
    assert caught.value.key == "segment:token"
    assert "segment:token" in message
    assert "SEGMENT_API_TOKEN" in message
    assert "pulumi config set --secret" in message


def test_invalid_region_lists_the_allowed_values() -> None:
    with pytest.raises(ConfigurationError) as caught:
        ClientSettings.resolve(token=TOKEN, region="apac", env={})

    message = str(caught.value)
    assert caught.value.key == "segment:region"
    assert "segment:region" in message and "SEGMENT_API_REGION" in message
    assert "'apac'" in message
    assert "us, eu" in message


@pytest.mark.parametrize("endpoint", ["api.segmentapis.com", "ftp://example.com", "https://x.example/?a=1"])
def test_invalid_endpoint_names_the_config_key(endpoint: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        ClientSettings.resolve(token=TOKEN, endpoint=endpoint, env={})

    assert caught.value.key == "segment:endpoint"
    assert "segment:endpoint" in str(caught.value) and "SEGMENT_API_URL" in str(caught.value)


def test_invalid_tuning_option_is_a_configuration_error_without_the_token() -> None:
    with pytest.raises(ConfigurationError) as caught:
        ClientSettings.resolve(token=TOKEN, env={}, read_timeout=-1)

    assert "read_timeout" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_tuning_options_are_applied() -> None:
    settings = ClientSettings.resolve(token=TOKEN, env={}, read_timeout=2.5, max_retries=0)

    assert settings.read_timeout == 2.5
    assert settings.max_retries == 0


def test_repr_and_dump_never_show_the_token() -> None:
    settings = ClientSettings.resolve(token=TOKEN, env={})
    client = SegmentClient(settings)

    shown = [repr(settings), str(settings), settings.model_dump_json(), repr(client), str(client)]

    assert all(TOKEN not in text for text in shown)
