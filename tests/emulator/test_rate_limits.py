"""Rate limits per operation and token in windows of 60 s x time_scale, on a clock the tests move."""

from __future__ import annotations

import email.utils

import pytest
import requests

from segment_emulator import Emulator
from segment_emulator.ratelimit import PER_MINUTE
from tests.emulator.conftest import SEND_IDENTIFY, Api, EmulatorFactory, FakeClock, data, error


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def subscriptions_path(api: Api) -> str:
    return f"/destinations/{api.destination(api.source()['id'])['id']}/subscriptions"


def create(api: Api, path: str, number: int) -> requests.Response:
    body = {
        "name": f"Mapping {number}",
        "actionId": SEND_IDENTIFY,
        "trigger": 'event = "new"',
        "enabled": True,
    }
    return api.post(path, body)


def test_the_sixth_subscription_create_in_a_minute_is_429(
    make_emulator: EmulatorFactory, clock: FakeClock
) -> None:
    api = Api(make_emulator(clock=clock))
    path = subscriptions_path(api)
    for number in range(5):
        data(create(api, path, number))
    clock.advance(20)

    refused = create(api, path, 6)

    item = error(refused, 429)
    assert item == {
        "type": "RequestError",
        "message": "Too many requests",
        "data": {"remainingPoints": 0, "msBeforeNext": 40_000, "consumedPoints": 6},
    }
    headers = refused.headers
    assert (headers["X-RateLimit-Limit"], headers["X-RateLimit-Remaining"]) == ("5", "0")
    assert email.utils.parsedate_to_datetime(headers["X-RateLimit-Reset"]).timestamp() == clock.now + 40


def test_the_limit_lifts_when_the_window_ends(make_emulator: EmulatorFactory, clock: FakeClock) -> None:
    api = Api(make_emulator(clock=clock))
    path = subscriptions_path(api)
    for number in range(5):
        data(create(api, path, number))
    wait = error(create(api, path, 5), 429)["data"]["msBeforeNext"]

    clock.advance(wait / 1000 - 0.001)
    error(create(api, path, 6), 429)
    clock.advance(0.001)

    data(create(api, path, 7))


def test_refused_requests_keep_consuming_points(make_emulator: EmulatorFactory, clock: FakeClock) -> None:
    api = Api(make_emulator(clock=clock, default_rate_limit=2))
    for _ in range(2):
        data(api.get("/"))

    consumed = [error(api.get("/"), 429)["data"]["consumedPoints"] for _ in range(3)]

    assert consumed == [3, 4, 5]


def test_time_scale_shrinks_the_window(make_emulator: EmulatorFactory, clock: FakeClock) -> None:
    api = Api(make_emulator(clock=clock, time_scale=0.01, default_rate_limit=1))
    data(api.get("/"))

    assert error(api.get("/"), 429)["data"]["msBeforeNext"] == 600
    clock.advance(0.6)
    data(api.get("/"))


def test_successes_carry_the_rate_limit_headers(make_emulator: EmulatorFactory, clock: FakeClock) -> None:
    api = Api(make_emulator(clock=clock, default_rate_limit=10))

    answers = [api.get("/") for _ in range(3)]

    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["9", "8", "7"]
    assert [a.headers["X-RateLimit-Consumed"] for a in answers] == ["1", "2", "3"]
    assert {a.headers["X-RateLimit-Limit"] for a in answers} == {"10"}
    reset = email.utils.parsedate_to_datetime(answers[0].headers["X-RateLimit-Reset"]).timestamp()
    assert reset == clock.now + 60


def test_each_operation_has_its_own_window(make_emulator: EmulatorFactory, clock: FakeClock) -> None:
    api = Api(make_emulator(clock=clock, default_rate_limit=1))
    data(api.get("/"))

    error(api.get("/"), 429)
    data(api.get("/spaces"))


def test_operations_without_a_documented_limit_use_the_default(
    make_emulator: EmulatorFactory, clock: FakeClock
) -> None:
    api = Api(make_emulator(clock=clock, default_rate_limit=3))

    assert api.get("/sources").headers["X-RateLimit-Limit"] == "3"
    space = api.get("/spaces").json()["data"]["spaces"][0]["id"]
    assert api.get(f"/spaces/{space}/computed-traits").headers["X-RateLimit-Limit"] == str(
        PER_MINUTE["listComputedTraits"]
    )


def test_rate_limits_can_be_switched_off(make_emulator: EmulatorFactory, clock: FakeClock) -> None:
    api = Api(make_emulator(clock=clock, rate_limits=False, default_rate_limit=1))

    answers = [api.get("/") for _ in range(5)]

    assert {a.status_code for a in answers} == {200}
    assert not any(name.startswith("X-RateLimit") for a in answers for name in a.headers)


def test_reset_opens_fresh_windows(make_emulator: EmulatorFactory, clock: FakeClock) -> None:
    emulator: Emulator = make_emulator(clock=clock, default_rate_limit=1)
    api = Api(emulator)
    data(api.get("/"))
    error(api.get("/"), 429)

    emulator.reset()

    data(api.get("/"))
