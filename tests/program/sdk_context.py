"""Pulumi SDK settings for a piece of a test: the SDK keeps them in context variables, so ``body`` runs in a copy
of the test's context and the test's own settings are left alone."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any, TypeVar

from pulumi.runtime import settings

Result = TypeVar("Result")


def with_sdk_settings(body: Callable[[], Result], **fields: Any) -> Result:
    """``body()`` where the SDK's settings hold ``fields`` (an ``engine``, a ``monitor``, ``dry_run`` …)."""

    def configured() -> Result:
        settings.configure(settings.Settings(project="p", stack="s", **fields))
        return body()

    return contextvars.copy_context().run(configured)
