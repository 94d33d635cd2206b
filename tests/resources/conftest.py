"""Fixtures of the resource matrix: one provider server per module, configured for the session's emulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from segment_provider.api import ClientSettings, SegmentClient
from tests.harness import REPO_ROOT, ProviderServer, ResourceDriver
from tests.resources.cases import Context


@pytest.fixture(scope="module")
def server(session_emulator: Any) -> Iterator[ProviderServer]:
    with ProviderServer(cwd=REPO_ROOT) as running:
        running.configure(
            {"segment:token": session_emulator.token, "segment:endpoint": session_emulator.url},
            secret_keys=["segment:token"],
        )
        yield running


@pytest.fixture
def driver(server: ProviderServer, emulator: Any) -> ResourceDriver:
    return ResourceDriver(server)


@pytest.fixture
def ctx(emulator: Any) -> Context:
    settings = ClientSettings.resolve(token=emulator.token, endpoint=emulator.url)
    return Context(emulator=emulator, client=SegmentClient(settings))
