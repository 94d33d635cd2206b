"""The library's progress lines (``segment_provider.api.pacing``, which must not import Pulumi) in Pulumi's log.

In the program, ``pulumi.log`` reaches the engine. In the provider process, Pulumi's dynamic-provider server
never connects to the engine, so ``pulumi.log`` would only print to the process's stderr, which the CLI keeps
out of its display; the engine hands every provider plugin its address as the first argument, so the lines
are sent there instead.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

import pulumi

PROGRESS_LOGGERS = ("segment_provider.api.pacing",)
_installed = threading.Lock()
_engine: list[Any] = []


def _provider_engine() -> Any | None:
    """An engine stub from the plugin's first argument (``127.0.0.1:port``), or None outside a plugin."""
    if _engine:
        return _engine[0]
    address = sys.argv[1] if len(sys.argv) > 1 else ""
    host, _, port = address.rpartition(":")
    stub = None
    if host and port.isdigit():
        try:
            import grpc
            from pulumi.runtime.proto import engine_pb2_grpc

            stub = engine_pb2_grpc.EngineStub(grpc.insecure_channel(address))
        except Exception:  # no engine to reach: stderr below
            stub = None
    _engine.append(stub)
    return stub


class PulumiLogHandler(logging.Handler):
    """Sends each record to Pulumi's log as info (warning and above as warnings)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
            if pulumi.log.get_engine() is not None:
                (pulumi.log.warn if record.levelno >= logging.WARNING else pulumi.log.info)(message)
                return
            engine = _provider_engine()
            if engine is not None and _send(engine, record.levelno, message):
                return
            print(f"info: {message}", file=sys.stderr)
        except Exception:
            self.handleError(record)


def _send(engine: Any, level: int, message: str) -> bool:
    """Whether the engine took the line; one that cannot be reached is not tried again."""
    from pulumi.runtime.proto import engine_pb2

    severity = engine_pb2.WARNING if level >= logging.WARNING else engine_pb2.INFO
    try:
        engine.Log(
            engine_pb2.LogRequest(severity=severity, message=message, urn="", ephemeral=False), timeout=5
        )
    except Exception:
        _engine[:] = [None]
        return False
    return True


def install() -> None:
    """Route the progress loggers to Pulumi's log at INFO, once per process."""
    with _installed:
        for name in PROGRESS_LOGGERS:
            logger = logging.getLogger(name)
            if any(isinstance(h, PulumiLogHandler) for h in logger.handlers):
                continue
            logger.addHandler(PulumiLogHandler())
            if logger.level == logging.NOTSET or logger.level > logging.INFO:
                logger.setLevel(logging.INFO)
