"""Creates whose answer is lost after Segment applied them: nothing is created twice, the object is adopted.

Segment has no idempotency keys, so a create is never sent again in the same run: the provider looks the object
up by its natural key (source slug; names within their parent) and adopts what it finds, or fails so that the
next run finds it. Connecting a source to a warehouse is idempotent: a lost answer to it is sent again.
"""

from __future__ import annotations

from typing import Any

import pytest

from segment_emulator import Emulator
from segment_provider.api.models import TraitDefinition
from tests.faults.conftest import CREATES, MAIN, api_client, assert_converged, calls, engine_for, mutating
from tests.harness import DeploymentFailed, ProviderServer

SENT_AGAIN = {"addConnectionFromSourceToWarehouse"}
"""Creates that are idempotent: the client sends them again after a lost answer."""


@pytest.mark.parametrize(
    "answer", [502, None], ids=["5xx after the commit", "connection dropped after the commit"]
)
def test_a_lost_answer_to_every_kinds_create_is_adopted_not_duplicated(
    answer: int | None, server: ProviderServer, flex_emulator: Emulator, converged: dict[str, Any]
) -> None:
    engine = engine_for(server, flex_emulator)
    for operation, (_, lost) in CREATES.items():
        flex_emulator.add_fault("commit_then_fail", operation=operation, status=answer, count=lost)
    # The activation is a PATCH (enabled: true), sent again as it is: setting it twice is harmless.
    flex_emulator.add_fault("commit_then_fail", operation="updateDestination", status=answer)

    result = engine.up(MAIN)

    assert result.failures == []
    for operation, (objects, lost) in CREATES.items():
        sent = calls(flex_emulator, operation)
        expected = objects + lost if operation in SENT_AGAIN else objects
        assert len(sent) == expected, f"{operation} was sent {len(sent)} times for {objects} object(s)"
        lost_answers = [r for r in sent if r.fault == "commit_then_fail"]
        assert len(lost_answers) == lost and all(r.committed for r in lost_answers), operation
    slugs = {r.body["slug"] for r in calls(flex_emulator, "createSource")}
    assert slugs == {"flex_dev_salesforce", "flex_dev_reverse_etl"}, "both sources lost their answer"
    activation = calls(flex_emulator, "updateDestination")
    assert activation[0].fault == "commit_then_fail" and activation[0].committed
    assert activation[-1].status == 200 and len(activation) == 2
    assert_converged(engine, flex_emulator, converged)


def test_a_create_refused_before_segment_applied_it_is_not_sent_again_until_the_next_up(
    server: ProviderServer, flex_emulator: Emulator, converged: dict[str, Any]
) -> None:
    # The 502 comes before Segment did anything, but a gateway's 5xx does not say so: the lookup finds nothing,
    # the warehouse fails with what to do, and the next up looks again and creates it once.
    engine = engine_for(server, flex_emulator)
    flex_emulator.add_fault("status", operation="createWarehouse", status=502)

    with pytest.raises(DeploymentFailed) as failed:
        engine.up(MAIN)

    (failure,) = failed.value.failures
    assert failure.name == "warehouse"
    assert "Segment may have made the Warehouse 'Flex Dev Snowflake' (snowflake)" in failure.message
    assert "Run `pulumi up` again: it will find it and adopt it, not make a second one" in failure.message
    assert [(r.status, r.committed) for r in calls(flex_emulator, "createWarehouse")] == [(502, False)]
    # Looked up before the create, and again after its answer was lost.
    assert len(calls(flex_emulator, "listWarehouses")) == 2

    engine.up(MAIN)

    assert [(r.status, r.committed) for r in calls(flex_emulator, "createWarehouse")] == [
        (502, False),
        (201, True),
    ]
    assert mutating(flex_emulator).count("POST createWarehouse") == 2
    assert_converged(engine, flex_emulator, converged)


def test_a_409_to_every_kinds_create_is_a_lost_answer_adopted_by_natural_key(
    server: ProviderServer, flex_emulator: Emulator, converged: dict[str, Any]
) -> None:
    # Segment created the object but answered 409 (as it does when an earlier create's answer was lost and the
    # key is taken): the object is looked up by its natural key and adopted, never created again.
    engine = engine_for(server, flex_emulator)
    for operation, (_, lost) in CREATES.items():
        flex_emulator.add_fault("commit_then_fail", operation=operation, status=409, count=lost)

    result = engine.up(MAIN)

    assert result.failures == []
    for operation, (objects, lost) in CREATES.items():
        sent = calls(flex_emulator, operation)
        assert len(sent) == objects, f"{operation} was sent {len(sent)} times for {objects} object(s)"
        assert [r.status for r in sent].count(409) == lost, operation
    assert_converged(engine, flex_emulator, converged)


def test_a_trait_create_answered_409_leaves_exactly_one_trait(
    server: ProviderServer, flex_emulator: Emulator, converged: dict[str, Any]
) -> None:
    # The previous up's create went through after its call timed out: the key exists when this up creates it.
    space_id = flex_emulator.space("unified-profiles-dev")["id"]
    api_client(flex_emulator).create_computed_trait(
        space_id,
        name="Total inbounds",
        definition=TraitDefinition(
            type="USERS",
            query="event('Flex - Engagement Initiated').where(property('direction') = 'Inbound').count()",
        ),
        enabled=True,
    )
    engine = engine_for(server, flex_emulator)

    result = engine.up(MAIN)

    assert result.failures == []
    assert [r.status for r in calls(flex_emulator, "createComputedTrait")].count(409) == 1
    with flex_emulator.store_lock:
        keys = [t["key"] for t in flex_emulator.store.computed_traits.values()]
    assert sorted(keys) == sorted(set(keys)) and len(keys) == 6
    assert_converged(engine, flex_emulator, converged)
