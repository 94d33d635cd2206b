"""error_for_response: one place turns an HTTP status and Segment's error body into an exception."""

from __future__ import annotations

import email.utils

import pytest

from segment_provider.api import (
    ApiError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    ValidationError,
    error_for_response,
)

NOW = 1_800_000_000.0


def envelope(message: str, **extra: object) -> dict[str, object]:
    return {"errors": [{"type": "RequestError", "message": message, **extra}]}


@pytest.mark.parametrize(
    ("status", "expected", "advice"),
    [
        (401, AuthenticationError, "segment:token"),
        (403, PermissionDeniedError, "role"),
        (404, NotFoundError, "does not exist"),
        (409, ConflictError, "already exists"),
        (422, ValidationError, "Fix the value"),
        (429, RateLimitedError, "rate limit"),
        (500, ServerError, "Try again"),
        (503, ServerError, "Try again"),
        (418, ServerError, "Try again"),
    ],
)
def test_status_maps_to_its_error_class(status: int, expected: type[ApiError], advice: str) -> None:
    error = error_for_response(status, envelope("Something went wrong"), operation="getSource", now=NOW)

    assert type(error) is expected
    assert error.status == status
    assert error.operation == "getSource"
    assert error.segment_message == "Something went wrong"
    assert "'Something went wrong'" in str(error)
    assert "getSource" in str(error)
    assert advice in str(error)


def test_validation_error_names_the_field() -> None:
    body = {"errors": [{"type": "input-validation", "message": '"id" is required', "field": "id"}]}

    error = error_for_response(422, body, operation="getSource")

    assert isinstance(error, ValidationError)
    assert error.field == "id"
    assert "field 'id'" in str(error)
    assert error.errors == body["errors"]


def test_several_messages_are_all_quoted() -> None:
    body = {"errors": [{"type": "a", "message": "first"}, {"type": "b", "message": "second"}]}

    error = error_for_response(422, body, operation="createSource")

    assert error.segment_message == "first; second"


def test_a_body_that_is_not_json_is_quoted_as_text() -> None:
    error = error_for_response(502, "<html>Bad gateway</html>", operation="listSources")

    assert isinstance(error, ServerError)
    assert error.segment_message == "<html>Bad gateway</html>"
    assert error.errors == []


def test_secrets_are_masked_in_the_quoted_message() -> None:
    error = error_for_response(
        401, envelope("token sgp_abc is revoked"), operation="getWorkspace", secrets=["sgp_abc"]
    )

    assert "sgp_abc" not in str(error)
    assert "sgp_abc" not in repr(error)
    assert error.segment_message == "token *** is revoked"


def test_rate_limit_wait_comes_from_ms_before_next_first() -> None:
    body = envelope(
        "Too many requests", data={"remainingPoints": 0, "msBeforeNext": 57647, "consumedPoints": 21}
    )
    headers = {"Retry-After": "3", "X-RateLimit-Reset": email.utils.formatdate(NOW + 10, usegmt=True)}

    error = error_for_response(429, body, operation="listSources", headers=headers, now=NOW)

    assert isinstance(error, RateLimitedError)
    assert error.retry_after == pytest.approx(57.647)
    assert "57.6s" in str(error)


def test_rate_limit_wait_falls_back_to_the_reset_date() -> None:
    headers = {"x-ratelimit-reset": email.utils.formatdate(NOW + 42, usegmt=True), "Retry-After": "3"}

    error = error_for_response(
        429, envelope("Too many requests"), operation="listSources", headers=headers, now=NOW
    )

    assert isinstance(error, RateLimitedError)
    assert error.retry_after == pytest.approx(42.0)


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [("7", 7.0), ("0.5", 0.5), (email.utils.formatdate(NOW + 12, usegmt=True), 12.0)],
)
def test_rate_limit_wait_falls_back_to_retry_after(retry_after: str, expected: float) -> None:
    error = error_for_response(
        429, {}, operation="listSources", headers={"Retry-After": retry_after}, now=NOW
    )

    assert isinstance(error, RateLimitedError)
    assert error.retry_after == pytest.approx(expected)


def test_rate_limit_without_any_signal_has_no_wait() -> None:
    error = error_for_response(
        429, envelope("Too many requests"), operation="listSources", headers={}, now=NOW
    )

    assert isinstance(error, RateLimitedError)
    assert error.retry_after is None


def test_a_reset_date_in_the_past_means_no_wait() -> None:
    headers = {"X-RateLimit-Reset": email.utils.formatdate(NOW - 30, usegmt=True)}

    error = error_for_response(429, {}, operation="listSources", headers=headers, now=NOW)

    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 0.0
