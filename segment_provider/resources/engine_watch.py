"""The provider process dies with the Pulumi engine that started it.

When the CLI is killed (``kill -9``, a CI runner torn down), the engine cannot stop its plugins, and a provider
process would go on with the creates it was given, writing to Segment with no engine left to record what it made.
The engine gives each plugin a pipe as standard input and holds its other end: end-of-file on it means the engine
is gone. A change of parent process means the same (a provider started without such a pipe, as the test harness
starts it). Either way, the API gate closes (no call that changes Segment starts from then on) and the process
exits at once.
"""

from __future__ import annotations

import os
import stat
import sys
import threading
import time

from segment_provider.api import halt
from segment_provider.resources.provider_errors import PROVIDER_SERVER_MODULE

POLL_SECONDS = 0.2
EXIT_CODE = 1
_started = threading.Lock()


def in_provider_server() -> bool:
    """Whether this process is Pulumi's dynamic provider server (``python -m pulumi.dynamic``)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return getattr(spec, "name", None) == PROVIDER_SERVER_MODULE


def engine_gone(reason: str) -> None:
    halt.close(f"the Pulumi engine is gone ({reason}); nothing would record the result")
    os._exit(EXIT_CODE)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    engine_gone("the process that started the provider exited")


def _watch_stdin() -> None:
    while os.read(0, 4096):
        pass
    engine_gone("its end of the provider's standard input closed")


def install() -> bool:
    """Starts the watch, once, in the provider server process only; True when it runs."""
    if not in_provider_server() or not _started.acquire(blocking=False):
        return False
    threading.Thread(target=_watch_parent, args=(os.getppid(),), name="engine-parent", daemon=True).start()
    try:
        stdin_is_pipe = stat.S_ISFIFO(os.fstat(0).st_mode)
    except OSError:
        stdin_is_pipe = False
    if stdin_is_pipe:
        threading.Thread(target=_watch_stdin, name="engine-stdin", daemon=True).start()
    return True
