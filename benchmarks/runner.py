"""One stack on a fresh emulator, and what each engine operation on it costs.

The engine starts one provider process per operation (``pulumi up``, ``refresh``, ``destroy``), so every
operation here gets a fresh provider server too: its catalog cache and its pacer start empty, as they would. The
restart is not counted in the seconds. The program itself (config, the read-only checks against Segment,
registrations) runs in this process, as the language host would run it, and its calls are counted.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.stack import ONE_TRAIT_CHANGE, REPO, SECRET_KEYS, benchmark_config, write_definitions
from segment_emulator import Emulator
from tests.harness import DeploymentFailed, ProgramEngine, ProviderServer, RunResult

MAIN = REPO / "__main__.py"
DYNAMIC = "pulumi-python:dynamic/segment:"
READ_METHODS = frozenset({"GET", "HEAD"})
# POSTs that change nothing in Segment: the warehouse settings check (POST /warehouses/validation) is a lookup.
READ_ONLY_POSTS = frozenset({"createValidationInWarehouse"})
PACING_ENV = "SEGMENT_API_PACING"


@dataclass(frozen=True)
class Options:
    latency_ms: float = 80.0
    time_scale: float = 0.01
    """Segment's rate-limit windows (a minute) and the client's pacing, both multiplied by this."""
    rate_limits: bool = True
    """Off: the emulator enforces no rate limit and the client does not pace, so the calls wait only on the
    emulator's latency (the real engine's 500-trait rows)."""


@dataclass(frozen=True, order=True)
class Call:
    method: str
    operation_id: str
    """The path when the request matched no Segment operation."""
    status: int
    """0 when no answer was sent (a dropped connection)."""

    @property
    def is_read(self) -> bool:
        return self.method in READ_METHODS or self.operation_id in READ_ONLY_POSTS

    def __str__(self) -> str:
        return f"{self.method} {self.operation_id} {self.status}"


@dataclass
class Measurement:
    """What one operation cost, from the emulator's request log."""

    scenario: str
    stack: str
    custom_traits: int
    objects: int
    """Segment objects (dynamic resources) the operation covered."""
    changed: int
    """Of those, the ones created, updated, replaced, deleted (or, for a refresh, found drifted)."""
    reads: int
    mutations: int
    throttled: int
    """Requests the emulator answered 429."""
    failed: int
    seconds: float
    expected_mutations: int | None = None
    """The budget of a create from empty (see ``create_mutations``) or a destroy (one per object but the space,
    which is released from the stack, never deleted)."""
    error: str | None = None
    operations: Counter[Call] = field(default_factory=Counter)
    """Every call by method, operation and status."""
    engine: str = "stand-in"
    """``stand-in`` (tests/harness) or ``pulumi CLI`` (the real engine, benchmarks/real_engine.py)."""
    span: float = 0.0
    """Seconds from the first API request's arrival to the last one's answer, less the pause between the
    program's checks and the resources' first call (``resources_start`` shows it): the time the operation kept
    Segment busy."""
    mapping_active: float | None = None
    """Seconds from the resources' first API request to the answer that switched the Profiles destination on
    (the activation, the end of the Reverse ETL data path), when the operation did."""
    resources_start: float | None = None
    """Seconds from the first API request (the program's checks) to the resources' first: the checks, then the
    program's own work (Pulumi constructs every resource before it sends any to the engine) and the provider
    process's start."""
    paced_span: float = 0.0
    """Seconds from the first computed-trait create to the last one's answer (those Segment accepted)."""
    latency: float = 0.0
    """The emulator's delay per call, in seconds."""
    time_scale: float = 1.0
    refresh_reads: int = 0
    """Reads of the refresh that the project option ``refresh: always`` runs before a CLI ``preview``, ``up`` or
    ``destroy`` (one per object, before the program or the deletes start). They are left out of ``reads``,
    ``operations`` and the timings, which keep measuring the operation itself, and have a budget of their own."""
    rate_limits: bool = True
    """Whether the emulator enforced Segment's rate limits (``Options.rate_limits``)."""
    waiting: float = 0.0
    """Under the real engine: seconds of the command during which the emulator was serving at least one request
    (the union of the requests' spans, arrival to answer), the refresh's reads included."""
    runs: int = 1
    """Under the real engine: the command's runs; ``seconds`` and ``waiting`` are their medians."""

    @property
    def label(self) -> str:
        """The stack, and the engine when it is the real one: what each check is about."""
        return self.stack if self.engine == "stand-in" else f"{self.stack} under the {self.engine}"

    @property
    def calls(self) -> int:
        return self.reads + self.mutations

    def calls_to(self, operation_id: str, status: int | None = None) -> int:
        return sum(
            n
            for call, n in self.operations.items()
            if call.operation_id == operation_id and status in (None, call.status)
        )

    def accepted_calls(self) -> Counter[tuple[str, str]]:
        """Calls by method and operation, less those answered 429 (those measure the machine's load)."""
        calls: Counter[tuple[str, str]] = Counter()
        for call, n in self.operations.items():
            if call.status != 429:
                calls[(call.method, call.operation_id)] += n
        return calls

    @property
    def accepted_mutations(self) -> int:
        """Mutating calls that were not refused with a 429."""
        return sum(n for call, n in self.operations.items() if not call.is_read and call.status != 429)


# Reads only the program's checks make (the providers never list spaces, sources or a space's events): the
# first request of any other operation is where the deployment's resources start.
PACED_OPERATION = "createComputedTrait"
PROGRAM_CHECKS = frozenset({"listSpaces", "listSources", "listEvents", "listPropertiesFromEvent"})


def timings(requests: list[Any], latency: float) -> tuple[float, float | None, float | None]:
    """``span``, ``resources_start`` and ``mapping_active`` (see ``Measurement``) from the emulator's log: each
    request is stamped on arrival and answered one latency later."""
    if not requests:
        return 0.0, None, None
    start = min(r.timestamp for r in requests)
    span = max(r.timestamp for r in requests) + latency - start
    resources = [r.timestamp for r in requests if r.operation_id not in PROGRAM_CHECKS]
    first = min(resources) if resources else None
    checks = [
        r.timestamp for r in requests if r.operation_id in PROGRAM_CHECKS and r.timestamp <= (first or 0)
    ]
    if first is not None and checks:
        # Between the program's last check and the resources' first call, Segment waits on this machine: the
        # program runs to its end, the engine starts the provider process and sends every resource through it.
        span -= max(0.0, first - (max(checks) + latency))
    activations = [
        r.timestamp
        for r in requests
        if r.operation_id == "updateDestination"
        and r.status == 200
        and isinstance(r.body, Mapping)
        and r.body.get("enabled") is True
    ]
    live = max(activations) + latency - first if activations and first is not None else None
    return span, (first - start if first is not None else None), live


def refresh_pass(requests: list[Any]) -> tuple[list[Any], list[Any]]:
    """The requests of a refresh run before an operation, and the operation's own: the engine finishes the
    refresh before it starts the program (whose first round lists the spaces and the sources together) or sends
    a change. The refresh lists the sources once per space it reads (the space's Profiles source): a source list
    beyond those is the program's, sent just before its space list."""
    ordered = sorted(requests, key=lambda r: r.timestamp)

    def is_read(r: Any) -> bool:
        return Call(r.method, r.operation_id or r.path, 0).is_read

    boundary = next(
        (i for i, r in enumerate(ordered) if r.operation_id == "listSpaces" or not is_read(r)), len(ordered)
    )

    def count(operation: str) -> int:
        return sum(1 for r in ordered[:boundary] if r.operation_id == operation)

    while (
        boundary
        and ordered[boundary - 1].operation_id == "listSources"
        and count("listSources") > count("getSpace")
    ):
        boundary -= 1
    return ordered[:boundary], ordered[boundary:]


def measurement_of(
    requests: list[Any], options: Options, *, refreshed_first: bool = False, **fields: Any
) -> Measurement:
    """A ``Measurement`` from the emulator's request log and what the engine reported (``fields``).
    ``refreshed_first``: the engine refreshed before the operation; those reads are counted apart."""
    refresh_reads = 0
    if refreshed_first:
        refreshing, requests = refresh_pass(requests)
        refresh_reads = len(refreshing)
    calls = Counter(Call(r.method, r.operation_id or r.path, r.status or 0) for r in requests)
    latency = options.latency_ms / 1000
    span, resources_start, mapping_active = timings(requests, latency)
    paced = [r.timestamp for r in requests if r.operation_id == PACED_OPERATION and r.status != 429]
    return Measurement(
        reads=sum(n for call, n in calls.items() if call.is_read),
        mutations=sum(n for call, n in calls.items() if not call.is_read),
        throttled=sum(n for call, n in calls.items() if call.status == 429),
        operations=calls,
        span=span,
        mapping_active=mapping_active,
        resources_start=resources_start,
        paced_span=max(paced) - min(paced) + latency if paced else 0.0,
        latency=latency,
        time_scale=options.time_scale,
        rate_limits=options.rate_limits,
        refresh_reads=refresh_reads,
        **fields,
    )


def stack_label(custom_traits: int) -> str:
    return "Flex stack" if custom_traits == 0 else f"Flex stack + {custom_traits} traits"


def kind_of(type_token: str) -> str:
    return type_token.removeprefix(DYNAMIC)


def create_mutations(kind: str, inputs: Mapping[str, Any]) -> int:
    """Mutating calls a create of one object should cost."""
    if kind == "UnifySpace":
        return 0  # the API cannot create a space: it is looked up
    if kind == "DestinationSubscription" and inputs.get("schedule"):
        return 2  # Segment's create cannot carry the schedule: create, then PATCH it
    if kind == "Source":
        # Only the alpha create takes a name, and it cannot keep the source off every warehouse; no create or
        # update takes labels, so the environment label is one more call (addLabelsToSource).
        return 1 + bool(inputs.get("name")) + bool(inputs.get("environment"))
    return 1


@contextmanager
def pacing(options: Options) -> Iterator[dict[str, str]]:
    """The client's pacing on the emulator's clock, here (the program's checks) and in the provider server; off
    when the emulator enforces no rate limit."""
    env = {PACING_ENV: repr(options.time_scale) if options.rate_limits else "off"}
    saved = os.environ.get(PACING_ENV)
    os.environ.update(env)
    try:
        yield env
    finally:
        if saved is None:
            os.environ.pop(PACING_ENV, None)
        else:
            os.environ[PACING_ENV] = saved


def bench_emulator(options: Options, **hooks: Any) -> Emulator:
    """A fresh emulator with the Flex events seen by the dev space, at the options' latency and clock."""
    return Emulator(
        port=0,
        time_scale=options.time_scale,
        latency_ms=options.latency_ms,
        rate_limits=options.rate_limits,
        seed_flex_events=True,
        **hooks,
    )


class StackBench:
    """A stack (the Flex stack plus ``custom_traits``) on its own emulator and provider server.

    ``provider_env`` adds to the provider process's environment (the smoke test injects a regression there).
    """

    def __init__(
        self,
        custom_traits: int,
        options: Options,
        workdir: Path,
        provider_env: Mapping[str, str] | None = None,
    ) -> None:
        self.provider_env = dict(provider_env or {})
        self.custom_traits = custom_traits
        self.options = options
        self.definitions = workdir / f"definitions-{custom_traits}.yaml"
        write_definitions(self.definitions, custom_traits)
        self.emulator = bench_emulator(options)
        self.server: ProviderServer | None = None
        self.engine: ProgramEngine | None = None

    @property
    def label(self) -> str:
        return stack_label(self.custom_traits)

    def __enter__(self) -> StackBench:
        self.emulator.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.server is not None:
            self.server.stop()
        self.emulator.stop()

    def start(self, env: Mapping[str, str]) -> None:
        self.server = ProviderServer(cwd=REPO, env={**env, **self.provider_env})
        self.server.start()
        config = benchmark_config(self.emulator.url, self.emulator.token, self.definitions)
        self.engine = ProgramEngine(self.server, stack="dev", config=config, secret_keys=SECRET_KEYS)

    # ------------------------------------------------------------------ the operations

    def up(self, scenario: str) -> Measurement:
        return self._measure(scenario, lambda engine: engine.up(MAIN))

    def up_from_empty(self, scenario: str) -> Measurement:
        measurement = self.up(scenario)
        measurement.expected_mutations = sum(
            create_mutations(kind_of(record.type), record.inputs) for record in self._dynamic()
        )
        return measurement

    def refresh(self, scenario: str) -> Measurement:
        return self._measure(scenario, lambda engine: engine.refresh())

    def destroy(self, scenario: str) -> Measurement:
        kinds = [kind_of(record.type) for record in self._dynamic()]
        measurement = self._measure(scenario, lambda engine: engine.destroy(), objects=len(kinds))
        measurement.expected_mutations = sum(1 for kind in kinds if kind != "UnifySpace")
        return measurement

    def preview_change(self, scenario: str) -> Measurement:
        """Change one trait's definition in the shared definitions, then ``preview``."""
        write_definitions(self.definitions, self.custom_traits, flex_schema=ONE_TRAIT_CHANGE)
        return self._measure(scenario, lambda engine: engine.preview(MAIN))

    def change_one_trait(self, scenario: str) -> Measurement:
        """Change one trait's definition in the shared definitions, then ``up``."""
        write_definitions(self.definitions, self.custom_traits, flex_schema=ONE_TRAIT_CHANGE)
        return self.up(scenario)

    # ------------------------------------------------------------------ measuring

    def _dynamic(self) -> list[Any]:
        assert self.engine is not None
        return [record for record in self.engine.state if record.type.startswith(DYNAMIC)]

    def _measure(
        self, scenario: str, operation: Callable[[ProgramEngine], RunResult], objects: int | None = None
    ) -> Measurement:
        assert self.server is not None and self.engine is not None
        self.server.restart()  # one provider process per operation, as the engine does
        self.emulator.clear_requests()
        error: str | None = None
        failed = 0
        started = time.perf_counter()
        try:
            result: RunResult | None = operation(self.engine)
        except DeploymentFailed as failure:
            result = failure.result
            failed = len(failure.failures)
            error = "; ".join(f"{f.name}: {f.message}" for f in failure.failures[:3])
        except Exception as exception:  # the program itself failed: nothing was measured properly
            result = None
            failed = 1
            error = f"{type(exception).__name__}: {exception}"
        seconds = time.perf_counter() - started
        steps = [s for s in (result.steps if result else []) if s.type.startswith(DYNAMIC)]
        skipped = len(result.skipped) if result else 0
        return measurement_of(
            self.emulator.requests,
            self.options,
            scenario=scenario,
            stack=self.label,
            custom_traits=self.custom_traits,
            objects=objects if objects is not None else len(self._dynamic()),
            changed=sum(1 for s in steps if s.op != "same"),
            failed=failed + skipped,
            seconds=seconds,
            error=error,
        )


@contextmanager
def stack_bench(
    custom_traits: int, options: Options, provider_env: Mapping[str, str] | None = None
) -> Iterator[StackBench]:
    with (
        tempfile.TemporaryDirectory(prefix="flex-bench-") as workdir,
        pacing(options) as env,
        StackBench(custom_traits, options, Path(workdir), provider_env) as bench,
    ):
        bench.start(env)
        yield bench
