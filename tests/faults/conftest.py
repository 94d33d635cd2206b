"""Fixtures of the fault tests: the whole program, through the engine stand-in, against a faulty emulator.

Every test runs the real ``__main__.py`` with the dev stack's config pointed at the session's emulator, with the
client's timeouts and backoff shortened through the ``segment:`` tuning keys so that retries take milliseconds
and a hang outlasts the read timeout quickly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from flex_tools.demo import DEMO_SECRETS, stack_config
from segment_emulator import Emulator
from segment_provider.api import ClientSettings, SegmentClient
from tests.conftest import SESSION_PACING_ENV
from tests.harness import REPO_ROOT, ProgramEngine, ProviderServer, RunResult

MAIN = REPO_ROOT / "__main__.py"
MUTATING = ("POST", "PATCH", "PUT", "DELETE")
DYNAMIC = "pulumi-python:dynamic/segment:"

READ_TIMEOUT = 0.5
"""Seconds the client waits for an answer; a hang fault is made longer than this."""
HANG_SECONDS = 0.8
MAX_RETRIES = 3
TUNING = {
    "segment:readTimeout": str(READ_TIMEOUT),
    "segment:maxRetries": str(MAX_RETRIES),
    "segment:backoffBase": "0.01",
    "segment:backoffCap": "0.05",
}

# One operation that every resource kind sends when it is created from nothing (the space is only read).
FIRST_CALL = {
    "UnifySpace": "listSpaces",
    "Source": "createSource",
    "Warehouse": "createWarehouse",
    "WarehouseConnection": "addConnectionFromSourceToWarehouse",
    "ReverseEtlModel": "createReverseEtlModel",
    "Destination": "createDestination",
    "DestinationSubscription": "createDestinationSubscription",
    "DestinationActivation": "updateDestination",
    "ComputedTrait": "createComputedTrait",
}
# The read each kind's refresh (and the next up's checks) sends.
READ_CALL = {
    "UnifySpace": "getSpace",
    "Source": "getSource",
    "Warehouse": "getWarehouse",
    "WarehouseConnection": "listConnectedSourcesFromWarehouse",
    "ReverseEtlModel": "getReverseEtlModel",
    "Destination": "getDestination",
    "DestinationSubscription": "getSubscriptionFromDestination",
    "DestinationActivation": "getDestination",
    "ComputedTrait": "getComputedTrait",
}
# The call each kind's delete sends (a space and an activation are released, not deleted).
DELETE_CALL = {
    "Source": "deleteSource",
    "Warehouse": "deleteWarehouse",
    "WarehouseConnection": "removeSourceConnectionFromWarehouse",
    "ReverseEtlModel": "deleteReverseEtlModel",
    "Destination": "deleteDestination",
    "DestinationSubscription": "removeSubscriptionFromDestination",
    "ComputedTrait": "removeComputedTraitFromSpace",
}
KINDS = sorted(FIRST_CALL)
# The dev stack's computed-trait resources (definitions.yaml, every trait ready).
TRAITS = {
    "trait-total_inbounds",
    "trait-total_outbounds",
    "trait-frequent_inbound_channel",
    "trait-last_known_service_agent",
    "trait-last_interaction_duration",
    "trait-sentiment_in_last_interaction",
}

# Each kind's create → (objects of the kind the dev stack creates, creates whose answer the lost-answer tests
# lose). Both sources (Salesforce and Reverse ETL) lose theirs; of the six traits, the first create does.
CREATES: dict[str, tuple[int, int]] = {
    "createSource": (2, 2),
    "createWarehouse": (1, 1),
    "addConnectionFromSourceToWarehouse": (1, 1),
    "createReverseEtlModel": (1, 1),
    "createDestination": (1, 1),
    "createDestinationSubscription": (1, 1),
    "createComputedTrait": (6, 1),
}


# The client paces itself to Segment's per-minute limits; against the session's emulator a minute is scaled.
PACING = SESSION_PACING_ENV


@pytest.fixture(scope="module")
def server() -> Iterator[ProviderServer]:
    with ProviderServer(cwd=REPO_ROOT, env=PACING) as running:
        yield running


@pytest.fixture(autouse=True)
def paced_to_the_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    """The program's own client (the read-only checks) paces like the providers' clients."""
    for name, value in PACING.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def flex_emulator(emulator: Emulator) -> Emulator:
    """The emulator from its seeds, the dev space having seen the Flex events (every trait is ready)."""
    emulator.seed_flex_events("unified-profiles-dev")
    return emulator


def engine_for(server: ProviderServer, emulator: Emulator, **config: Any) -> ProgramEngine:
    """The dev stack on ``emulator``, with the short client timeouts; ``config`` adds or replaces keys."""
    values = stack_config(emulator.url, "dev", emulator.token)
    values.update(TUNING)
    values.update({k: json.dumps(v) if isinstance(v, dict | list) else str(v) for k, v in config.items()})
    return ProgramEngine(server, stack="dev", config=values, secret_keys=set(DEMO_SECRETS))


@pytest.fixture
def engine(server: ProviderServer, flex_emulator: Emulator) -> ProgramEngine:
    return engine_for(server, flex_emulator)


def mutating(emulator: Emulator) -> list[str]:
    return [f"{r.method} {r.operation_id}" for r in emulator.requests if r.method in MUTATING]


def calls(emulator: Emulator, operation_id: str) -> list[Any]:
    return [r for r in emulator.requests if r.operation_id == operation_id]


def changes(result: RunResult) -> dict[str, str]:
    """Changed resources by name."""
    return {step.name: step.op for step in result.steps if step.op != "same"}


def kind_of(type_token: str) -> str:
    return type_token.removeprefix(DYNAMIC)


NOTHING: dict[str, list[Any]] = {
    "sources": [],
    "warehouses": [],
    "connections": [],
    "models": [],
    "destinations": [],
    "mappings": [],
    "computed_traits": [],
}
"""``segment_objects`` of a workspace the stack has left no object in."""


def segment_objects(emulator: Emulator) -> dict[str, Any]:
    """What the stack owns in Segment, by natural key and without ids, so two runs can be compared."""
    store = emulator.store
    with emulator.store_lock:
        sources = {s["id"]: s for s in store.sources.values() if not s["slug"].startswith("personas_")}
        warehouses = {w["id"]: w for w in store.warehouses.values()}
        destinations = {d["id"]: d for d in store.destinations.values()}
        models = {m["id"]: m for m in store.models.values()}

        def warehouse_name(warehouse_id: str) -> str:
            return str(warehouses[warehouse_id]["settings"].get("name"))

        return {
            "sources": sorted(
                (s["slug"], s["name"], s["enabled"], _json(s["settings"])) for s in sources.values()
            ),
            "warehouses": sorted(
                (warehouse_name(w), warehouses[w]["enabled"], _json(warehouses[w]["settings"]))
                for w in warehouses
            ),
            "connections": sorted(
                (warehouse_name(w), sources[s]["slug"])
                for w, s in store.connections
                if w in warehouses and s in sources
            ),
            "models": sorted(
                (m["name"], sources[m["sourceId"]]["slug"], m["query"]) for m in models.values()
            ),
            "destinations": sorted(
                (d["name"], sources[d["sourceId"]]["slug"], d["enabled"]) for d in destinations.values()
            ),
            "mappings": sorted(
                (
                    m["name"],
                    destinations[m["destinationId"]]["name"],
                    m["trigger"],
                    m["enabled"],
                    _json(m["settings"]),
                    _json(m.get("reverseETLSchedule")),
                )
                for m in store.subscriptions.values()
            ),
            "computed_traits": sorted(
                (t["name"], t["definition"]["query"], t["enabled"]) for t in store.computed_traits.values()
            ),
        }


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


@pytest.fixture(scope="module")
def converged(server: ProviderServer, session_emulator: Emulator) -> dict[str, Any]:
    """What one fault-free ``up`` of the dev stack leaves in Segment: the reference for every fault test."""
    session_emulator.reset()
    session_emulator.seed_flex_events("unified-profiles-dev")
    engine_for(server, session_emulator).up(MAIN)
    reference = segment_objects(session_emulator)
    session_emulator.reset()
    return reference


# Where each kind's object lives in the emulator's store, and the output holding its id.
STORED_AS = {
    "UnifySpace": ("spaces", "space_id"),
    "Source": ("sources", "source_id"),
    "Warehouse": ("warehouses", "warehouse_id"),
    "ReverseEtlModel": ("models", "model_id"),
    "Destination": ("destinations", "destination_id"),
    "DestinationActivation": ("destinations", "destination_id"),
    "DestinationSubscription": ("subscriptions", "subscription_id"),
    "ComputedTrait": ("computed_traits", "trait_id"),
}


def in_segment(emulator: Emulator, kind: str, outputs: dict[str, Any]) -> bool:
    """Whether the object a resource's outputs name exists in the emulator."""
    store = emulator.store
    with emulator.store_lock:
        if kind == "WarehouseConnection":
            return (outputs["warehouse_id"], outputs["source_id"]) in store.connections
        collection, id_output = STORED_AS[kind]
        return outputs[id_output] in getattr(store, collection)


def assert_converged(engine: ProgramEngine, emulator: Emulator, reference: dict[str, Any]) -> None:
    """Segment holds exactly the reference objects (none lost, none twice), every id in the state is one of
    them, and a further ``up`` changes nothing and sends no mutating call."""
    assert segment_objects(emulator) == reference
    for record in engine.state:
        if not record.type.startswith(DYNAMIC):
            continue
        assert in_segment(emulator, kind_of(record.type), record.outputs), (
            f"{record.name} points at an object Segment does not have"
        )
    emulator.clear_requests()
    again = engine.up(MAIN)
    assert changes(again) == {}
    assert mutating(emulator) == []


def api_client(emulator: Emulator) -> SegmentClient:
    return SegmentClient(ClientSettings.resolve(token=emulator.token, endpoint=emulator.url))


def outputs(engine: ProgramEngine, name: str) -> dict[str, Any]:
    return engine.state.get(name).outputs


def delete_every_kind(engine: ProgramEngine, emulator: Emulator) -> None:
    """Delete every object the stack made, leaves first, straight through the API."""
    client = api_client(emulator)
    destination_id = outputs(engine, "profiles-destination")["destination_id"]
    warehouse_id = outputs(engine, "warehouse")["warehouse_id"]
    client.delete_subscription(destination_id, outputs(engine, "send-identify")["subscription_id"])
    space_id = emulator.space("unified-profiles-dev")["id"]
    for record in engine.state:
        if record.name.startswith("trait-"):
            client.delete_computed_trait(space_id, record.outputs["trait_id"])
    client.disconnect_source_from_warehouse(warehouse_id, outputs(engine, "salesforce-source")["source_id"])
    client.delete_destination(destination_id)
    client.delete_reverse_etl_model(outputs(engine, "model")["model_id"])
    client.delete_warehouse(warehouse_id)
    client.delete_source(outputs(engine, "salesforce-source")["source_id"])
    client.delete_source(outputs(engine, "reverse-etl-source")["source_id"])
