"""The client-side pacer: per-operation windows on simulated time, shared by threads and clients, honest about
429s, switchable off, and its limit table checked against Segment's contract."""

from __future__ import annotations

import logging
import threading
import time as real_time
from typing import Any

import pytest

from segment_provider.api import (
    ClientSettings,
    ConfigurationError,
    Pacer,
    RateLimitedError,
    SegmentClient,
    rate_limits,
)
from segment_provider.api.models import TraitDefinition
from segment_provider.api.pacing import (
    PACING_ENV,
    SEGMENT_LIMITS,
    Limit,
    Ticket,
    limits_from_contract,
    pacing_from_env,
    shared_pacer,
)
from tests.api.conftest import DEV_SPACE
from tests.conftest import SESSION_TIME_SCALE

MAPPINGS = "createDestinationSubscription"  # 5 a minute


class SimulatedTime:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def test_requests_over_the_limit_leave_one_window_apart_on_simulated_time() -> None:
    time = SimulatedTime()
    pacer = Pacer(margin=0, clock=time.clock, sleep=time.sleep)
    start = time.now

    waits = [pacer.wait(MAPPINGS) for _ in range(12)]

    # 5 at once, 5 a minute later, 2 a minute after that.
    assert waits == [0, 0, 0, 0, 0, 60, 0, 0, 0, 0, 60, 0]
    assert time.now - start == 120
    assert pacer.waited() == {MAPPINGS: 120}


def test_operations_have_their_own_windows_and_unlisted_ones_are_not_paced() -> None:
    time = SimulatedTime()
    pacer = Pacer(margin=0, clock=time.clock, sleep=time.sleep)
    for _ in range(5):
        pacer.wait(MAPPINGS)

    assert pacer.reserve("createComputedTrait") == 0
    assert [pacer.reserve("getWorkspace") for _ in range(1000)] == [0] * 1000
    assert pacer.window("getWorkspace") is None
    assert pacer.reserve(MAPPINGS) == 60


def test_a_window_frees_up_as_time_passes() -> None:
    time = SimulatedTime()
    pacer = Pacer(margin=0, clock=time.clock, sleep=time.sleep)
    for _ in range(5):
        pacer.wait(MAPPINGS)
        time.sleep(10)  # work between requests: the first one is 50 s old when the window is full

    assert pacer.reserve(MAPPINGS) == pytest.approx(10)
    time.sleep(70)
    assert pacer.reserve(MAPPINGS) == 0


def test_the_margin_and_the_time_scale_stretch_and_shrink_the_window() -> None:
    time = SimulatedTime()
    pacer = Pacer(time_scale=0.01, margin=0.05, clock=time.clock, sleep=time.sleep)

    assert pacer.window(MAPPINGS) == pytest.approx(60 * 0.01 * 1.05)
    waits = [pacer.wait(MAPPINGS) for _ in range(6)]
    assert waits[-1] == pytest.approx(0.63)


def test_threads_share_one_bucket() -> None:
    time = SimulatedTime()  # frozen: nobody sleeps, every thread only books
    pacer = Pacer(margin=0, clock=time.clock, sleep=time.sleep)
    waits: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def book() -> None:
        start.wait()
        for _ in range(5):
            wait = pacer.reserve(MAPPINGS)
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=book) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # 20 requests from 4 threads: the limit holds across threads, 5 per window.
    assert sorted(waits) == [0] * 5 + [60] * 5 + [120] * 5 + [180] * 5


def test_a_window_counts_from_the_answer_of_the_request_a_limit_earlier_less_the_quickest_trip() -> None:
    # Segment's window opens when a request arrives, somewhere between its send and its answer. A trip slower
    # than the quickest one seen (a loaded machine, a slow network) pushes the next window back by as much.
    time = SimulatedTime()
    pacer = Pacer({"op": Limit(1, 10.0)}, margin=0, clock=time.clock, sleep=time.sleep)
    first = pacer.acquire("op")
    time.sleep(2)  # the quickest trip: 2 s
    pacer.release(first)

    second = pacer.acquire("op")
    assert time.now == pytest.approx(
        1000 + 10
    )  # its window opened on arrival, no later than 2 s after sending
    time.sleep(5)  # 3 s slower than the quickest
    pacer.release(second)

    third = pacer.acquire("op")
    assert time.now == pytest.approx(1010 + 10 + 3)
    pacer.release(third)


def test_a_request_waits_while_the_one_a_limit_earlier_is_still_in_flight() -> None:
    pacer = Pacer({"op": Limit(1, 0.05)}, margin=0)
    first = pacer.acquire("op")
    sent: list[float] = []
    thread = threading.Thread(
        target=lambda: sent.append(real_time.monotonic()) if pacer.acquire("op") else None
    )
    thread.start()
    thread.join(0.2)
    assert thread.is_alive() and sent == []  # no answer to the first yet: its window may not have opened
    answered = real_time.monotonic()
    pacer.release(first)
    thread.join(5)
    assert sent and sent[0] >= answered


def test_waiting_calls_are_reported_every_30_seconds_of_segments_clock(
    caplog: pytest.LogCaptureFixture,
) -> None:
    time = SimulatedTime()
    pacer = Pacer({"op": Limit(10, 60.0)}, margin=0, clock=time.clock, sleep=lambda _: None)
    with caplog.at_level(logging.INFO, logger="segment_provider.api.pacing"):
        for _ in range(25):
            pacer.reserve("op")
        time.now += 31
        pacer.reserve("op")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("Segment's rate limit for op (10 a minute):")
    assert lines[0].endswith("1 call waiting, the last leaves in about 60 s; 10 sent so far")
    assert lines[1].endswith("16 calls waiting, the last leaves in about 89 s; 10 sent so far")


def test_the_default_pacer_is_shared_by_every_client_of_one_token_and_address() -> None:
    first = SegmentClient(ClientSettings(token="token-a", endpoint="http://127.0.0.1:1"))
    second = SegmentClient(ClientSettings(token="token-a", endpoint="http://127.0.0.1:1"))
    other_token = SegmentClient(ClientSettings(token="token-b", endpoint="http://127.0.0.1:1"))

    assert first._pacer is second._pacer is shared_pacer("http://127.0.0.1:1", "token-a", 1.0)
    assert other_token._pacer is not first._pacer
    assert "token-a" not in repr(first._pacer)


def test_pacing_time_scale_zero_switches_pacing_off() -> None:
    client = SegmentClient(ClientSettings(token="t", endpoint="http://127.0.0.1:1", pacing_time_scale=0))
    assert client._pacer is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("off", 0.0), ("OFF", 0.0), ("0", 0.0), ("on", 1.0), ("0.01", 0.01), (" 2 ", 2.0)],
)
def test_the_environment_variable_sets_or_switches_off_pacing(value: str, expected: float) -> None:
    assert pacing_from_env({PACING_ENV: value}) == {"pacing_time_scale": expected}
    settings = ClientSettings.resolve(token="t", env={PACING_ENV: value})
    assert settings.pacing_time_scale == expected


def test_an_explicit_setting_wins_over_the_environment() -> None:
    settings = ClientSettings.resolve(token="t", env={PACING_ENV: "off"}, pacing_time_scale=0.5)
    assert settings.pacing_time_scale == 0.5
    assert ClientSettings.resolve(token="t", env={}).pacing_time_scale == 1.0


@pytest.mark.parametrize("value", ["sometimes", "-1", "inf", "nan"])
def test_a_bad_environment_value_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigurationError, match=PACING_ENV) as raised:
        ClientSettings.resolve(token="t", env={PACING_ENV: value})
    assert "on', 'off' or a time scale" in str(raised.value)


# --------------------------------------------------------------------------------- the client and the emulator


class RecordingPacer(Pacer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls: list[str] = []

    def acquire(self, operation_id: str) -> Ticket:
        self.calls.append(operation_id)
        return super().acquire(operation_id)


def test_the_client_books_every_attempt_and_still_waits_as_a_429_asks(
    fresh_emulator: Any, sleeps: list[float]
) -> None:
    # Segment counts refused requests too, so the retry is booked like the first attempt; the client still
    # sleeps the Retry-After the 429 asked for.
    time = SimulatedTime()
    pacer = RecordingPacer(clock=time.clock, sleep=time.sleep)
    settings = ClientSettings.resolve(token=fresh_emulator.token, endpoint=fresh_emulator.url, env={})
    client = SegmentClient(settings, sleep=sleeps.append, pacer=pacer)
    fresh_emulator.add_fault("status", operation="listSources", status=429, headers={"Retry-After": "7"})

    client.list_sources()

    assert pacer.calls == ["listSources", "listSources"]
    assert sleeps == [7.0]


def test_no_client_timeout_runs_while_a_call_waits_its_turn_in_the_pacer(fresh_emulator: Any) -> None:
    # A create that waits its turn longer than the read timeout and the deadline must still go out once and get
    # its answer: a timeout counted from before the wait would give up on a create that then happens anyway.
    space_id = fresh_emulator.space(DEV_SPACE)["id"]
    settings = ClientSettings.resolve(
        token=fresh_emulator.token,
        endpoint=fresh_emulator.url,
        env={},
        read_timeout=0.3,
        deadline=0.3,
        max_retries=0,
    )
    pacer = Pacer({"createComputedTrait": Limit(1, 0.9)}, margin=0)
    client = SegmentClient(settings, pacer=pacer)
    definition = TraitDefinition(type="USERS", query="event('Flex - Engagement Initiated').count()")

    for name in ("First trait", "Second trait"):
        client.create_computed_trait(space_id, name=name, definition=definition)

    assert pacer.waited()["createComputedTrait"] > settings.read_timeout
    sent = [r for r in fresh_emulator.requests if r.operation_id == "createComputedTrait"]
    assert [r.status for r in sent] == [200, 200]


def test_a_paced_client_meets_no_429_where_an_unpaced_one_does(fresh_emulator: Any) -> None:
    # The emulator's windows last 60 s x its time scale; a pacer on the same scale keeps listEvents (25 a
    # minute) under the limit with real sleeps.
    space_id = fresh_emulator.space(DEV_SPACE)["id"]
    scale = SESSION_TIME_SCALE
    settings = ClientSettings.resolve(
        token=fresh_emulator.token, endpoint=fresh_emulator.url, env={}, max_retries=0
    )
    paced = SegmentClient(settings, pacer=Pacer(time_scale=scale))
    for _ in range(30):
        paced.list_space_events(space_id)
    assert [r.status for r in fresh_emulator.requests if r.status == 429] == []

    fresh_emulator.reset()
    unpaced = SegmentClient(settings.model_copy(update={"pacing_time_scale": 0}))
    with pytest.raises(RateLimitedError):
        for _ in range(30):
            unpaced.list_space_events(space_id)


# ----------------------------------------------------------------------------------------- the vendored table


def test_the_vendored_limits_match_the_contract(contract: dict[str, Any]) -> None:
    assert contract["apiVersion"] == rate_limits.API_VERSION
    assert limits_from_contract(contract) == rate_limits.PER_OPERATION


def test_the_limits_this_project_meets_are_segments_documented_ones() -> None:
    assert SEGMENT_LIMITS[MAPPINGS] == Limit(5, 60.0)
    assert SEGMENT_LIMITS["updateSubscriptionForDestination"] == Limit(5, 60.0)
    assert SEGMENT_LIMITS["createComputedTrait"] == Limit(10, 60.0)
    assert SEGMENT_LIMITS["removeComputedTraitFromSpace"] == Limit(20, 60.0)
    assert SEGMENT_LIMITS["createDownload"] == Limit(120, 86400.0)
    assert "createSource" not in SEGMENT_LIMITS
