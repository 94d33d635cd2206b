"""The whole program against the emulator, through the engine stand-in: the graph, stacks, and lifecycles."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from segment_provider.demo import DEMO_SECRETS, stack_config
from tests.harness import DeploymentFailed, ProgramEngine, ProviderServer, ResourceProtected

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
    return ProgramEngine(server, stack=stack, config=values, secret_keys=DEMO_SECRETS.keys())


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
        deps = set(named[name].dependencies) | {u for us in named[name].property_dependencies.values() for u in us}
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
    assert result.count("create") == sum(EXPECTED_KINDS.values())


def test_up_from_empty_creates_everything_and_exports_what_users_note_down(
    server: ProviderServer, flex_emulator: Any
) -> None:
    engine = engine_for(server, flex_emulator, "dev", **{"flex-unified-profiles:profileApiToken": "PROFILE-TOKEN-1"})
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
    assert {s["step"] for s in outputs["manualSteps"]} >= {"Authorize the Salesforce source", "Create the Unify space"}
    token_step = next(s for s in outputs["manualSteps"] if "Profile API token" in s["step"])
    assert token_step["status"] == "done"
    mapping = next(iter(store.subscriptions.values())) if hasattr(store, "subscriptions") else None
    if mapping is not None:
        personas = flex_emulator.personas_source("unified-profiles-dev")
        assert mapping["settings"]["engage_space"] == personas["writeKeys"][0]


def test_second_up_changes_nothing_and_makes_no_mutating_call(server: ProviderServer, flex_emulator: Any) -> None:
    engine = engine_for(server, flex_emulator)
    engine.up(MAIN)
    flex_emulator.clear_requests()
    again = engine.up(MAIN)
    assert again.changes == {}
    assert mutating(flex_emulator) == []


def test_changing_the_schedule_updates_only_the_mapping(server: ProviderServer, flex_emulator: Any) -> None:
    engine = engine_for(server, flex_emulator)
    engine.up(MAIN)
    engine.config["flex-unified-profiles:schedule"] = json.dumps({"strategy": "PERIODIC", "config": {"interval": "4h"}})
    flex_emulator.clear_requests()
    result = engine.up(MAIN)
    assert result.changes == {"send-identify": "update"}
    assert mutating(flex_emulator) == ["PATCH updateSubscriptionForDestination"]


def test_changing_one_trait_and_removing_another(server: ProviderServer, flex_emulator: Any, tmp_path: Path) -> None:
    engine = engine_for(server, flex_emulator)
    engine.up(MAIN)
    engine.config["flex-unified-profiles:definitionsFile"] = definitions(
        tmp_path,
        **{"traits.guide.total_outbounds": False, "traits.flexSchema": {"sentiment": "customerSentiment"}},
    )
    flex_emulator.seed_flex_events("unified-profiles-dev")
    store = flex_emulator.store
    # the renamed property must exist for the trait to be ready
    space_id = flex_emulator.space("unified-profiles-dev")["id"]
    store.add_event_property(space_id, "Flex - Engagement Completed", "customerSentiment")
    flex_emulator.clear_requests()
    result = engine.up(MAIN)
    assert result.changes == {
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
    flex_emulator.clear_requests()
    engine.destroy()
    calls = [r.operation_id for r in flex_emulator.requests if r.method in MUTATING]
    order = {op: calls.index(op) for op in calls}
    assert order["removeSubscriptionFromDestination"] < order["deleteDestination"] < order["deleteSource"]
    assert order["removeSubscriptionFromDestination"] < order["deleteReverseEtlModel"]
    assert order["removeSourceConnectionFromWarehouse"] < order["deleteWarehouse"]
    assert calls.count("removeComputedTraitFromSpace") == 6
    assert engine.state.names() == []
    assert flex_emulator.space("unified-profiles-dev")["id"]
    names = {s.get("slug") for s in flex_emulator.client_view_sources()} if hasattr(
        flex_emulator, "client_view_sources"
    ) else set()
    assert "flex_dev_salesforce" not in names


def test_destroy_on_prod_refuses_because_prod_is_protected(server: ProviderServer, flex_emulator: Any) -> None:
    engine = engine_for(server, flex_emulator, "prod")
    engine.up(MAIN)
    flex_emulator.clear_requests()
    with pytest.raises(ResourceProtected):
        engine.destroy()
    assert mutating(flex_emulator) == []


def test_traits_wait_for_flex_events_then_are_created(server: ProviderServer, emulator: Any) -> None:
    engine = engine_for(server, emulator)
    first = engine.up(MAIN)
    assert first.outputs["computedTraits"] == {}
    assert set(first.outputs["waitingTraits"]) == set(EXPECTED_TRAIT_IDS)
    assert "not seen" in first.outputs["waitingTraits"]["total_inbounds"]
    steps = {s["step"]: s["status"] for s in first.outputs["manualSteps"]}
    assert steps["Complete one Flex interaction so Flex events reach the space"] == "todo"
    emulator.seed_flex_events("unified-profiles-dev")
    second = engine.up(MAIN)
    assert {name for name, op in second.changes.items()} == {f"trait-{t}" for t in EXPECTED_TRAIT_IDS}
    assert set(second.changes.values()) == {"create"}
    assert second.outputs["waitingTraits"] == {}


EXPECTED_TRAIT_IDS = [
    "total_inbounds",
    "frequent_inbound_channel",
    "total_outbounds",
    "last_known_service_agent",
    "last_interaction_duration",
    "sentiment_in_last_interaction",
]


def test_a_missing_space_stops_before_anything_is_registered(server: ProviderServer, emulator: Any) -> None:
    engine = engine_for(server, emulator, **{"flex-unified-profiles:space": {"slug": "no-such-space"}})
    with pytest.raises(DeploymentFailed) as raised:
        engine.up(MAIN)
    assert "Create space" in str(raised.value) or "create it in the Segment app" in str(raised.value)
    assert engine.state.names() == []
    assert mutating(emulator) == []
