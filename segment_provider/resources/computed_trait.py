"""Computed traits of a Unify space.

Id: ``spaceId:traitId``. Natural key: the name within the space (Segment derives the trait key from it, so two
traits cannot share it: a replacement deletes the old trait first). ``options`` can only be set when a trait is
created, so changing them replaces the trait. Deleting a trait leaves its last values on profiles as plain traits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import pulumi
import pydantic

from segment_provider.api.models import ComputedTrait as ApiTrait
from segment_provider.api.models import TraitDefinition, TraitOptions
from segment_provider.query_tokens import same_query
from segment_provider.resources.base import (
    FoundInputs,
    ResourceInputs,
    SegmentProvider,
    SegmentResource,
    only_changed,
    resource_props,
)


class DefinitionInputs(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True, defer_build=True)

    type: Literal["USERS", "ACCOUNTS"] = "USERS"
    query: str = pydantic.Field(min_length=1)


class OptionsInputs(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True, defer_build=True)

    include_historical_data: bool | None = None
    include_anonymous_users: bool | None = None
    backfill_duration_days: int | None = pydantic.Field(default=None, ge=1)


class ComputedTraitInputs(ResourceInputs):
    space_id: str = pydantic.Field(min_length=1)
    name: str = pydantic.Field(min_length=1, max_length=255)
    description: str | None = None
    enabled: bool = True
    definition: DefinitionInputs
    options: OptionsInputs | None = None


def options_from_api(remote: TraitOptions | None) -> dict[str, Any] | None:
    """The ``options`` input of options Segment returned, None when it returned none.

    The wire carries ``backfillDurationDays`` as a number; a whole one becomes the input's integer, any other
    cannot be asked for and is left out.
    """
    if remote is None:
        return None
    days = remote.backfill_duration_days
    values = {
        "include_historical_data": remote.include_historical_data,
        "include_anonymous_users": remote.include_anonymous_users,
        "backfill_duration_days": int(days) if days is not None and float(days).is_integer() else None,
    }
    given = {key: value for key, value in values.items() if value is not None}
    return given or None


def inputs_from_api(remote: ApiTrait) -> FoundInputs:
    """The trait as ``ComputedTrait`` inputs (``definition`` None when Segment returned none)."""
    definition = remote.definition
    inputs = {
        "space_id": remote.space_id,
        "name": remote.name,
        "description": remote.description,
        "enabled": remote.enabled,
        "definition": {"type": definition.type, "query": definition.query} if definition else None,
        "options": options_from_api(remote.options),
    }
    return FoundInputs(inputs)


def split_trait_id(id_: str) -> tuple[str, str]:
    space_id, _, trait_id = id_.partition(":")
    return space_id, trait_id


class ComputedTraitProvider(SegmentProvider[ComputedTraitInputs, ApiTrait]):
    kind = "ComputedTrait"
    inputs_model = ComputedTraitInputs
    replace_on = frozenset({"space_id", "options"})
    delete_before_replace = True
    # Segment answers 409 to a second trait whose key (derived from the name) the space has.
    unique_key = True

    def describe(self, inputs: ComputedTraitInputs) -> str:
        return f"'{inputs.name}' in space {inputs.space_id}"

    def find_existing(self, inputs: ComputedTraitInputs) -> ApiTrait | None:
        matches = [t for t in self.client.list_computed_traits(inputs.space_id) if t.name == inputs.name]
        return self.single_match(matches, inputs)

    @staticmethod
    def _definition(inputs: ComputedTraitInputs) -> TraitDefinition:
        return TraitDefinition(type=inputs.definition.type, query=inputs.definition.query)

    def create_remote(self, inputs: ComputedTraitInputs) -> ApiTrait:
        options = (
            TraitOptions(**inputs.options.model_dump(exclude_none=True))
            if inputs.options is not None
            else None
        )
        return self.client.create_computed_trait(
            inputs.space_id,
            name=inputs.name,
            definition=self._definition(inputs),
            enabled=inputs.enabled,
            description=inputs.description,
            options=options,
        )

    def id_for_adoption(self, inputs: ComputedTraitInputs, given: str) -> str:
        return given if ":" in given else f"{inputs.space_id}:{given}"

    def get_remote(self, id_: str, props: Mapping[str, Any]) -> ApiTrait:
        space_id, trait_id = split_trait_id(id_)
        return self.client.get_computed_trait(space_id, trait_id)

    def update_remote(
        self, id_: str, inputs: ComputedTraitInputs, changed: set[str], olds: Mapping[str, Any]
    ) -> ApiTrait:
        space_id, trait_id = split_trait_id(id_)
        return self.client.update_computed_trait(
            space_id,
            trait_id,
            **only_changed(inputs, changed, "name", "description", "enabled"),
            definition=self._definition(inputs) if "definition" in changed else None,
        )

    def delete_remote(self, id_: str, props: Mapping[str, Any]) -> None:
        space_id, trait_id = split_trait_id(id_)
        self.client.delete_computed_trait(space_id, trait_id)

    def observed(self, remote: ApiTrait, desired: Mapping[str, Any]) -> dict[str, Any]:
        found = inputs_from_api(remote).inputs
        definition = found["definition"]
        wanted = (desired.get("definition") or {}).get("query")
        if definition is not None and isinstance(wanted, str) and same_query(definition["query"], wanted):
            # Only the spacing differs (the app and the builder space queries differently).
            definition = {**definition, "query": wanted}
        return {
            **found,
            "description": remote.description if desired.get("description") is not None else None,
            "definition": definition,
            # Options are fixed at creation and Segment may adjust them (it can force includeHistoricalData on);
            # what was asked for stays the reference.
            "options": desired.get("options"),
        }

    def resource_id(self, remote: ApiTrait) -> str:
        return f"{remote.space_id}:{remote.id}"

    def computed_outputs(self, remote: ApiTrait) -> dict[str, Any]:
        return {
            "trait_id": remote.id,
            "key": remote.key,
            "status": remote.status,
            "app_url": self.links.url("unify", "spaces", remote.space_id, "traits", remote.id),
        }


class ComputedTrait(SegmentResource, module="segment", name="ComputedTrait"):
    """A computed trait in a Unify space."""

    if TYPE_CHECKING:  # for type checkers only: see SegmentResource
        trait_id: pulumi.Output[str]
        key: pulumi.Output[str]
        status: pulumi.Output[str]
        app_url: pulumi.Output[str]

    OUTPUTS = ("trait_id", "key", "status", "app_url")

    def __init__(
        self,
        resource_name: str,
        *,
        space_id: pulumi.Input[str],
        name: pulumi.Input[str],
        query: pulumi.Input[str],
        entity: pulumi.Input[str] = "USERS",
        description: pulumi.Input[str] | None = None,
        enabled: pulumi.Input[bool] = True,
        options: pulumi.Input[Mapping[str, Any]] | None = None,
        adopt: bool = False,
        adopt_id: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs = {
            "space_id": space_id,
            "name": name,
            "description": description,
            "enabled": enabled,
            "definition": {"type": entity, "query": query},
            "options": options,
            "adopt": adopt,
            "adopt_id": adopt_id,
        }
        super().__init__(ComputedTraitProvider(), resource_name, resource_props(inputs, self.OUTPUTS), opts)
