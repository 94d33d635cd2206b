"""``python -m benchmarks`` (``make bench``): the scenarios, the table, the checks, the exit status."""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from benchmarks.real_engine import REAL_ENGINE, CliBench, cli_available, cli_bench
from benchmarks.report import breakdown, checks_text, settings_line, table
from benchmarks.runner import Measurement, Options, StackBench, stack_bench
from benchmarks.targets import (
    DESTROY,
    NO_OP_UP,
    ONE_TRAIT_CHANGE,
    PREVIEW,
    REFRESH,
    UP_FROM_EMPTY,
    Check,
    check_all,
)

SCALE_SIZES = (50, 200, 500)
QUICK_SCALE_SIZES = (50,)
# --only names: the Flex stack's operations, in the order they run, then the custom-trait stacks.
FLEX_SCENARIOS = {
    "up": UP_FROM_EMPTY,
    "noop": NO_OP_UP,
    "refresh": REFRESH,
    "preview": PREVIEW,
    "change": ONE_TRAIT_CHANGE,
    "destroy": DESTROY,
}
SCENARIOS = (*FLEX_SCENARIOS, "scale")
STAND_IN = "stand-in"
ENGINES = (STAND_IN, REAL_ENGINE)


@dataclass
class Report:
    options: Options
    measurements: list[Measurement]
    checks: list[Check]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


def _flex_steps(bench: StackBench | CliBench) -> list[tuple[str, Callable[[str], Measurement]]]:
    return [
        ("up", bench.up_from_empty),
        ("noop", bench.up),
        ("refresh", bench.refresh),
        ("preview", bench.preview_change),
        ("change", bench.change_one_trait),
        ("destroy", bench.destroy),
    ]


def run(
    options: Options,
    *,
    only: Sequence[str] = (),
    sizes: Sequence[int] = SCALE_SIZES,
    engines: Sequence[str] = (STAND_IN,),
    progress: Callable[[str], None] = lambda _: None,
) -> Report:
    """Run the scenarios; ``only`` limits them (the Flex stack is still created first when one needs it).
    The Flex stack's scenarios run under each of ``engines``, their rows side by side; scale runs on the
    stand-in."""
    selected = set(only or SCENARIOS)
    measurements: list[Measurement] = []
    flex_rows: dict[str, list[Measurement]] = {}

    def record(measurement: Measurement, shown: bool, rows: list[Measurement] = measurements) -> None:
        progress(
            f"{measurement.scenario} ({measurement.label}): {measurement.calls} calls, "
            f"{measurement.seconds:.1f} s{'' if shown else ' (setup, not reported)'}"
        )
        if shown:
            rows.append(measurement)

    if selected & set(FLEX_SCENARIOS):
        for engine in engines:
            with stack_bench(0, options) if engine == STAND_IN else cli_bench(options) as bench:
                for name, step in _flex_steps(bench):
                    if name == "up" or name in selected:
                        rows = flex_rows.setdefault(name, [])
                        record(step(FLEX_SCENARIOS[name]), shown=name in selected, rows=rows)
        for rows in flex_rows.values():
            measurements.extend(rows)
    if "scale" in selected:
        for size in sizes:
            with stack_bench(size, options) as bench:
                record(bench.up_from_empty(UP_FROM_EMPTY), shown=True)
                record(bench.up(NO_OP_UP), shown=True)
                record(bench.refresh(REFRESH), shown=True)
                record(bench.destroy(DESTROY), shown=True)
    return Report(options, measurements, check_all(measurements))


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list of numbers") from None
    if not sizes or any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError("give one or more trait counts of 1 or more, e.g. 50,200,500")
    return sizes


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


def _not_negative(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="API calls, 429s, failures and wall time of the program's operations against the emulator.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="scale to 50 custom traits only (skip 200 and 500)"
    )
    parser.add_argument(
        "--latency-ms", type=_not_negative, default=80.0, help="emulator delay per API call (default 80)"
    )
    parser.add_argument(
        "--time-scale",
        type=_positive,
        default=0.01,
        help="multiply Segment's rate-limit windows and the client's pacing by this (default 0.01: a minute "
        "lasts 0.6 s; 1 is Segment's real clock)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=SCENARIOS,
        metavar="NAME",
        help=f"run only this scenario (repeatable): {', '.join(SCENARIOS)}",
    )
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=None,
        help="custom-trait counts of the scale stacks (default 50,200,500)",
    )
    parser.add_argument(
        "--breakdown", action="store_true", help="also print the calls of each operation by operationId"
    )
    parser.add_argument(
        "--engine",
        action="append",
        choices=ENGINES,
        help="engine of the Flex stack's scenarios (repeatable; default: both when the pulumi CLI is on PATH, "
        "else the stand-in)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    options = Options(latency_ms=args.latency_ms, time_scale=args.time_scale)
    sizes = args.sizes or (QUICK_SCALE_SIZES if args.quick else SCALE_SIZES)
    print(settings_line(options), flush=True)
    started = time.perf_counter()
    engines = args.engine or (ENGINES if cli_available() else (STAND_IN,))
    if REAL_ENGINE in engines and not cli_available():
        print("benchmarks: the pulumi CLI is not on PATH (run `make pulumi`)", file=sys.stderr)
        return 2
    if REAL_ENGINE not in engines:
        print("(the pulumi CLI is not on PATH: the Flex stack runs under the stand-in only)")
    report = run(
        options,
        only=args.only or (),
        sizes=sizes,
        engines=engines,
        progress=lambda text: print(f"  … {text}", file=sys.stderr, flush=True),
    )
    elapsed = time.perf_counter() - started
    print()
    print(table(report.measurements))
    if args.breakdown:
        print()
        print(breakdown(report.measurements))
    print()
    print(checks_text(report.checks))
    print()
    print(
        f"{'all targets met' if report.passed else 'TARGETS MISSED'}; {elapsed:.0f} s in all on "
        f"{os.cpu_count()} cores"
    )
    # Loops the Pulumi SDK opened in worker threads are collected now, while their sockets are still open.
    gc.collect()
    return 0 if report.passed else 1
