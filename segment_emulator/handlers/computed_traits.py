"""Computed traits of a Unify space (alpha)."""

from __future__ import annotations

import re

from segment_emulator.clock import iso_timestamp
from segment_emulator.errors import ApiProblem, not_found
from segment_emulator.handlers.common import SUCCESS, Call, listed, require
from segment_emulator.models import CreateComputedTrait, UpdateComputedTrait
from segment_emulator.store import Record
from segment_emulator.views import trait_view

# A new or edited trait computes first; the emulator never moves it on to "Live".
COMPUTING = "Computing"


def trait_key(name: str) -> str:
    """The key a trait has on profiles: its name in snake_case (``Total inbounds`` → ``total_inbounds``)."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return re.sub(r"[^a-z0-9]+", "_", spaced.lower()).strip("_")


def create_computed_trait(call: Call) -> Record:
    space = require(call.store.spaces, call.params["spaceId"], "space")
    body = call.input(CreateComputedTrait)
    key = trait_key(body.name)
    # A trait's key is its name on profiles, unique in the space: Segment refuses a second one.
    if any(t["spaceId"] == space["id"] and t["key"] == key for t in call.store.computed_traits.values()):
        raise ApiProblem(409, f"A computed trait with key '{key}' already exists in this space")
    stamp = iso_timestamp(call.now)
    trait: Record = {
        "id": call.store.new_id(f"trait:{space['id']}:{body.name}"),
        "spaceId": space["id"],
        "name": body.name,
        "description": body.description,
        "key": key,
        "enabled": True if body.enabled is None else body.enabled,
        "definition": body.definition.model_dump(mode="json"),
        "status": COMPUTING,
        "createdBy": call.store.user_id,
        "updatedBy": call.store.user_id,
        "createdAt": stamp,
        "updatedAt": stamp,
        "options": body.options.model_dump(mode="json", by_alias=True, exclude_none=True)
        if body.options
        else None,
    }
    call.store.computed_traits[trait["id"]] = trait
    return {"computedTrait": trait_view(trait)}


def get_computed_trait(call: Call) -> Record:
    return {"computedTrait": trait_view(_trait(call))}


def list_computed_traits(call: Call) -> Record:
    space = require(call.store.spaces, call.params["spaceId"], "space")
    traits = [trait_view(t) for t in call.store.computed_traits.values() if t["spaceId"] == space["id"]]
    return listed("computedTraits", traits, call)


def update_computed_trait_for_space(call: Call) -> Record:
    trait = _trait(call)
    changes = call.input(UpdateComputedTrait)
    for key in ("name", "description", "enabled"):
        value = getattr(changes, key)
        if value is not None:
            trait[key] = value
    if changes.definition is not None:
        trait["definition"] = changes.definition.model_dump(mode="json")
    # The key stays: it is the trait's name on profiles. An edit recomputes the trait.
    trait["status"] = COMPUTING
    trait["updatedAt"] = iso_timestamp(call.now)
    trait["updatedBy"] = call.store.user_id
    return {"computedTrait": trait_view(trait)}


def remove_computed_trait_from_space(call: Call) -> Record:
    trait = _trait(call)
    del call.store.computed_traits[trait["id"]]
    return dict(SUCCESS)


def _trait(call: Call) -> Record:
    space = require(call.store.spaces, call.params["spaceId"], "space")
    trait_id = call.params["id"]
    trait = call.store.computed_traits.get(trait_id)
    if trait is None or trait["spaceId"] != space["id"]:
        raise not_found("computed trait", trait_id)
    return trait
