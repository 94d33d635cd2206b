"""Paging: Segment's pagination input in each wire form its SDKs send, opaque cursors, PaginationOutput.

Accepted: ``pagination[count]=..&pagination[cursor]=..`` (Go and TypeScript SDKs),
``pagination.count=..&pagination.cursor=..`` (Segment's docs) and ``pagination={"count":..,"cursor":..}``
(the Python SDK), one form per request. Mixed forms, a ``pagination`` key of no known form, and values that
are null or empty are refused (422). A cursor is the base64 of the item offset: the first page is ``MA==``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from segment_emulator.errors import ApiProblem

DEFAULT_COUNT = 200
MAX_COUNT = 1000
# listReverseETLSyncStatusesFromModelAndSubscriptionId takes top-level count (1..100, default 10) and cursor.
TOP_LEVEL_DEFAULT_COUNT = 10
TOP_LEVEL_MAX_COUNT = 100

Query = Mapping[str, list[str]]
ItemT = TypeVar("ItemT")


@dataclass(frozen=True)
class PageRequest:
    offset: int
    count: int


def encode_cursor(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode()


def decode_cursor(cursor: str, field: str) -> int:
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        text = ""
    if not text.isdigit():
        raise ApiProblem(422, f'"{field}" is not a cursor this API returned', field=field)
    return int(text)


def nested_page_request(query: Query) -> PageRequest:
    """The ``pagination`` input of a list operation, in any of its three wire forms."""
    count, cursor = _nested_values(query)
    if count is None and cursor is None:
        return PageRequest(0, DEFAULT_COUNT)
    if count is None:
        raise ApiProblem(422, '"pagination.count" is required', field="pagination.count")
    return PageRequest(
        offset=decode_cursor(cursor, "pagination.cursor") if cursor else 0,
        count=_count(count, "pagination.count", MAX_COUNT),
    )


def top_level_page_request(query: Query) -> PageRequest:
    count = _first(query, "count")
    cursor = _first(query, "cursor")
    return PageRequest(
        offset=decode_cursor(cursor, "cursor") if cursor else 0,
        count=TOP_LEVEL_DEFAULT_COUNT if count is None else _count(count, "count", TOP_LEVEL_MAX_COUNT),
    )


def page(items: Sequence[ItemT], request: PageRequest) -> tuple[list[ItemT], dict[str, Any]]:
    """The items of one page and its ``PaginationOutput``."""
    end = request.offset + request.count
    output: dict[str, Any] = {
        "current": encode_cursor(request.offset),
        "next": encode_cursor(end) if end < len(items) else None,
        "previous": encode_cursor(max(0, request.offset - request.count)) if request.offset > 0 else None,
        "totalEntries": len(items),
    }
    return list(items[request.offset : end]), output


_FORMS = {
    "bracket": ("pagination[count]", "pagination[cursor]"),
    "dot": ("pagination.count", "pagination.cursor"),
    "json": ("pagination",),
}


def _nested_values(query: Query) -> tuple[Any, str | None]:
    keys = [key for key in query if key == "pagination" or key.startswith(("pagination[", "pagination."))]
    unknown = sorted(k for k in keys if not any(k in form for form in _FORMS.values()))
    if unknown:
        raise ApiProblem(422, f'"{unknown[0]}" is not allowed', field=unknown[0])
    forms = {name for name, form in _FORMS.items() if any(k in form for k in keys)}
    if len(forms) > 1:
        raise ApiProblem(422, '"pagination" must be sent in one form', field="pagination")
    for key in keys:
        values = query[key]
        if len(values) != 1 or values[0].strip() in ("", "null"):
            raise ApiProblem(422, f'"{key}" must have one value, not null or empty', field=key)
    if forms <= {"bracket", "dot"}:
        count_key, cursor_key = _FORMS[forms.pop()] if forms else ("", "")
        return _first(query, count_key), _first(query, cursor_key)
    raw = _first(query, "pagination")
    try:
        document = json.loads(raw or "")
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise ApiProblem(422, '"pagination" must be of type object', field="pagination")
    extra = sorted(set(document) - {"count", "cursor"})
    if extra:
        raise ApiProblem(422, f'"pagination.{extra[0]}" is not allowed', field=f"pagination.{extra[0]}")
    for name in ("count", "cursor"):
        if name in document and document[name] is None:
            raise ApiProblem(422, f'"pagination.{name}" must not be null', field=f"pagination.{name}")
    cursor = document.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise ApiProblem(422, '"pagination.cursor" must be a string', field="pagination.cursor")
    return document.get("count"), cursor


def _count(value: Any, field: str, maximum: int) -> int:
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and value.isdigit())
    ):
        raise ApiProblem(422, f'"{field}" must be an integer', field=field)
    count = int(value)
    if not 1 <= count <= maximum:
        raise ApiProblem(422, f'"{field}" must be between 1 and {maximum}', field=field)
    return count


def _first(query: Query, key: str) -> str | None:
    values = query.get(key)
    return values[0] if values else None
