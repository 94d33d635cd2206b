"""Reverse ETL models (alpha), manual syncs and their status."""

from __future__ import annotations

from segment_emulator.clock import iso_timestamp
from segment_emulator.errors import ApiProblem, not_found
from segment_emulator.handlers.common import SUCCESS, Call, listed, require
from segment_emulator.models import CreateManualSync, CreateReverseEtlModel, UpdateReverseEtlModel
from segment_emulator.pagination import top_level_page_request
from segment_emulator.store import Record
from segment_emulator.views import model_view, sync_view

MODEL = "Reverse ETL model"


def create_reverse_etl_model(call: Call) -> Record:
    body = call.input(CreateReverseEtlModel)
    require(call.store.sources, body.source_id, "source")
    model: Record = {
        "id": call.store.new_id(f"model:{body.source_id}:{body.name}"),
        "sourceId": body.source_id,
        "name": body.name,
        "description": body.description,
        "enabled": body.enabled,
        "query": body.query,
        "queryIdentifierColumn": body.query_identifier_column,
    }
    call.store.models[model["id"]] = model
    return {"reverseEtlModel": model_view(model)}


def get_reverse_etl_model(call: Call) -> Record:
    return {"reverseEtlModel": model_view(require(call.store.models, call.params["modelId"], MODEL))}


def list_reverse_etl_models(call: Call) -> Record:
    return listed("models", [model_view(m) for m in call.store.models.values()], call)


def update_reverse_etl_model(call: Call) -> Record:
    model = require(call.store.models, call.params["modelId"], MODEL)
    changes = call.input(UpdateReverseEtlModel)
    # The source of a model cannot change; everything else can.
    for key, wire_key in (
        ("name", "name"),
        ("description", "description"),
        ("enabled", "enabled"),
        ("query", "query"),
        ("query_identifier_column", "queryIdentifierColumn"),
    ):
        value = getattr(changes, key)
        if value is not None:
            model[wire_key] = value
    return {"reverseEtlModel": model_view(model)}


def delete_reverse_etl_model(call: Call) -> Record:
    model = require(call.store.models, call.params["modelId"], MODEL)
    del call.store.models[model["id"]]
    return dict(SUCCESS)


def create_reverse_etl_manual_sync(call: Call) -> Record:
    body = call.input(CreateManualSync)
    source = require(call.store.sources, body.source_id, "source")
    model = require(call.store.models, body.model_id, MODEL)
    subscription = require(call.store.subscriptions, body.subscription_id, "subscription")
    if model["sourceId"] != source["id"]:
        raise ApiProblem(422, f"\"modelId\" belongs to source '{model['sourceId']}'", field="modelId")
    if subscription.get("modelId") != model["id"]:
        raise ApiProblem(
            422, f"\"subscriptionId\" does not use model '{model['id']}'", field="subscriptionId"
        )
    sync: Record = {
        "syncId": call.store.new_id(),
        "modelId": model["id"],
        "sourceId": source["id"],
        "subscriptionId": subscription["id"],
        "startedAt": iso_timestamp(call.now),
        "startedAtEpoch": call.now,
    }
    call.store.syncs[sync["syncId"]] = sync
    return {"reverseETLManualSync": {"syncId": sync["syncId"], "startedAt": sync["startedAt"]}}


def get_reverse_etl_sync_status(call: Call) -> Record:
    model = require(call.store.models, call.params["modelId"], MODEL)
    sync_id = call.params["syncId"]
    sync = call.store.syncs.get(sync_id)
    if sync is None or sync["modelId"] != model["id"]:
        raise not_found("sync", sync_id)
    return {"reverseETLSyncStatus": sync_view(sync, call.now, call.time_scale)}


def list_reverse_etl_sync_statuses_from_model_and_subscription_id(call: Call) -> Record:
    model = require(call.store.models, call.params["modelId"], MODEL)
    subscription = require(call.store.subscriptions, call.params["subscriptionId"], "subscription")
    syncs = [
        sync_view(s, call.now, call.time_scale)
        for s in call.store.syncs.values()
        if s["modelId"] == model["id"] and s["subscriptionId"] == subscription["id"]
    ]
    return listed("syncStatuses", syncs, call, top_level_page_request(call.query))
