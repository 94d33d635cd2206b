"""`python -m benchmarks` in quick mode with a tiny latency: the structural facts of the API-call budget, and
that the budget catches a regression injected into the providers.

Only call counts are asserted, never timings (the time checks are left out of what is asserted here). The Flex stack runs every operation; the stack with 50 custom traits
runs up, a no-op up, refresh and destroy (quick mode). Calls answered 429 are left out of the create budget here:
they measure the pacing under this machine's load (the benchmark reports them), not what the providers send.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.cli import ENGINES, FLEX_SCENARIOS, QUICK_SCALE_SIZES, SCENARIOS, Report, parse, run
from benchmarks.real_engine import REAL_ENGINE
from benchmarks.report import checks_text, table
from benchmarks.runner import Measurement, Options, stack_bench
from benchmarks.targets import (
    CREATE_LOOKUPS,
    DESTROY,
    DESTROY_READS,
    LOOKS_BEFORE_CREATE,
    NO_OP_UP,
    ONE_TRAIT_CHANGE,
    PREVIEW,
    PROGRAM_READS,
    REFRESH,
    UP_FROM_EMPTY,
    Check,
    check_all,
)
from tests.conftest import require_pulumi_cli

GUIDE_TRAITS = 6
# Space, Salesforce source, warehouse, its connection, Reverse ETL source, model, Profiles destination, mapping,
# the destination's activation.
FLEX_OBJECTS = 9 + GUIDE_TRAITS
NAMED_SOURCES = 2
LABELLED_SOURCES = 2
SCHEDULED_MAPPINGS = 1
CATALOGS = ("getSourcesCatalog", "getDestinationsCatalog", "getWarehousesCatalog")


@pytest.fixture(scope="module")
def report() -> Iterator[Report]:
    yield run(Options(latency_ms=1, time_scale=0.01), sizes=QUICK_SCALE_SIZES)


def rows(report: Report, scenario: str) -> list[Measurement]:
    found = [m for m in report.measurements if m.scenario == scenario]
    assert found, f"no {scenario} measured"
    return found


def test_every_scenario_ran_on_both_stacks(report: Report) -> None:
    seen = [(m.scenario, m.custom_traits) for m in report.measurements]
    assert seen == [
        (UP_FROM_EMPTY, 0),
        (NO_OP_UP, 0),
        (REFRESH, 0),
        (PREVIEW, 0),
        (ONE_TRAIT_CHANGE, 0),
        (DESTROY, 0),
        *((s, n) for n in QUICK_SCALE_SIZES for s in (UP_FROM_EMPTY, NO_OP_UP, REFRESH, DESTROY)),
    ]
    printed = table(report.measurements).splitlines()
    assert len(printed) == 2 + len(report.measurements)


def test_nothing_failed(report: Report) -> None:
    assert [
        (m.scenario, m.stack, m.failed, m.error) for m in report.measurements if m.failed or m.error
    ] == []


def test_creates_cost_one_mutating_call_per_object(report: Report) -> None:
    for m in rows(report, UP_FROM_EMPTY):
        assert m.objects == FLEX_OBJECTS + m.custom_traits
        accepted_traits = m.calls_to("createComputedTrait") - m.calls_to("createComputedTrait", 429)
        assert accepted_traits == GUIDE_TRAITS + m.custom_traits
        # None for the space (looked up), a second call for the scheduled mapping and for each named source, and
        # the environment label of each source.
        assert m.accepted_mutations == m.objects - 1 + SCHEDULED_MAPPINGS + NAMED_SOURCES + LABELLED_SOURCES
        assert m.expected_mutations == m.accepted_mutations


def test_create_lookups_do_not_grow_with_the_number_of_objects(report: Report) -> None:
    reads = {m.custom_traits: m.reads for m in rows(report, UP_FROM_EMPTY)}
    assert len(reads) == 1 + len(QUICK_SCALE_SIZES)
    assert len(set(reads.values())) == 1, reads
    for m in rows(report, UP_FROM_EMPTY):
        # The lookups, one list before each create of a kind Segment does not keep unique, and the warehouse
        # settings check the demo stack asks for.
        assert m.reads - m.calls_to("createValidationInWarehouse") <= CREATE_LOOKUPS + len(
            LOOKS_BEFORE_CREATE
        )
        assert all(m.calls_to(lookup) == 1 for lookup in LOOKS_BEFORE_CREATE), m.operations
        assert m.calls_to("getWorkspace") == 1
        assert all(m.calls_to(catalog) == 1 for catalog in CATALOGS)


def test_the_program_reads_only_what_it_checks(report: Report) -> None:
    for m in [*rows(report, NO_OP_UP), *rows(report, PREVIEW), *rows(report, ONE_TRAIT_CHANGE)]:
        assert m.reads <= PROGRAM_READS, m
        assert m.calls_to("getWorkspace") == 0


def test_no_op_up_makes_no_mutating_call(report: Report) -> None:
    for m in rows(report, NO_OP_UP):
        assert (m.mutations, m.changed) == (0, 0)


def test_refresh_reads_each_object_once(report: Report) -> None:
    for m in rows(report, REFRESH):
        # Besides one read per object: the space's Profiles source. The workspace comes from the state.
        assert (m.calls_to("getWorkspace"), m.calls_to("listSources")) == (0, 1)
        assert m.reads == m.objects + 1
        assert m.mutations == 0


def test_one_trait_change_updates_one_trait(report: Report) -> None:
    (m,) = rows(report, ONE_TRAIT_CHANGE)
    assert (m.changed, m.accepted_mutations) == (1, 1)
    assert m.calls_to("updateComputedTraitForSpace") == 1


def test_destroy_deletes_each_object_once(report: Report) -> None:
    for m in rows(report, DESTROY):
        assert m.reads <= DESTROY_READS
        assert m.changed == m.objects
        assert m.accepted_mutations == m.objects - 1  # the space is released, not deleted
        assert m.expected_mutations == m.objects - 1


def counted(checks: list[Check]) -> list[Check]:
    """The call checks (reads, refresh reads, mutating calls): the time and 429 checks measure this machine's load."""
    return [c for c in checks if c.target.endswith((": reads", ": refresh reads", ": mutating calls"))]


def test_the_checks_agree_with_the_measurements(report: Report) -> None:
    checks = {c.target: c for c in report.checks}
    assert checks["every operation: no failed resource"].passed
    calls = counted(report.checks)
    assert len(calls) == 2 * len(report.measurements)
    assert [c for c in calls if not c.passed] == []


# Loaded into the provider process (sitecustomize runs at interpreter start): each trait's diff and delete list
# the space's traits once more, a regression of one read per trait.
EXTRA_READ_PER_TRAIT = """
import segment_provider.resources.computed_trait as kind

_diff, _delete = kind.ComputedTraitProvider.diff, kind.ComputedTraitProvider.delete


def diff(self, id_, olds, news):
    self.client.list_computed_traits(olds["space_id"])
    return _diff(self, id_, olds, news)


def delete(self, id_, props):
    self.client.list_computed_traits(props["space_id"])
    return _delete(self, id_, props)


kind.ComputedTraitProvider.diff, kind.ComputedTraitProvider.delete = diff, delete
"""


def test_the_bench_fails_on_an_extra_read_per_trait(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(EXTRA_READ_PER_TRAIT)
    injected = {"PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}
    with stack_bench(0, Options(latency_ms=1, time_scale=0.01), provider_env=injected) as bench:
        measured = [bench.up_from_empty(UP_FROM_EMPTY), bench.up(NO_OP_UP), bench.destroy(DESTROY)]

    assert [m.calls_to("listComputedTraits") for m in measured] == [0, GUIDE_TRAITS, GUIDE_TRAITS]
    failed = [c.target for c in counted(check_all(measured)) if not c.passed]
    assert failed == ["no-op up, Flex stack: reads", "destroy, Flex stack: reads"]


def test_options() -> None:
    args = parse(
        ["--quick", "--latency-ms", "5", "--time-scale", "0.02", "--only", "refresh", "--only", "scale"]
    )
    assert (args.quick, args.latency_ms, args.time_scale, args.only) == (
        True,
        5.0,
        0.02,
        ["refresh", "scale"],
    )
    assert set(SCENARIOS) == {"up", "noop", "refresh", "preview", "change", "destroy", "scale"}
    with pytest.raises(SystemExit):
        parse(["--only", "everything"])
    with pytest.raises(SystemExit):
        parse(["--time-scale", "0"])


@pytest.mark.e2e
def test_the_flex_scenarios_cost_the_same_calls_under_the_real_cli_as_under_the_stand_in() -> None:
    require_pulumi_cli()
    report = run(Options(latency_ms=1, time_scale=0.01), only=tuple(FLEX_SCENARIOS), engines=ENGINES)
    assert [(m.scenario, m.engine) for m in report.measurements] == [
        (scenario, engine) for scenario in FLEX_SCENARIOS.values() for engine in ENGINES
    ]
    for stand_in, real in zip(report.measurements[::2], report.measurements[1::2], strict=True):
        assert accepted_calls(real) == accepted_calls(stand_in), real.scenario
        assert (real.objects, real.changed, real.failed) == (stand_in.objects, stand_in.changed, 0), (
            real.scenario
        )
    # As above, the time and 429 checks measure the machine's load: they are left out.
    assert all(c.passed for c in counted(report.checks)), checks_text(report.checks)
    # Pulumi.yaml's `refresh: always`: every CLI preview, up and destroy reads the stack back first, on its own
    # line; the stand-in runs none.
    (refresh,) = [m for m in report.measurements if m.scenario == REFRESH and m.engine == REAL_ENGINE]
    assert {m.scenario: m.refresh_reads for m in report.measurements if m.engine == REAL_ENGINE} == {
        UP_FROM_EMPTY: 0,
        NO_OP_UP: refresh.reads,
        REFRESH: 0,
        PREVIEW: refresh.reads,
        ONE_TRAIT_CHANGE: refresh.reads,
        DESTROY: refresh.reads,
    }
    assert refresh.reads == FLEX_OBJECTS + 1
    assert all(m.refresh_reads == 0 for m in report.measurements if m.engine != REAL_ENGINE)
    assert any(c.target.endswith("refresh reads") for c in report.checks)


def accepted_calls(m: Measurement) -> Counter[tuple[str, str]]:
    """Calls by method and operation, less those answered 429 (those measure this machine's load)."""
    calls: Counter[tuple[str, str]] = Counter()
    for call, n in m.operations.items():
        if call.status != 429:
            calls[(call.method, call.operation_id)] += n
    return calls
