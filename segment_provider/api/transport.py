"""The guarded exchange both API clients use (Public API and Profile API): one place for what a hostile or
broken server can do to us.

* **No redirect is followed.** HTTP clients commonly follow them and re-send the body (and, to the same
  host, the credentials); a 3xx is an error naming the status and the host of its ``Location``.
* **A total deadline per request.** The read timeout bounds each read of the socket, not the answer: a server
  dripping a byte a second never trips it. The body is read in pieces and the deadline is checked between
  them, so an answer takes at most the deadline plus one read timeout.
* **A size cap.** The declared ``Content-Length`` is checked before reading and the bytes (decoded, so a
  compressed bomb counts at its real size) while reading. An error answer is only quoted, so it is cut at
  ``MAX_ERROR_BODY_BYTES`` instead.
* **JSON or a clear error.** A body that is not JSON, or nests deeper than ``MAX_JSON_DEPTH``, is an error
  naming the status and the content type, never a ``JSONDecodeError`` or ``RecursionError`` traceback.
* **Pagination ends.** ``PageTrail`` stops a listing at a cursor seen before or past ``MAX_PAGES`` pages.

``endpoint_problem`` says why a base URL is not acceptable: only https, except plain http on a loopback
address (the local emulator); no user:password; no whitespace or control characters.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pydantic

from segment_provider.api import halt
from segment_provider.api.connections import (
    ConnectionPool,
    ReadTimeout,
    Response,
    UndecodableAnswer,
    is_loopback,
)
from segment_provider.api.errors import ServerError

MAX_RESPONSE_BYTES = 32 * 1024 * 1024
"""The largest answer accepted (Segment's largest, a catalog page, is a few MB)."""
MAX_ERROR_BODY_BYTES = 64 * 1024
"""An error answer is read up to this much: enough for Segment's message, which is quoted at 300 characters."""
MAX_JSON_DEPTH = 64
"""Segment's answers nest about ten levels deep; deeper is refused before anything walks it."""
MAX_PAGES = 1000
"""A listing stops with an error after this many pages (200 000 objects at Segment's page size)."""
DEFAULT_DEADLINE = 120.0


class DeadlineTimeout(ReadTimeout):
    """The whole answer did not arrive within the deadline (a timeout, so it is retried like one)."""


class ResponseRefusedError(ServerError):
    """An answer we will not use: a redirect, too large, not JSON or nested too deep."""

    default_advice = (
        "Check that the API address points at Segment itself, not a proxy or another service, and try again."
    )


@dataclass(frozen=True)
class Answer:
    """An HTTP answer whose body was read within the deadline and the size cap."""

    status: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type") or "no content type"

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(frozen=True)
class Limits:
    connect_timeout: float
    read_timeout: float
    deadline: float = DEFAULT_DEADLINE
    max_response_bytes: int = MAX_RESPONSE_BYTES


def exchange(
    pool: ConnectionPool,
    method: str,
    url: str,
    *,
    operation: str,
    limits: Limits,
    advice: str,
    params: Mapping[str, Any] | None = None,
    data: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """Send one request and read its answer under ``limits``.

    Raises ``connections.NoAnswer`` (``DeadlineTimeout`` among them) for the caller's retry logic, and
    ``ResponseRefusedError`` for a redirect, an oversized successful answer or one that cannot be decoded.
    ``advice`` says which setting names the address (it ends the redirect error).
    """
    halt.check(method, operation)
    deadline = time.monotonic() + limits.deadline
    try:
        response = pool.request(
            method,
            url,
            params=params,
            body=data.encode("utf-8") if data is not None else None,
            headers=headers or {},
            connect_timeout=limits.connect_timeout,
            read_timeout=min(limits.read_timeout, limits.deadline),
        )
    except UndecodableAnswer as error:
        raise _undecodable(operation, None, str(error)) from None
    try:
        if 300 <= response.status < 400:
            raise _redirect_error(operation, response, advice)
        ok = 200 <= response.status < 300
        limit = limits.max_response_bytes if ok else min(limits.max_response_bytes, MAX_ERROR_BODY_BYTES)
        content = _read_body(response, operation, limit, deadline, cut=not ok)
        return Answer(response.status, response.headers, content)
    finally:
        response.close()


def _redirect_error(operation: str, response: Response, advice: str) -> ResponseRefusedError:
    location = response.headers.get("Location") or ""
    host = urlsplit(location).hostname if location else None
    target = f" to {host}" if host else (" to another path" if location else "")
    return ResponseRefusedError(
        f"{operation} was answered with a redirect (HTTP {response.status}{target}). Redirects are never "
        f"followed, so no token or credential is sent anywhere else. {advice}",
        operation=operation,
        status=response.status,
    )


def _undecodable(operation: str, status: int | None, encoding: str) -> ResponseRefusedError:
    answered = f" (HTTP {status})" if status is not None else ""
    return ResponseRefusedError(
        f"The answer to {operation}{answered} could not be decompressed ({encoding or 'unknown encoding'}). "
        f"{ResponseRefusedError.default_advice}",
        operation=operation,
        status=status,
    )


def _too_large(operation: str, status: int, limit: int) -> ResponseRefusedError:
    return ResponseRefusedError(
        f"The answer to {operation} (HTTP {status}) is larger than {limit // (1024 * 1024) or limit} "
        f"{'MB' if limit >= 1024 * 1024 else 'bytes'}, more than Segment ever sends; it was not read. "
        f"{ResponseRefusedError.default_advice}",
        operation=operation,
        status=status,
    )


def _read_body(response: Response, operation: str, limit: int, deadline: float, *, cut: bool) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if not cut and declared.isdigit() and int(declared) > limit:
        raise _too_large(operation, response.status, limit)
    pieces: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise DeadlineTimeout(f"the answer to {operation} did not arrive within the deadline")
        try:
            piece = response.read_piece()
        except UndecodableAnswer as error:
            raise _undecodable(operation, response.status, str(error)) from None
        if not piece:
            return b"".join(pieces)
        size += len(piece)
        if size > limit:
            if cut:
                pieces.append(piece[: len(piece) - (size - limit)])
                return b"".join(pieces)
            raise _too_large(operation, response.status, limit)
        pieces.append(piece)


class ConnectionSettings(pydantic.BaseModel):
    """What both clients' settings share: the token (never in a repr), the address and the wire limits."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    token_fix: ClassVar[str] = "set the token again"
    """How to set the token again, for the message refusing one."""

    token: pydantic.SecretStr
    endpoint: str | None = None
    """A base URL that replaces the regional one (a proxy, or the local emulator)."""
    connect_timeout: float = pydantic.Field(default=10.0, gt=0)
    read_timeout: float = pydantic.Field(default=60.0, gt=0)
    deadline: float = pydantic.Field(default=DEFAULT_DEADLINE, gt=0, allow_inf_nan=False)
    """Seconds one request may take in all, the whole answer read (a read timeout bounds one read only)."""
    max_response_bytes: int = pydantic.Field(default=MAX_RESPONSE_BYTES, gt=0)

    @pydantic.field_validator("token")
    @classmethod
    def _token_fits_a_header(cls, value: pydantic.SecretStr) -> pydantic.SecretStr:
        if problem := token_problem(value.get_secret_value(), cls.token_fix):
            raise ValueError(problem)
        return pydantic.SecretStr(value.get_secret_value().strip())

    @pydantic.field_validator("endpoint")
    @classmethod
    def _endpoint_is_acceptable(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if problem := endpoint_problem(value):
            raise ValueError(problem)
        return value.strip().rstrip("/")

    @property
    def limits(self) -> Limits:
        return Limits(self.connect_timeout, self.read_timeout, self.deadline, self.max_response_bytes)


# --------------------------------------------------------------------------------------------------- JSON


def decode_json(answer: Answer, operation: str, *, service: str = "Segment") -> Any:
    """The JSON document of ``answer`` (None when it is empty); ``ResponseRefusedError`` naming the status and
    content type when it is not JSON or nests deeper than ``MAX_JSON_DEPTH``."""
    if not answer.content.strip():
        return None
    problem = "is not JSON"
    try:
        document = json.loads(answer.content)
    except RecursionError:
        problem = f"nests deeper than {MAX_JSON_DEPTH} levels"
    except ValueError:
        pass
    else:
        if _depth_within(document, MAX_JSON_DEPTH):
            return document
        problem = f"nests deeper than {MAX_JSON_DEPTH} levels"
    raise ResponseRefusedError(
        f"{service} answered {operation} with HTTP {answer.status} ({answer.content_type}), but the body "
        f"{problem}. {ResponseRefusedError.default_advice}",
        operation=operation,
        status=answer.status,
    )


def error_document(answer: Answer, operation: str) -> Any:
    """The body of an error answer: its JSON when usable, else its text (only quoted, masked and cut)."""
    try:
        return decode_json(answer, operation)
    except ResponseRefusedError:
        return answer.content.decode("utf-8", errors="replace")


def _depth_within(document: Any, limit: int) -> bool:
    """Whether ``document`` nests at most ``limit`` levels (walked a level at a time, containers only: a
    catalog page of 500 destinations holds about 20 000 values)."""
    level = [document] if isinstance(document, dict | list) else []
    for _ in range(limit):
        if not level:
            return True
        level = [
            child
            for container in level
            for child in (container.values() if isinstance(container, dict) else container)
            if isinstance(child, dict | list)
        ]
    return not level


# ---------------------------------------------------------------------------------------------- pagination


class PageTrail:
    """The cursors of one listing: stops it at a repeated cursor or past ``limit`` pages."""

    def __init__(self, operation: str, *, service: str = "Segment", limit: int = MAX_PAGES) -> None:
        self._operation = operation
        self._service = service
        self._limit = limit
        self._seen: set[str] = set()

    def follow(self, cursor: str) -> str:
        """``cursor``, after checking the listing may go on to it."""
        if cursor in self._seen:
            reason = "returned the same page cursor twice"
        elif len(self._seen) + 2 > self._limit:
            reason = f"kept handing out new page cursors past {self._limit} pages"
        else:
            self._seen.add(cursor)
            return cursor
        raise ServerError(
            f"{self._service} {reason} while listing {self._operation}; stopping to avoid an endless loop. "
            "Try again later.",
            operation=self._operation,
        )


# ---------------------------------------------------------------------------------------------- addresses


def endpoint_problem(value: str) -> str | None:
    """Why ``value`` is not an acceptable API base URL, or None. Never repeats a user:password part."""
    text = value.strip()
    if any(char.isspace() or not char.isprintable() for char in text):
        return "holds spaces, line breaks or control characters: give one plain URL"
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"is '{text}', which is not an http(s) URL"
    if "@" in parts.netloc:
        return (
            "holds a user name or password (user:password@host): remove it; the token is the only credential"
        )
    if parts.query or parts.fragment:
        return f"is '{text}', which must not have a query or fragment"
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        return f"is '{text}', whose port is not a number"
    if parts.scheme == "http" and not is_loopback(parts.hostname or ""):
        return (
            f"is '{text}', plain http to a host that is not this machine: the token would travel "
            "unencrypted. Use https (plain http is only accepted on 127.0.0.1, ::1 or localhost)"
        )
    return None


def token_problem(token: str, fix: str) -> str | None:
    """Why ``token`` cannot be sent in an HTTP header (without repeating it), or None; ``fix`` says how to set
    it again. An HTTP library would quote an invalid header value, token included, in its exception text."""
    text = token.strip()
    if not text:
        return f"the token is empty: {fix}"
    if text.lower().startswith(("bearer ", "basic ")):
        return f"give the token without the '{text.split()[0]} ' prefix: {fix}"
    if not text.isascii() or any(char.isspace() or not char.isprintable() for char in text):
        return (
            "the token holds spaces, line breaks or other characters a token never has (non-ASCII or control "
            f"characters; more than the token was pasted?): {fix}"
        )
    return None


__all__ = [
    "DEFAULT_DEADLINE",
    "MAX_JSON_DEPTH",
    "MAX_PAGES",
    "MAX_RESPONSE_BYTES",
    "Answer",
    "ConnectionSettings",
    "DeadlineTimeout",
    "Limits",
    "PageTrail",
    "ResponseRefusedError",
    "decode_json",
    "endpoint_problem",
    "error_document",
    "exchange",
    "token_problem",
]
