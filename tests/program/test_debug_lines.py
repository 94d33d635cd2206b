"""The SDK's debug lines go to the engine from a thread of their own: the program never waits on one, every line
still arrives, in order, and the process waits for them at exit."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from pulumi import log as pulumi_log
from pulumi.runtime.proto import engine_pb2

from flex_program import debug_lines
from flex_program.debug_lines import DebugLineSender
from tests.program.sdk_context import with_sdk_settings


def sdk_debug() -> Any:
    """``pulumi.log.debug`` as the SDK defines it, also after a program run in this process put a sender there."""
    sender = getattr(pulumi_log.debug, "__self__", None)
    return sender.sdk_debug if isinstance(sender, DebugLineSender) else pulumi_log.debug


class SlowEngine:
    """An engine stub whose ``Log`` answers only once ``answering`` is set."""

    def __init__(self) -> None:
        self.answering = threading.Event()
        self.received: list[tuple[int, str]] = []
        self.first_arrived = threading.Event()

    def Log(self, request: Any) -> None:
        self.first_arrived.set()
        self.answering.wait(timeout=5)
        self.received.append((request.severity, request.message))


def with_engine(engine: SlowEngine, body: Any) -> Any:
    """``body()`` in a context whose Pulumi settings reach ``engine`` (the test's own context is left alone)."""
    return with_sdk_settings(body, engine=engine)


def test_the_program_hands_lines_over_while_the_engine_is_still_busy_and_all_arrive_in_order() -> None:
    engine = SlowEngine()

    def run() -> tuple[DebugLineSender, list[tuple[int, str]]]:
        sender = DebugLineSender(sdk_debug())
        for n in range(5):
            sender.debug(f"line {n}")
        assert engine.first_arrived.wait(timeout=30)
        seen_while_busy = list(engine.received)
        engine.answering.set()
        assert sender.flush()
        return sender, seen_while_busy

    _, seen_while_busy = with_engine(engine, run)

    assert seen_while_busy == []  # all five were handed over while the engine had not answered the first
    assert engine.received == [(engine_pb2.DEBUG, f"line {n}") for n in range(5)]


def test_flush_gives_up_after_its_timeout_when_the_engine_never_answers() -> None:
    engine = SlowEngine()

    def run() -> bool:
        sender = DebugLineSender(sdk_debug())
        sender.debug("never answered")
        assert engine.first_arrived.wait(timeout=30)
        try:
            return sender.flush(timeout=0.2)
        finally:
            engine.answering.set()

    assert with_engine(engine, run) is False


def test_a_line_about_a_resource_and_the_other_severities_go_the_sdks_own_way() -> None:
    calls: list[tuple[str, Any, str]] = []
    caller = threading.current_thread().name

    def sdk_debug(msg: str, resource: Any = None, stream_id: Any = None, ephemeral: Any = None) -> None:
        calls.append((msg, resource, threading.current_thread().name))

    sender = DebugLineSender(sdk_debug)
    sender.debug("about a resource", resource="the resource")
    sender.debug("general")
    assert sender.flush()

    assert calls[0] == ("about a resource", "the resource", caller)
    assert calls[1][:2] == ("general", None) and calls[1][2] == "pulumi-debug-lines"


def test_installed_once_in_place_of_the_sdks_debug_and_flushed_at_exit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pulumi_log, "debug", sdk_debug())
    at_exit: list[Any] = []
    monkeypatch.setattr(debug_lines.atexit, "register", at_exit.append)
    original = pulumi_log.debug

    sender = debug_lines.send_debug_lines_in_background()

    assert debug_lines.send_debug_lines_in_background() is sender
    assert pulumi_log.debug == sender.debug and sender.sdk_debug is original
    assert at_exit == [sender.flush]
