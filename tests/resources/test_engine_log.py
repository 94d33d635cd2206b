"""The pacer's progress lines (library logging, no Pulumi import) reach Pulumi's log on the provider side."""

from __future__ import annotations

import logging
from typing import Any

import pulumi
import pytest

from segment_provider.resources import engine_log


class FakeEngine:
    def __init__(self) -> None:
        self.requests: list[Any] = []

    def Log(self, request: Any, timeout: float | None = None) -> None:
        self.requests.append(request)


def test_progress_lines_go_to_pulumis_log_in_the_program(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []
    monkeypatch.setattr(pulumi.log, "get_engine", lambda: object())
    monkeypatch.setattr(pulumi.log, "info", sent.append)
    engine_log.install()
    logging.getLogger("segment_provider.api.pacing").info("Segment's rate limit for op: %d calls waiting", 4)
    assert sent == ["Segment's rate limit for op: 4 calls waiting"]


def test_in_the_provider_process_they_go_to_the_engine_address(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = FakeEngine()
    monkeypatch.setattr(pulumi.log, "get_engine", lambda: None)
    monkeypatch.setattr(engine_log, "_engine", [engine])
    engine_log.install()
    logging.getLogger("segment_provider.api.pacing").info("4 calls waiting")
    assert [r.message for r in engine.requests] == ["4 calls waiting"]


def test_installing_twice_adds_one_handler() -> None:
    engine_log.install()
    engine_log.install()
    handlers = logging.getLogger("segment_provider.api.pacing").handlers
    assert sum(isinstance(h, engine_log.PulumiLogHandler) for h in handlers) == 1
