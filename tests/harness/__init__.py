"""An engine stand-in for testing Pulumi dynamic providers and programs without the Pulumi CLI.

Two layers, both driving the Pulumi SDK's real dynamic provider server (``python -m pulumi.dynamic``) over
gRPC, as the engine does, so pickling, configuration and wire-format problems show up in tests:

* :class:`ProviderServer` + :class:`ResourceDriver`: one resource at a time — check, create, read, diff,
  update, delete, and ``apply`` (what ``pulumi up`` does for one resource).
* :class:`ProgramEngine`: a whole program under ``pulumi.runtime.set_mocks``, with state kept between runs
  like a stack — ``up``, ``preview``, ``refresh``, ``destroy``.

See ``docs/testing.md`` for how to write a test with them, and each module's docstring for what the engine
does that the harness reproduces and what it leaves out.
"""

from tests.harness.driver import CheckOutcome, DiffOutcome, PlannedStep, ResourceDriver
from tests.harness.engine import Program, ProgramEngine
from tests.harness.errors import CheckFailed, DeploymentFailed, HarnessError, ProviderError, ResourceProtected
from tests.harness.monitor import Registration
from tests.harness.results import Drift, Failure, Op, RunResult, StepRecord
from tests.harness.server import DEFAULT_PROJECT, REPO_ROOT, ProviderServer
from tests.harness.state import CIPHERTEXT_PLACEHOLDER, ResourceState, StackState, StateResource
from tests.harness.wire import (
    PROVIDER_KEY,
    contains_secret,
    decode_provider_blob,
    is_unknown,
    serialize_provider,
    type_token,
)

__all__ = [
    "CIPHERTEXT_PLACEHOLDER",
    "DEFAULT_PROJECT",
    "PROVIDER_KEY",
    "REPO_ROOT",
    "CheckFailed",
    "CheckOutcome",
    "DeploymentFailed",
    "DiffOutcome",
    "Drift",
    "Failure",
    "HarnessError",
    "Op",
    "PlannedStep",
    "Program",
    "ProgramEngine",
    "ProviderError",
    "ProviderServer",
    "Registration",
    "ResourceDriver",
    "ResourceProtected",
    "ResourceState",
    "RunResult",
    "StackState",
    "StateResource",
    "StepRecord",
    "contains_secret",
    "decode_provider_blob",
    "is_unknown",
    "serialize_provider",
    "type_token",
]
