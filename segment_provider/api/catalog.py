"""Segment's catalog by slug: source, destination and warehouse metadata, and destination action ids.

The API can only list the catalog or get an item by id, and ids differ between environments, so each catalog
kind is paged once per process and base URL and kept in a module-level cache. The cache is thread-safe:
when several threads ask at once, one of them fetches and the others wait for its result.
"""

from __future__ import annotations

import difflib
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

import pydantic

from segment_provider.api.errors import UnknownCatalogSlugError
from segment_provider.api.models import DestinationMetadata, SourceMetadata, WarehouseMetadata, WireModel

Pages = Callable[[str, str], Iterable[dict[str, Any]]]
"""Every item of a catalog listing: ``pages(operation_id, items_key)`` (the client's ``paginate``)."""

log = logging.getLogger("segment_provider.api")
MetadataT = TypeVar("MetadataT", bound=WireModel)


@dataclass(frozen=True)
class CatalogKind(Generic[MetadataT]):
    noun: str
    operation_id: str
    items_key: str
    model: type[MetadataT]


SOURCES = CatalogKind("source", "getSourcesCatalog", "sourcesCatalog", SourceMetadata)
DESTINATIONS = CatalogKind(
    "destination", "getDestinationsCatalog", "destinationsCatalog", DestinationMetadata
)
WAREHOUSES = CatalogKind("warehouse", "getWarehousesCatalog", "warehousesCatalog", WarehouseMetadata)

_CacheKey = tuple[str, str]
# Each entry as Segment sent it until it is first looked up, then as its model: a lookup reads one or two of the
# hundreds of entries of a listing (building a model of each cost the destination's create 5 ms).
_cache: dict[_CacheKey, dict[str, WireModel | dict[str, Any]]] = {}
_fetch_locks: dict[_CacheKey, threading.Lock] = {}
_registry_lock = threading.Lock()


def clear_catalog_cache() -> None:
    """Forget every cached catalog (the next lookup pages it again)."""
    with _registry_lock:
        _cache.clear()


class Catalog:
    """Slug lookups in Segment's catalog, shared by every client with the same base URL (``scope``).

    It knows the client only as the function that pages a listing, so ``client.py`` can build it without
    either module importing the other at run time in a circle.
    """

    def __init__(self, pages: Pages, scope: str) -> None:
        self._pages = pages
        self._scope = scope

    def source_by_slug(self, slug: str) -> SourceMetadata:
        return self._by_slug(SOURCES, slug)

    def destination_by_slug(self, slug: str) -> DestinationMetadata:
        return self._by_slug(DESTINATIONS, slug)

    def warehouse_by_slug(self, slug: str) -> WarehouseMetadata:
        return self._by_slug(WAREHOUSES, slug)

    def action_id(self, destination_slug: str, action_slug: str) -> str:
        """The id of an Actions destination's action, e.g. ``actions-segment-profiles`` / ``sendIdentify``."""
        destination = self.destination_by_slug(destination_slug)
        action = destination.action(action_slug)
        if action is None:
            known = [a.slug for a in destination.actions]
            raise _unknown(f"action of destination '{destination_slug}'", action_slug, known, DESTINATIONS)
        return action.id

    def _by_slug(self, kind: CatalogKind[MetadataT], slug: str) -> MetadataT:
        items = self._items(kind)
        item = items.get(slug)
        if isinstance(item, dict):
            try:
                item = items[slug] = kind.model.from_api(item)
            except pydantic.ValidationError:
                # One malformed entry among hundreds should not make every lookup fail: this one is unknown,
                # and dropped, so that it is judged and reported once.
                log.warning("skipping a %s catalog entry Segment returned in an unexpected shape", kind.noun)
                items.pop(slug, None)
                item = None
        if item is None:
            raise _unknown(kind.noun, slug, list(items), kind)
        return cast(MetadataT, item)

    def _items(self, kind: CatalogKind[MetadataT]) -> dict[str, WireModel | dict[str, Any]]:
        key = (self._scope, kind.operation_id)
        with _registry_lock:
            cached = _cache.get(key)
            if cached is not None:
                return cached
            lock = _fetch_locks.setdefault(key, threading.Lock())
        with lock:
            with _registry_lock:
                cached = _cache.get(key)
            if cached is not None:
                return cached
            fetched = self._fetch(kind)
            with _registry_lock:
                _cache[key] = fetched
            return fetched

    def _fetch(self, kind: CatalogKind[MetadataT]) -> dict[str, WireModel | dict[str, Any]]:
        items: dict[str, WireModel | dict[str, Any]] = {}
        for raw in self._pages(kind.operation_id, kind.items_key):
            slug = raw.get("slug") if isinstance(raw, dict) else None
            if not isinstance(slug, str):
                log.warning("skipping a %s catalog entry Segment returned in an unexpected shape", kind.noun)
                continue
            items[slug] = raw
        log.debug("Segment %s catalog: %d items cached", kind.noun, len(items))
        return items


def _unknown(noun: str, slug: str, known: list[str], kind: CatalogKind[MetadataT]) -> UnknownCatalogSlugError:
    suggestions = difflib.get_close_matches(slug, known, n=5, cutoff=0.5)
    hint = f" Close matches: {', '.join(suggestions)}." if suggestions else ""
    return UnknownCatalogSlugError(
        f"Segment's catalog has no {noun} with slug '{slug}'.{hint} Check the slug against the Segment "
        "catalog (the slug is the last part of the catalog page's URL).",
        suggestions=suggestions,
        operation=kind.operation_id,
    )
