"""Every operation answers its success status (201 for the creates Segment answers 201) in the data envelope."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from segment_emulator import Emulator
from segment_emulator.routing import OPERATIONS_BY_ID
from tests.emulator.conftest import (
    DEV_SPACE,
    POSTGRES_WAREHOUSE,
    PROFILES,
    SALESFORCE,
    SEND_IDENTIFY,
    SNOWFLAKE_RETL,
    SNOWFLAKE_SETTINGS,
    SNOWFLAKE_WAREHOUSE,
    Api,
    data,
)

INITIATED = "Flex%20-%20Engagement%20Initiated"


@pytest.fixture
def world(api: Api, emulator: Emulator) -> dict[str, str]:
    """One object of each kind, connected as the Flex setup connects them; their ids by name."""
    emulator.seed_flex_events(DEV_SPACE)
    retl = api.source("world_retl")["id"]
    sfdc = api.source("world_sfdc", SALESFORCE)["id"]
    warehouse = api.warehouse()["id"]
    data(api.post(f"/warehouses/{warehouse}/connected-sources/{sfdc}"), 201)
    destination = api.destination(retl)["id"]
    model = api.model(retl)["id"]
    subscription = api.subscription(destination, modelId=model)["id"]
    sync = data(
        api.post("/reverse-etl-syncs", {"sourceId": retl, "modelId": model, "subscriptionId": subscription})
    )
    space = emulator.space(DEV_SPACE)["id"]
    return {
        "space": space,
        "retl": retl,
        "sfdc": sfdc,
        "warehouse": warehouse,
        "destination": destination,
        "model": model,
        "subscription": subscription,
        "sync": sync["reverseETLManualSync"]["syncId"],
        "trait": api.trait(space)["id"],
    }


@dataclass(frozen=True)
class Case:
    operation_id: str
    method: str
    path: str
    keys: frozenset[str]
    status: int = 200
    body: Any = None

    def __str__(self) -> str:
        return self.operation_id


def case(operation_id: str, method: str, path: str, *keys: str, status: int = 200, body: Any = None) -> Case:
    return Case(operation_id, method, path, frozenset(keys), status, body)


PAGE = "pagination"
CASES = [
    case("getWorkspace", "GET", "/", "workspace"),
    case("listSpaces", "GET", "/spaces", "spaces", PAGE),
    case("getSpace", "GET", "/spaces/{space}", "space"),
    case("listEvents", "GET", "/spaces/{space}/events", "events", PAGE),
    case(
        "listPropertiesFromEvent",
        "GET",
        f"/spaces/{{space}}/events/{INITIATED}/properties",
        "eventProperties",
        PAGE,
    ),
    case("getSourcesCatalog", "GET", "/catalog/sources", "sourcesCatalog", PAGE),
    case("getSourceMetadata", "GET", f"/catalog/sources/{SALESFORCE}", "sourceMetadata"),
    case("getDestinationsCatalog", "GET", "/catalog/destinations", "destinationsCatalog", PAGE),
    case("getDestinationMetadata", "GET", f"/catalog/destinations/{PROFILES}", "destinationMetadata"),
    case("getWarehousesCatalog", "GET", "/catalog/warehouses", "warehousesCatalog", PAGE),
    case("getWarehouseMetadata", "GET", f"/catalog/warehouses/{SNOWFLAKE_WAREHOUSE}", "warehouseMetadata"),
    case(
        "createSource",
        "POST",
        "/sources",
        "source",
        status=201,
        body={"slug": "fresh", "enabled": True, "metadataId": SNOWFLAKE_RETL},
    ),
    case("getSource", "GET", "/sources/{retl}", "source", "trackingPlanId"),
    case("listSources", "GET", "/sources", "sources", PAGE),
    case("updateSource", "PATCH", "/sources/{retl}", "source", body={"name": "Renamed"}),
    case("deleteSource", "DELETE", "/sources/{sfdc}", "status"),
    case("listLabels", "GET", "/labels", "labels"),
    case(
        "createLabel",
        "POST",
        "/labels",
        "label",
        status=201,
        body={"label": {"key": "team", "value": "flex"}},
    ),
    case("deleteLabel", "DELETE", "/labels/environment/dev", "status"),
    case(
        "addLabelsToSource",
        "POST",
        "/sources/{retl}/labels",
        "labels",
        body={"labels": [{"key": "environment", "value": "dev"}]},
    ),
    case(
        "replaceLabelsInSource",
        "PUT",
        "/sources/{retl}/labels",
        "labels",
        body={"labels": [{"key": "environment", "value": "prod"}]},
    ),
    case(
        "listConnectedWarehousesFromSource", "GET", "/sources/{sfdc}/connected-warehouses", "warehouses", PAGE
    ),
    case(
        "listConnectedDestinationsFromSource",
        "GET",
        "/sources/{retl}/connected-destinations",
        "destinations",
        PAGE,
    ),
    case(
        "createWarehouse",
        "POST",
        "/warehouses",
        "warehouse",
        status=201,
        body={"metadataId": POSTGRES_WAREHOUSE, "settings": {"hostname": "db.example.com"}},
    ),
    case("getWarehouse", "GET", "/warehouses/{warehouse}", "warehouse"),
    case("listWarehouses", "GET", "/warehouses", "warehouses", PAGE),
    case(
        "updateWarehouse",
        "PATCH",
        "/warehouses/{warehouse}",
        "warehouse",
        body={"settings": SNOWFLAKE_SETTINGS},
    ),
    case("deleteWarehouse", "DELETE", "/warehouses/{warehouse}", "status"),
    case(
        "createValidationInWarehouse",
        "POST",
        "/warehouses/validation",
        "status",
        body={"metadataId": SNOWFLAKE_WAREHOUSE, "settings": SNOWFLAKE_SETTINGS},
    ),
    case(
        "getConnectionStateFromWarehouse",
        "GET",
        "/warehouses/{warehouse}/connection-state",
        "connectionState",
    ),
    case(
        "addConnectionFromSourceToWarehouse",
        "POST",
        "/warehouses/{warehouse}/connected-sources/{retl}",
        "status",
        status=201,
    ),
    case(
        "listConnectedSourcesFromWarehouse",
        "GET",
        "/warehouses/{warehouse}/connected-sources",
        "sources",
        PAGE,
    ),
    case(
        "listSyncsFromWarehouseAndSource",
        "GET",
        "/warehouses/{warehouse}/connected-sources/{sfdc}/syncs",
        "reports",
        PAGE,
    ),
    case(
        "removeSourceConnectionFromWarehouse",
        "DELETE",
        "/warehouses/{warehouse}/connected-sources/{sfdc}",
        "status",
    ),
    case(
        "createDestination",
        "POST",
        "/destinations",
        "destination",
        body={"sourceId": "{retl}", "metadataId": PROFILES, "settings": {}},
    ),
    case("getDestination", "GET", "/destinations/{destination}", "destination"),
    case("listDestinations", "GET", "/destinations", "destinations", PAGE),
    case("updateDestination", "PATCH", "/destinations/{destination}", "destination", body={"enabled": True}),
    case("deleteDestination", "DELETE", "/destinations/{destination}", "status"),
    case(
        "createDestinationSubscription",
        "POST",
        "/destinations/{destination}/subscriptions",
        "destinationSubscription",
        body={"name": "Identify", "actionId": SEND_IDENTIFY, "trigger": 'event = "new"', "enabled": False},
    ),
    case(
        "getSubscriptionFromDestination",
        "GET",
        "/destinations/{destination}/subscriptions/{subscription}",
        "subscription",
    ),
    case(
        "listSubscriptionsFromDestination",
        "GET",
        "/destinations/{destination}/subscriptions",
        "subscriptions",
        PAGE,
    ),
    case(
        "updateSubscriptionForDestination",
        "PATCH",
        "/destinations/{destination}/subscriptions/{subscription}",
        "subscription",
        body={"input": {"reverseETLSchedule": {"strategy": "PERIODIC", "config": {"interval": "1h"}}}},
    ),
    case(
        "removeSubscriptionFromDestination",
        "DELETE",
        "/destinations/{destination}/subscriptions/{subscription}",
        "status",
    ),
    case(
        "createReverseEtlModel",
        "POST",
        "/reverse-etl-models",
        "reverseEtlModel",
        status=201,
        body={
            "sourceId": "{retl}",
            "name": "Contacts",
            "description": "",
            "enabled": True,
            "query": "SELECT ID FROM salesforce.contacts",
            "queryIdentifierColumn": "ID",
        },
    ),
    case("getReverseEtlModel", "GET", "/reverse-etl-models/{model}", "reverseEtlModel"),
    case("listReverseEtlModels", "GET", "/reverse-etl-models", "models", PAGE),
    case(
        "updateReverseEtlModel",
        "PATCH",
        "/reverse-etl-models/{model}",
        "reverseEtlModel",
        body={"enabled": False},
    ),
    case("deleteReverseEtlModel", "DELETE", "/reverse-etl-models/{model}", "status"),
    case(
        "createReverseETLManualSync",
        "POST",
        "/reverse-etl-syncs",
        "reverseETLManualSync",
        body={"sourceId": "{retl}", "modelId": "{model}", "subscriptionId": "{subscription}"},
    ),
    case(
        "getReverseETLSyncStatus", "GET", "/reverse-etl-models/{model}/syncs/{sync}", "reverseETLSyncStatus"
    ),
    case(
        "listReverseETLSyncStatusesFromModelAndSubscriptionId",
        "GET",
        "/reverse-etl-models/{model}/subscriptionId/{subscription}/syncs",
        "syncStatuses",
        PAGE,
    ),
    case(
        "createComputedTrait",
        "POST",
        "/spaces/{space}/computed-traits",
        "computedTrait",
        body={"name": "Total outbounds", "definition": {"type": "USERS", "query": "event('x').count()"}},
    ),
    case("getComputedTrait", "GET", "/spaces/{space}/computed-traits/{trait}", "computedTrait"),
    case("listComputedTraits", "GET", "/spaces/{space}/computed-traits", "computedTraits", PAGE),
    case(
        "updateComputedTraitForSpace",
        "PATCH",
        "/spaces/{space}/computed-traits/{trait}",
        "computedTrait",
        body={"enabled": False},
    ),
    case("removeComputedTraitFromSpace", "DELETE", "/spaces/{space}/computed-traits/{trait}", "status"),
]


def filled(value: Any, ids: dict[str, str]) -> Any:
    """``value`` with ``{name}`` placeholders replaced by the world's ids (recursively)."""
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {key: filled(item, ids) for key, item in value.items()}
    return value


@pytest.mark.parametrize("case", CASES, ids=str)
def test_each_operation_answers_its_status_in_the_data_envelope(
    case: Case, api: Api, world: dict[str, str], emulator: Emulator
) -> None:
    response = api.send(case.method, filled(case.path, world), filled(case.body, world))

    answer = data(response, case.status)
    assert set(answer) == case.keys
    assert emulator.requests[-1].operation_id == case.operation_id
    if case.method == "DELETE":
        assert answer["status"] == "SUCCESS"


def test_the_table_covers_every_operation_served() -> None:
    assert sorted(c.operation_id for c in CASES) == sorted(OPERATIONS_BY_ID)


def test_success_statuses_are_segments() -> None:
    creates_answered_201 = {op.operation_id for op in OPERATIONS_BY_ID.values() if op.success_status == 201}

    assert creates_answered_201 == {
        "createSource",
        "createWarehouse",
        "addConnectionFromSourceToWarehouse",
        "createReverseEtlModel",
        "createLabel",
    }
