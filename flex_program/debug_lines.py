"""The Pulumi SDK's debug lines, sent to the engine by a thread of their own.

Pulumi's Python SDK sends about four debug lines for each resource the program registers ("registering
resource …", "resource registration prepared …"), each a blocking call to the engine. The CLI shows them only
under ``pulumi up --debug``, yet every run waits for each: about a millisecond apiece, some 60 ms of an up from
empty on the way to the first create (`benchmarks/README.md`, "start-up"). Here the program hands them
to one sending thread, which sends them in order; the process waits for it at exit, so ``--debug`` still shows
every line. Lines tied to a resource, and every other severity, go the SDK's own way (so under ``--debug`` a
debug line can show after a warning the program logged just after it).
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import queue
import threading
from collections.abc import Callable
from typing import Any

from pulumi import log as pulumi_log

FLUSH_SECONDS = 10.0
"""At most this long at exit for the lines not yet sent (the engine answers each in about a millisecond)."""

_install_lock = threading.Lock()


class DebugLineSender:
    """Takes the SDK's debug lines in place of ``pulumi.log.debug`` and sends them, in order, from one thread."""

    def __init__(self, sdk_debug: Callable[..., None]) -> None:
        self.sdk_debug = sdk_debug
        self._lines: queue.SimpleQueue[tuple[str, int | None, bool | None]] = queue.SimpleQueue()
        self._progress = threading.Condition()
        self._handed = 0
        self._sent = 0
        # The SDK keeps its engine connection in context variables: the thread runs in a copy of this context.
        threading.Thread(
            target=contextvars.copy_context().run,
            args=(self._send_all,),
            name="pulumi-debug-lines",
            daemon=True,
        ).start()

    def debug(
        self, msg: str, resource: Any = None, stream_id: int | None = None, ephemeral: bool | None = None
    ) -> None:
        if resource is not None:
            self.sdk_debug(msg, resource, stream_id, ephemeral)
            return
        with self._progress:
            self._handed += 1
        self._lines.put((msg, stream_id, ephemeral))

    def flush(self, timeout: float = FLUSH_SECONDS) -> bool:
        """Waits until every line handed over is sent; False when ``timeout`` ran out first."""
        with self._progress:
            return self._progress.wait_for(lambda: self._sent >= self._handed, timeout=timeout)

    def _send_all(self) -> None:
        while True:
            message, stream_id, ephemeral = self._lines.get()
            # An engine gone means the run is failing, and it says why elsewhere.
            with contextlib.suppress(Exception):
                self.sdk_debug(message, None, stream_id, ephemeral)
            with self._progress:
                self._sent += 1
                self._progress.notify_all()


def send_debug_lines_in_background() -> DebugLineSender:
    """Puts a sender in place of ``pulumi.log.debug``, once a process, and has the process wait for it at exit."""
    with _install_lock:
        installed = getattr(pulumi_log.debug, "__self__", None)
        if isinstance(installed, DebugLineSender):
            return installed
        sender = DebugLineSender(pulumi_log.debug)
        pulumi_log.debug = sender.debug
        atexit.register(sender.flush)
        return sender
