"""The API-call budget: what each scenario must cost, checked against the measurements.

* A create from empty costs one mutating call per object, plus lookups whose number does not depend on how many
  objects there are (catalog pages are read once per provider process, the workspace once). Where Segment's API
  needs a second call the expectation says so: the space is looked up, never created (no call); a scheduled
  mapping is created and then given its schedule (the create cannot carry it); a named source is created and then
  named (only the alpha create takes a name, and it cannot keep the source off every warehouse), then labelled
  with its environment (no create or update takes labels).
* A no-op ``up`` makes no mutating call.
* A refresh reads each object once. Two reads do not depend on the objects: the workspace (once per provider
  process, for app URLs) and the source list that finds the space's Profiles source (the space resource reports
  its write key, which the mapping needs).
* A one-trait change makes one mutating call; a destroy one per object (none for the space, which is released).
* Nothing fails, and the largest stack is paced by the client's rate limiter, not by 429s. The budgets count
  the mutating calls Segment accepted: a call answered 429 and sent again is counted once there, and shows in
  the 429s column and the pacing check instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from benchmarks.runner import Measurement

UP_FROM_EMPTY = "up from empty"
NO_OP_UP = "no-op up"
REFRESH = "refresh"
ONE_TRAIT_CHANGE = "one-trait change, up"
DESTROY = "destroy"

# Reads of a refresh that are not per object: the workspace (once per provider process) and the space's
# Profiles source (found by listing sources).
REFRESH_FIXED_READS = ("getWorkspace", "listSources")


@dataclass(frozen=True)
class Check:
    target: str
    passed: bool
    detail: str


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _rows(measurements: Iterable[Measurement], scenario: str) -> list[Measurement]:
    return [m for m in measurements if m.scenario == scenario]


def check_all(measurements: Sequence[Measurement]) -> list[Check]:
    checks: list[Check] = []
    ups = _rows(measurements, UP_FROM_EMPTY)
    for m in ups:
        checks.append(
            Check(
                f"{m.label}: a create costs one mutating call per object",
                m.accepted_mutations == m.expected_mutations,
                f"{_n(m.accepted_mutations, 'mutating call')} for {_n(m.objects, 'object')}, budget {m.expected_mutations} "
                "(the space is looked up; the scheduled mapping takes a second call, each named source a second and a "
                "third for its environment label)",
            )
        )
    stand_in_ups = [m for m in ups if m.engine == "stand-in"]
    if len(stand_in_ups) > 1:
        reads = {m.stack: m.reads for m in stand_in_ups}
        checks.append(
            Check(
                "creates: lookups do not grow with the number of objects",
                len(set(reads.values())) == 1,
                ", ".join(f"{stack}: {_n(count, 'read')}" for stack, count in reads.items()),
            )
        )
    for m in _rows(measurements, NO_OP_UP):
        checks.append(
            Check(
                f"{m.label}: a no-op up makes no mutating call",
                m.mutations == 0 and m.changed == 0,
                f"{_n(m.mutations, 'mutating call')}, {_n(m.changed, 'resource')} changed, "
                f"{_n(m.reads, 'read')} (the program's checks)",
            )
        )
    for m in _rows(measurements, REFRESH):
        fixed = {op: m.calls_to(op) for op in REFRESH_FIXED_READS}
        per_object = m.reads - sum(fixed.values())
        checks.append(
            Check(
                f"{m.label}: a refresh reads each object once",
                per_object == m.objects and all(n <= 1 for n in fixed.values()) and m.mutations == 0,
                f"{_n(m.reads, 'read')} for {_n(m.objects, 'object')}: {per_object} by object + "
                + " + ".join(f"{n} {op}" for op, n in fixed.items())
                + f"; {_n(m.mutations, 'mutating call')}",
            )
        )
    for m in _rows(measurements, ONE_TRAIT_CHANGE):
        checks.append(
            Check(
                f"{m.label}: a one-trait change makes one mutating call",
                m.accepted_mutations == 1 and m.changed == 1,
                f"{_n(m.accepted_mutations, 'mutating call')}, {_n(m.changed, 'resource')} changed",
            )
        )
    for m in _rows(measurements, DESTROY):
        checks.append(
            Check(
                f"{m.label}: a destroy costs one mutating call per object",
                m.accepted_mutations == m.expected_mutations and m.changed == m.objects,
                f"{_n(m.accepted_mutations, 'mutating call')} for {_n(m.objects, 'object')}, budget {m.expected_mutations} "
                f"(the space is released, not deleted); {m.changed} removed from the stack",
            )
        )
    failed = [m for m in measurements if m.failed or m.error]
    checks.append(
        Check(
            "every operation: no failed resource",
            not failed,
            "none failed"
            if not failed
            else "; ".join(f"{m.scenario} ({m.label}): {m.failed} failed, {m.error}" for m in failed),
        )
    )
    if ups:
        largest = max(ups, key=lambda m: m.objects)
        checks.append(
            Check(
                f"{largest.label}: created with no failure, paced by the rate limiter (no 429)",
                largest.failed == 0 and largest.error is None and largest.throttled == 0,
                f"{largest.failed} failed, {_n(largest.throttled, 'answer')} 429 in {_n(largest.calls, 'call')}, "
                f"{largest.seconds:.1f} s",
            )
        )
    return checks
