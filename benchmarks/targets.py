"""The budget of every scenario, checked against the measurements: reads, mutating calls, 429s and time.

Every row (each scenario, each stack, each engine) gets the same four checks:

* **reads**: what the API forces, no more.
  * up from empty: at most 8 lookups (the space list, the source list — the space's Profiles source and the
    sources' environment labels —, one read per Flex event the traits use, the workspace once, one page of each
    of the three catalogs), plus one list before each create of a kind Segment does not keep unique (the
    warehouse, the model, the destination, the mapping: 4), plus the warehouse settings check the stack asks for
    (``warehouse.validateConnection``);
  * no-op up, preview, one-trait change: the program's checks only, at most 4 (the space list, the source list,
    each Flex event's properties); Pulumi's default ``up`` runs the program twice (preview, then update), so 4
    per engine pass;
  * refresh: one read per object, plus at most one (the source list that finds the space's Profiles source);
    the workspace comes from the state;
  * destroy: at most 4, whatever the number of objects: the environment check reads each owning source once
    (two), the destination's source once, the warehouse's connected sources once.
* **refresh reads** (the rows under the ``pulumi CLI``): the project option ``refresh: always`` reads every
  object back before a ``preview``, ``up`` or ``destroy`` (docs/drift.md). Those reads are counted on their own
  line, budget one per object plus the space's Profiles source, as a ``refresh``; none before an up from empty.
  The other checks are about the operation after it.
* **mutating calls**: one per object created (and where Segment's API needs more, the budget says so); none for
  a no-op up, a preview or a refresh; one for the one-trait change; one per object deleted (the space is only
  released). Calls answered 429 are judged by the next check, not here.
* **no 429**: the client's pacer spaces the calls; Segment never refuses one.
* **time**: the seconds the operation kept Segment busy (first request to last answer, less the pause between
  the program's checks and the resources' first call: the program's own work and the provider's start-up,
  printed as ``start s``) against its floor,
  the larger of the rate-limit floor (the windows Segment's limits force on the calls made) and the latency
  floor (the calls that must follow one another, and the provider's 4 workers): at most 2.0 times the floor.

And three more:

* the largest stack's trait creates go at Segment's limit: from the first create to the last answer, at most
  1.10 times the windows the limit forces (``ceil(n / 10) - 1`` minutes on the scaled clock);
* in every up from empty, the Reverse ETL mapping is live (its destination switched on) within twice the
  latency of its data path's calls in a row, counted from the resources' first call (before it, Pulumi runs
  the program to its end: every resource is constructed before any is sent to the engine);
* nothing fails.

The rows run with Segment's rate limits off (the largest stack under the real CLI) get no time check: unpaced,
their calls are spread by the engine's own work between steps, which their overhead above Pulumi's floor judges.
They run with no emulator latency either, so they get no mapping check (its unit is the latency); the same
stack's stand-in rows keep it.

Under the real CLI, each command's overhead above Pulumi's own floor has targets too: ``benchmarks/overhead.py``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from benchmarks.runner import PACED_OPERATION as PACED
from benchmarks.runner import Measurement
from segment_provider.api.pacing import SEGMENT_LIMITS

UP_FROM_EMPTY = "up from empty"
NO_OP_UP = "no-op up"
REFRESH = "refresh"
PREVIEW = "preview, one-trait change"
PREVIEW_NO_CHANGES = "preview, no changes"
DRIFT_PREVIEW = "preview, drift in the app"
"""Under the real engine only: a plain ``pulumi preview`` after the mapping was switched off and the model's SQL
edited through Segment's API; the refresh that ``refresh: always`` runs first finds both (docs/drift.md)."""
PREVIEWS = (PREVIEW, PREVIEW_NO_CHANGES, DRIFT_PREVIEW)
ONE_TRAIT_CHANGE = "one-trait change, up"
DESTROY = "destroy"

VALIDATION = "createValidationInWarehouse"
CREATE_LOOKUPS = 8
LOOKS_BEFORE_CREATE = (
    "listWarehouses",
    "listReverseEtlModels",
    "listDestinations",
    "listSubscriptionsFromDestination",
)
"""One list per object of a kind Segment does not keep unique (the warehouse, the model, the destination, the
mapping), sent before its create: an interrupted run may have made it. The stack has one of each, whatever its
number of traits (Segment keeps sources and traits unique: a 409 finds those)."""
PROGRAM_READS = 4
REFRESH_EXTRA_READS = 1
DESTROY_READS = 4

WORKERS = 4
"""Pulumi's dynamic-provider server runs every resource's calls on 4 threads, under both engines."""
PROGRAM_ROUNDS = 2
"""The program's checks, which come before any resource: the space and source lists (sent together), then each
Flex event's properties (sent together)."""
DATA_PATH = (
    "getSourcesCatalog",
    "createSource",
    "updateSource",
    "addLabelsToSource",
    "listDestinations",
    "getDestinationsCatalog",
    "createDestination",
    "listSubscriptionsFromDestination",
    "createDestinationSubscription",
    "updateSubscriptionForDestination",
    "updateDestination",
)
"""The calls from the program's checks to a live mapping, each waiting for the one before: the Reverse ETL
source (created, named, labelled), the Segment Profiles destination on it (looked up first), the mapping (looked
up first) and its schedule, the destination switched on. The model is created beside the destination."""
CHAINS = {
    UP_FROM_EMPTY: PROGRAM_ROUNDS + len(DATA_PATH) + 1,  # then the traits
    NO_OP_UP: PROGRAM_ROUNDS,
    **dict.fromkeys(PREVIEWS, PROGRAM_ROUNDS),
    ONE_TRAIT_CHANGE: PROGRAM_ROUNDS + 1,
    REFRESH: 1,
    # a trait, the activation (its source's label read first: the destination, then the source), the mapping,
    # the destination, the Reverse ETL source
    DESTROY: 1 + 3 + 1 + 1 + 1,
}
"""Calls that follow one another on the longest path of each scenario (the latency floor of small stacks)."""
PROGRAM_CALLS = {UP_FROM_EMPTY, NO_OP_UP, ONE_TRAIT_CHANGE, *PREVIEWS}
LARGEST_UP_RATIO = 1.10
RATIO = 2.0
MAPPING_RATIO = 2.0


@dataclass(frozen=True)
class Check:
    target: str
    passed: bool
    detail: str


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _rows(measurements: Iterable[Measurement], scenario: str) -> list[Measurement]:
    return [m for m in measurements if m.scenario == scenario]


def rate_floor(m: Measurement) -> float:
    """Seconds Segment's per-operation limits force on the calls made: n calls of an operation limited to L per
    window need ceil(n / L) windows, the last one opened (n - 1) // L windows after the first; 0 when the
    emulator enforced no limit."""
    floor = 0.0
    if not m.rate_limits:
        return floor
    for op, n in _accepted_by_operation(m).items():
        limit = SEGMENT_LIMITS.get(op)
        if limit is not None and n > limit.requests:
            floor = max(floor, (math.ceil(n / limit.requests) - 1) * limit.window * m.time_scale + m.latency)
    return floor


def latency_floor(m: Measurement) -> float:
    """Seconds the calls that must follow one another take, at the emulator's latency, and the calls the
    resources make spread over the provider's workers."""
    program = PROGRAM_READS if m.scenario in PROGRAM_CALLS else 0
    rounds = (PROGRAM_ROUNDS if program else 0) + math.ceil(max(0, m.calls - program) / WORKERS)
    return m.latency * max(CHAINS.get(m.scenario, 1), rounds)


def floor_of(m: Measurement) -> float:
    return max(rate_floor(m), latency_floor(m))


def ratio_of(m: Measurement) -> float:
    floor = floor_of(m)
    return m.span / floor if floor > 0 else 0.0


def mapping_floor(m: Measurement) -> float:
    return m.latency * len(DATA_PATH)


def pacing_ratio(m: Measurement) -> float:
    """The trait creates' own span (first to last answer) against the windows Segment's limit forces on them."""
    limit = SEGMENT_LIMITS[PACED]
    n = _accepted_by_operation(m).get(PACED, 0)
    floor = (math.ceil(n / limit.requests) - 1) * limit.window * m.time_scale + m.latency
    return m.paced_span / floor if n > limit.requests and floor > 0 else 0.0


def _accepted_by_operation(m: Measurement) -> dict[str, int]:
    counts: dict[str, int] = {}
    for call, n in m.operations.items():
        if call.status != 429:
            counts[call.operation_id] = counts.get(call.operation_id, 0) + n
    return counts


def read_budget(m: Measurement) -> tuple[int, str]:
    """The most reads the row may make, and why."""
    if m.scenario == UP_FROM_EMPTY:
        checks = min(1, m.calls_to(VALIDATION))
        looks = len(LOOKS_BEFORE_CREATE)
        why = f"{CREATE_LOOKUPS} lookups + {looks} looks before a create" + (
            " + the warehouse settings check" if checks else ""
        )
        return CREATE_LOOKUPS + looks + checks, why
    if m.scenario in (NO_OP_UP, ONE_TRAIT_CHANGE, *PREVIEWS):
        return PROGRAM_READS, "the program's checks"
    if m.scenario == REFRESH:
        return m.objects + REFRESH_EXTRA_READS, "one per object + the space's Profiles source"
    if m.scenario == DESTROY:
        return DESTROY_READS, "each owning source's environment label, once"
    return m.reads, "no budget"


def refresh_read_budget(m: Measurement) -> tuple[int, str]:
    """The most reads the refresh before a CLI ``preview``, ``up`` or ``destroy`` may make, and why."""
    if m.scenario == UP_FROM_EMPTY:
        return 0, "an empty state: nothing to read back"
    return m.objects + REFRESH_EXTRA_READS, "one per object + the space's Profiles source"


def mutation_budget(m: Measurement) -> tuple[int, str]:
    if m.scenario == UP_FROM_EMPTY:
        return m.expected_mutations or 0, (
            "one per object; none for the space (looked up), a second for the scheduled mapping, a second and a "
            "third (the environment label) for each named source"
        )
    if m.scenario == ONE_TRAIT_CHANGE:
        return 1, "the trait's update"
    if m.scenario == DESTROY:
        return m.expected_mutations or 0, "one per object; the space is released, not deleted"
    return 0, "nothing changes"


def check_all(measurements: Sequence[Measurement]) -> list[Check]:
    checks: list[Check] = []
    ups = _rows(measurements, UP_FROM_EMPTY)
    stand_in_ups = [m for m in ups if m.engine == "stand-in"]
    largest = max(stand_in_ups, key=lambda m: m.objects) if len(stand_in_ups) > 1 else None
    for m in measurements:
        reads, why = read_budget(m)
        checks.append(
            Check(f"{m.scenario}, {m.label}: reads", m.reads <= reads, f"{m.reads}, budget {reads} ({why})")
        )
        if m.engine != "stand-in" and m.scenario != REFRESH:
            budget, why = refresh_read_budget(m)
            checks.append(
                Check(
                    f"{m.scenario}, {m.label}: refresh reads",
                    m.refresh_reads <= budget,
                    f"{m.refresh_reads}, budget {budget} ({why})",
                )
            )
        mutations, why = mutation_budget(m)
        checks.append(
            Check(
                f"{m.scenario}, {m.label}: mutating calls",
                m.accepted_mutations == mutations,
                f"{m.accepted_mutations} accepted, budget {mutations} ({why})",
            )
        )
        checks.append(
            Check(
                f"{m.scenario}, {m.label}: no 429",
                m.throttled == 0,
                f"{_n(m.throttled, 'answer')} 429 in {_n(m.calls, 'call')}",
            )
        )
        if not m.rate_limits:
            # Unpaced under the real engine, the calls are spread by the engine's own work between steps, which the
            # overhead above Pulumi's floor judges (benchmarks/overhead.py), not by Segment.
            continue
        target = RATIO
        ratio = ratio_of(m)
        checks.append(
            Check(
                f"{m.scenario}, {m.label}: time",
                0 < ratio <= target,
                f"{m.span:.2f} s busy against a floor of {floor_of(m):.2f} s "
                f"(rate limits {rate_floor(m):.2f} s, latency {latency_floor(m):.2f} s): {ratio:.2f}, target "
                f"{target:.2f}",
            )
        )
    if largest is not None:
        ratio = pacing_ratio(largest)
        checks.append(
            Check(
                f"{largest.scenario}, {largest.label}: the trait creates at Segment's limit",
                0 < ratio <= LARGEST_UP_RATIO,
                f"{largest.paced_span:.2f} s from the first create to the last answer: {ratio:.2f} times the "
                f"windows {SEGMENT_LIMITS[PACED].requests} a minute force, target {LARGEST_UP_RATIO:.2f}",
            )
        )
    for m in ups:
        if not m.latency:
            continue
        floor = MAPPING_RATIO * mapping_floor(m)
        checks.append(
            Check(
                f"{m.scenario}, {m.label}: the mapping goes live first",
                m.mapping_active is not None and m.mapping_active <= floor,
                f"live {m.mapping_active or 0:.2f} s after the resources' first call "
                f"({m.resources_start or 0:.2f} s after the program's), target {floor:.2f} s "
                f"({MAPPING_RATIO:g} x {len(DATA_PATH)} calls in a row x {m.latency * 1000:g} ms)",
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
    return checks
