"""Read-only client of Segment's Profile API: the traits of one profile, as Flex reads them.

The Profile API is not the Public API: it has its own hosts (``profiles.segment.com``, EU
``profiles.euw1.segment.com``), a per-space access token sent as the HTTP Basic username with an empty password,
its own error body (``{"error": {"code", "message"}}``) and cursors (``cursor.has_more`` / ``cursor.next``).
Failures raise the same typed errors as the Public API client (``segment_provider.api.errors``), with advice
about the Profile API token. The token never appears in reprs, logs or exception text.

Like ``SegmentClient`` this is safe to share between threads (one connection per thread) and must not be pickled.
"""

from __future__ import annotations

import base64
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, NoReturn
from urllib.parse import quote

import pydantic

from segment_provider.api import secrets as secret_values
from segment_provider.api.client import USER_AGENT, Region, backoff, describe_invalid_options, first_set
from segment_provider.api.connections import ConnectionPool, NoAnswer
from segment_provider.api.errors import (
    REGION_ENV,
    REGION_KEY,
    ApiError,
    AuthenticationError,
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    ValidationError,
    mask,
    rate_limit_wait,
    transport_error,
)
from segment_provider.api.transport import (
    Answer,
    ConnectionSettings,
    PageTrail,
    decode_json,
    endpoint_problem,
    error_document,
    exchange,
    token_problem,
)

PROFILE_API_URLS: dict[Region, str] = {
    "us": "https://profiles.segment.com",
    "eu": "https://profiles.euw1.segment.com",
}
PROFILE_TOKEN_KEY = "flex-unified-profiles:profileApiToken"
PROFILE_TOKEN_ENV = "SEGMENT_PROFILE_API_TOKEN"
PROFILE_ENDPOINT_KEY = "flex-unified-profiles:profileApi.endpoint"
PROFILE_ENDPOINT_ENV = "SEGMENT_PROFILE_API_URL"
PROFILE_SPACE_KEY = "flex-unified-profiles:profileApi.spaceId"
TRAITS_OPERATION = "getProfileTraits"
# Segment's page says "up to 200" traits per call, its pagination section "between 1 and 100": 100 is safe.
PAGE_SIZE = 100
PROFILE_TOKEN_FIX = f"set it again with `pulumi config set --secret profileApiToken` (it asks for the value) (or {PROFILE_TOKEN_ENV})"
ADDRESS_ADVICE = (
    f"Check {PROFILE_ENDPOINT_KEY} / {PROFILE_ENDPOINT_ENV}: it must be the Profile API's address."
)

log = logging.getLogger("segment_provider.api.profiles")
_MAX_QUOTED_TEXT = 300


class ProfileApiSettings(ConnectionSettings):
    """How to reach the Profile API. Build it with ``resolve``; the token never shows in its repr.

    ``endpoint`` replaces the regional URL (the local emulator serves the Profile API on its own port)."""

    token_fix: ClassVar[str] = PROFILE_TOKEN_FIX
    region: Region = "us"
    read_timeout: float = pydantic.Field(default=30.0, gt=0)
    max_retries: int = pydantic.Field(default=3, ge=0)
    backoff_base: float = pydantic.Field(default=0.5, ge=0)
    backoff_cap: float = pydantic.Field(default=10.0, ge=0)
    max_rate_limit_wait: float = pydantic.Field(default=30.0, ge=0)

    @property
    def base_url(self) -> str:
        return self.endpoint or PROFILE_API_URLS[self.region]

    @classmethod
    def resolve(
        cls,
        token: str | None = None,
        region: str | None = None,
        endpoint: str | None = None,
        env: Mapping[str, str] = os.environ,
        **options: Any,
    ) -> ProfileApiSettings:
        """Settings from explicit values (stack config), else ``SEGMENT_PROFILE_API_TOKEN`` /
        ``SEGMENT_API_REGION`` / ``SEGMENT_PROFILE_API_URL``. Raises ``ConfigurationError`` naming the key.
        """
        token_value = first_set(token, env.get(PROFILE_TOKEN_ENV))
        if token_value is None:
            raise ConfigurationError(
                "No Profile API token. Generate one in the Segment app (Unify → Unify settings → API access → "
                f"Generate token), then `pulumi config set --secret profileApiToken` (it asks for the value) or set "
                f"{PROFILE_TOKEN_ENV}.",
                key=PROFILE_TOKEN_KEY,
            )
        if problem := token_problem(token_value, PROFILE_TOKEN_FIX):
            raise ConfigurationError(
                f"{PROFILE_TOKEN_KEY} (or {PROFILE_TOKEN_ENV}): {problem}", key=PROFILE_TOKEN_KEY
            )
        region_value = (first_set(region, env.get(REGION_ENV)) or "us").lower()
        if region_value not in PROFILE_API_URLS:
            raise ConfigurationError(
                f"{REGION_KEY} (or {REGION_ENV}) is '{region_value}', but it must be one of: "
                f"{', '.join(PROFILE_API_URLS)}; the Profile API host follows the workspace's region.",
                key=REGION_KEY,
            )
        endpoint_value = first_set(endpoint, env.get(PROFILE_ENDPOINT_ENV))
        if endpoint_value is not None and (problem := endpoint_problem(endpoint_value)):
            raise ConfigurationError(
                f"{PROFILE_ENDPOINT_KEY} (or {PROFILE_ENDPOINT_ENV}) {problem}. Give a base URL such as "
                f"{PROFILE_API_URLS['us']}, or remove it to use the {REGION_KEY} default.",
                key=PROFILE_ENDPOINT_KEY,
            )
        try:
            return cls(
                token=pydantic.SecretStr(token_value),
                region=region_value,
                endpoint=endpoint_value.rstrip("/") if endpoint_value else None,
                **options,
            )
        except pydantic.ValidationError as error:
            raise ConfigurationError(describe_invalid_options(error, "Profile API client")) from None


class ProfileApiClient:
    """Profile API client. Thread-safe (one kept-open connection per thread); do not pickle it."""

    def __init__(
        self,
        settings: ProfileApiSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        secret_values.register_token(settings.token.get_secret_value())
        self._settings = settings
        self._sleep = sleep
        self._clock = clock
        # Basic auth: the token is the username, the password is empty (curl -u "$TOKEN:").
        credentials = base64.b64encode(f"{settings.token.get_secret_value()}:".encode()).decode()
        self._connections = ConnectionPool(
            settings.base_url,
            {"Authorization": f"Basic {credentials}", "User-Agent": USER_AGENT, "Accept": "application/json"},
        )

    @property
    def settings(self) -> ProfileApiSettings:
        return self._settings

    def __repr__(self) -> str:
        return f"ProfileApiClient(base_url={self._settings.base_url!r})"

    def __getstate__(self) -> NoReturn:
        raise TypeError(
            "ProfileApiClient cannot be pickled: it holds the Profile API token and live HTTP connections. "
            "Create it where it is used."
        )

    def user_traits(
        self,
        space_id: str,
        user_id: str,
        *,
        computed_only: bool = False,
        include: Iterable[str] | None = None,
    ) -> dict[str, Any]:
        """Every trait of the profile ``user_id:<user_id>`` (computed traits only with ``computed_only``),
        following the answer's cursor page by page. ``include`` limits the answer to these trait keys.

        Raises ``NotFoundError`` when the space has no such profile, ``AuthenticationError`` when the token is
        refused, and the other ``ApiError`` kinds as the Public API client does.
        """
        # The id type is lower case and the id is percent-encoded: Segment's page asks for "+" as %2B.
        path = (
            f"/v1/spaces/{quote(space_id, safe='')}/collections/users/profiles/"
            f"user_id:{quote(user_id, safe='')}/traits"
        )
        query: dict[str, str] = {"limit": str(PAGE_SIZE)}
        if computed_only:
            query["class"] = "computed_trait"
        wanted = ",".join(include) if include is not None else ""
        if wanted:
            query["include"] = wanted
        traits: dict[str, Any] = {}
        trail = PageTrail(TRAITS_OPERATION, service="The Profile API")
        while True:
            page = self._get(path, query, space_id=space_id, user_id=user_id)
            page_traits = page.get("traits")
            if not isinstance(page_traits, Mapping):
                raise ServerError(
                    "The Profile API's answer has no 'traits' object. Check that the Profile API address "
                    f"({PROFILE_ENDPOINT_KEY}) points at the Profile API, not the Public API.",
                    operation=TRAITS_OPERATION,
                )
            traits.update(page_traits)
            cursor = page.get("cursor")
            following = cursor.get("next") if isinstance(cursor, Mapping) and cursor.get("has_more") else None
            if not following:
                return traits
            query["next"] = trail.follow(str(following))

    # ------------------------------------------------------------------------------------------- transport

    def _get(self, path: str, query: Mapping[str, str], *, space_id: str, user_id: str) -> Mapping[str, Any]:
        url = self._settings.base_url + path
        attempt = 0
        while True:
            attempt += 1
            try:
                answer = exchange(
                    self._connections,
                    "GET",
                    url,
                    operation=TRAITS_OPERATION,
                    limits=self._settings.limits,
                    advice=ADDRESS_ADVICE,
                    params=query,
                )
            except NoAnswer as cause:
                log.debug("Profile API traits in space %s -> %s", space_id, type(cause).__name__)
                error: ApiError = transport_error(
                    TRAITS_OPERATION, cause, outcome_unknown=False, base_url=self._settings.base_url
                )
                if attempt > self._settings.max_retries:
                    raise error from None
                self._pause(error, self._backoff(attempt), attempt)
                continue
            log.debug("Profile API traits in space %s -> %s", space_id, answer.status)
            if answer.ok:
                return _json_object(answer)
            error = profile_api_error(
                answer.status,
                error_document(answer, TRAITS_OPERATION),
                space_id=space_id,
                user_id=user_id,
                headers=answer.headers,
                secrets=[self._settings.token.get_secret_value()],
                now=self._clock(),
            )
            self._pause(error, self._wait_before_retry(error, attempt), attempt)

    def _wait_before_retry(self, error: ApiError, attempt: int) -> float:
        """Seconds to wait before asking again (every call is a GET, so repeating is safe); raises when final."""
        if attempt > self._settings.max_retries:
            raise error
        if isinstance(error, RateLimitedError):
            wait = error.retry_after if error.retry_after is not None else self._backoff(attempt)
            if wait > self._settings.max_rate_limit_wait:
                raise error
            return wait
        if isinstance(error, ServerError) and error.status is not None and error.status >= 500:
            return self._backoff(attempt)
        raise error

    def _pause(self, error: ApiError, wait: float, attempt: int) -> None:
        log.info(
            "Profile API request failed (%s); retrying in %.1fs (retry %d of %d)",
            error.status or type(error).__name__,
            wait,
            attempt,
            self._settings.max_retries,
        )
        self._sleep(wait)

    def _backoff(self, attempt: int) -> float:
        return backoff(attempt, self._settings.backoff_base, self._settings.backoff_cap)


def profile_api_error(
    status: int,
    body: Any,
    *,
    space_id: str,
    user_id: str,
    headers: Mapping[str, str] | None = None,
    secrets: Iterable[str] = (),
    now: float | None = None,
) -> ApiError:
    """The typed error for a non-2xx Profile API answer, with what to do about it."""
    code, said = _error_item(body)
    said = mask(said, secrets)[:_MAX_QUOTED_TEXT] if said else None
    quoted = f" ('{said}')" if said else ""
    common: dict[str, Any] = {
        "operation": TRAITS_OPERATION,
        "status": status,
        "segment_message": said,
        "errors": [{"type": code, "message": said}] if code or said else [],
    }
    if status == 401:
        return AuthenticationError(
            f"The Profile API refused the token for space {space_id} (HTTP 401{quoted}). Generate a token for "
            f"this space (Unify → Unify settings → API access) and store it with `pulumi config set --secret "
            f"profileApiToken <token>` ({PROFILE_TOKEN_KEY}, or {PROFILE_TOKEN_ENV}). Check that {REGION_KEY} "
            f"matches the workspace, and set {PROFILE_SPACE_KEY} if the space id under API access differs from "
            "the Public API's.",
            **common,
        )
    if status == 403:
        return PermissionDeniedError(
            f"The Profile API denied access to space {space_id} (HTTP 403{quoted}). "
            "Use a token generated in this space's API access settings.",
            **common,
        )
    if status == 404:
        return NotFoundError(
            f"The Profile API has no profile user_id:{user_id} in space {space_id} (HTTP 404{quoted}). Check the "
            "user id, and that the profile has reached the space (a Reverse ETL sync or a Flex interaction).",
            **common,
        )
    if status in (400, 422):
        return ValidationError(
            f"The Profile API refused the request (HTTP {status}{quoted}). Check the user id and trait keys.",
            field=None,
            **common,
        )
    if status == 429:
        retry_after = rate_limit_wait([], headers or {}, time.time() if now is None else now)
        return RateLimitedError(
            f"The Profile API's rate limit was reached (HTTP 429{quoted}; 100 requests/s per space). "
            "Wait and try again.",
            retry_after=retry_after,
            **common,
        )
    return ServerError(
        f"The Profile API answered HTTP {status}{quoted}. Try again in a few minutes; check status.segment.com.",
        **common,
    )


def _error_item(body: Any) -> tuple[str | None, str | None]:
    """``(code, message)`` of ``{"error": {"code", "message"}}``; the text itself for a body that is not JSON."""
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        item = body["error"]
        code = item.get("code")
        message = item.get("message")
        return (str(code) if code else None, str(message) if message else None)
    if isinstance(body, str) and body.strip():
        return None, body.strip()
    return None, None


def _json_object(answer: Answer) -> Mapping[str, Any]:
    body = decode_json(answer, TRAITS_OPERATION, service="The Profile API")
    if not isinstance(body, Mapping):
        raise ServerError(
            f"The Profile API answered HTTP {answer.status} ({answer.content_type}) without a JSON object. "
            f"Check that the Profile API address ({PROFILE_ENDPOINT_KEY}) is right.",
            operation=TRAITS_OPERATION,
            status=answer.status,
        )
    return body


__all__ = [
    "PAGE_SIZE",
    "PROFILE_API_URLS",
    "PROFILE_ENDPOINT_ENV",
    "PROFILE_ENDPOINT_KEY",
    "PROFILE_SPACE_KEY",
    "PROFILE_TOKEN_ENV",
    "PROFILE_TOKEN_KEY",
    "ProfileApiClient",
    "ProfileApiSettings",
    "profile_api_error",
]
