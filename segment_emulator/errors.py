"""Errors the emulator answers with, in Segment's envelope: ``{"errors": [{"type", "message", "field"?}]}``."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

# Segment documents "input-validation" (422) and "RequestError" (429); the other type strings are the
# emulator's own, in the same style.
ERROR_TYPES: dict[int, str] = {
    401: "unauthorized",
    404: "not-found",
    409: "conflict",
    406: "not-acceptable",
    415: "unsupported-media-type",
    422: "input-validation",
    429: "RequestError",
}


class ApiProblem(Exception):
    """A request Segment would refuse: carries the status and the error item to answer with."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        error_type: str | None = None,
        data: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.error_type = error_type or error_type_for(status)
        self.data = data

    def body(self) -> dict[str, Any]:
        item: dict[str, Any] = {"type": self.error_type, "message": self.message}
        if self.field:
            item["field"] = self.field
        if self.data is not None:
            item["data"] = self.data
        return {"errors": [item]}


def error_type_for(status: int) -> str:
    if status in ERROR_TYPES:
        return ERROR_TYPES[status]
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "-")
    except ValueError:
        return "error"


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    """A plain error envelope for ``status``, used when a fault gives no body of its own."""
    if message is None:
        message = "Too many requests" if status == 429 else reason_phrase(status)
    return {"errors": [{"type": error_type_for(status), "message": message}]}


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def not_found(noun: str, identifier: str) -> ApiProblem:
    return ApiProblem(404, f"{noun} '{identifier}' was not found")
