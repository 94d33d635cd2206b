"""One error hierarchy for everything the Segment Public API layer can raise.

```
SegmentError
├── ConfigurationError            bad or missing settings, raised before any request
└── ApiError                      a request failed (.status, .operation, .segment_message, .errors)
    ├── AuthenticationError       401
    ├── PermissionDeniedError     403
    ├── NotFoundError             404
    │   └── UnknownCatalogSlugError   no catalog item has that slug (.suggestions)
    ├── ConflictError             409
    ├── ValidationError           422 (.field)
    ├── RateLimitedError          429 (.retry_after)
    ├── ServerError               5xx and any other unexpected status
    └── TransportError            no HTTP status: connection error or timeout
        └── OutcomeUnknownError   a create that may or may not have been applied
```

`error_for_response` is the only place that turns an HTTP status and body into an exception.
No message ever contains a secret: every error's text, Segment's quoted message and ``errors`` items are
masked with the process-wide set of ``segment_provider.api.secrets`` (plus any ``secrets`` passed here) when
the error is made, before Segment's message is shortened.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from segment_provider.api import secrets as secret_values

if TYPE_CHECKING:
    from segment_provider.api.connections import NoAnswer  # which imports this module

TOKEN_KEY = "segment:token"
TOKEN_ENV = "SEGMENT_API_TOKEN"
REGION_KEY = "segment:region"
REGION_ENV = "SEGMENT_API_REGION"
ENDPOINT_KEY = "segment:endpoint"
ENDPOINT_ENV = "SEGMENT_API_URL"

_MAX_QUOTED_TEXT = 300


class SegmentError(Exception):
    """Base class of every error raised by ``segment_provider.api``; its message is masked when it is made."""

    def __init__(self, message: str) -> None:
        super().__init__(secret_values.mask(message))


class ConfigurationError(SegmentError):
    """A setting is missing or invalid. Raised before any request is sent."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class ApiError(SegmentError):
    """A request to Segment failed."""

    default_advice = "Check the request and try again."

    def __init__(
        self,
        message: str,
        *,
        operation: str,
        status: int | None = None,
        segment_message: str | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.operation = operation
        self.status = status
        self.segment_message = secret_values.mask(segment_message) if segment_message else segment_message
        self.errors: list[dict[str, Any]] = secret_values.mask_value(errors or [])

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(operation={self.operation!r}, status={self.status!r}, message={str(self)!r})"


class AuthenticationError(ApiError):
    default_advice = (
        f"Check that {TOKEN_KEY} (or {TOKEN_ENV}) holds a valid Segment Public API token for this workspace "
        f"and that {REGION_KEY} matches the workspace's region (us or eu): the EU API refuses US tokens."
    )


class PermissionDeniedError(ApiError):
    default_advice = (
        "The token is valid but its role does not allow this. Use a token with the Workspace Owner role "
        "(or a role that grants this resource), or ask a workspace owner to enable the feature."
    )


class NotFoundError(ApiError):
    default_advice = (
        "The object does not exist (it may have been deleted in the Segment app), or the id is wrong."
    )


class UnknownCatalogSlugError(NotFoundError):
    """No item of Segment's catalog has the slug asked for; ``suggestions`` holds close matches."""

    def __init__(self, message: str, *, suggestions: list[str], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.suggestions = suggestions


class ConflictError(ApiError):
    default_advice = (
        "An object with the same natural key (such as a source slug) already exists. Adopt the existing "
        "object or choose another name."
    )


class ValidationError(ApiError):
    default_advice = "Fix the value Segment names and try again."

    def __init__(self, message: str, *, field: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.field = field


class RateLimitedError(ApiError):
    default_advice = (
        "Segment's rate limit was reached. Wait and run again; lower parallelism (pulumi up --parallel 2) "
        "helps with operations limited to a few calls per minute."
    )

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(ApiError):
    default_advice = "Segment had a problem answering. Try again in a few minutes; check status.segment.com."


class TransportError(ApiError):
    default_advice = (
        "No answer arrived from Segment. Check the network, proxy settings and the API address "
        f"({ENDPOINT_KEY} / {ENDPOINT_ENV}, {REGION_KEY} / {REGION_ENV})."
    )


class OutcomeUnknownError(TransportError):
    """A create request may have reached Segment, but no usable answer came back.

    Segment has no idempotency keys, so sending the POST again could create a duplicate: the caller looks the
    object up by its natural key (source slug, names) instead, and never sends the create again itself.
    """

    default_advice = (
        "Segment may have made the object all the same. Run `pulumi up` again: it looks the object up by its "
        "name before creating anything and adopts it if Segment made it, so no second one is made."
    )


_ERRORS_BY_STATUS: dict[int, type[ApiError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
    429: RateLimitedError,
}


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every registered secret and every non-empty one of ``secrets`` replaced by ``***``."""
    return secret_values.mask(text, secrets)


def error_for_response(
    status: int,
    body: Any,
    *,
    operation: str,
    headers: Mapping[str, str] | None = None,
    secrets: Iterable[str] = (),
    now: float | None = None,
) -> ApiError:
    """The exception for a non-2xx answer to ``operation``.

    ``body`` is the decoded JSON body (Segment's ``{"errors": [...]}`` envelope), or the raw text when it
    was not JSON. ``headers`` supply the wait of a 429 when the body does not.
    """
    secret_list = list(secrets)
    errors = secret_values.mask_value(_error_items(body), secret_list)
    segment_message = _segment_message(errors, body, secret_list)
    cls = _ERRORS_BY_STATUS.get(status, ServerError)
    common: dict[str, Any] = {
        "operation": operation,
        "status": status,
        "segment_message": segment_message,
        "errors": errors,
    }
    if cls is ValidationError:
        field = next((str(e["field"]) for e in errors if e.get("field")), None)
        detail = f" (field '{field}')" if field else ""
        return ValidationError(
            _describe(cls, status, operation, segment_message, detail), field=field, **common
        )
    if cls is RateLimitedError:
        retry_after = rate_limit_wait(errors, headers or {}, time.time() if now is None else now)
        detail = f" (Segment asks to wait {retry_after:.1f}s)" if retry_after is not None else ""
        message = _describe(cls, status, operation, segment_message, detail)
        return RateLimitedError(message, retry_after=retry_after, **common)
    return cls(_describe(cls, status, operation, segment_message), **common)


def transport_error(
    operation: str, cause: NoAnswer, *, outcome_unknown: bool, base_url: str
) -> TransportError:
    """The exception for a request to ``base_url`` that got no HTTP answer (connection error or timeout); the
    cause says how it ended."""
    kind = cause.what_happened
    cls = OutcomeUnknownError if outcome_unknown else TransportError
    return cls(
        f"Segment {operation} at {base_url} {kind} ({type(cause).__name__}). {cls.default_advice}",
        operation=operation,
    )


def outcome_unknown_after_status(error: ApiError) -> OutcomeUnknownError:
    """A 5xx answer to a POST: Segment may have created the object before failing."""
    return OutcomeUnknownError(
        f"Segment answered {error.operation} with HTTP {error.status}"
        + (f": '{error.segment_message}'" if error.segment_message else "")
        + f". {OutcomeUnknownError.default_advice}",
        operation=error.operation,
        status=error.status,
        segment_message=error.segment_message,
        errors=error.errors,
    )


def rate_limit_wait(errors: list[dict[str, Any]], headers: Mapping[str, str], now: float) -> float | None:
    """Seconds Segment asks us to wait after a 429, or None when it does not say.

    Segment documents ``msBeforeNext`` in the error's ``data``; ``X-RateLimit-Reset`` (an RFC 5322 date) is
    sent on every answer; ``Retry-After`` (seconds or an HTTP date) is the generic HTTP signal.
    """
    for item in errors:
        data = item.get("data")
        if isinstance(data, Mapping):
            ms = _as_number(data.get("msBeforeNext"))
            if ms is not None and ms >= 0:
                return ms / 1000.0
    lowered = {k.lower(): v for k, v in headers.items()}
    reset = _seconds_until_date(lowered.get("x-ratelimit-reset"), now)
    if reset is not None:
        return reset
    retry_after = lowered.get("retry-after")
    if retry_after is None:
        return None
    seconds = _as_number(retry_after)
    if seconds is not None:
        return max(seconds, 0.0)
    return _seconds_until_date(retry_after, now)


def _seconds_until_date(value: str | None, now: float) -> float | None:
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(moment.timestamp() - now, 0.0)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _error_items(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, Mapping) and isinstance(body.get("errors"), list):
        return [dict(e) for e in body["errors"] if isinstance(e, Mapping)]
    return []


def _segment_message(errors: list[dict[str, Any]], body: Any, secrets: list[str]) -> str | None:
    messages = [str(e["message"]) for e in errors if e.get("message")]
    if messages:
        text = "; ".join(messages)
    elif isinstance(body, str) and body.strip():
        text = body.strip()
    else:
        return None
    text = mask(text, secrets)
    if len(text) > _MAX_QUOTED_TEXT:
        text = text[:_MAX_QUOTED_TEXT] + "…"
    return text


def _describe(
    cls: type[ApiError], status: int, operation: str, segment_message: str | None, detail: str = ""
) -> str:
    quoted = f": '{segment_message}'" if segment_message else ""
    return f"Segment refused {operation} with HTTP {status}{quoted}{detail}. {cls.default_advice}"
