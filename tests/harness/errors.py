"""Errors raised by the engine stand-in, named after what the Pulumi engine would report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.harness.results import Failure, RunResult


class HarnessError(Exception):
    """The harness itself could not do what was asked (server did not start, unsupported request, …)."""


class ProviderError(HarnessError):
    """A provider RPC failed.

    The SDK's provider server turns any exception raised by a provider method into gRPC ``UNKNOWN`` whose
    details are the full Python traceback; ``message`` is its last line (``ValueError: …``), ``details`` the
    whole text.
    """

    def __init__(self, method: str, urn: str, code: str, details: str) -> None:
        self.method = method
        self.urn = urn
        self.code = code
        self.details = details
        self.message = last_line(details) or code
        super().__init__(f"{method} failed for {urn or 'the provider'}: {self.message}")


class CheckFailed(HarnessError):
    """``Check`` returned failures: the engine refuses to go on with this resource."""

    def __init__(self, urn: str, failures: Sequence[tuple[str, str]]) -> None:
        self.urn = urn
        self.failures = list(failures)
        listed = "; ".join(f"{prop}: {reason}" for prop, reason in self.failures)
        super().__init__(f"check failed for {urn}: {listed}")


class ResourceProtected(HarnessError):
    """A delete or replace of a resource registered with ``protect=True``, refused as Pulumi does."""

    def __init__(self, urn: str, action: str = "delete") -> None:
        self.urn = urn
        self.action = action
        super().__init__(f"resource {urn} is protected: set protect=False first (refusing to {action} it)")


class DeploymentFailed(HarnessError):
    """An operation finished with failed resources. ``result`` holds what did happen (state keeps it)."""

    def __init__(self, operation: str, failures: Sequence[Failure], result: RunResult) -> None:
        self.operation = operation
        self.failures = list(failures)
        self.result = result
        listed = "\n".join(
            f"  {failure.name} ({failure.type}): {failure.message}" for failure in self.failures
        )
        super().__init__(f"{operation} failed for {len(self.failures)} resource(s):\n{listed}")


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
