"""The printed table and checks."""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.runner import Measurement, Options
from benchmarks.targets import Check, floor_of, ratio_of

COLUMNS = (
    ("operation", "<"),
    ("stack", "<"),
    ("engine", "<"),
    ("objects", ">"),
    ("changed", ">"),
    ("calls", ">"),
    ("reads", ">"),
    ("refresh reads", ">"),
    ("mutations", ">"),
    ("429s", ">"),
    ("failed", ">"),
    ("seconds", ">"),
    ("busy s", ">"),
    ("floor s", ">"),
    ("ratio", ">"),
    ("start s", ">"),
    ("live s", ">"),
)


def settings_line(options: Options) -> str:
    window = 60 * options.time_scale
    return (
        f"emulator latency {options.latency_ms:g} ms per call; Segment's rate limits and the client's pacing on a "
        f"{options.time_scale:g} time scale (a one-minute window lasts {window:g} s)"
    )


def row(m: Measurement) -> tuple[str, ...]:
    return (
        m.scenario,
        m.stack,
        m.engine,
        str(m.objects),
        str(m.changed),
        str(m.calls),
        str(m.reads),
        str(m.refresh_reads),
        str(m.mutations),
        str(m.throttled),
        str(m.failed),
        f"{m.seconds:.1f}",
        f"{m.span:.2f}",
        f"{floor_of(m):.2f}",
        f"{ratio_of(m):.2f}",
        "" if m.resources_start is None else f"{m.resources_start:.2f}",
        "" if m.mapping_active is None else f"{m.mapping_active:.2f}",
    )


def table(measurements: Sequence[Measurement]) -> str:
    rows = [tuple(name for name, _ in COLUMNS), *(row(m) for m in measurements)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]

    def line(cells: tuple[str, ...]) -> str:
        return (
            "| "
            + " | ".join(
                f"{cell:{align}{width}}"
                for cell, (_, align), width in zip(cells, COLUMNS, widths, strict=True)
            )
            + " |"
        )

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if a == ">" else ("-" * (w + 2))
            for (_, a), w in zip(COLUMNS, widths, strict=True)
        )
        + "|"
    )
    return "\n".join([line(rows[0]), rule, *(line(r) for r in rows[1:])])


def breakdown(measurements: Sequence[Measurement]) -> str:
    lines = []
    for m in measurements:
        lines.append(f"{m.scenario} — {m.label}")
        for call, count in sorted(m.operations.items()):
            lines.append(f"  {count:>5}  {call}")
    return "\n".join(lines)


def checks_text(checks: Sequence[Check]) -> str:
    return "\n".join(f"{'PASS' if c.passed else 'FAIL'}  {c.target}: {c.detail}" for c in checks)
