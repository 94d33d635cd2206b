"""Segment's Profile API (``profiles.segment.com``), served by the emulator on its own port.

Only the route this project reads is served:

    GET /v1/spaces/<space_id>/collections/users/profiles/user_id:<id>/traits?limit=&class=&include=&next=

What follows Segment's Profile API page (src/unify/profile-api.md):

* HTTP Basic auth, the space's Profile API token as the username and an empty password; anything else is 401;
* ``limit`` (default 10; the page says "up to 200" for traits), ``class=computed_trait`` or ``class=audience``,
  ``include=a,b`` (only these keys), ``next`` (the cursor of the previous answer);
* the answer ``{"traits": {...}, "cursor": {"url", "has_more", "next", "limit"}}``, ``next`` being ``""`` on
  the last page;
* errors ``{"error": {"code", "message"}}`` with the documented codes (``authentication_error``,
  ``validation_error``, ``not_found`` with "Profile was not found.").

The emulator's own choices: tokens are per space (a token of another space is a 401, so is any token for an
unknown space id); profiles exist only where a test seeded them, and only under ``user_id``; every enabled
computed trait of the space has a value on every seeded profile (see :func:`computed_value`); ``verbose`` is
ignored, and the 100 requests/s limit is not enforced.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import random
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote, urlencode

from segment_emulator.store import BASE62, Record, Store

PREFIX = "/v1/spaces/"
_TRAITS_PATH = re.compile(
    r"^/v1/spaces/(?P<space>[^/]+)/collections/users/profiles/(?P<identifier>[^/]+)/traits$"
)
DEFAULT_LIMIT = 10
MAX_LIMIT = 200
CLASSES = ("computed_trait", "audience")
TOKEN_LENGTH = 40
NOT_FOUND = "Profile was not found."
_LAST_PROPERTY = re.compile(r"property\('((?:[^'\\]|\\.)+)'\)")
_COUNTING = re.compile(r"\.count\(\)\s*$")

Answer = tuple[int, dict[str, Any]]


def is_profile_api_path(path: str) -> bool:
    """Profile API paths start with /v1/spaces/; no Public API path has a version prefix."""
    return path.startswith(PREFIX)


# ------------------------------------------------------------------------------------------------ tokens


def seeded_token(seed: str, space_id: str) -> str:
    """A space's Profile API token until one is set: 40 base62 characters drawn from the seed and space id."""
    rng = random.Random(f"{seed}:profile-api-token:{space_id}")
    return "".join(rng.choice(BASE62) for _ in range(TOKEN_LENGTH))


def space_token(store: Store, space_id: str) -> str:
    return store.profile_api_tokens.get(space_id) or seeded_token(store.seed, space_id)


def set_space_token(store: Store, space_id: str, token: str) -> None:
    if not isinstance(token, str) or not token.strip() or ":" in token:
        raise ValueError("a Profile API token must be a non-empty string without ':'")
    store.profile_api_tokens[space_id] = token


# ---------------------------------------------------------------------------------------------- profiles


def seed_profile(
    store: Store, space_id: str, user_id: str, traits: Mapping[str, Any] | None = None
) -> Record:
    """Create (or replace) the profile ``user_id:<user_id>`` with custom ``traits``; returns what it holds."""
    if not isinstance(user_id, str) or not user_id:
        raise ValueError("a profile needs a non-empty user id")
    if traits is not None and not (isinstance(traits, Mapping) and all(isinstance(k, str) for k in traits)):
        raise ValueError("traits must be an object of trait key → value")
    store.profiles.setdefault(space_id, {})[user_id] = {"traits": dict(traits or {})}
    return {"spaceId": space_id, "userId": user_id, "traits": profile_traits(store, space_id, user_id)}


def profile_traits(store: Store, space_id: str, user_id: str, computed_only: bool = False) -> dict[str, Any]:
    """The traits the Profile API shows for a seeded profile: custom ones, then computed ones by key."""
    profile = store.profiles.get(space_id, {}).get(user_id)
    if profile is None:
        return {}
    shown: dict[str, Any] = {} if computed_only else dict(profile["traits"])
    for trait in sorted(_computed_traits(store, space_id), key=lambda t: str(t["key"])):
        shown[trait["key"]] = computed_value(store, trait, user_id)
    return shown


def computed_value(store: Store, trait: Record, user_id: str) -> Any:
    """A deterministic value of a computed trait for one profile, shaped by the trait's query.

    A query ending in ``.count()`` gets a whole number (0..19). Otherwise the value is one of the sample values
    the space has seen for the last ``property('…')`` the query names (e.g. ``sentiment`` → ``neutral``),
    else ``<key>-<8 hex digits>``. The choice is a hash of the trait key and the user id, so it never changes.
    """
    digest = hashlib.sha256(f"{trait['key']}:{user_id}".encode()).hexdigest()
    number = int(digest[:8], 16)
    query = str((trait.get("definition") or {}).get("query") or "")
    if _COUNTING.search(query):
        return number % 20
    properties = _LAST_PROPERTY.findall(query)
    if properties:
        samples = _samples(store, trait["spaceId"], properties[-1])
        if samples:
            return samples[number % len(samples)]
    return f"{trait['key']}-{digest[:8]}"


def _computed_traits(store: Store, space_id: str) -> list[Record]:
    return [t for t in store.computed_traits.values() if t["spaceId"] == space_id and t.get("enabled", True)]


def _samples(store: Store, space_id: str, property_name: str) -> list[Any]:
    for event in store.events.get(space_id, {}).values():
        found = event.get("properties", {}).get(property_name)
        if found and found.get("samples"):
            return list(found["samples"])
    return []


# --------------------------------------------------------------------------------------------- serving


def serve(
    store: Store, method: str, path: str, query: Mapping[str, list[str]], authorization: str | None
) -> Answer:
    """The status and JSON body of one Profile API request (the caller holds the store lock)."""
    found = _TRAITS_PATH.fullmatch(path)
    space_id = unquote(found["space"]) if found else _space_segment(path)
    space = store.spaces.get(space_id)
    if space is None or not _authorised(authorization, space_token(store, space["id"])):
        # Never echo what was sent: it is a real token when someone points a client at the wrong host.
        return _error(
            401,
            "authentication_error",
            "Missing or invalid access token: send the space's Profile API token as the Basic auth username "
            "with an empty password",
        )
    if found is None or method != "GET":
        return _error(404, "not_found", f"No Profile API route {method} {path} in the emulator")
    id_type, _, user_id = unquote(found["identifier"]).partition(":")
    problem = _query_problem(query)
    if problem:
        return _error(400, "validation_error", problem)
    if id_type != "user_id" or user_id not in store.profiles.get(space["id"], {}):
        return _error(404, "not_found", NOT_FOUND)
    return 200, _traits_page(store, space["id"], user_id, path, query)


def _traits_page(
    store: Store, space_id: str, user_id: str, path: str, query: Mapping[str, list[str]]
) -> dict[str, Any]:
    wanted_class = _value(query, "class")
    if wanted_class == "audience":
        traits: dict[str, Any] = {}  # the emulator has no audiences
    else:
        traits = profile_traits(store, space_id, user_id, computed_only=wanted_class == "computed_trait")
    include = _value(query, "include")
    if include:
        keys = {key.strip() for key in include.split(",") if key.strip()}
        traits = {key: value for key, value in traits.items() if key in keys}
    limit = int(_value(query, "limit") or DEFAULT_LIMIT)
    offset = _offset(_value(query, "next"))
    items = list(traits.items())
    shown = dict(items[offset : offset + limit])
    has_more = offset + limit < len(items)
    next_cursor = _cursor(offset + limit) if has_more else ""
    listed = {key: values for key, values in query.items() if key != "next"}
    url = path + ("?" + urlencode(listed, doseq=True) if listed else "")
    return {
        "traits": shown,
        "cursor": {"url": url, "has_more": has_more, "next": next_cursor, "limit": limit},
    }


def _query_problem(query: Mapping[str, list[str]]) -> str | None:
    limit = _value(query, "limit")
    if limit is not None and not (limit.isdigit() and 1 <= int(limit) <= MAX_LIMIT):
        return f"The parameter `limit` must be a whole number between 1 and {MAX_LIMIT}"
    wanted_class = _value(query, "class")
    if wanted_class is not None and wanted_class not in CLASSES:
        return f"The parameter `class` must be one of {', '.join(CLASSES)}"
    cursor = _value(query, "next")
    if cursor and _offset(cursor) < 0:
        return "The parameter `next` is not a cursor this API returned"
    return None


def _authorised(authorization: str | None, token: str) -> bool:
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    username, separator, password = decoded.partition(":")
    return bool(separator) and username == token and password == ""


def _space_segment(path: str) -> str:
    return unquote(path[len(PREFIX) :].split("/", 1)[0])


def _value(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _offset(cursor: str | None) -> int:
    """The offset a cursor stands for; 0 without one, -1 for a cursor this API did not hand out."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return -1
    head, _, number = text.partition(":")
    return int(number) if head == "offset" and number.isdigit() else -1


def _error(status: int, code: str, message: str) -> Answer:
    return status, {"error": {"code": code, "message": message}}
