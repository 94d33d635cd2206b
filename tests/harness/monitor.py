"""The resource monitor a program talks to under ``pulumi.runtime.set_mocks``, answering like the engine.

``MockMonitor`` only hands ``Mocks.new_resource`` a type, a name and inputs; the engine needs the rest of the
``RegisterResourceRequest`` (dependencies, protect, secrets, …). :class:`HarnessMonitor` captures the whole
request as a :class:`Registration` and lets the deployment answer it. The SDK calls ``RegisterResource`` from
a thread pool, so registrations arrive concurrently, as they do at the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from google.protobuf import empty_pb2
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import get_project, get_stack
from pulumi.runtime.sync_await import _ensure_event_loop

from tests.harness import wire
from tests.harness.errors import HarnessError
from tests.harness.state import STACK_TYPE, make_urn

InvokeHandler = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, repr=False)
class Registration:
    """One ``RegisterResourceRequest``: inputs as the SDK sent them (secrets wrapped, unknowns kept)."""

    urn: str
    type: str
    name: str
    custom: bool
    inputs: dict[str, Any]
    parent: str = ""
    provider: str = ""
    dependencies: tuple[str, ...] = ()
    property_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    protect: bool = False
    additional_secret_outputs: tuple[str, ...] = ()
    delete_before_replace: bool = False
    retain_on_delete: bool = False
    ignore_changes: tuple[str, ...] = ()
    import_id: str = ""

    @classmethod
    def from_request(cls, request: resource_pb2.RegisterResourceRequest, urn: str) -> Registration:
        return cls(
            urn=urn,
            type=request.type,
            name=request.name,
            custom=request.custom,
            inputs=wire.from_struct(request.object),
            parent=request.parent,
            provider=request.provider,
            dependencies=tuple(request.dependencies),
            property_dependencies={
                key: tuple(deps.urns) for key, deps in request.propertyDependencies.items() if deps.urns
            },
            protect=request.protect,
            additional_secret_outputs=tuple(request.additionalSecretOutputs),
            delete_before_replace=request.deleteBeforeReplace,
            retain_on_delete=request.retainOnDelete,
            ignore_changes=tuple(request.ignoreChanges),
            import_id=request.importId,
        )

    def depends_on(self) -> set[str]:
        needed = set(self.dependencies)
        for urns in self.property_dependencies.values():
            needed.update(urns)
        if self.parent:
            needed.add(self.parent)
        if self.provider:
            needed.add(self.provider.rsplit("::", 1)[0])
        return needed

    def __repr__(self) -> str:
        return f"Registration(urn={self.urn!r}, inputs={sorted(self.inputs)}, protect={self.protect})"


@dataclass(frozen=True, repr=False)
class RegisterOutcome:
    """The engine's answer: id (``""`` = unknown), outputs with secrets wrapped, and whether it failed."""

    id: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    failed: bool = False


class Deployment(Protocol):
    """What answers registrations: ``ProgramEngine``'s per-operation deployment."""

    def register(self, registration: Registration) -> RegisterOutcome: ...

    def register_outputs(self, urn: str, outputs: dict[str, Any]) -> None: ...


class HarnessMocks(Mocks):
    """Invokes go to handlers given per token; any other invoke is refused rather than answered with junk."""

    def __init__(self, invokes: Mapping[str, InvokeHandler] | None = None) -> None:
        self.invokes = dict(invokes or {})

    def call(self, args: MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        handler = self.invokes.get(args.token)
        if handler is None:
            raise HarnessError(f"no handler for invoke {args.token!r}: pass invokes={{token: handler}}")
        return handler(dict(args.args)), []

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        raise HarnessError(
            f"reading existing resources (get / opts.id) is not supported: {args.typ} {args.name}"
        )


class HarnessMonitor(MockMonitor):
    def __init__(self, mocks: Mocks, deployment: Deployment) -> None:
        super().__init__(mocks)
        self.deployment = deployment
        self.stack_urn = ""

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # MockMonitor qualifies types under the root stack too and keeps only the parent's last type; the
        # engine does neither.
        return make_urn(get_stack(), get_project(), type_, name, parent)

    def RegisterResource(self, request: resource_pb2.RegisterResourceRequest) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == STACK_TYPE:
            self.stack_urn = urn
            return resource_pb2.RegisterResourceResponse(urn=urn)
        # Deserializing resource references needs an event loop on this (thread pool) thread.
        _ensure_event_loop()
        outcome = self.deployment.register(Registration.from_request(request, urn))
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, outcome.id, outcome.outputs)
        return resource_pb2.RegisterResourceResponse(
            urn=urn,
            id=outcome.id,
            object=wire.to_struct(outcome.outputs),
            # A failed resource resolves its outputs as unknown; the program carries on, as with
            # `pulumi up --continue-on-error`, and resources depending on it are skipped.
            result=resource_pb2.Result.FAIL if outcome.failed else resource_pb2.Result.SUCCESS,
        )

    def RegisterResourceOutputs(self, request: resource_pb2.RegisterResourceOutputsRequest) -> Any:
        if request.urn != self.stack_urn:
            outputs = rpc.deserialize_properties(request.outputs, keep_unknowns=True)
            self.deployment.register_outputs(request.urn, dict(outputs))
        return empty_pb2.Empty()

    def ReadResource(self, request: resource_pb2.ReadResourceRequest) -> Any:
        raise HarnessError(f"reading existing resources (get / opts.id) is not supported: {request.type}")
