"""Errors a user must act on reach ``pulumi``'s output as their message, not as a Python traceback.

Pulumi's dynamic provider server (``python -m pulumi.dynamic``) answers every exception a provider raises with
``traceback.format_exc()``, so under the real CLI an adoption target that does not exist, or a value Segment
refuses, printed some twenty lines of provider-process traceback before the one line that says what to do. In
that process this module gives the server a ``traceback`` whose ``format_exc`` returns only the message for
the errors written for users (:data:`USER_ERRORS`); any other exception, a bug, keeps its full traceback. The
server looks ``traceback`` up in its own module's globals, so nothing else in the process changes.
"""

from __future__ import annotations

import sys
import traceback
from types import ModuleType
from typing import Any

from segment_provider.api.errors import SegmentError

PROVIDER_SERVER_MODULE = "pulumi.dynamic.__main__"


class UserError(Exception):
    """Base of the provider errors whose message says what to do next."""


USER_ERRORS: tuple[type[BaseException], ...] = (UserError, SegmentError)


def error_text() -> str:
    """The text the provider server sends the engine for the exception being handled."""
    error = sys.exc_info()[1]
    if isinstance(error, USER_ERRORS):
        return str(error)
    return traceback.format_exc()


class _ProviderServerTraceback(ModuleType):
    """``traceback`` as the provider server sees it: the real module, but for ``format_exc``."""

    def __init__(self) -> None:
        super().__init__("traceback")

    def __getattr__(self, name: str) -> Any:
        return getattr(traceback, name)

    @staticmethod
    def format_exc(limit: int | None = None, chain: bool = True) -> str:
        return error_text() if limit is None and chain else traceback.format_exc(limit, chain)


def install() -> bool:
    """In the provider server's process only; True when the server's errors now read as messages."""
    server = sys.modules.get("__main__")
    spec = getattr(server, "__spec__", None)
    if server is None or getattr(spec, "name", None) != PROVIDER_SERVER_MODULE:
        return False
    if getattr(server, "traceback", None) is traceback:
        server.traceback = _ProviderServerTraceback()  # type: ignore[attr-defined]
    return isinstance(getattr(server, "traceback", None), _ProviderServerTraceback)
