"""429 storms on every resource kind: ``up`` waits as long as Segment asks, whichever way it asks, and converges.

The client is given a single retry here, so it only gets through a storm if its one retry comes after the storm:
a client that ignored the wait signal and used its (millisecond) backoff instead would fail these tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from segment_emulator import Emulator
from tests.contract.recorder import session_recorder
from tests.faults.conftest import (
    FIRST_CALL,
    KINDS,
    MAIN,
    assert_converged,
    calls,
    engine_for,
)
from tests.harness import DeploymentFailed, ProviderServer

STORM_SECONDS = 0.25
ONE_RETRY = {"segment:maxRetries": 1}


@pytest.mark.parametrize("signal", ["msBeforeNext", "X-RateLimit-Reset", "Retry-After"])
def test_a_storm_on_every_kind_is_waited_out_with_each_wait_signal(
    signal: str, server: ProviderServer, flex_emulator: Emulator, converged: dict[str, Any]
) -> None:
    engine = engine_for(server, flex_emulator, **ONE_RETRY)
    for operation in sorted(set(FIRST_CALL.values())):
        flex_emulator.add_fault("rate_limit", operation=operation, seconds=STORM_SECONDS, signal=signal)

    result = engine.up(MAIN)

    assert result.failures == []
    for kind in KINDS:
        statuses = [r.status for r in calls(flex_emulator, FIRST_CALL[kind])]
        assert 429 in statuses, f"the storm never reached {kind}"
        assert statuses[-1] in (200, 201), f"{kind} did not get through the storm: {statuses}"
    assert_converged(engine, flex_emulator, converged)


def test_a_storm_without_a_wait_signal_outlasting_the_retries_fails_cleanly_then_converges(
    server: ProviderServer, flex_emulator: Emulator, converged: dict[str, Any]
) -> None:
    # A 429 that says nothing about when to come back: the client backs off briefly, retries once, and gives up.
    engine = engine_for(server, flex_emulator, **ONE_RETRY)
    flex_emulator.add_fault("status", operation="createWarehouse", status=429, count=50)

    with pytest.raises(DeploymentFailed) as failed:
        engine.up(MAIN)

    (failure,) = failed.value.failures
    assert failure.name == "warehouse"
    assert "rate limit" in failure.message.lower()
    assert [r.status for r in calls(flex_emulator, "createWarehouse")] == [429, 429]
    # Only what needs the warehouse waited; everything else was created and kept.
    assert set(failed.value.result.skipped) == {
        r.urn for r in engine.registrations if r.name == "salesforce-to-warehouse"
    }
    assert "reverse-etl-source" in engine.state and "warehouse" not in engine.state

    flex_emulator.clear_faults()
    engine.up(MAIN)
    assert_converged(engine, flex_emulator, converged)


@pytest.fixture
def strict_emulator() -> Iterator[Emulator]:
    """An emulator whose own limiter allows one call per operation per 0.3 s window (Segment's own limits for
    the mapping and trait operations), the Flex events seen."""
    emulator = Emulator(time_scale=0.005, default_rate_limit=1, on_exchange=session_recorder().record)
    with emulator:
        emulator.seed_flex_events("unified-profiles-dev")
        yield emulator


def test_the_emulators_own_rate_limits_on_every_operation_are_waited_out(
    server: ProviderServer, strict_emulator: Emulator, converged: dict[str, Any]
) -> None:
    # Real limiter answers: msBeforeNext in the body and X-RateLimit-* headers, as Segment sends them. Which
    # operations meet the limit depends on how the provider threads interleave, so only the outcome is asserted;
    # the storm test above covers each kind's first call deterministically. Some 429s are certain: the
    # destinations catalog is read in three pages one after the other (Segment Profiles sorts after 500 other
    # destinations), and the limiter allows one request per operation per window. Requests that waited for the
    # same window retry together and all but one meet the limit again, so this test allows more retries.
    engine = engine_for(server, strict_emulator, **{"segment:maxRetries": 10})

    result = engine.up(MAIN)

    assert result.failures == []
    limited = [r for r in strict_emulator.requests if r.status == 429]
    assert limited, "the emulator's limiter never answered 429: the test proves nothing"
    for request in limited:
        assert request.fault is None, "every 429 here comes from the limiter, not from an injected fault"
        (error,) = request.response_body["errors"]
        assert error["data"]["msBeforeNext"] >= 0
        assert {"X-RateLimit-Limit", "X-RateLimit-Reset"} <= set(request.response_headers)
    for operation in {str(r.operation_id) for r in limited}:
        last = [r.status for r in calls(strict_emulator, operation)][-1]
        assert last is not None and 200 <= last < 300, f"{operation} never got past the limit"
    assert_converged(engine, strict_emulator, converged)
