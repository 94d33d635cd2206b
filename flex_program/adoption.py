"""What an adoption will change, listed before anything is changed (``pulumi preview`` shows it).

A Pulumi preview of an adoption shows every object as a "create": the engine cannot tell that ``create`` takes
an existing object over. So the program looks each object marked ``adopt`` up by its natural key, with
read-only calls and the same lookup and comparison the providers use (``find_existing``, ``observed``), and
warns once per field that differs from the config: exactly the fields the first ``up`` PATCHes. Nothing is
listed when the config describes what exists, which is what ``flex_tools.export`` writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flex_program.config import Program
from flex_program.safe_yaml import escaped
from flex_program.unified_profiles import (
    PROFILES_DESTINATION_SLUG,
    SALESFORCE_CATALOG_SLUG,
    SEND_IDENTIFY_ACTION_SLUG,
    column_path,
)
from segment_provider.api import SegmentClient
from segment_provider.api.errors import NotFoundError
from segment_provider.resources.base import SegmentProvider, same_value
from segment_provider.resources.computed_trait import ComputedTraitProvider
from segment_provider.resources.destination import DestinationProvider
from segment_provider.resources.destination_subscription import RETL_TRIGGERS, DestinationSubscriptionProvider
from segment_provider.resources.reverse_etl_model import ReverseEtlModelProvider
from segment_provider.resources.source import SourceProvider
from segment_provider.resources.warehouse import WarehouseProvider


@dataclass(frozen=True)
class Difference:
    """One field where an object in Segment differs from the config."""

    label: str
    field: str
    found: Any
    wanted: Any


class _ListingOnce:
    """The planner's client: a space's computed traits are listed once per plan, not once per trait. Each trait's
    lookup lists the whole space, and Segment allows 25 listings a minute: the doctor's Drift row of a stack of 50
    traits would wait a minute for its own calls, one of 500 traits (three pages each) an hour."""

    def __init__(self, client: SegmentClient, listed: Mapping[str, Any] | None = None) -> None:
        self._client = client
        self._traits: dict[str, Any] = dict(listed or {})

    def list_computed_traits(self, space_id: str) -> Any:
        if space_id not in self._traits:
            self._traits[space_id] = self._client.list_computed_traits(space_id)
        return self._traits[space_id]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class _Planner:
    def __init__(self, client: SegmentClient, listed_traits: Mapping[str, Any] | None = None) -> None:
        self.client = _ListingOnce(client, listed_traits)
        self.differences: list[Difference] = []

    def compare(
        self,
        provider: SegmentProvider[Any, Any],
        label: str,
        inputs: Mapping[str, Any],
        adopt_id: str | None = None,
    ) -> Any:
        """The existing object (None when there is none), noting each field where it differs from the config.
        ``adopt_id`` (the stack's ``adoptIds``) names it by its Segment id, as the provider will."""
        provider.__dict__["_client"] = self.client  # never pickled: this provider only plans
        wanted = provider.inputs_model.model_validate(inputs)
        if adopt_id:
            try:
                remote = provider.get_remote(provider.id_for_adoption(wanted, adopt_id), inputs)
            except NotFoundError:
                remote = None
        else:
            remote = provider.find_existing(wanted)
        if remote is None:
            return None
        desired = wanted.model_dump(mode="json")
        for field, found in provider.observed(remote, desired).items():
            if field in provider.ignored_in_diff or same_value(found, desired.get(field)):
                continue
            self.differences.append(Difference(label, field, found, desired.get(field)))
        return remote


def planned_changes(program: Program, client: SegmentClient, space_id: str) -> list[str]:
    """One line per field the adoption of the objects marked ``adopt`` would change; [] when none."""
    return [
        escaped(
            f"adopting {d.label} changes its {d.field}: Segment has {d.found!r}, the config asks for {d.wanted!r}"
        )
        for d in _differences(program, client, space_id, everything=False)
    ]


def differences_from_config(
    program: Program, client: SegmentClient, space_id: str, listed_traits: Sequence[Any] | None = None
) -> list[Difference]:
    """Every field where an object of the stack, found by its natural key, differs from the config: what the next
    ``pulumi up`` changes (a change made in the Segment app, or a config edit not deployed yet). ``listed_traits``:
    the space's computed traits as the caller has just listed them (the doctor), so they are not listed again."""
    listed = None if listed_traits is None else {space_id: list(listed_traits)}
    return _differences(program, client, space_id, everything=True, listed_traits=listed)


def _differences(
    program: Program,
    client: SegmentClient,
    space_id: str,
    *,
    everything: bool,
    listed_traits: Mapping[str, Any] | None = None,
) -> list[Difference]:
    stack, definitions = program.stack, program.definitions
    plan = _Planner(client, listed_traits)
    adopt = stack.adopt or everything
    if adopt or stack.salesforce.adopt:
        plan.compare(
            SourceProvider(),
            f"Salesforce source '{stack.salesforce.source_slug}'",
            {
                "slug": stack.salesforce.source_slug,
                "catalog_slug": SALESFORCE_CATALOG_SLUG,
                "name": stack.salesforce.name,
                "enabled": stack.salesforce.enabled,
                "settings": {"salesforce-environment": stack.salesforce.environment},
                "environment": stack.environment,
            },
            stack.adopt_ids.get("salesforce-source"),
        )
    if (adopt or stack.warehouse.adopt) and not stack.snowflake.manage:
        plan.compare(
            WarehouseProvider(),
            f"warehouse '{stack.warehouse.name}'",
            {
                "catalog_slug": stack.warehouse.type,
                "name": stack.warehouse.name,
                "enabled": stack.warehouse.enabled,
                "settings": stack.warehouse.settings,
            },
            stack.adopt_ids.get("warehouse"),
        )
    if adopt or stack.reverse_etl.adopt:
        retl = plan.compare(
            SourceProvider(),
            f"Reverse ETL source '{stack.reverse_etl.source_slug}'",
            {
                "slug": stack.reverse_etl.source_slug,
                "catalog_slug": stack.warehouse.type,
                "name": stack.reverse_etl.name,
                "enabled": stack.reverse_etl.enabled,
                "settings": {} if stack.snowflake.manage else stack.reverse_etl.settings,
                "environment": stack.environment,
            },
            stack.adopt_ids.get("reverse-etl-source"),
        )
        model = definitions.model
        found_model = None
        if retl is not None:
            found_model = plan.compare(
                ReverseEtlModelProvider(),
                f"model '{model.name}'",
                {
                    "source_id": retl.id,
                    "name": model.name,
                    "description": model.description,
                    "enabled": model.enabled,
                    "query": model.sql(),
                    "query_identifier_column": model.identifier_column,
                },
                stack.adopt_ids.get("model"),
            )
        if retl is not None and (adopt or stack.profiles.adopt):
            _plan_profiles(plan, program, retl.id, found_model.id if found_model else None)
    if adopt:
        for trait_id, spec in program.traits.items():
            definition = spec.to_definition()
            options = getattr(spec, "options", None)
            plan.compare(
                ComputedTraitProvider(),
                f"computed trait '{spec.name}'",
                {
                    "space_id": space_id,
                    "name": spec.name,
                    "description": spec.description,
                    "enabled": spec.enabled,
                    "definition": {"type": definition["type"], "query": definition["query"]},
                    "options": options.model_dump(exclude_none=True) if options is not None else None,
                },
                stack.adopt_ids.get(f"trait-{trait_id}"),
            )
    return plan.differences


def _plan_profiles(plan: _Planner, program: Program, retl_id: str, model_id: str | None) -> None:
    stack, mapping = program.stack, program.definitions.mapping
    destination = plan.compare(
        DestinationProvider(),
        f"destination '{stack.profiles.destination_name}'",
        {
            "source_id": retl_id,
            "catalog_slug": PROFILES_DESTINATION_SLUG,
            "name": stack.profiles.destination_name,
            "enabled": stack.profiles.enabled,
        },
        stack.adopt_ids.get("profiles-destination"),
    )
    if destination is None or model_id is None:
        # The mapping's inputs name its model: with none found (a run killed before it made it, or deleted in the
        # app), there is no mapping the config could describe; the model's own row says what is missing.
        return
    plan.compare(
        DestinationSubscriptionProvider(),
        f"mapping '{mapping.name}'",
        {
            "destination_id": destination.id,
            "catalog_slug": PROFILES_DESTINATION_SLUG,
            "action_slug": SEND_IDENTIFY_ACTION_SLUG,
            "name": mapping.name,
            "trigger": RETL_TRIGGERS[mapping.trigger],
            "enabled": mapping.enabled,
            "settings": {
                "user_id": column_path(mapping.user_id_column),
                "traits": {trait: column_path(column) for trait, column in mapping.traits.items()},
            },
            "model_id": model_id,
            "schedule": stack.schedule.model_dump(mode="json"),
        },
        stack.adopt_ids.get("send-identify"),
    )
