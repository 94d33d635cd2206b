"""What every operation handler gets, and the lookups and list shapes they share."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from segment_emulator.errors import ApiProblem, not_found
from segment_emulator.models import RequestModel
from segment_emulator.pagination import PageRequest, nested_page_request, page
from segment_emulator.store import Record, Store
from segment_emulator.views import DEFAULT_SETTINGS_PATCH, SettingsPatch, settings_update

ModelT = TypeVar("ModelT", bound=RequestModel)
SUCCESS: Record = {"status": "SUCCESS"}


@dataclass(frozen=True)
class Call:
    """One validated request, as a handler sees it. Handlers run under the store lock."""

    store: Store
    params: Mapping[str, str]
    """Path parameters, percent-decoded."""
    query: Mapping[str, list[str]]
    body: RequestModel | None
    version: str
    now: float
    time_scale: float
    settings_patch: SettingsPatch = DEFAULT_SETTINGS_PATCH

    def updated_settings(self, stored: Record, incoming: Record) -> Record:
        """The settings an update leaves, under the emulator's settings_patch mode (see views.settings_update)."""
        return settings_update(stored, incoming, mode=self.settings_patch)

    def input(self, model: type[ModelT]) -> ModelT:
        if not isinstance(self.body, model):
            raise TypeError(f"expected a {model.__name__} body, got {type(self.body).__name__}")
        return self.body

    def query_value(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


Handler = Callable[[Call], Record]


def require(collection: Mapping[str, Record], identifier: str, noun: str) -> Record:
    """The object ``identifier`` of ``collection``, or 404 naming it."""
    found = collection.get(identifier)
    if found is None:
        raise not_found(noun, identifier)
    return found


def listed(key: str, items: Sequence[Any], call: Call, request: PageRequest | None = None) -> Record:
    """One page of ``items`` under ``key``, with its ``pagination``."""
    shown, pagination = page(items, request or nested_page_request(call.query))
    return {key: shown, "pagination": pagination}


def one_of(call: Call, name: str, allowed: Sequence[str]) -> str | None:
    """A query parameter limited to ``allowed`` values (422 otherwise); None when absent."""
    value = call.query_value(name)
    if value is not None and value not in allowed:
        raise ApiProblem(422, f'"{name}" must be one of [{", ".join(allowed)}]', field=name)
    return value
