"""Retries: what is retried, how long the client waits (recorded, never slept), and what is never retried."""

from __future__ import annotations

import email.utils
from typing import Any

import pytest

from segment_provider.api import OutcomeUnknownError, RateLimitedError, ServerError
from segment_provider.api.models import Label
from tests.api.conftest import SNOWFLAKE_RETL, SNOWFLAKE_WAREHOUSE, ClientFactory, requests_for

NOW = 1_900_000_000.0
WAREHOUSE_SETTINGS = {
    "account": "a",
    "database": "d",
    "warehouse": "w",
    "username": "u",
    "private_key": "k",
}
TOO_MANY = {"errors": [{"type": "RequestError", "message": "Too many requests"}]}


def test_429_waits_ms_before_next(
    fresh_emulator: Any, make_client: ClientFactory, sleeps: list[float]
) -> None:
    body = {
        "errors": [{"type": "RequestError", "message": "Too many requests", "data": {"msBeforeNext": 1500}}]
    }
    fresh_emulator.add_fault(kind="status", status=429, operation="listSources", body=body)

    make_client().list_sources()

    assert sleeps == [1.5]
    assert len(requests_for(fresh_emulator, "listSources")) == 2


def test_429_waits_until_the_rate_limit_reset(
    fresh_emulator: Any, make_client: ClientFactory, sleeps: list[float]
) -> None:
    reset = email.utils.formatdate(NOW + 20, usegmt=True)
    fresh_emulator.add_fault(
        kind="status",
        status=429,
        operation="listSources",
        body=TOO_MANY,
        headers={"X-RateLimit-Reset": reset},
    )

    make_client(clock=lambda: NOW).list_sources()

    assert sleeps == [20.0]


def test_429_waits_retry_after(fresh_emulator: Any, make_client: ClientFactory, sleeps: list[float]) -> None:
    fresh_emulator.add_fault(
        kind="status", status=429, operation="listSources", body=TOO_MANY, headers={"Retry-After": "7"}
    )

    make_client().list_sources()

    assert sleeps == [7.0]


@pytest.mark.usefixtures("no_jitter")
def test_429_without_a_signal_backs_off(
    fresh_emulator: Any, make_client: ClientFactory, sleeps: list[float]
) -> None:
    fresh_emulator.add_fault(kind="status", status=429, operation="listSources", body=TOO_MANY, count=2)

    make_client(backoff_base=0.5).list_sources()

    assert sleeps == [0.5, 1.0]


def test_429_longer_than_the_limit_is_raised_at_once(
    fresh_emulator: Any, make_client: ClientFactory, sleeps: list[float]
) -> None:
    fresh_emulator.add_fault(
        kind="status", status=429, operation="listSources", body=TOO_MANY, headers={"Retry-After": "3600"}
    )

    with pytest.raises(RateLimitedError) as caught:
        make_client(max_rate_limit_wait=60).list_sources()

    assert caught.value.retry_after == 3600
    assert sleeps == []


def test_429_on_a_post_is_retried(
    fresh_emulator: Any, make_client: ClientFactory, sleeps: list[float]
) -> None:
    fresh_emulator.add_fault(
        kind="status", status=429, operation="createSource", body=TOO_MANY, headers={"Retry-After": "2"}
    )

    source = make_client().create_source(slug="after_429", metadata_id=SNOWFLAKE_RETL, enabled=True)

    assert source.slug == "after_429"
    assert sleeps == [2.0]
    assert len(requests_for(fresh_emulator, "createSource")) == 2


@pytest.mark.usefixtures("no_jitter")
def test_5xx_then_success_on_get(
    fresh_emulator: Any, make_client: ClientFactory, sleeps: list[float]
) -> None:
    fresh_emulator.add_fault(kind="status", status=503, operation="getWorkspace", count=2)

    workspace = make_client(backoff_base=0.25, backoff_cap=10).get_workspace()

    assert workspace.id == fresh_emulator.workspace["id"]
    assert sleeps == [0.25, 0.5]
    assert [r.status for r in requests_for(fresh_emulator, "getWorkspace")] == [503, 503, 200]


@pytest.mark.usefixtures("no_jitter")
def test_backoff_is_capped(fresh_emulator: Any, make_client: ClientFactory, sleeps: list[float]) -> None:
    fresh_emulator.add_fault(kind="status", status=500, operation="getWorkspace", count=4)

    make_client(backoff_base=1, backoff_cap=3, max_retries=4).get_workspace()

    assert sleeps == [1, 2, 3, 3]


def test_jitter_spreads_waits_below_the_backoff(
    fresh_emulator: Any, make_client: ClientFactory, sleeps: list[float]
) -> None:
    fresh_emulator.add_fault(kind="status", status=500, operation="getWorkspace", count=3)

    make_client(backoff_base=8, backoff_cap=100).get_workspace()

    assert 4 <= sleeps[0] <= 8
    assert 8 <= sleeps[1] <= 16
    assert 16 <= sleeps[2] <= 32


def make_source(client: Any) -> str:
    return str(client.create_source(slug="drop_target", metadata_id=SNOWFLAKE_RETL, enabled=True).id)


@pytest.mark.parametrize(
    ("operation", "act"),
    [
        ("getSource", lambda client, source_id: client.get_source(source_id)),
        ("updateSource", lambda client, source_id: client.update_source(source_id, enabled=False)),
        ("deleteSource", lambda client, source_id: client.delete_source(source_id)),
    ],
)
def test_dropped_connection_then_success(
    fresh_emulator: Any, make_client: ClientFactory, sleeps: list[float], operation: str, act: Any
) -> None:
    client = make_client()
    source_id = make_source(client)
    fresh_emulator.add_fault(kind="drop", operation=operation)

    act(client, source_id)

    assert len(sleeps) == 1
    assert len(requests_for(fresh_emulator, operation)) >= 1


def test_timeout_then_success(fresh_emulator: Any, make_client: ClientFactory, sleeps: list[float]) -> None:
    fresh_emulator.add_fault(kind="hang", operation="getWorkspace", seconds=1.0)

    workspace = make_client(read_timeout=0.2).get_workspace()

    assert workspace.id == fresh_emulator.workspace["id"]
    assert len(sleeps) == 1


def test_ambiguous_post_is_not_retried(
    fresh_emulator: Any, make_client: ClientFactory, sleeps: list[float]
) -> None:
    fresh_emulator.add_fault(kind="commit_then_fail", operation="createSource")
    client = make_client()

    with pytest.raises(OutcomeUnknownError) as caught:
        client.create_source(slug="maybe_created", metadata_id=SNOWFLAKE_RETL, enabled=True)

    assert caught.value.operation == "createSource"
    # Advice a user can act on: run up again, which finds the object.
    assert "Run `pulumi up` again" in str(caught.value) and "blindly" not in str(caught.value)
    assert len([r for r in fresh_emulator.requests if r.method == "POST"]) == 1
    assert sleeps == []
    assert "maybe_created" in {s.slug for s in client.list_sources()}


def test_post_that_loses_its_connection_is_not_retried(
    fresh_emulator: Any, make_client: ClientFactory, sleeps: list[float]
) -> None:
    fresh_emulator.add_fault(kind="drop", operation="createSource")

    with pytest.raises(OutcomeUnknownError):
        make_client().create_source(slug="dropped", metadata_id=SNOWFLAKE_RETL, enabled=True)

    assert sleeps == []


def test_post_that_gets_a_5xx_is_not_retried(
    fresh_emulator: Any, make_client: ClientFactory, sleeps: list[float]
) -> None:
    fresh_emulator.add_fault(kind="status", status=502, operation="createSource")

    with pytest.raises(OutcomeUnknownError) as caught:
        make_client().create_source(slug="bad_gateway", metadata_id=SNOWFLAKE_RETL, enabled=True)

    assert caught.value.status == 502
    assert len(requests_for(fresh_emulator, "createSource")) == 1
    assert sleeps == []


@pytest.mark.parametrize("answer", [None, 502], ids=["connection dropped", "5xx"])
def test_idempotent_posts_are_sent_again_after_a_lost_answer(
    answer: int | None, fresh_emulator: Any, make_client: ClientFactory, sleeps: list[float]
) -> None:
    # Adding a label the source has, or connecting a connected source, changes nothing: a lost answer is re-sent.
    client = make_client()
    source = client.create_source(slug="labelled", metadata_id=SNOWFLAKE_RETL, enabled=True)
    warehouse = client.create_warehouse(
        metadata_id=SNOWFLAKE_WAREHOUSE, settings=WAREHOUSE_SETTINGS, name="w", disconnect_all_sources=True
    )
    fresh_emulator.add_fault(kind="commit_then_fail", operation="addLabelsToSource", status=answer)

    labels = client.add_labels_to_source(source.id, [Label(key="environment", value="dev")])

    assert [(x.key, x.value) for x in labels] == [("environment", "dev")]
    sent = requests_for(fresh_emulator, "addLabelsToSource")
    assert [r.fault for r in sent] == ["commit_then_fail", None] and all(r.committed for r in sent)
    assert len(sleeps) == 1
    fresh_emulator.add_fault(
        kind="commit_then_fail", operation="addConnectionFromSourceToWarehouse", status=answer
    )
    client.connect_source_to_warehouse(warehouse.id, source.id)
    assert [r.fault for r in requests_for(fresh_emulator, "addConnectionFromSourceToWarehouse")] == [
        "commit_then_fail",
        None,
    ]
    assert [s.id for s in client.list_connected_sources(warehouse.id)] == [source.id]


def test_client_errors_are_not_retried(
    fresh_emulator: Any, make_client: ClientFactory, sleeps: list[float]
) -> None:
    fresh_emulator.add_fault(kind="status", status=400, operation="getWorkspace", count=3)

    with pytest.raises(ServerError):
        make_client().get_workspace()

    assert sleeps == []
    assert len(requests_for(fresh_emulator, "getWorkspace")) == 1
