"""The project's own overhead under the real ``pulumi`` CLI, and its targets.

A command's overhead is its wall time, less Pulumi's floor (the same command, in the same run, on a program of
trivial dynamic resources: ``benchmarks/floor.py``), less the time the emulator spent serving its requests (the
union of the requests' spans, arrival to answer). What is left is the project's own: its language host, imports,
program, provider process, the state its resources write, its teardown.

Over several repetitions the overhead is the median of each repetition's own difference: a repetition runs the
floor's command shortly before the Flex stack's, so the two share the machine's load at that moment, which
medians taken apart would lose.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from benchmarks.targets import (
    DESTROY,
    DRIFT_PREVIEW,
    NO_OP_UP,
    ONE_TRAIT_CHANGE,
    PREVIEW,
    PREVIEW_NO_CHANGES,
    REFRESH,
    UP_FROM_EMPTY,
    Check,
)

OVERHEAD_TARGET = 0.5
"""Seconds: the most a Flex-stack command may cost above Pulumi's floor and the emulator's answers."""
PER_RESOURCE_TARGETS = {NO_OP_UP: 0.005, UP_FROM_EMPTY: 0.025}
"""Seconds per resource at the largest stack, above the floor of as many trivial dynamic resources."""

FLOOR_SCENARIOS = (PREVIEW_NO_CHANGES, UP_FROM_EMPTY, NO_OP_UP, REFRESH, DESTROY)
"""What each floor program runs, in this order, every repetition: the rows of the side-by-side table."""
FLOOR_OF = {
    UP_FROM_EMPTY: UP_FROM_EMPTY,
    PREVIEW_NO_CHANGES: PREVIEW_NO_CHANGES,
    NO_OP_UP: NO_OP_UP,
    REFRESH: REFRESH,
    DESTROY: DESTROY,
    DRIFT_PREVIEW: PREVIEW_NO_CHANGES,
    PREVIEW: PREVIEW_NO_CHANGES,
    ONE_TRAIT_CHANGE: NO_OP_UP,
}
"""The floor command of each Flex scenario: the same ``pulumi`` command line. A trivial resource cannot drift or
change, so the previews and the one-trait up are held to the floor of the same command with nothing to do."""
SIDE_BY_SIDE = {
    PREVIEW_NO_CHANGES: "preview, no changes",
    UP_FROM_EMPTY: "up from empty",
    NO_OP_UP: "no-op up",
    REFRESH: "refresh",
    DESTROY: "destroy",
}

EMPTY_PROGRAM = "empty program"
ONE_RESOURCE = "one dynamic resource"


def trivial_resources(count: int) -> str:
    return ONE_RESOURCE if count == 1 else f"{count} trivial dynamic resources"


def served_seconds(spans: Iterable[tuple[float, float]]) -> float:
    """Seconds covered by at least one of the ``(start, end)`` spans: requests served at once count once."""
    covered = 0.0
    reached = float("-inf")
    for start, end in sorted(spans):
        if end > reached:
            covered += end - max(start, reached)
            reached = end
    return covered


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("no runs to take the median of")
    return float(statistics.median(values))


@dataclass(frozen=True)
class Overhead:
    """One Flex command against its floor (medians of ``runs``)."""

    scenario: str
    stack: str
    resources: int
    """The stack's dynamic resources (Segment objects); the floor program has as many, or one."""
    runs: int
    wall: float
    floor: float
    floor_program: str
    waiting: float
    overhead: float
    """Seconds: the median over the runs of wall - floor - waiting, each run against the floor run beside it."""
    target: float | None
    """Seconds for the command, or per resource when ``per_resource``; None: printed, not judged."""
    per_resource: bool = False
    setting: str = ""
    """What the command ran with besides the defaults (``PULUMI_SKIP_CHECKPOINTS=true``)."""

    @property
    def judged(self) -> float:
        """What the target is compared with: the overhead, or the overhead per resource."""
        return self.overhead / self.resources if self.per_resource else self.overhead

    @property
    def label(self) -> str:
        return f"{self.scenario}, {self.stack} under the pulumi CLI" + (
            f", {self.setting}" if self.setting else ""
        )


def overhead_of(
    scenario: str,
    stack: str,
    resources: int,
    walls: Sequence[float],
    waits: Sequence[float],
    floors: Sequence[float],
    floor_program: str,
    *,
    per_resource: bool = False,
    setting: str = "",
    judged: bool = True,
) -> Overhead:
    target = (PER_RESOURCE_TARGETS.get(scenario) if per_resource else OVERHEAD_TARGET) if judged else None
    if not len(walls) == len(waits) == len(floors):
        raise ValueError(f"{scenario}: {len(walls)} runs, {len(waits)} waits and {len(floors)} floor runs")
    return Overhead(
        scenario=scenario,
        stack=stack,
        resources=resources,
        runs=len(walls),
        wall=median(walls),
        floor=median(floors),
        floor_program=floor_program,
        waiting=median(waits),
        overhead=median(
            [wall - floor - wait for wall, floor, wait in zip(walls, floors, waits, strict=True)]
        ),
        target=target,
        per_resource=per_resource,
        setting=setting,
    )


def overhead_checks(rows: Iterable[Overhead]) -> list[Check]:
    checks = []
    for row in rows:
        if row.target is None:
            continue
        if row.runs == 1:
            sums = (
                f"{row.wall:.2f} s wall - {row.floor:.2f} s floor ({row.floor_program}) - {row.waiting:.2f} s "
                f"waiting on the emulator = {row.overhead:.2f} s"
            )
        else:
            sums = (
                f"wall - floor ({row.floor_program}) - waiting on the emulator, run by run: median "
                f"{row.overhead:.2f} s (medians apart: {row.wall:.2f} s wall, {row.floor:.2f} s floor, "
                f"{row.waiting:.2f} s waiting)"
            )
        if row.per_resource:
            detail = (
                f"{sums}, {row.judged * 1000:.1f} ms per resource ({row.resources}), target "
                f"{row.target * 1000:g} ms"
            )
        else:
            detail = f"{sums}, target {row.target:.2f} s"
        runs = f"median of {row.runs} runs" if row.runs > 1 else "1 run"
        checks.append(Check(f"{row.label}: overhead", row.judged <= row.target, f"{detail} ({runs})"))
    return checks


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """A Markdown table; the first ``left`` columns are text, the others figures (right-aligned)."""
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return (
            "| "
            + " | ".join(
                f"{c:<{w}}" if i < left else f"{c:>{w}}"
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
            + " |"
        )

    rule = "|".join(("-" * (w + 2)) if i < left else ("-" * (w + 1) + ":") for i, w in enumerate(widths))
    return "\n".join([line(header), f"|{rule}|", *(line(r) for r in rows)])


def overhead_table(rows: Sequence[Overhead]) -> str:
    header = (
        "command",
        "stack",
        "floor program",
        "runs",
        "wall s",
        "floor s",
        "waiting s",
        "overhead s",
        "per resource ms",
        "target",
    )
    cells = []
    for row in rows:
        if row.target is None:
            target = "(printed only)"
        elif row.per_resource:
            target = f"{row.target * 1000:g} ms"
        else:
            target = f"{row.target:.2f} s"
        cells.append(
            (
                row.scenario + (f" ({row.setting})" if row.setting else ""),
                row.stack,
                row.floor_program,
                str(row.runs),
                f"{row.wall:.2f}",
                f"{row.floor:.2f}",
                f"{row.waiting:.2f}",
                f"{row.overhead:.2f}",
                f"{row.judged * 1000:.1f}" if row.per_resource else "",
                target,
            )
        )
    return _table(header, cells, left=3)


def side_by_side(floors: Mapping[str, Mapping[str, float]], flex: Mapping[str, float], runs: int) -> str:
    """The issue's table, re-measured in this run: each command's median wall time on Pulumi's two small floor
    programs and on the Flex dev stack."""
    columns = [*floors, "Flex dev stack"]
    header = ("command", *(f"{c} s" for c in columns))
    rows = [
        (
            name,
            *(f"{floors[c][scenario]:.2f}" if scenario in floors[c] else "" for c in floors),
            f"{flex[scenario]:.2f}" if scenario in flex else "",
        )
        for scenario, name in SIDE_BY_SIDE.items()
    ]
    return f"Wall time, median of {runs} run{'s' if runs != 1 else ''}, same CLI, same run:\n" + _table(
        header, rows
    )
