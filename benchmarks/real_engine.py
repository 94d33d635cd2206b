"""The Flex stack's operations under the real ``pulumi`` CLI: the same scenarios as the stand-in's, counted at
the same emulator, so the two engines' rows can be read side by side; and, beside them, Pulumi's own floor
(``benchmarks/floor.py``) and the project's overhead above it (``benchmarks/overhead.py``).

Each operation is one ``pulumi`` command in a scratch copy of the project on a throwaway file backend; its
seconds are the command's wall time (CLI start-up, language host, provider process and all). What changed
comes from Pulumi's own summary, the objects from ``pulumi stack export``.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from benchmarks.floor import FloorProgram, floor_program
from benchmarks.overhead import (
    EMPTY_PROGRAM,
    FLOOR_OF,
    ONE_RESOURCE,
    Overhead,
    median,
    overhead_of,
    served_seconds,
    trivial_resources,
)
from benchmarks.runner import (
    DYNAMIC,
    Measurement,
    Options,
    bench_emulator,
    create_mutations,
    kind_of,
    measurement_of,
    pacing,
    stack_label,
)
from benchmarks.scratch import COMMANDS, CliProject
from benchmarks.stack import ONE_TRAIT_CHANGE, write_definitions
from benchmarks.targets import (
    DESTROY,
    DRIFT_PREVIEW,
    NO_OP_UP,
    PREVIEW,
    PREVIEW_NO_CHANGES,
    REFRESH,
    UP_FROM_EMPTY,
    Check,
)
from benchmarks.targets import ONE_TRAIT_CHANGE as CHANGE_UP
from flex_tools.demo import DEMO_SECRETS
from flex_tools.scratch import config_set_all, copy_project
from segment_emulator import RecordedRequest
from segment_provider.api import ClientSettings, SegmentClient

REAL_ENGINE = "pulumi CLI"
SKIP_CHECKPOINTS = {"PULUMI_SKIP_CHECKPOINTS": "true"}
SCALE_REPEAT = 3
"""Repetitions of the largest stack's judged rows under `make bench` (each about a minute, floor included)."""
REFRESHING_COMMANDS = ("preview", "up", "destroy")
"""The commands the project option ``refresh: always`` makes read every object back first."""
# Pulumi's progress line of each Segment object that changed, e.g.
# " +  pulumi-python:dynamic/segment:Source salesforce-source created (1s)".
CHANGED = re.compile(
    rf"^\s*[-+~]{{1,2}}\s+({re.escape(DYNAMIC)}\S+) (\S+) (?:create|update|replace|delete)d?\b", re.M
)
DRIFTED_QUERY = "SELECT 1 AS edited_in_the_app"


class CliBench(CliProject):
    """The Flex stack (plus ``custom_traits``) on its own emulator, driven through the ``pulumi`` CLI."""

    def __init__(
        self,
        options: Options,
        workdir: Path,
        pacing_env: Mapping[str, str],
        custom_traits: int = 0,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(workdir, {**pacing_env, **(extra_env or {})})
        self.options = options
        self.pacing_env = dict(pacing_env)
        self.custom_traits = custom_traits
        self.engine = REAL_ENGINE + (" (PULUMI_SKIP_CHECKPOINTS)" if extra_env == SKIP_CHECKPOINTS else "")
        copy_project(self.project)
        self.definitions = write_definitions(self.project / "bench-definitions.yaml", custom_traits)
        self.served: list[tuple[float, float]] = []
        self.emulator = bench_emulator(options, on_exchange=self._served)

    def _served(self, request: RecordedRequest) -> None:
        # Called as the answer is about to be sent; the emulator stamped the arrival on the same clock.
        self.served.append((request.timestamp, time.time()))

    def __enter__(self) -> CliBench:
        self.emulator.start()
        self.pulumi("stack", "init", check=True)
        plaintext = {
            "segment:endpoint": self.emulator.url,
            "flex-unified-profiles:definitionsFile": str(self.definitions),
        }
        secret = {**DEMO_SECRETS, "segment:token": self.emulator.token}
        self.pulumi("config", "set-all", *config_set_all(plaintext, secret), check=True)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.emulator.stop()

    # ------------------------------------------------------------------ the operations

    def up_from_empty(self, scenario: str) -> Measurement:
        measurement = self.up(scenario)
        measurement.expected_mutations = sum(
            create_mutations(kind_of(r["type"]), r.get("inputs") or {}) for r in self.dynamic()
        )
        return measurement

    def up(self, scenario: str) -> Measurement:
        return self._measure(scenario)

    def refresh(self, scenario: str) -> Measurement:
        return self._measure(scenario)

    def preview(self, scenario: str) -> Measurement:
        return self._measure(scenario)

    def preview_change(self, scenario: str) -> Measurement:
        write_definitions(self.definitions, self.custom_traits, flex_schema=ONE_TRAIT_CHANGE)
        return self._measure(scenario)

    def change_one_trait(self, scenario: str) -> Measurement:
        write_definitions(self.definitions, self.custom_traits, flex_schema=ONE_TRAIT_CHANGE)
        return self.up(scenario)

    def preview_drift(self, scenario: str) -> Measurement:
        """Switch the mapping off and edit the model's SQL through Segment's API, then a plain preview."""
        segment = SegmentClient(
            ClientSettings.resolve(token=self.emulator.token, endpoint=self.emulator.url, env=self.pacing_env)
        )
        (model,) = self.emulator.store.models.values()
        segment.update_reverse_etl_model(model["id"], query=DRIFTED_QUERY)
        (mapping,) = self.emulator.store.subscriptions.values()
        segment.update_subscription(mapping["destinationId"], mapping["id"], enabled=False)
        return self._measure(scenario)

    def destroy(self, scenario: str) -> Measurement:
        kinds = [kind_of(r["type"]) for r in self.dynamic()]
        measurement = self._measure(scenario, objects=len(kinds))
        measurement.expected_mutations = sum(1 for kind in kinds if kind != "UnifySpace")
        # The next repetition starts from the stack's own definitions, as the first did.
        write_definitions(self.definitions, self.custom_traits)
        return measurement

    # ------------------------------------------------------------------ measuring

    def _measure(self, scenario: str, objects: int | None = None) -> Measurement:
        self.emulator.clear_requests()
        self.served.clear()
        done, seconds = self.timed(scenario)
        command = COMMANDS[scenario][0]
        error = None
        if done.returncode != 0:
            error = f"`pulumi {command}` exited {done.returncode}: {(done.stdout + done.stderr)[-400:]}"
        return measurement_of(
            self.emulator.requests,
            self.options,
            refreshed_first=command in REFRESHING_COMMANDS and self.refreshes_first(),
            scenario=scenario,
            stack=stack_label(self.custom_traits),
            custom_traits=self.custom_traits,
            objects=objects if objects is not None else len(self.dynamic()),
            changed=len(set(CHANGED.findall(done.stdout))),
            failed=0 if done.returncode == 0 else 1,
            seconds=seconds,
            error=error,
            engine=self.engine,
            waiting=served_seconds(self.served),
        )


@contextmanager
def cli_bench(
    options: Options, custom_traits: int = 0, extra_env: Mapping[str, str] | None = None
) -> Iterator[CliBench]:
    with (
        tempfile.TemporaryDirectory(prefix="flex-bench-cli-") as workdir,
        pacing(options) as env,
        CliBench(options, Path(workdir), env, custom_traits, extra_env) as bench,
    ):
        yield bench


# ---------------------------------------------------------------------- the runs, and the floor beside them

FLOOR_CYCLE = (UP_FROM_EMPTY, PREVIEW_NO_CHANGES, NO_OP_UP, REFRESH, DESTROY)
"""What each floor program runs every repetition, in order (its up from empty and, but for the last repetition,
its destroy, whether or not they are reported, so each repetition starts from an empty stack)."""
FLEX_CYCLE: tuple[tuple[str, Callable[[CliBench, str], Measurement]], ...] = (
    (UP_FROM_EMPTY, CliBench.up_from_empty),
    (PREVIEW_NO_CHANGES, CliBench.preview),
    (NO_OP_UP, CliBench.up),
    (REFRESH, CliBench.refresh),
    (PREVIEW, CliBench.preview_change),
    (CHANGE_UP, CliBench.change_one_trait),
    (DRIFT_PREVIEW, CliBench.preview_drift),
    (DESTROY, CliBench.destroy),
)
"""The Flex stack's commands every repetition, in order: the drift comes last, as the destroy removes it."""

Record = Callable[[Measurement, bool], None]
"""Told of every Flex command run, and whether it is reported (False: a setup run)."""


@dataclass
class CliRun:
    """What the real engine measured: the Flex stack's rows (each the median of its runs), Pulumi's floor, the
    overhead of each command above it, and the checks that the runs agree."""

    runs: int
    measurements: list[Measurement] = field(default_factory=list)
    overheads: list[Overhead] = field(default_factory=list)
    floors: dict[str, dict[str, float]] = field(default_factory=dict)
    """Median wall time of each floor program (``EMPTY_PROGRAM``, ``ONE_RESOURCE``) by scenario."""
    flex: dict[str, float] = field(default_factory=dict)
    """Median wall time of the Flex stack by scenario."""
    checks: list[Check] = field(default_factory=list)


def _cycle(steps: Sequence[str], reported: set[str], last: bool) -> list[tuple[str, bool]]:
    """The steps a repetition runs, each with whether it is reported."""
    return [
        (step, step in reported)
        for step in steps
        if step in reported or step == UP_FROM_EMPTY or (step == DESTROY and not last)
    ]


def median_run(runs: Sequence[Measurement]) -> Measurement:
    """The run of median wall time, standing for all: its calls, the medians of their seconds and waits."""
    middle = sorted(runs, key=lambda m: m.seconds)[len(runs) // 2]
    return replace(
        middle,
        seconds=median([m.seconds for m in runs]),
        waiting=median([m.waiting for m in runs]),
        runs=len(runs),
    )


def same_calls(runs: Sequence[Measurement]) -> Check:
    first = runs[0]
    differing = [i + 1 for i, m in enumerate(runs) if m.accepted_calls() != first.accepted_calls()]
    return Check(
        f"{first.scenario}, {first.label}: the same calls in every run",
        not differing,
        f"{first.calls} calls in each of {len(runs)} runs"
        if not differing
        else f"runs {', '.join(map(str, differing))} differ from run 1",
    )


def run_flex(
    options: Options,
    scenarios: Sequence[str],
    repeat: int,
    record: Record,
    progress: Callable[[str], None] = lambda _: None,
) -> CliRun:
    """The Flex stack's ``scenarios`` under the CLI ``repeat`` times, each repetition beside the same commands on
    the empty program and on one trivial dynamic resource, so the machine's load weighs on both alike."""
    reported = set(scenarios)
    floor_reported = {FLOOR_OF[s] for s in scenarios}
    flex_runs: dict[str, list[Measurement]] = {}
    floor_runs: dict[str, dict[str, list[float]]] = {EMPTY_PROGRAM: {}, ONE_RESOURCE: {}}
    with ExitStack() as stack:
        floors = {
            EMPTY_PROGRAM: stack.enter_context(floor_program(0)),
            ONE_RESOURCE: stack.enter_context(floor_program(1)),
        }
        bench = stack.enter_context(cli_bench(options))
        steps = dict(FLEX_CYCLE)
        for repetition in range(repeat):
            last = repetition == repeat - 1
            for program, floor in floors.items():
                for scenario, shown in _cycle(FLOOR_CYCLE, floor_reported, last):
                    seconds = floor.run(scenario)
                    progress(f"{scenario} ({program}): {seconds:.1f} s{'' if shown else ' (setup)'}")
                    if shown:
                        floor_runs[program].setdefault(scenario, []).append(seconds)
            for scenario, shown in _cycle(list(steps), reported, last):
                measurement = steps[scenario](bench, scenario)
                record(measurement, shown)
                if shown:
                    flex_runs.setdefault(scenario, []).append(measurement)
    result = CliRun(runs=repeat)
    result.floors = {p: {s: median(walls) for s, walls in runs.items()} for p, runs in floor_runs.items()}
    for scenario, runs in flex_runs.items():
        row = median_run(runs)
        result.measurements.append(row)
        result.flex[scenario] = row.seconds
        result.checks.append(same_calls(runs))
        result.overheads.append(
            overhead_of(
                scenario,
                row.stack,
                row.objects,
                [m.seconds for m in runs],
                [m.waiting for m in runs],
                floor_runs[ONE_RESOURCE][FLOOR_OF[scenario]],
                ONE_RESOURCE,
            )
        )
    return result


def run_scale(
    options: Options,
    custom_traits: int,
    record: Record,
    progress: Callable[[str], None] = lambda _: None,
    repeat: int = SCALE_REPEAT,
) -> CliRun:
    """The Flex stack plus ``custom_traits`` under the CLI, with Segment's rate limits off and no emulator latency
    (benchmarks/README.md says why): an up from empty and a no-op up beside the floor of as many trivial dynamic
    resources, ``repeat`` times, each time on a fresh stack beside a fresh floor program, judged on the median of
    each repetition's difference as the 15-object rows are (one run of half a minute moves by a fifth from one
    run to the next); then, once, an up from empty of a fresh stack with ``PULUMI_SKIP_CHECKPOINTS`` beside that
    floor's (printed, not judged)."""
    unlimited = replace(options, rate_limits=False, latency_ms=0)
    result = CliRun(runs=repeat)
    flex_runs: dict[tuple[str, str], list[Measurement]] = {}
    floor_walls: dict[tuple[str, str], list[float]] = {}
    for setting, env, scenarios, repetitions in (
        ("", None, (UP_FROM_EMPTY, NO_OP_UP), repeat),
        ("PULUMI_SKIP_CHECKPOINTS=true", SKIP_CHECKPOINTS, (UP_FROM_EMPTY,), 1),
    ):
        for _ in range(repetitions):
            with ExitStack() as stack:
                bench = stack.enter_context(cli_bench(unlimited, custom_traits, env))
                floor: FloorProgram | None = None
                for scenario in scenarios:
                    measurement = (bench.up_from_empty if scenario == UP_FROM_EMPTY else bench.up)(scenario)
                    record(measurement, True)
                    if floor is None:
                        floor = stack.enter_context(floor_program(measurement.objects, env))
                    seconds = floor.run(scenario)
                    progress(
                        f"{scenario} ({trivial_resources(floor.resources)}{', ' + setting if setting else ''}): "
                        f"{seconds:.1f} s"
                    )
                    flex_runs.setdefault((setting, scenario), []).append(measurement)
                    floor_walls.setdefault((setting, scenario), []).append(seconds)
    for (setting, scenario), runs in flex_runs.items():
        row = median_run(runs)
        result.measurements.append(row)
        if len(runs) > 1:
            result.checks.append(same_calls(runs))
        result.overheads.append(
            overhead_of(
                scenario,
                row.stack,
                row.objects,
                [m.seconds for m in runs],
                [m.waiting for m in runs],
                floor_walls[(setting, scenario)],
                trivial_resources(row.objects),
                per_resource=True,
                setting=setting,
                judged=not setting,
            )
        )
    return result
