"""Python's cyclic garbage collector, paused while a process imports the project's modules.

Importing pydantic and the project's models makes tens of thousands of objects that all live until the process
exits. As they arrive, CPython's collector walks them again and again, and once they outnumber a quarter of the
objects already there it runs a full collection over every object in the process, the Pulumi SDK's included,
and finds nothing to free. Counted in a provider's import of a kind: one full pass of about 20 ms and some 30
younger ones of 7 ms in all (`benchmarks/README.md`, "start-up"). Imports make no garbage cycles worth that, so
the collector is paused while they run and resumed after; the program's and the provider's own work run with it on.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """The collector off for the block (nested blocks: until the outermost ends), then as it was before."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
