"""Fixtures for the API client tests: a client on the emulator whose sleeps are recorded, not slept."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from segment_provider.api import ClientSettings, SegmentClient, clear_catalog_cache

SALESFORCE = "2baks93n"
SNOWFLAKE_RETL = "BQp3zGUgjV"
SNOWFLAKE_WAREHOUSE = "CCIl4HLQPz"
PROFILES = "639c2dbb1309fdcad13951b6"
DEV_SPACE = "unified-profiles-dev"

ClientFactory = Callable[..., SegmentClient]


@pytest.fixture
def sleeps() -> list[float]:
    """Every wait the client asked for, in order (nothing actually sleeps)."""
    return []


@pytest.fixture
def make_client(emulator: Any, sleeps: list[float]) -> ClientFactory:
    def make(*, clock: Callable[[], float] | None = None, **options: Any) -> SegmentClient:
        settings = ClientSettings.resolve(
            token=emulator.token, endpoint=emulator.url, env={"SEGMENT_API_PACING": "off"}, **options
        )
        if clock is None:
            return SegmentClient(settings, sleep=sleeps.append)
        return SegmentClient(settings, sleep=sleeps.append, clock=clock)

    return make


@pytest.fixture
def fresh_emulator(emulator: Any) -> Iterator[Any]:
    emulator.reset()
    emulator.clear_requests()
    clear_catalog_cache()
    yield emulator
    clear_catalog_cache()


@pytest.fixture
def client(fresh_emulator: Any, make_client: ClientFactory) -> SegmentClient:
    return make_client()


@pytest.fixture
def no_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff waits become exactly base * 2 ** retry."""
    monkeypatch.setattr("segment_provider.api.client.jitter", lambda delay: delay)


def header(request: Any, name: str) -> str | None:
    """A header of a logged request, whatever the case of its name."""
    wanted = name.lower()
    return next((str(v) for k, v in dict(request.headers).items() if k.lower() == wanted), None)


def requests_for(emulator: Any, operation_id: str) -> list[Any]:
    return [r for r in emulator.requests if r.operation_id == operation_id]
