"""Objects an interrupted run left in Segment: found by their natural key before anything is created.

Segment keeps sources (slug) and computed traits (key) unique and answers 409 to a second one; warehouses,
Reverse ETL models, destinations and mappings it does not. An ``up`` killed after such a create (Pulumi forgets
a create it got no answer to), or a create Segment applied after its answer was given up on, leaves an object
the state does not know. These tests make that object first and count, in the emulator's state, what each
``up`` leaves: never a second one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from flex_tools.demo import DEMO_SECRETS, stack_config
from segment_emulator import Emulator
from segment_provider.api.models import Label
from tests.conftest import SESSION_DEFAULT_RATE_LIMIT, SESSION_TIME_SCALE
from tests.contract.recorder import session_recorder
from tests.faults.conftest import (
    MAIN,
    MAX_RETRIES,
    READ_TIMEOUT,
    api_client,
    assert_converged,
    calls,
    engine_for,
    mutating,
    segment_objects,
)
from tests.harness import DeploymentFailed, ProgramEngine, ProviderServer

# Each kind Segment does not keep unique: its resource in the dev stack, its create and the list that finds it.
NOT_UNIQUE = {
    "Warehouse": ("warehouse", "createWarehouse", "listWarehouses"),
    "ReverseEtlModel": ("model", "createReverseEtlModel", "listReverseEtlModels"),
    "Destination": ("profiles-destination", "createDestination", "listDestinations"),
    "DestinationSubscription": (
        "send-identify",
        "createDestinationSubscription",
        "listSubscriptionsFromDestination",
    ),
}
STORE = {
    "Warehouse": "warehouses",
    "ReverseEtlModel": "models",
    "Destination": "destinations",
    "DestinationSubscription": "subscriptions",
}
DEV = stack_config("http://127.0.0.1", "dev")
WAREHOUSE = json.loads(DEV["flex-unified-profiles:warehouse"])


def count(emulator: Emulator, kind: str) -> int:
    with emulator.store_lock:
        return len(getattr(emulator.store, STORE[kind]))


def forget(engine: ProgramEngine, name: str) -> set[str]:
    """Take ``name`` and everything that needs it out of the state, as a run killed right after its create
    leaves it once the pending creates are cleared; the names taken out."""
    gone = {engine.state.get(name).urn}
    grew = True
    while grew:
        needing = {r.urn for r in engine.state if r.depends_on() & gone} - gone
        grew = bool(needing)
        gone |= needing
    names = {engine.state.resources[urn].name for urn in gone}
    for urn in gone:
        del engine.state.resources[urn]
    return names


def second_copy(emulator: Emulator, kind: str) -> str:
    """A second object with the natural key of the stack's one (made by hand, or by a run that was killed):
    its id."""
    client = api_client(emulator)
    with emulator.store_lock:
        (record,) = [dict(r) for r in getattr(emulator.store, STORE[kind]).values()]
    if kind == "Warehouse":
        settings = {k: v for k, v in record["settings"].items() if k != "name"}
        return client.create_warehouse(
            metadata_id=record["metadataId"], settings=settings, name=record["settings"]["name"]
        ).id
    if kind == "ReverseEtlModel":
        return client.create_reverse_etl_model(
            source_id=record["sourceId"],
            name=record["name"],
            description=record["description"],
            enabled=record["enabled"],
            query=record["query"],
            query_identifier_column=record["queryIdentifierColumn"],
        ).id
    if kind == "Destination":
        return client.create_destination(
            source_id=record["sourceId"],
            metadata_id=record["metadataId"],
            settings=record["settings"],
            name=record["name"],
        ).id
    return client.create_subscription(
        record["destinationId"],
        name=record["name"],
        action_id=record["actionId"],
        trigger=record["trigger"],
        enabled=record["enabled"],
        settings=record["settings"],
        model_id=record["modelId"],
    ).id


def wait_until_served(emulator: Emulator, operations: set[str], timeout: float) -> None:
    """Until every request to ``operations`` the emulator received has been served (a hang included)."""
    deadline = time.monotonic() + timeout
    while any(r.status is None for r in emulator.requests if r.operation_id in operations):
        assert time.monotonic() < deadline, f"{operations} still being served after {timeout} s"
        time.sleep(0.05)


@pytest.mark.parametrize("kind", NOT_UNIQUE)
def test_an_object_an_interrupted_run_made_is_adopted_not_made_again(
    kind: str, server: ProviderServer, flex_emulator: Emulator, converged: dict[str, Any]
) -> None:
    name, create, lookup = NOT_UNIQUE[kind]
    engine = engine_for(server, flex_emulator)
    engine.up(MAIN)
    forgotten = forget(engine, name)
    flex_emulator.clear_requests()

    result = engine.up(MAIN)

    assert result.failures == []
    assert calls(flex_emulator, create) == [], f"{kind} was created again"
    assert len(calls(flex_emulator, lookup)) >= 1
    assert name in forgotten and {step.name for step in result.steps if step.op == "create"} == forgotten
    assert count(flex_emulator, kind) == 1
    assert_converged(engine, flex_emulator, converged)


@pytest.mark.parametrize("kind", NOT_UNIQUE)
def test_two_objects_with_the_natural_key_stop_the_resource_naming_both(
    kind: str, server: ProviderServer, flex_emulator: Emulator
) -> None:
    name, create, _ = NOT_UNIQUE[kind]
    engine = engine_for(server, flex_emulator)
    engine.up(MAIN)
    forget(engine, name)
    with flex_emulator.store_lock:
        (first,) = getattr(flex_emulator.store, STORE[kind])
    second = second_copy(flex_emulator, kind)
    before = segment_objects(flex_emulator)
    flex_emulator.clear_requests()

    with pytest.raises(DeploymentFailed) as failed:
        engine.up(MAIN)

    (failure,) = [f for f in failed.value.failures if f.name == name]
    assert first in failure.message and second in failure.message, failure.message
    assert "delete the others in the Segment app" in failure.message
    assert first != second and count(flex_emulator, kind) == 2
    assert calls(flex_emulator, create) == []
    assert mutating(flex_emulator) == [], "nothing may change while the natural key is ambiguous"
    assert segment_objects(flex_emulator) == before


def test_a_warehouse_of_another_environment_with_the_name_is_refused_and_left_alone(
    server: ProviderServer, flex_emulator: Emulator
) -> None:
    # The prod stack's warehouse carries the dev stack's name: it hangs off a source labelled environment:prod.
    client = api_client(flex_emulator)
    prod_source = client.create_source(
        slug="flex_prod_salesforce", metadata_id=client.catalog.source_by_slug("salesforce").id, enabled=True
    )
    client.add_labels_to_source(prod_source.id, [Label(key="environment", value="prod")])
    secret = json.loads(DEMO_SECRETS["flex-unified-profiles:warehouseCredentials"])
    prods = client.create_warehouse(
        metadata_id=client.catalog.warehouse_by_slug(WAREHOUSE["type"]).id,
        settings={**WAREHOUSE["settings"], **secret},
        name=WAREHOUSE["name"],
    )
    client.connect_source_to_warehouse(prods.id, prod_source.id)
    before = segment_objects(flex_emulator)["warehouses"]
    flex_emulator.clear_requests()

    with pytest.raises(DeploymentFailed) as failed:
        engine_for(server, flex_emulator).up(MAIN)

    (failure,) = [f for f in failed.value.failures if f.name == "warehouse"]
    assert prods.id in failure.message and "environment:prod" in failure.message
    assert "Nothing was changed" in failure.message and "Pulumi.dev.yaml" in failure.message
    assert calls(flex_emulator, "createWarehouse") == []
    assert calls(flex_emulator, "updateWarehouse") == []
    assert segment_objects(flex_emulator)["warehouses"] == before


@pytest.mark.parametrize("times", [3, 10], ids=["3x the read timeout", "10x the read timeout"])
def test_creates_segment_applies_after_the_answer_was_given_up_on_are_adopted_by_the_next_up(
    times: int, server: ProviderServer, flex_emulator: Emulator, converged: dict[str, Any]
) -> None:
    # Every create of the four kinds is applied late, after the client gave up on its answer: the run fails (or,
    # if Segment was done before the lookup, adopts), never sends the create again, and the next up adopts.
    late = times * READ_TIMEOUT
    creates = {create for _, create, _ in NOT_UNIQUE.values()}
    for create in creates:
        flex_emulator.add_fault("hang", operation=create, seconds=late)
    engine = engine_for(server, flex_emulator)

    for _ in range(3):  # the mapping waits for the model and the destination: its create comes in a later up
        try:
            engine.up(MAIN)
        except DeploymentFailed as failed:
            messages = [f.message for f in failed.failures]
            assert messages and all("run `pulumi up` again" in m.lower() for m in messages), messages
            assert all("it will find it and adopt it, not make a second one" in m for m in messages)
        wait_until_served(flex_emulator, creates, timeout=late + 30)
        for kind in NOT_UNIQUE:
            assert count(flex_emulator, kind) <= 1, f"a second {kind}"
        if not flex_emulator.faults:
            break

    for create in creates:
        sent = calls(flex_emulator, create)
        assert [r.fault for r in sent] == ["hang"], f"{create} sent {len(sent)} times"
    engine.up(MAIN)
    assert_converged(engine, flex_emulator, converged)


@pytest.fixture
def lookups_fail_after_a_lost_answer() -> Iterator[Emulator]:
    """An emulator on which each lost create answer (503 after the commit) makes the lookup that follows fail
    too: its list answers 503 as often as the client tries it."""
    emulator: Emulator

    def exchange(record: Any) -> None:
        session_recorder().record(record)
        lookups = {create: lookup for _, create, lookup in NOT_UNIQUE.values()}
        if record.operation_id in lookups and record.fault == "commit_then_fail":
            emulator.add_fault(
                "status", operation=lookups[record.operation_id], status=503, count=MAX_RETRIES + 1
            )

    with Emulator(
        time_scale=SESSION_TIME_SCALE, default_rate_limit=SESSION_DEFAULT_RATE_LIMIT, on_exchange=exchange
    ) as emulator:
        emulator.seed_flex_events("unified-profiles-dev")
        yield emulator


def test_a_lost_answer_whose_lookup_fails_too_fails_and_the_next_up_adopts(
    server: ProviderServer, lookups_fail_after_a_lost_answer: Emulator, converged: dict[str, Any]
) -> None:
    emulator = lookups_fail_after_a_lost_answer
    for _, create, _ in NOT_UNIQUE.values():
        emulator.add_fault("commit_then_fail", operation=create, status=503)
    engine = engine_for(server, emulator)

    failures: list[Any] = []
    for _ in range(3):  # the mapping comes once the model and the destination are in the state
        try:
            engine.up(MAIN)
            break
        except DeploymentFailed as failed:
            failures.extend(failed.failures)
        for kind in NOT_UNIQUE:
            assert count(emulator, kind) == (1 if calls(emulator, NOT_UNIQUE[kind][1]) else 0)

    assert {f.name for f in failures} == {name for name, _, _ in NOT_UNIQUE.values()}
    for failure in failures:
        assert "looking it up failed too" in failure.message and "Run `pulumi up` again" in failure.message
        assert "blindly" not in failure.message and "natural key" not in failure.message
    for _, create, _ in NOT_UNIQUE.values():
        assert [r.fault for r in calls(emulator, create)] == ["commit_then_fail"], create
    assert_converged(engine, emulator, converged)


def test_a_lost_answer_to_a_new_sources_label_is_sent_again_and_the_source_kept(
    server: ProviderServer, flex_emulator: Emulator, converged: dict[str, Any]
) -> None:
    # Adding a label the source has is harmless, so the label is sent again; the source is never deleted.
    flex_emulator.add_fault("commit_then_fail", operation="addLabelsToSource", status=None, count=2)
    engine = engine_for(server, flex_emulator)

    result = engine.up(MAIN)

    assert result.failures == []
    labels = calls(flex_emulator, "addLabelsToSource")
    assert [r.fault for r in labels].count("commit_then_fail") == 2 and len(labels) == 4
    assert calls(flex_emulator, "deleteSource") == []
    assert len(calls(flex_emulator, "createSource")) == 2
    assert_converged(engine, flex_emulator, converged)
