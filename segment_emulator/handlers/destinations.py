"""Destinations and their subscriptions (the Actions mappings, alpha)."""

from __future__ import annotations

from segment_emulator import catalog
from segment_emulator.errors import not_found
from segment_emulator.handlers.common import SUCCESS, Call, listed, require
from segment_emulator.models import (
    CreateDestination,
    CreateSubscription,
    UpdateDestination,
    UpdateSubscription,
)
from segment_emulator.store import Record
from segment_emulator.views import destination_view, settings_created, subscription_view


def create_destination(call: Call) -> Record:
    body = call.input(CreateDestination)
    require(call.store.sources, body.source_id, "source")
    if catalog.destination_metadata(body.metadata_id) is None:
        raise not_found("destination metadata", body.metadata_id)
    destination: Record = {
        "id": call.store.new_id(f"destination:{body.source_id}:{body.name}"),
        "name": body.name,
        "enabled": bool(body.enabled),
        "metadataId": body.metadata_id,
        "sourceId": body.source_id,
        "settings": settings_created(body.settings),
    }
    call.store.destinations[destination["id"]] = destination
    return {"destination": destination_view(destination)}


def get_destination(call: Call) -> Record:
    return {"destination": destination_view(_destination(call))}


def list_destinations(call: Call) -> Record:
    return listed("destinations", [destination_view(d) for d in call.store.destinations.values()], call)


def update_destination(call: Call) -> Record:
    destination = _destination(call)
    body = call.input(UpdateDestination)
    if "name" in body.model_fields_set:
        destination["name"] = body.name  # nullable here: null clears the name
    if body.enabled is not None:
        destination["enabled"] = body.enabled
    if body.settings is not None:
        destination["settings"] = call.updated_settings(destination["settings"], body.settings)
    return {"destination": destination_view(destination)}


def delete_destination(call: Call) -> Record:
    destination = _destination(call)
    del call.store.destinations[destination["id"]]
    subscriptions = call.store.subscriptions
    for subscription_id in [i for i, s in subscriptions.items() if s["destinationId"] == destination["id"]]:
        del subscriptions[subscription_id]
    return dict(SUCCESS)


# ------------------------------------------------------------------------------------------ subscriptions


def create_destination_subscription(call: Call) -> Record:
    destination = _destination(call)
    body = call.input(CreateSubscription)
    action = _action(destination, body.action_id)
    if body.model_id is not None:
        require(call.store.models, body.model_id, "Reverse ETL model")
    subscription: Record = {
        "id": call.store.new_id(f"subscription:{destination['id']}:{body.name}"),
        "name": body.name,
        "actionId": action["id"],
        "actionSlug": action["slug"],
        "destinationId": destination["id"],
        "enabled": body.enabled,
        "settings": settings_created(body.settings),
        "trigger": body.trigger,
        "modelId": body.model_id,
        "reverseETLSchedule": None,
    }
    call.store.subscriptions[subscription["id"]] = subscription
    return {"destinationSubscription": subscription_view(subscription)}


def get_subscription_from_destination(call: Call) -> Record:
    return {"subscription": subscription_view(_subscription(call))}


def list_subscriptions_from_destination(call: Call) -> Record:
    destination = _destination(call)
    owned = [
        subscription_view(s)
        for s in call.store.subscriptions.values()
        if s["destinationId"] == destination["id"]
    ]
    return listed("subscriptions", owned, call)


def update_subscription_for_destination(call: Call) -> Record:
    subscription = _subscription(call)
    changes = call.input(UpdateSubscription).input
    for key in ("name", "trigger", "enabled"):
        value = getattr(changes, key)
        if value is not None:
            subscription[key] = value
    if changes.settings is not None:
        subscription["settings"] = call.updated_settings(subscription["settings"], changes.settings)
    if changes.reverse_etl_model_id is not None:
        require(call.store.models, changes.reverse_etl_model_id, "Reverse ETL model")
        subscription["modelId"] = changes.reverse_etl_model_id
    if changes.reverse_etl_schedule is not None:
        subscription["reverseETLSchedule"] = changes.reverse_etl_schedule.to_record()
    return {"subscription": subscription_view(subscription)}


def remove_subscription_from_destination(call: Call) -> Record:
    subscription = _subscription(call)
    del call.store.subscriptions[subscription["id"]]
    return dict(SUCCESS)


def _destination(call: Call) -> Record:
    return require(call.store.destinations, call.params["destinationId"], "destination")


def _subscription(call: Call) -> Record:
    destination = _destination(call)
    subscription_id = call.params["id"]
    subscription = call.store.subscriptions.get(subscription_id)
    if subscription is None or subscription["destinationId"] != destination["id"]:
        raise not_found("subscription", subscription_id)
    return subscription


def _action(destination: Record, action_id: str) -> Record:
    """The catalog action ``action_id`` of the destination's catalog entry (ids belong to the entry)."""
    metadata = catalog.destination_metadata(destination["metadataId"]) or {"actions": []}
    for action in metadata["actions"]:
        if action["id"] == action_id:
            return dict(action)
    raise not_found(f"action of destination metadata '{destination['metadataId']}'", action_id)
