"""What one engine operation reports: planned or applied steps, failures, drift and the stack outputs."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

Op = Literal["create", "update", "replace", "delete", "same"]
OPS: tuple[Op, ...] = ("create", "update", "replace", "delete", "same")


@dataclass(frozen=True)
class StepRecord:
    """One resource's step in an operation, e.g. ``update`` of ``urn:pulumi:dev::proj::type::name``."""

    urn: str
    name: str
    type: str
    op: Op


@dataclass(frozen=True)
class Failure:
    urn: str
    name: str
    type: str
    message: str


@dataclass(frozen=True, repr=False)
class Drift:
    """A refresh found outputs other than those in the state; ``before``/``after`` hold changed keys only."""

    urn: str
    name: str
    type: str
    before: dict[str, Any]
    after: dict[str, Any]

    @property
    def keys(self) -> list[str]:
        return sorted(self.before.keys() | self.after.keys())

    def __repr__(self) -> str:
        return f"Drift(name={self.name!r}, type={self.type!r}, keys={self.keys})"


@dataclass
class RunResult:
    """The outcome of ``up``, ``preview``, ``refresh`` or ``destroy``.

    ``outputs`` are the stack outputs with secret values unwrapped; ``secret_outputs`` names those the engine
    would show as ``[secret]``. In a preview, values not known yet are ``pulumi.output.Unknown``.
    """

    operation: str
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: frozenset[str] = frozenset()
    steps: list[StepRecord] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    drift: list[Drift] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """URNs not processed because something they depend on failed (``--continue-on-error`` semantics)."""

    @property
    def ops(self) -> dict[str, Op]:
        """Operation per resource name. Raises if two resources share a name: use :attr:`ops_by_urn`."""
        duplicated = [name for name, count in Counter(step.name for step in self.steps).items() if count > 1]
        if duplicated:
            raise ValueError(f"several resources are named {duplicated}: use ops_by_urn")
        return {step.name: step.op for step in self.steps}

    @property
    def ops_by_urn(self) -> dict[str, Op]:
        return {step.urn: step.op for step in self.steps}

    def op(self, name: str, type_: str | None = None) -> Op:
        matches = [step for step in self.steps if step.name == name and type_ in (None, step.type)]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} steps for resource {name!r} (type {type_ or 'any'})")
        return matches[0].op

    @property
    def changes(self) -> dict[str, Op]:
        """Steps other than ``same``, by URN."""
        return {step.urn: step.op for step in self.steps if step.op != "same"}

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def count(self, op: Op) -> int:
        return sum(1 for step in self.steps if step.op == op)
