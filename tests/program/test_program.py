"""The whole program against the emulator, through the engine stand-in: the graph, stacks, and lifecycles."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from flex_tools.demo import DEMO_SECRETS, stack_config
from tests.engine_stories import NEW_SALESFORCE_SLUG, REPLACING_THE_SALESFORCE_SOURCE, SPECIFIC_DAYS_SCHEDULE
from tests.harness import DeploymentFailed, ProgramEngine, ProviderServer, ResourceProtected
from tests.program.ready_stack import GUIDE_TRAIT_KEYS

REPO = Path(__file__).resolve().parents[2]
MAIN = REPO / "__main__.py"
DYNAMIC = "pulumi-python:dynamic/segment:"
MUTATING = ("POST", "PATCH", "PUT", "DELETE")
EXPECTED_KINDS = {
    "UnifySpace": 1,
    "Source": 2,
    "Warehouse": 1,
    "WarehouseConnection": 1,
    "ReverseEtlModel": 1,
    "Destination": 1,
    "DestinationSubscription": 1,
    "DestinationActivation": 1,
    "ComputedTrait": 6,
}


@pytest.fixture(scope="module")
def server() -> Iterator[ProviderServer]:
    with ProviderServer(cwd=REPO) as running:
        yield running


def engine_for(server: ProviderServer, emulator: Any, stack: str = "dev", **config: Any) -> ProgramEngine:
    values = stack_config(emulator.url, stack, emulator.token)
    values.update({k: json.dumps(v) if isinstance(v, dict | list) else str(v) for k, v in config.items()})
    secret_keys = {*DEMO_SECRETS, *({"flex-unified-profiles:profileApiToken"} & set(values))}
    return ProgramEngine(server, stack=stack, config=values, secret_keys=secret_keys)


def changes(result: Any) -> dict[str, str]:
    """Changed resources by name (the harness keys them by URN)."""
    return {urn.rsplit("::", 1)[-1]: op for urn, op in result.changes.items()}


def kinds(registrations: list[Any]) -> Counter[str]:
    return Counter(r.type.removeprefix(DYNAMIC) for r in registrations if r.type.startswith(DYNAMIC))


def by_name(registrations: list[Any]) -> dict[str, Any]:
    return {r.name: r for r in registrations}


def mutating(emulator: Any) -> list[str]:
    return [f"{r.method} {r.operation_id}" for r in emulator.requests if r.method in MUTATING]


def definitions(tmp_path: Path, **changes: Any) -> str:
    data = yaml.safe_load((REPO / "definitions.yaml").read_text())
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    path = tmp_path / "definitions.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.fixture
def flex_emulator(emulator: Any) -> Any:
    emulator.seed_flex_events("unified-profiles-dev")
    emulator.seed_flex_events("unified-profiles-prod")
    return emulator


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_preview_registers_the_whole_graph_with_its_dependencies(
    stack: str, server: ProviderServer, flex_emulator: Any
) -> None:
    engine = engine_for(server, flex_emulator, stack)
    result = engine.preview(MAIN)
    assert mutating(flex_emulator) == [], "a preview must not change Segment"
    registrations = engine.registrations
    assert dict(kinds(registrations)) == EXPECTED_KINDS
    named = by_name(registrations)
    urn = {name: r.urn for name, r in named.items()}

    def depends(name: str, *on: str) -> None:
        deps = set(named[name].dependencies) | {
            u for us in named[name].property_dependencies.values() for u in us
        }
        assert {urn[o] for o in on} <= deps, (name, on)

    depends("salesforce-to-warehouse", "warehouse", "salesforce-source")
    depends("model", "reverse-etl-source")
    depends("profiles-destination", "reverse-etl-source")
    depends("send-identify", "profiles-destination", "model")
    depends("profiles-destination-enabled", "send-identify", "profiles-destination")
    for name in named:
        if name.startswith("trait-"):
            depends(name, "space")
    protected = {r.name: r.protect for r in registrations if r.custom}
    assert set(protected.values()) == {stack == "prod"}, protected
    assert result.count("create") == sum(EXPECTED_KINDS.values()) + 1  # and the component


def test_up_from_empty_creates_everything_and_exports_what_users_note_down(
    server: ProviderServer, flex_emulator: Any
) -> None:
    engine = engine_for(
        server, flex_emulator, "dev", **{"flex-unified-profiles:profileApiToken": "PROFILE-TOKEN-1"}
    )
    result = engine.up(MAIN)
    assert result.failures == []
    store = flex_emulator.store
    space = flex_emulator.space("unified-profiles-dev")
    outputs = result.outputs
    assert outputs["spaceId"] == space["id"]
    assert outputs["spaceSlug"] == "unified-profiles-dev"
    assert outputs["workspaceSlug"] == flex_emulator.workspace["slug"]
    assert "profileApiToken" in result.secret_outputs
    assert outputs["profileApiToken"] == "PROFILE-TOKEN-1"
    assert len(outputs["computedTraits"]) == 6
    assert {s["step"] for s in outputs["manualSteps"]} >= {
        "Authorize the Salesforce source",
        "Create the Unify space",
    }
    token_step = next(s for s in outputs["manualSteps"] if "Profile API token" in s["step"])
    assert token_step["status"] == "done"
    (mapping,) = store.subscriptions.values()
    personas = flex_emulator.personas_source("unified-profiles-dev")
    assert mapping["settings"]["engage_space"] == personas["writeKeys"][0]


def test_second_up_changes_nothing_and_makes_no_mutating_call(
    server: ProviderServer, flex_emulator: Any
) -> None:
    engine = engine_for(server, flex_emulator)
    engine.up(MAIN)
    flex_emulator.clear_requests()
    again = engine.up(MAIN)
    assert changes(again) == {}
    assert mutating(flex_emulator) == []


def test_changing_the_schedule_updates_only_the_mapping(server: ProviderServer, flex_emulator: Any) -> None:
    engine = engine_for(server, flex_emulator)
    engine.up(MAIN)
    engine.config["flex-unified-profiles:schedule"] = json.dumps(
        {"strategy": "PERIODIC", "config": {"interval": "4h"}}
    )
    flex_emulator.clear_requests()
    result = engine.up(MAIN)
    assert changes(result) == {"send-identify": "update"}
    assert mutating(flex_emulator) == ["PATCH updateSubscriptionForDestination"]


def test_a_new_source_slug_replaces_the_source_as_the_real_engine_does(
    server: ProviderServer, flex_emulator: Any
) -> None:
    engine = engine_for(server, flex_emulator)
    engine.up(MAIN)
    salesforce = json.loads(engine.config["flex-unified-profiles:salesforce"])
    engine.config["flex-unified-profiles:salesforce"] = json.dumps(
        {**salesforce, "sourceSlug": NEW_SALESFORCE_SLUG}
    )
    flex_emulator.clear_requests()
    result = engine.up(MAIN)
    assert changes(result) == {"salesforce-source": "replace", "salesforce-to-warehouse": "replace"}
    assert mutating(flex_emulator) == REPLACING_THE_SALESFORCE_SOURCE


def test_a_specific_days_schedule_reaches_segment_as_integers(
    server: ProviderServer, flex_emulator: Any
) -> None:
    engine = engine_for(server, flex_emulator, **{"flex-unified-profiles:schedule": SPECIFIC_DAYS_SCHEDULE})
    engine.up(MAIN)
    (mapping,) = flex_emulator.store.subscriptions.values()
    assert mapping["reverseETLSchedule"] == SPECIFIC_DAYS_SCHEDULE
    assert all(type(day) is int for day in mapping["reverseETLSchedule"]["config"]["days"])
    flex_emulator.clear_requests()
    engine.up(MAIN)
    assert mutating(flex_emulator) == []


def test_changing_the_salesforce_environment_keeps_the_authorisation_done_in_the_app(
    server: ProviderServer, flex_emulator: Any
) -> None:
    engine = engine_for(server, flex_emulator)
    engine.up(MAIN)
    with flex_emulator.store_lock:
        salesforce = flex_emulator.store.source_by_slug("flex_dev_salesforce")
        # what Segment adds to the settings once the OAuth is done in the app
        salesforce["settings"].update(
            {"instance-url": "https://acme.my.salesforce.com", "displayName": "Acme"}
        )
    salesforce_config = json.loads(engine.config["flex-unified-profiles:salesforce"])
    engine.config["flex-unified-profiles:salesforce"] = json.dumps(
        {**salesforce_config, "environment": "sandbox"}
    )
    flex_emulator.clear_requests()

    result = engine.up(MAIN)

    assert changes(result) == {"salesforce-source": "update"}
    assert mutating(flex_emulator) == ["PATCH updateSource"]
    assert flex_emulator.store.sources[salesforce["id"]]["settings"] == {
        "salesforce-environment": "sandbox",
        "instance-url": "https://acme.my.salesforce.com",
        "displayName": "Acme",
    }
    engine.expect_no_changes(MAIN)


def test_changing_one_trait_and_removing_another(
    server: ProviderServer, flex_emulator: Any, tmp_path: Path
) -> None:
    engine = engine_for(server, flex_emulator)
    engine.up(MAIN)
    engine.config["flex-unified-profiles:definitionsFile"] = definitions(
        tmp_path,
        **{"traits.guide.total_outbounds": False, "traits.flexSchema": {"sentiment": "customerSentiment"}},
    )
    flex_emulator.seed_flex_events("unified-profiles-dev")
    # the renamed property must exist in the space for the trait to be ready
    space_id = flex_emulator.space("unified-profiles-dev")["id"]
    with flex_emulator.store_lock:
        completed = flex_emulator.store.events[space_id]["Flex - Engagement Completed"]["properties"]
        completed["customerSentiment"] = dict(completed["sentiment"], name="customerSentiment")
    flex_emulator.clear_requests()
    result = engine.up(MAIN)
    assert changes(result) == {
        "trait-total_outbounds": "delete",
        "trait-sentiment_in_last_interaction": "update",
    }
    assert sorted(mutating(flex_emulator)) == [
        "DELETE removeComputedTraitFromSpace",
        "PATCH updateComputedTraitForSpace",
    ]


def test_destroy_on_dev_removes_every_object_in_reverse_order_and_keeps_the_space(
    server: ProviderServer, flex_emulator: Any
) -> None:
    engine = engine_for(server, flex_emulator)
    engine.up(MAIN)
    retl_source = engine.state.outputs["reverseEtlSourceId"]
    flex_emulator.clear_requests()
    engine.destroy()
    sent = [r for r in flex_emulator.requests if r.method in MUTATING]
    calls = [r.operation_id for r in sent]
    # Deletes run in parallel, dependents first: the first of each kind is enough, but for the Reverse ETL
    # source, which goes after the destination on it (the Salesforce source may go long before).
    order = {op: calls.index(op) for op in calls}
    order["deleteSource"] = next(
        i for i, r in enumerate(sent) if r.operation_id == "deleteSource" and r.path.endswith(retl_source)
    )
    assert order["removeSubscriptionFromDestination"] < order["deleteDestination"] < order["deleteSource"]
    assert order["removeSubscriptionFromDestination"] < order["deleteReverseEtlModel"]
    assert order["removeSourceConnectionFromWarehouse"] < order["deleteWarehouse"]
    assert calls.count("removeComputedTraitFromSpace") == 6
    assert engine.state.names() == []
    assert flex_emulator.space("unified-profiles-dev")["id"]
    slugs = {s["slug"] for s in flex_emulator.store.sources.values()}
    assert "flex_dev_salesforce" not in slugs
    assert not flex_emulator.store.computed_traits


def test_destroy_on_prod_refuses_because_prod_is_protected(
    server: ProviderServer, flex_emulator: Any
) -> None:
    engine = engine_for(server, flex_emulator, "prod")
    engine.up(MAIN)
    flex_emulator.clear_requests()
    with pytest.raises((ResourceProtected, DeploymentFailed), match="protected"):
        engine.destroy()
    assert mutating(flex_emulator) == []


def test_traits_wait_for_flex_events_then_are_created(server: ProviderServer, emulator: Any) -> None:
    engine = engine_for(server, emulator)
    first = engine.up(MAIN)
    assert first.outputs["computedTraits"] == {}
    assert set(first.outputs["waitingTraits"]) == set(GUIDE_TRAIT_KEYS)
    assert "not seen" in first.outputs["waitingTraits"]["total_inbounds"]
    steps = {s["step"]: s["status"] for s in first.outputs["manualSteps"]}
    assert steps["Complete one Flex interaction so Flex events reach the space"] == "todo"
    emulator.seed_flex_events("unified-profiles-dev")
    second = engine.up(MAIN)
    assert {name for name, op in changes(second).items()} == {f"trait-{t}" for t in GUIDE_TRAIT_KEYS}
    assert set(changes(second).values()) == {"create"}
    assert second.outputs["waitingTraits"] == {}


def test_a_missing_space_stops_before_anything_is_registered(server: ProviderServer, emulator: Any) -> None:
    engine = engine_for(server, emulator, **{"flex-unified-profiles:space": {"slug": "no-such-space"}})
    with pytest.raises((DeploymentFailed, pulumi.RunError), match="create it in the Segment app"):
        engine.up(MAIN)
    assert engine.state.names() == []
    assert mutating(emulator) == []
