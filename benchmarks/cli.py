"""``python -m benchmarks`` (``make bench``): the scenarios, the table, the checks, the exit status."""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from benchmarks.overhead import Overhead, overhead_checks, overhead_table, side_by_side
from benchmarks.real_engine import REAL_ENGINE, SCALE_REPEAT, CliRun, run_flex, run_scale
from benchmarks.report import breakdown, checks_text, settings_line, table
from benchmarks.runner import Measurement, Options, StackBench, stack_bench
from benchmarks.scratch import cli_available
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
    "unchanged": PREVIEW_NO_CHANGES,
    "drift": DRIFT_PREVIEW,
}
CLI_ONLY = frozenset({PREVIEW_NO_CHANGES, DRIFT_PREVIEW})
"""Scenarios of the real engine only: the stand-in runs no refresh before a preview."""
CLI_SCALE = "cli-scale"
SCENARIOS = (*FLEX_SCENARIOS, "scale", CLI_SCALE)
REPEAT = 5
STAND_IN = "stand-in"
ENGINES = (STAND_IN, REAL_ENGINE)


@dataclass
class Report:
    options: Options
    measurements: list[Measurement]
    checks: list[Check]
    cli: list[CliRun] = field(default_factory=list)
    """The real engine's runs: the Flex stack's (with the small floor programs), then the largest stack's."""

    @property
    def overheads(self) -> list[Overhead]:
        return [row for run in self.cli for row in run.overheads]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


def _flex_steps(bench: StackBench) -> list[tuple[str, Callable[[str], Measurement]]]:
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
    repeat: int = REPEAT,
    progress: Callable[[str], None] = lambda _: None,
) -> Report:
    """Run the scenarios; ``only`` limits them (the Flex stack is still created first when one needs it).
    The Flex stack's scenarios run under each of ``engines``, their rows side by side; under the real engine
    ``repeat`` times, beside Pulumi's floor programs. ``scale`` runs on the stand-in; ``cli-scale`` (the
    largest of ``sizes``) under the real engine, ``repeat`` times up to ``SCALE_REPEAT``."""
    selected = set(only or SCENARIOS)
    measurements: list[Measurement] = []
    flex_rows: dict[str, list[Measurement]] = {}
    cli: list[CliRun] = []

    def record(measurement: Measurement, shown: bool) -> None:
        progress(
            f"{measurement.scenario} ({measurement.label}): {measurement.calls} calls, "
            f"{measurement.seconds:.1f} s{'' if shown else ' (setup, not reported)'}"
        )

    flex = [FLEX_SCENARIOS[name] for name in FLEX_SCENARIOS if name in selected]
    if flex:
        for engine in engines:
            if engine == STAND_IN:
                with stack_bench(0, options) as bench:
                    for name, step in _flex_steps(bench):
                        if name == "up" or name in selected:
                            measurement = step(FLEX_SCENARIOS[name])
                            record(measurement, name in selected)
                            if name in selected:
                                flex_rows.setdefault(measurement.scenario, []).append(measurement)
            else:
                cli.append(run_flex(options, flex, repeat, record, progress))
                for measurement in cli[-1].measurements:
                    flex_rows.setdefault(measurement.scenario, []).append(measurement)
        for scenario in flex:
            measurements.extend(flex_rows.get(scenario, []))
    if "scale" in selected:
        for size in sizes:
            with stack_bench(size, options) as bench:
                for measurement in (
                    bench.up_from_empty(UP_FROM_EMPTY),
                    bench.up(NO_OP_UP),
                    bench.refresh(REFRESH),
                    bench.destroy(DESTROY),
                ):
                    record(measurement, True)
                    measurements.append(measurement)
    if CLI_SCALE in selected and REAL_ENGINE in engines:
        cli.append(run_scale(options, max(sizes), record, progress, min(repeat, SCALE_REPEAT)))
        measurements.extend(cli[-1].measurements)
    checks = check_all(measurements)
    for run_ in cli:
        checks.extend(run_.checks)
        checks.extend(overhead_checks(run_.overheads))
    return Report(options, measurements, checks, cli)


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


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {text}")
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
    parser.add_argument(
        "--repeat",
        type=_at_least_one,
        default=REPEAT,
        help=f"runs of each Flex-stack command under the pulumi CLI, and of its floor; the medians are printed "
        f"(default {REPEAT}; the largest stack's rows run once)",
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
        repeat=args.repeat,
        progress=lambda text: print(f"  … {text}", file=sys.stderr, flush=True),
    )
    elapsed = time.perf_counter() - started
    print()
    print(table(report.measurements))
    if args.breakdown:
        print()
        print(breakdown(report.measurements))
    for cli in report.cli:
        if cli.floors:
            print()
            print(side_by_side(cli.floors, cli.flex, cli.runs))
    if report.overheads:
        print()
        print(
            "The project's overhead under the pulumi CLI: wall time - Pulumi's floor (the same command on the floor "
            "program, same repetition) - time waiting on the emulator, the median of the repetitions' own "
            "differences (wall, floor and waiting are each their own median); the largest stack once, with "
            "Segment's rate limits off and no emulator latency:"
        )
        print(overhead_table(report.overheads))
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
