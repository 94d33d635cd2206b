"""Resource state as the engine keeps it between operations, and as a state file would store it.

Simplification: the engine encrypts each secret value where it sits, however deep; here a top-level property
is either secret as a whole (it contained a secret anywhere) or plain.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pulumi.runtime import rpc

from tests.harness.errors import HarnessError

CIPHERTEXT_PLACEHOLDER = "v1:<ciphertext>"
STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass(frozen=True, repr=False)
class ResourceState:
    """One custom resource as a provider produced it: the engine sends these back in later calls."""

    urn: str
    type: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]

    @property
    def name(self) -> str:
        return urn_name(self.urn)

    def __repr__(self) -> str:
        # Values stay out of the repr: they may hold credentials or the pickled provider.
        return (
            f"ResourceState(urn={self.urn!r}, id={self.id!r}, inputs={sorted(self.inputs)}, "
            f"outputs={sorted(self.outputs)})"
        )


@dataclass(repr=False)
class StateResource:
    """A resource in the stack's state, with the options the program registered it with."""

    urn: str
    name: str
    type: str
    custom: bool
    id: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    parent: str = ""
    provider: str = ""
    dependencies: tuple[str, ...] = ()
    property_dependencies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    protect: bool = False
    retain_on_delete: bool = False
    delete_before_replace: bool = False
    additional_secret_outputs: tuple[str, ...] = ()
    secret_inputs: frozenset[str] = frozenset()
    secret_outputs: frozenset[str] = frozenset()
    sequence: int = 0

    def as_resource_state(self) -> ResourceState:
        return ResourceState(self.urn, self.type, self.id, dict(self.inputs), dict(self.outputs))

    def depends_on(self) -> set[str]:
        """URNs this resource needs: explicit and property dependencies, its parent, its explicit provider."""
        needed = set(self.dependencies)
        for urns in self.property_dependencies.values():
            needed.update(urns)
        if self.parent:
            needed.add(self.parent)
        if self.provider:
            needed.add(self.provider.rsplit("::", 1)[0])  # a provider reference is "<urn>::<id>"
        return needed

    def plaintext_view(self) -> dict[str, Any]:
        """This resource as a checkpoint stores it: secret values replaced by ciphertext."""
        return {
            "urn": self.urn,
            "custom": self.custom,
            "type": self.type,
            "id": self.id,
            "inputs": _encrypt_secrets(self.inputs, self.secret_inputs),
            "outputs": _encrypt_secrets(self.outputs, self.secret_outputs),
            "parent": self.parent,
            "provider": self.provider,
            "dependencies": list(self.dependencies),
            "propertyDependencies": {key: list(urns) for key, urns in self.property_dependencies.items()},
            "protect": self.protect,
            "retainOnDelete": self.retain_on_delete,
            "deleteBeforeReplace": self.delete_before_replace,
            "additionalSecretOutputs": list(self.additional_secret_outputs),
        }

    def __repr__(self) -> str:
        return (
            f"StateResource(name={self.name!r}, type={self.type!r}, id={self.id!r}, protect={self.protect}, "
            f"inputs={sorted(self.inputs)}, outputs={sorted(self.outputs)}, "
            f"secret_outputs={sorted(self.secret_outputs)})"
        )


class StackState:
    """Everything ``pulumi up`` left behind, kept between operations of a :class:`ProgramEngine`."""

    def __init__(self) -> None:
        self.resources: dict[str, StateResource] = {}
        self.outputs: dict[str, Any] = {}
        self.secret_outputs: frozenset[str] = frozenset()
        self.pending_deletes: list[StateResource] = []
        """Objects replaced create-before-delete whose delete has not succeeded yet (the next up retries)."""
        self.stack_urn = ""

    def __len__(self) -> int:
        return len(self.resources)

    def __iter__(self) -> Iterator[StateResource]:
        return iter(sorted(self.resources.values(), key=lambda resource: resource.sequence))

    def __contains__(self, name: object) -> bool:
        return any(resource.name == name for resource in self.resources.values())

    def __repr__(self) -> str:
        return f"StackState(resources={self.names()}, outputs={sorted(self.outputs)})"

    def names(self) -> list[str]:
        return [resource.name for resource in self]

    def find(self, name: str, type_: str | None = None) -> StateResource | None:
        matches = [resource for resource in self if resource.name == name and type_ in (None, resource.type)]
        if len(matches) > 1:
            raise ValueError(f"several resources are named {name!r}: pass type_")
        return matches[0] if matches else None

    def get(self, name: str, type_: str | None = None) -> StateResource:
        found = self.find(name, type_)
        if found is None:
            raise KeyError(f"no resource {name!r} in state (have {self.names()})")
        return found

    def by_type(self, type_: str) -> list[StateResource]:
        return [resource for resource in self if resource.type == type_]

    def copy(self) -> StackState:
        return copy.deepcopy(self)

    def plaintext_view(self) -> dict[str, Any]:
        """The state as a Pulumi checkpoint holds it, secrets as ciphertext: assert no secret is in it."""
        stack = {
            "urn": self.stack_urn,
            "custom": False,
            "type": STACK_TYPE,
            "outputs": _encrypt_secrets(self.outputs, self.secret_outputs),
        }
        pending = [{**resource.plaintext_view(), "delete": True} for resource in self.pending_deletes]
        return {"resources": [stack, *(resource.plaintext_view() for resource in self), *pending]}


def delete_order(resources: Iterable[StateResource]) -> list[StateResource]:
    """Dependents before what they depend on; among independent ones, the most recently created first."""
    remaining = list(resources)
    ordered: list[StateResource] = []
    while remaining:
        urns_needed = set().union(*(resource.depends_on() for resource in remaining))
        free = [resource for resource in remaining if resource.urn not in urns_needed]
        if not free:
            raise HarnessError(f"dependency cycle among {[resource.urn for resource in remaining]}")
        chosen = max(free, key=lambda resource: resource.sequence)
        ordered.append(chosen)
        remaining = [resource for resource in remaining if resource is not chosen]
    return ordered


def make_urn(stack: str, project: str, type_: str, name: str, parent: str = "") -> str:
    """The engine's URN: the type is qualified by the parent's qualified type, unless that is the stack."""
    parent_type = parent.split("::")[2] if parent.count("::") >= 3 else ""
    if parent_type and parent_type != STACK_TYPE:
        type_ = f"{parent_type}${type_}"
    return f"urn:pulumi:{stack}::{project}::{type_}::{name}"


def urn_name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def urn_type(urn: str) -> str:
    return urn.split("::")[2].split("$")[-1] if urn.count("::") >= 3 else ""


def _encrypt_secrets(props: dict[str, Any], secret_keys: frozenset[str]) -> dict[str, Any]:
    return {
        key: {rpc._special_sig_key: rpc._special_secret_sig, "ciphertext": CIPHERTEXT_PLACEHOLDER}
        if key in secret_keys
        else value
        for key, value in props.items()
    }
