"""Drive one dynamic resource through the provider server with the engine's calls, in the engine's order.

What the engine does, and this reproduces:

* ``Check(olds=<stored inputs>, news=<program inputs + __provider>)`` before anything else; failures stop the
  resource; the checked inputs are what ``Create``/``Diff``/``Update`` receive and what the state keeps;
* ``Diff(olds=<stored outputs>, news=<checked inputs>, old_inputs=<stored inputs>)``; ``DIFF_UNKNOWN`` (the
  provider's ``changes=None``) falls back to comparing stored and new inputs, so a new ``__provider`` blob is
  an update; changes with ``replaces`` are a replacement, re-checked without olds as the engine does;
* a replacement creates the new object then deletes the old one, or deletes first when the diff (or the
  ``delete_before_replace`` option) says so; a protected resource is never replaced;
* ``Read(properties=<stored outputs>, inputs=<stored inputs>)``: an empty id means the object is gone;
* ``Delete(properties=<stored outputs>)``: the provider is unpickled from the outputs written last.

Values cross the wire with the SDK's own
``serialize_properties``/``deserialize_properties(keep_unknowns=True)``, so ints come back as floats and
``None`` values vanish, exactly as providers see them under the real engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime.proto import provider_pb2

from tests.harness import wire
from tests.harness.errors import CheckFailed, ProviderError, ResourceProtected
from tests.harness.results import Op
from tests.harness.server import ProviderServer
from tests.harness.state import ResourceState, make_urn, urn_name

StateCallback = Callable[[ResourceState], None]


@dataclass(frozen=True)
class CheckOutcome:
    inputs: dict[str, Any]
    failures: list[tuple[str, str]]

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class DiffOutcome:
    """The provider's diff. ``changes`` is ``None`` when it answered "unknown" (the SDK default)."""

    changes: bool | None
    replaces: list[str]
    delete_before_replace: bool
    inputs_changed: bool = False
    """Whether stored and new checked inputs differ: the engine's verdict when ``changes`` is ``None``."""

    @property
    def has_changes(self) -> bool:
        return self.changes if self.changes is not None else self.inputs_changed

    @property
    def needs_replace(self) -> bool:
        return self.has_changes and bool(self.replaces)


@dataclass(frozen=True, repr=False)
class PlannedStep:
    """What the engine decided for one resource after Check (and Diff): the ``preview`` half of ``apply``."""

    urn: str
    type: str
    op: Op
    inputs: dict[str, Any]
    diff: DiffOutcome | None = None
    prior: ResourceState | None = None

    def __repr__(self) -> str:
        return f"PlannedStep(urn={self.urn!r}, op={self.op!r}, diff={self.diff!r})"


class ResourceDriver:
    """Engine-side calls for single resources. ``stack`` only shapes the URNs."""

    def __init__(self, server: ProviderServer, *, stack: str = "test") -> None:
        self.server = server
        self.stack = stack

    def urn(self, name: str, type_: wire.TypeRef, parent: str = "") -> str:
        """``urn:pulumi:<stack>::<project>::[<parent type>$]<type>::<name>``."""
        return make_urn(self.stack, self.server.project, wire.type_token(type_), name, parent)

    # the six provider calls

    def check(
        self,
        type_: wire.TypeRef,
        provider: wire.ProviderRef,
        olds: Mapping[str, Any],
        news: Mapping[str, Any],
        *,
        name: str = "resource",
        urn: str | None = None,
    ) -> CheckOutcome:
        token = wire.type_token(type_)
        urn = urn or self.urn(name, token)
        request = provider_pb2.CheckRequest(
            urn=urn,
            name=urn_name(urn),
            type=token,
            olds=_struct(olds),
            news=_struct(with_provider(news, provider)),
        )
        response = self.server.call("Check", request, urn=urn)
        failures = [(failure.property, failure.reason) for failure in response.failures]
        return CheckOutcome(wire.from_struct(response.inputs), failures)

    def create(
        self,
        name: str,
        type_: wire.TypeRef,
        provider: wire.ProviderRef,
        inputs: Mapping[str, Any],
        *,
        urn: str | None = None,
    ) -> ResourceState:
        """Check, then Create. Raises :class:`CheckFailed` with the provider's failures."""
        token = wire.type_token(type_)
        urn = urn or self.urn(name, token)
        checked = self.checked_inputs(token, provider, {}, inputs, urn=urn)
        return self.create_checked(urn, token, checked)

    def read(self, state: ResourceState) -> ResourceState | None:
        """Refresh one resource; ``None`` when the provider answers with an empty id (gone)."""
        request = provider_pb2.ReadRequest(
            id=state.id,
            urn=state.urn,
            name=state.name,
            type=state.type,
            properties=_struct(state.outputs),
            inputs=_struct(state.inputs),
        )
        response = self.server.call("Read", request, urn=state.urn)
        if not response.id:
            return None
        inputs = wire.from_struct(response.inputs) if response.HasField("inputs") else dict(state.inputs)
        return ResourceState(
            state.urn, state.type, response.id, inputs, wire.from_struct(response.properties)
        )

    def diff(
        self,
        state: ResourceState,
        provider: wire.ProviderRef,
        news: Mapping[str, Any],
        *,
        ignore_changes: Sequence[str] = (),
    ) -> DiffOutcome:
        """Check against the stored inputs, then Diff against the stored outputs."""
        news = apply_ignore_changes(state.inputs, news, ignore_changes)
        checked = self.checked_inputs(state.type, provider, state.inputs, news, urn=state.urn)
        return self.diff_checked(state, checked, ignore_changes=ignore_changes)

    def update(
        self, state: ResourceState, provider: wire.ProviderRef, news: Mapping[str, Any]
    ) -> ResourceState:
        """Check against the stored inputs, then Update."""
        checked = self.checked_inputs(state.type, provider, state.inputs, news, urn=state.urn)
        return self.update_checked(state, checked)

    def delete(self, state: ResourceState) -> None:
        request = provider_pb2.DeleteRequest(
            id=state.id,
            urn=state.urn,
            name=state.name,
            type=state.type,
            properties=_struct(state.outputs),
            old_inputs=_struct(state.inputs),
        )
        self.server.call("Delete", request, urn=state.urn)

    # steps built from those calls

    def checked_inputs(
        self,
        type_: wire.TypeRef,
        provider: wire.ProviderRef,
        olds: Mapping[str, Any],
        news: Mapping[str, Any],
        *,
        urn: str,
    ) -> dict[str, Any]:
        outcome = self.check(type_, provider, olds, news, urn=urn)
        if outcome.failures:
            raise CheckFailed(urn, outcome.failures)
        return outcome.inputs

    def create_checked(self, urn: str, type_: str, inputs: Mapping[str, Any]) -> ResourceState:
        request = provider_pb2.CreateRequest(
            urn=urn, name=urn_name(urn), type=type_, properties=_struct(inputs)
        )
        response = self.server.call("Create", request, urn=urn)
        if not response.id:
            raise ProviderError("Create", urn, "INTERNAL", "provider returned an empty id")
        return ResourceState(urn, type_, response.id, dict(inputs), wire.from_struct(response.properties))

    def diff_checked(
        self, state: ResourceState, checked: Mapping[str, Any], *, ignore_changes: Sequence[str] = ()
    ) -> DiffOutcome:
        request = provider_pb2.DiffRequest(
            id=state.id,
            urn=state.urn,
            name=state.name,
            type=state.type,
            olds=_struct(state.outputs),
            news=_struct(checked),
            old_inputs=_struct(state.inputs),
            ignoreChanges=list(ignore_changes),
        )
        response = self.server.call("Diff", request, urn=state.urn)
        verdicts = {provider_pb2.DiffResponse.DIFF_SOME: True, provider_pb2.DiffResponse.DIFF_NONE: False}
        return DiffOutcome(
            changes=verdicts.get(response.changes),
            replaces=list(response.replaces),
            delete_before_replace=response.deleteBeforeReplace,
            inputs_changed=dict(state.inputs) != dict(checked),
        )

    def update_checked(self, state: ResourceState, checked: Mapping[str, Any]) -> ResourceState:
        request = provider_pb2.UpdateRequest(
            id=state.id,
            urn=state.urn,
            name=state.name,
            type=state.type,
            olds=_struct(state.outputs),
            news=_struct(checked),
            old_inputs=_struct(state.inputs),
        )
        response = self.server.call("Update", request, urn=state.urn)
        return ResourceState(
            state.urn, state.type, state.id, dict(checked), wire.from_struct(response.properties)
        )

    def plan(
        self,
        name: str,
        type_: wire.TypeRef,
        provider: wire.ProviderRef,
        inputs: Mapping[str, Any],
        state: ResourceState | None = None,
        *,
        urn: str | None = None,
        ignore_changes: Sequence[str] = (),
    ) -> PlannedStep:
        """Check (and Diff) only, as a preview does: the step ``apply`` would take, with which inputs."""
        token = wire.type_token(type_)
        urn = urn or (state.urn if state else self.urn(name, token))
        if state is None:
            return PlannedStep(
                urn, token, "create", self.checked_inputs(token, provider, {}, inputs, urn=urn)
            )
        news = apply_ignore_changes(state.inputs, inputs, ignore_changes)
        checked = self.checked_inputs(token, provider, state.inputs, news, urn=urn)
        diff = self.diff_checked(state, checked, ignore_changes=ignore_changes)
        if not diff.has_changes:
            return PlannedStep(urn, token, "same", checked, diff, state)
        if not diff.replaces:
            return PlannedStep(urn, token, "update", checked, diff, state)
        # A replacement is a new object: the engine checks its inputs again without olds.
        rechecked = self.checked_inputs(token, provider, {}, news, urn=urn)
        return PlannedStep(urn, token, "replace", rechecked, diff, state)

    def apply(
        self,
        name: str,
        type_: wire.TypeRef,
        provider: wire.ProviderRef,
        inputs: Mapping[str, Any],
        state: ResourceState | None = None,
        *,
        urn: str | None = None,
        protect: bool = False,
        delete_before_replace: bool = False,
        ignore_changes: Sequence[str] = (),
        defer_delete: StateCallback | None = None,
        on_deleted: StateCallback | None = None,
        before_delete: StateCallback | None = None,
    ) -> tuple[ResourceState, Op]:
        """What ``pulumi up`` does for one resource: check → create, or check → diff → same/update/replace.

        ``defer_delete`` receives the replaced object instead of deleting it right away (the engine deletes
        replaced objects at the end of the deployment); ``on_deleted`` hears about a delete-before-replace
        delete as soon as it happened, so a failing create that follows does not leave a ghost in the state;
        ``before_delete`` runs just before that delete (the engine deletes the dependents it would replace).
        """
        step = self.plan(name, type_, provider, inputs, state, urn=urn, ignore_changes=ignore_changes)
        return self.execute(
            step,
            protect=protect,
            delete_before_replace=delete_before_replace,
            defer_delete=defer_delete,
            on_deleted=on_deleted,
            before_delete=before_delete,
        )

    def execute(
        self,
        step: PlannedStep,
        *,
        protect: bool = False,
        delete_before_replace: bool = False,
        defer_delete: StateCallback | None = None,
        on_deleted: StateCallback | None = None,
        before_delete: StateCallback | None = None,
    ) -> tuple[ResourceState, Op]:
        prior = step.prior
        if step.op == "create" or prior is None:
            return self.create_checked(step.urn, step.type, step.inputs), "create"
        if step.op == "same":
            # The engine keeps the stored outputs and records the new checked inputs.
            return ResourceState(prior.urn, prior.type, prior.id, step.inputs, prior.outputs), "same"
        if step.op == "update":
            return self.update_checked(prior, step.inputs), "update"
        if protect:
            raise ResourceProtected(prior.urn, "replace")
        assert step.diff is not None
        if step.diff.delete_before_replace or delete_before_replace:
            if before_delete is not None:
                before_delete(prior)
            self.delete(prior)
            if on_deleted is not None:
                on_deleted(prior)
            return self.create_checked(step.urn, step.type, step.inputs), "replace"
        replacement = self.create_checked(step.urn, step.type, step.inputs)
        if defer_delete is not None:
            defer_delete(prior)
        else:
            self.delete(prior)
        return replacement, "replace"


def with_provider(props: Mapping[str, Any], provider: wire.ProviderRef) -> dict[str, Any]:
    """Program inputs plus ``__provider`` as the engine sends them to this provider: no secret markers."""
    plain = wire.strip_secrets({key: value for key, value in props.items() if key != wire.PROVIDER_KEY})
    return {**plain, wire.PROVIDER_KEY: wire.provider_blob(provider)}


def apply_ignore_changes(
    old_inputs: Mapping[str, Any], news: Mapping[str, Any], ignore_changes: Sequence[str]
) -> dict[str, Any]:
    """``ignore_changes`` keeps the stored value of each listed top-level property (no nested paths)."""
    merged = dict(news)
    for key in ignore_changes:
        if key in old_inputs:
            merged[key] = old_inputs[key]
        else:
            merged.pop(key, None)
    return merged


def _struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    return wire.to_struct(wire.strip_secrets(dict(props)))
