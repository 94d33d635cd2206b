"""``flex-export --space SLUG --stack NAME``: describe a hand-built workspace as a stack.

Reads, through the Public API and with read-only calls only, the Unify setup around one space — the space, the
Salesforce source, the warehouse it loads into, the Reverse ETL source and model, the Segment Profiles
destination with its Send Identify mapping (trigger, field mappings, schedule) and the space's computed traits —
and writes ``Pulumi.<stack>.yaml`` plus ``definitions.<stack>.yaml`` (the stack points at it through
``definitionsFile``; the repository's shared ``definitions.yaml`` is never touched). The stack sets
``adopt: true``, so the first ``pulumi up`` takes every object over instead of creating it.

Secrets are never written: Segment masks credentials when reading them back, and write keys and tokens stay out
of files. Each one becomes a comment in the stack file with the ``pulumi config set --secret`` command that sets
it, and the same commands close the printed output.

The token comes from ``SEGMENT_API_TOKEN`` (or its old name ``SEGMENT_TOKEN``), never from the command line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pydantic
import yaml

from flex_program.config import (
    IDENTIFIER,
    NAMESPACE,
    WAREHOUSE_TYPES,
    ConfigError,
    load_program_config,
    load_yaml,
    stack_file_name,
)
from flex_program.safe_yaml import comment, dump, escaped
from flex_program.traits import (
    GUIDE_TRAITS,
    RawTrait,
    TraitDefinitionError,
    TraitOptions,
    parse_trait_config,
    same_query,
    trait_key,
    try_from_query,
)
from flex_program.unified_profiles import (
    PROFILES_DESTINATION_SLUG,
    SALESFORCE_CATALOG_SLUG,
    SEND_IDENTIFY_ACTION_SLUG,
)
from flex_tools.cli import (
    EXIT_CANNOT_RUN,
    EXIT_CODES_HELP,
    CannotRun,
    add_debug_flag,
    add_project_dir,
    find_project,
    plain_stack_name,
    reach,
    report,
)
from flex_tools.doctor import TOKEN_ENV, TOKEN_ENV_ALIAS
from segment_provider.api import ClientSettings, SegmentClient
from segment_provider.api.errors import SegmentError
from segment_provider.api.models import (
    ComputedTrait,
    Destination,
    DestinationSubscription,
    ReverseEtlModel,
    Source,
    Space,
    Warehouse,
    Workspace,
)
from segment_provider.resources import computed_trait as trait_kind
from segment_provider.resources import destination as destination_kind
from segment_provider.resources import destination_subscription as subscription_kind
from segment_provider.resources import reverse_etl_model as model_kind
from segment_provider.resources import source as source_kind
from segment_provider.resources import space as space_kind
from segment_provider.resources import warehouse as warehouse_kind
from segment_provider.resources.base import catalog_defaults
from segment_provider.resources.space import find_profiles_source

PLACEHOLDER = "< your-secret-file"
"""How a printed secret command takes its value: from a file on standard input, never on the command line (a
PEM key there is refused by Pulumi as flags, and echoed whole into the terminal or CI log)."""
EXIT_WRITTEN = 0
EXIT_REFUSED = 1

# Reverse ETL can also read Databricks, but the program keeps one warehouse type for the destination and the
# Reverse ETL source, and Databricks is no warehouse destination.
RETL_SOURCE_TYPES = (*WAREHOUSE_TYPES, "databricks")
SALESFORCE_ENVIRONMENTS = ("production", "sandbox")
SALESFORCE_ENVIRONMENT_SETTING = "salesforce-environment"
TABLE_QUERY = re.compile(
    r"^SELECT (?P<columns>[A-Za-z_][A-Za-z0-9_$]*(?:, [A-Za-z_][A-Za-z0-9_$]*)*) "
    r"FROM (?P<table>[A-Za-z_][A-Za-z0-9_$]*(?:\.[A-Za-z_][A-Za-z0-9_$]*){0,2})$"
)
MAPPING_SETTINGS = ("user_id", "traits")
ENGAGE_SPACE_SETTING = "engage_space"

KINDS = (
    "Unify space",
    "Salesforce source",
    "Warehouse destination",
    "Warehouse connection",
    "Reverse ETL source",
    "Reverse ETL model",
    "Segment Profiles destination",
    "Send Identify mapping",
    "Computed traits",
)


class ExportError(Exception):
    """The export cannot be made; the message names what is missing and what to do."""


@dataclass(frozen=True)
class Gap:
    """Something in Segment the stack config cannot express."""

    what: str
    why: str
    effect: str
    """What the first ``pulumi up`` does about it (or that it leaves it alone)."""


@dataclass
class KindSummary:
    kind: str
    found: int = 0
    exported: int = 0
    secrets: list[str] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SecretSetting:
    full_key: str
    """The key the program reads, e.g. ``flex-unified-profiles:warehouseCredentials`` or ``segment:token``."""
    what: str
    nested: str | None = None
    """For credentials objects: the key inside the object (set with ``pulumi config set --path``)."""

    @property
    def key(self) -> str:
        """The key as ``pulumi config set`` takes it."""
        short = self.full_key.removeprefix(f"{NAMESPACE}:")
        if self.nested is None:
            return short
        return f"{short}.{self.nested}" if re.match(IDENTIFIER, self.nested) else f'{short}["{self.nested}"]'

    def command(self, stack: str) -> str:
        # The nested key is Segment's: shell-quoted, so the command never runs any of it.
        quoted = shlex.quote(self.key)
        if self.nested is None:
            key = quoted
        else:
            key = f"--path {quoted}" if quoted != self.key else f"--path '{self.key}'"
        return f"pulumi config set --stack {stack} --secret {key} {PLACEHOLDER}"


@dataclass
class Export:
    workspace_slug: str
    space_slug: str
    environment: str
    config: dict[str, Any]
    """Stack config by full key (``flex-unified-profiles:space`` …), structured values as dicts."""
    comments: dict[str, list[str]]
    """Comment lines written above a config key."""
    definitions: dict[str, Any]
    secrets: list[SecretSetting]
    summary: dict[str, KindSummary]

    @property
    def gaps(self) -> list[tuple[str, Gap]]:
        return [(s.kind, gap) for s in self.summary.values() for gap in s.gaps]


# ------------------------------------------------------------------------------------------ reading Segment


@dataclass(frozen=True)
class Choices:
    """Which object to take where the workspace holds several candidates."""

    salesforce_source: str | None = None
    warehouse: str | None = None
    mapping: str | None = None


def export_workspace(
    client: SegmentClient,
    *,
    space_slug: str,
    environment: str,
    choices: Choices = Choices(),
    region: str = "us",
    endpoint: str | None = None,
) -> Export:
    """Read the setup around ``space_slug`` (GET requests only) and describe it as stack config."""
    return _Exporter(client, choices).run(space_slug, environment, region, endpoint)


@dataclass(frozen=True)
class _Found:
    workspace: Workspace
    space: Space
    engage_key: str | None
    """The write key of the space's Profiles source, when the token may read it."""
    salesforce: Source
    warehouse: Warehouse
    mapping: DestinationSubscription
    destination: Destination
    model: ReverseEtlModel
    retl_source: Source


class _Exporter:
    def __init__(self, client: SegmentClient, choices: Choices) -> None:
        self.client = client
        self.choices = choices
        self.summary = {kind: KindSummary(kind) for kind in KINDS}
        self.config: dict[str, Any] = {}
        self.comments: dict[str, list[str]] = {}
        self.secrets: list[SecretSetting] = [SecretSetting("segment:token", "Segment Public API token")]
        self.adopt_ids: dict[str, str] = {}
        """The Segment id of every exported object, by resource name: the stack adopts these very objects."""

    def run(self, space_slug: str, environment: str, region: str, endpoint: str | None) -> Export:
        found = self._find(space_slug)
        self._stack_settings(environment, region, endpoint)
        # The walk over the kinds: each step reads its object through the kind's inputs_from_api and shapes it
        # into the stack file or the definitions.
        self._export_space(found.space)
        self._export_salesforce(found.salesforce)
        self._export_warehouse(found.warehouse, found.salesforce)
        self._export_retl_source(found.retl_source)
        definitions_mapping = self._export_mapping(found.mapping, found.model, found.engage_key)
        definitions_model = self._export_model(found.model, definitions_mapping)
        self._export_destination(found.destination)
        self.config[f"{NAMESPACE}:snowflake"] = {"manage": False}
        self.comments[f"{NAMESPACE}:snowflake"] = [
            "the Snowflake side was built by hand too; see docs/snowflake.md before letting the stack manage it"
        ]
        definitions = {
            "model": definitions_model,
            "mapping": definitions_mapping,
            "traits": self._export_traits(self.client.list_computed_traits(found.space.id)),
        }
        self.adopt_ids.update(
            {
                "salesforce-source": found.salesforce.id,
                "warehouse": found.warehouse.id,
                "reverse-etl-source": found.retl_source.id,
                "model": found.model.id,
                "profiles-destination": found.destination.id,
                "send-identify": found.mapping.id,
            }
        )
        self.config[f"{NAMESPACE}:adoptIds"] = dict(sorted(self.adopt_ids.items()))
        self.comments[f"{NAMESPACE}:adoptIds"] = [
            "the Segment id of each object above: the first `pulumi up` adopts exactly these, even where two",
            "objects share a name (docs/migration.md)",
        ]
        return Export(
            workspace_slug=found.workspace.slug,
            space_slug=found.space.slug,
            environment=environment,
            config=self.config,
            comments=self.comments,
            definitions=definitions,
            secrets=self.secrets,
            summary=self.summary,
        )

    def _find(self, space_slug: str) -> _Found:
        """The objects of the setup around the space, chosen as ``self.choices`` says where there are several."""
        workspace = self.client.get_workspace()
        space = self._space(space_slug)
        sources = self.client.list_sources()
        profiles_source = find_profiles_source(sources, space)
        engage_key = profiles_source.write_keys[0] if profiles_source and profiles_source.write_keys else None
        salesforce = self._salesforce(sources)
        warehouse = self._warehouse(salesforce)
        mapping, destination = self._mapping(engage_key, space)
        model = self.client.get_reverse_etl_model(str(mapping.model_id))
        retl_source = self._retl_source(sources, model, destination, warehouse)
        return _Found(
            workspace, space, engage_key, salesforce, warehouse, mapping, destination, model, retl_source
        )

    def _stack_settings(self, environment: str, region: str, endpoint: str | None) -> None:
        self.config["segment:region"] = region
        if endpoint:
            self.config["segment:endpoint"] = endpoint
            self.comments["segment:endpoint"] = ["the API the export read (drop it for Segment's own API)"]
        self.config[f"{NAMESPACE}:environment"] = environment
        self.config[f"{NAMESPACE}:protect"] = True
        self.comments[f"{NAMESPACE}:protect"] = [
            "these objects were built by hand: keep them protected from `pulumi destroy`"
        ]
        self.config[f"{NAMESPACE}:adopt"] = True
        self.comments[f"{NAMESPACE}:adopt"] = [
            "every object below already exists: the first `pulumi up` takes them over unchanged. Remove this",
            "line after that up (once `pulumi preview` reports no changes), then manage the stack normally.",
        ]

    # ------------------------------------------------------------------------------------- finding objects

    def _space(self, slug: str) -> Space:
        spaces = self.client.list_spaces()
        self.summary["Unify space"].found = len(spaces)
        space = next((s for s in spaces if s.slug == slug), None)
        if space is None:
            found = ", ".join(sorted(f"{s.slug} ({s.name})" for s in spaces)) or "none"
            raise ExportError(
                f"the workspace has no Unify space with slug '{slug}'. Spaces found: {found}. "
                "Pass one of these slugs with --space."
            )
        return space

    def _salesforce(self, sources: list[Source]) -> Source:
        candidates = sorted(
            (s for s in sources if s.metadata.slug == SALESFORCE_CATALOG_SLUG), key=lambda s: s.slug
        )
        self.summary["Salesforce source"].found = len(candidates)
        listed = ", ".join(f"{s.slug} ({s.name or 'no name'})" for s in candidates)
        wanted = self.choices.salesforce_source
        if wanted is not None:
            chosen = next((s for s in candidates if s.slug == wanted), None)
            if chosen is None:
                raise ExportError(
                    f"no Salesforce source has the slug '{wanted}'. Salesforce sources found: {listed or 'none'}."
                )
            return chosen
        if not candidates:
            raise ExportError(
                "the workspace has no Salesforce source: add it in the Segment app (Connections → Sources → "
                "Salesforce) and export again, or start from the program's own config (README)."
            )
        if len(candidates) > 1:
            raise ExportError(
                f"the workspace has {len(candidates)} Salesforce sources: {listed}. A stack manages one: choose "
                "it with --salesforce-source SLUG."
            )
        return candidates[0]

    def _warehouse(self, salesforce: Source) -> Warehouse:
        summary = self.summary["Warehouse destination"]
        summary.found = len(self.client.list_warehouses())
        connected = self.client.list_connected_warehouses(salesforce.id)
        listed = ", ".join(f"{w.id} ({w.name or 'no name'}, {w.metadata.slug})" for w in connected)
        wanted = self.choices.warehouse
        if wanted is not None:
            chosen = next((w for w in connected if wanted in (w.id, w.name)), None)
            if chosen is None:
                raise ExportError(
                    f"no warehouse with id or name '{wanted}' is connected to Salesforce source "
                    f"'{salesforce.slug}'. Connected warehouses: {listed or 'none'}."
                )
            return chosen
        if not connected:
            raise ExportError(
                f"Salesforce source '{salesforce.slug}' is connected to no warehouse: connect it in the Segment app "
                "(the source → Settings → Warehouses) and export again."
            )
        if len(connected) > 1:
            raise ExportError(
                f"Salesforce source '{salesforce.slug}' loads into {len(connected)} warehouses: {listed}. A stack "
                "manages one: choose it with --warehouse ID_OR_NAME."
            )
        return connected[0]

    def _mapping(self, engage_key: str | None, space: Space) -> tuple[DestinationSubscription, Destination]:
        destinations = sorted(
            (d for d in self.client.list_destinations() if d.metadata.slug == PROFILES_DESTINATION_SLUG),
            key=lambda d: d.id,
        )
        self.summary["Segment Profiles destination"].found = len(destinations)
        candidates: list[tuple[DestinationSubscription, Destination]] = []
        found = 0
        for destination in destinations:
            for subscription in self.client.list_subscriptions(destination.id):
                if subscription.action_slug != SEND_IDENTIFY_ACTION_SLUG:
                    continue
                found += 1
                sends_here = engage_key is None or subscription.settings.get(ENGAGE_SPACE_SETTING) in (
                    engage_key,
                    None,
                )
                if subscription.model_id and sends_here:
                    candidates.append((subscription, destination))
        self.summary["Send Identify mapping"].found = found
        listed = ", ".join(f"{s.id} ('{s.name}' on '{d.name}')" for s, d in candidates)
        wanted = self.choices.mapping
        if wanted is not None:
            chosen = next((c for c in candidates if c[0].id == wanted), None)
            if chosen is None:
                raise ExportError(
                    f"no Send Identify mapping with id '{wanted}' sends a Reverse ETL model to space "
                    f"'{space.slug}'. Mappings found: {listed or 'none'}."
                )
            return chosen
        if not candidates:
            raise ExportError(
                f"no Segment Profiles 'Send Identify' mapping of a Reverse ETL model sends to space '{space.slug}': "
                "build it in the Segment app (Reverse ETL → Destinations → Segment Profiles → Add mapping) and "
                "export again, or start from the program's own config (README)."
            )
        if len(candidates) > 1:
            raise ExportError(
                f"{len(candidates)} Send Identify mappings send to space '{space.slug}': {listed}. A stack manages "
                "one: choose it with --mapping ID."
            )
        return candidates[0]

    def _retl_source(
        self, sources: list[Source], model: ReverseEtlModel, destination: Destination, warehouse: Warehouse
    ) -> Source:
        self.summary["Reverse ETL source"].found = sum(s.metadata.slug in RETL_SOURCE_TYPES for s in sources)
        source = next((s for s in sources if s.id == model.source_id), None)
        if source is None:
            raise ExportError(
                f"Reverse ETL model '{model.name}' reads from source {model.source_id}, which the token cannot "
                "see: give the token Source Admin (or Workspace Owner) access and export again."
            )
        if destination.source_id != source.id:
            raise ExportError(
                f"Segment Profiles destination '{destination.name}' is attached to source {destination.source_id}, "
                f"but its mapping's model '{model.name}' reads from source '{source.slug}'. The program attaches "
                "both to one Reverse ETL source: move one of them in the Segment app and export again."
            )
        if source.metadata.slug != warehouse.metadata.slug or source.metadata.slug not in WAREHOUSE_TYPES:
            raise ExportError(
                f"the warehouse destination is {warehouse.metadata.slug} but Reverse ETL source '{source.slug}' is "
                f"{source.metadata.slug}. The program keeps one warehouse type ({', '.join(WAREHOUSE_TYPES)}) for "
                "both; this setup cannot be expressed as a stack."
            )
        return source

    # ------------------------------------------------------------------------------------ writing config

    def _export_space(self, space: Space) -> None:
        summary = self.summary["Unify space"]
        self.config[f"{NAMESPACE}:space"] = {"slug": space_kind.inputs_from_api(space).inputs["slug"]}
        summary.exported = 1
        if summary.found > 1:
            summary.notes.append(f"{summary.found - 1} other space(s) left out (one space per stack)")

    def _export_salesforce(self, source: Source) -> None:
        summary = self.summary["Salesforce source"]
        found = source_kind.inputs_from_api(source).inputs
        environment = found["settings"].get(SALESFORCE_ENVIRONMENT_SETTING)
        if environment is None:
            # The resource reads a setting the source does not store as the catalog's default, so only a
            # catalog without one makes this a change.
            options = self.client.catalog.source_by_slug(SALESFORCE_CATALOG_SLUG).options
            environment = catalog_defaults(options, [SALESFORCE_ENVIRONMENT_SETTING]).get(
                SALESFORCE_ENVIRONMENT_SETTING
            )
            if environment is None:
                summary.gaps.append(
                    Gap(
                        f"setting {SALESFORCE_ENVIRONMENT_SETTING}",
                        "the source stores none and the catalog names no default",
                        "the first `pulumi up` writes production to the source's settings",
                    )
                )
                environment = "production"
        if environment not in SALESFORCE_ENVIRONMENTS:
            summary.gaps.append(
                Gap(
                    f"setting {SALESFORCE_ENVIRONMENT_SETTING}",
                    f"'{environment}' is neither production nor sandbox",
                    "the first `pulumi up` sets it to production",
                )
            )
            environment = "production"
        self.config[f"{NAMESPACE}:salesforce"] = {
            **_slug_and_name(found),
            "environment": environment,
            "enabled": found["enabled"],
        }
        summary.exported = 1
        others = summary.found - 1
        if others:
            summary.notes.append(f"{others} other Salesforce source(s) left out (not part of this stack)")

    def _export_warehouse(self, warehouse: Warehouse, salesforce: Source) -> None:
        summary = self.summary["Warehouse destination"]
        if warehouse.metadata.slug not in WAREHOUSE_TYPES:
            raise ExportError(
                f"warehouse {warehouse.id} is {warehouse.metadata.slug}; the program supports "
                f"{', '.join(WAREHOUSE_TYPES)}."
            )
        options = self.client.catalog.warehouse_by_slug(warehouse.metadata.slug).options
        found = warehouse_kind.inputs_from_api(warehouse, options)
        name = found.inputs["name"]
        if name is None:
            # Segment's answer need not carry the name: the program then finds the warehouse by its connection.
            name = f"{warehouse.metadata.name} warehouse"
            summary.notes.append(
                f"warehouse {warehouse.id} shows no name: exported as '{name}', found by its connection settings"
            )
        self.config[f"{NAMESPACE}:warehouse"] = {
            "type": found.inputs["catalog_slug"],
            "name": name,
            "enabled": found.inputs["enabled"],
            "settings": found.inputs["settings"],
        }
        summary.secrets = self._credentials(
            "warehouseCredentials", found.secret_keys, "the warehouse destination"
        )
        self._secret_comment("warehouse", "warehouseCredentials", found.secret_keys)
        summary.exported = 1

        # The connection has no config of its own: the program connects the two sources it manages.
        connection = self.summary["Warehouse connection"]
        connected = self.client.list_connected_sources(warehouse.id)
        connection.found = len(connected)
        connection.exported = 1
        others = [s.slug for s in connected if s.id != salesforce.id]
        if others:
            connection.notes.append(
                f"sources also loading into '{name}' stay connected, unmanaged: {', '.join(others)}"
            )

    def _export_retl_source(self, source: Source) -> None:
        summary = self.summary["Reverse ETL source"]
        options = self.client.catalog.source_by_slug(source.metadata.slug).options
        found = source_kind.inputs_from_api(source, options)
        self.config[f"{NAMESPACE}:reverseEtl"] = {
            **_slug_and_name(found.inputs),
            "enabled": found.inputs["enabled"],
            "settings": found.inputs["settings"],
        }
        summary.secrets = self._credentials(
            "reverseEtlCredentials", found.secret_keys, "the Reverse ETL source"
        )
        self._secret_comment("reverseEtl", "reverseEtlCredentials", found.secret_keys)
        summary.exported = 1

    def _export_model(self, model: ReverseEtlModel, mapping: Mapping[str, Any]) -> dict[str, Any]:
        summary = self.summary["Reverse ETL model"]
        summary.found = sum(m.source_id == model.source_id for m in self.client.list_reverse_etl_models())
        summary.exported = 1
        if summary.found > 1:
            summary.notes.append(
                f"{summary.found - 1} other model(s) on the same source stay as they are, unmanaged"
            )
        found = model_kind.inputs_from_api(model).inputs
        definition: dict[str, Any] = {
            "name": found["name"],
            "description": found["description"],
            "enabled": found["enabled"],
        }
        # Table + columns only when the program writes back exactly this query; anything else stays raw SQL.
        query, identifier = found["query"], found["query_identifier_column"]
        match = TABLE_QUERY.match(query)
        columns = match["columns"].split(", ") if match else []
        selected = {c.upper() for c in columns}
        used = {mapping["userIdColumn"], identifier, *mapping["traits"].values()}
        if match and len(selected) == len(columns) and {c.upper() for c in used} <= selected:
            definition.update(table=match["table"], columns=columns)
        else:
            definition["query"] = query
        definition["identifierColumn"] = identifier
        return definition

    def _export_mapping(
        self, mapping: DestinationSubscription, model: ReverseEtlModel, engage_key: str | None
    ) -> dict[str, Any]:
        summary = self.summary["Send Identify mapping"]
        summary.exported = 1
        others = summary.found - 1
        if others:
            summary.notes.append(
                f"{others} other Send Identify mapping(s) left out (another space or no model)"
            )
        found = subscription_kind.inputs_from_api(mapping, secret_fields=[ENGAGE_SPACE_SETTING])
        trigger = subscription_kind.trigger_name(found.inputs["trigger"])
        if trigger is None:
            summary.gaps.append(
                Gap(
                    "trigger",
                    f"'{mapping.trigger}' is none of the app's record triggers (added, updated, added or updated, "
                    "deleted)",
                    "the first `pulumi up` sets it to added or updated",
                )
            )
            trigger = "added_or_updated"
        definition: dict[str, Any] = {
            "name": found.inputs["name"],
            "enabled": found.inputs["enabled"],
            "trigger": trigger,
        }
        settings = found.inputs["settings"]
        user_id = subscription_kind.path_column(settings.get("user_id"))
        if user_id is None:
            summary.gaps.append(
                Gap(
                    "user_id",
                    f"{json.dumps(settings.get('user_id'))} is not one model column ({{'@path': '$.properties.X'}})",
                    "the first `pulumi up` maps user_id to the model's identifier column",
                )
            )
        definition["userIdColumn"] = user_id or model.query_identifier_column
        traits: dict[str, str] = {}
        for trait, value in (settings.get("traits") or {}).items():
            column = subscription_kind.path_column(value)
            if column is None:
                summary.gaps.append(
                    Gap(
                        f"traits.{trait}",
                        f"{json.dumps(value)} is not one model column",
                        "the first `pulumi up` drops this trait from the mapping",
                    )
                )
                continue
            traits[trait] = column
        definition["traits"] = traits
        extra = sorted({*settings, *found.secret_keys} - {*MAPPING_SETTINGS, ENGAGE_SPACE_SETTING})
        if extra:
            summary.notes.append(
                f"its settings {', '.join(extra)} stay as they are: the program maps only user_id and traits "
                "and sends every other setting back unchanged"
            )
        self.config[f"{NAMESPACE}:schedule"] = self._schedule(mapping)
        written_key = mapping.settings.get(ENGAGE_SPACE_SETTING)
        if written_key is not None and written_key != engage_key:
            secret = SecretSetting(
                f"{NAMESPACE}:engageSpaceWriteKey",
                "the Profiles source write key the mapping sends with (it differs from the one the program finds)",
            )
            self.secrets.append(secret)
            summary.secrets.append(secret.key)
            self.comments.setdefault(f"{NAMESPACE}:schedule", []).append(
                "secret engageSpaceWriteKey: not written here; set it with the command at the end of this file"
            )
        return definition

    def _schedule(self, mapping: DestinationSubscription) -> dict[str, Any]:
        summary = self.summary["Send Identify mapping"]
        remote = mapping.reverse_etl_schedule
        if remote is None:
            summary.gaps.append(
                Gap("schedule", "the mapping has no schedule", "the first `pulumi up` sets a MANUAL schedule")
            )
            return {"strategy": "MANUAL"}
        try:
            schedule = subscription_kind.schedule_from_api(remote)
        except pydantic.ValidationError as error:
            reason = _first_problem(error)
            summary.gaps.append(
                Gap("schedule", reason, "the first `pulumi up` sets the default schedule, PERIODIC 1h")
            )
            return {"strategy": "PERIODIC", "config": {"interval": "1h"}}
        return schedule.model_dump(mode="json", exclude_none=True)

    def _export_destination(self, destination: Destination) -> None:
        summary = self.summary["Segment Profiles destination"]
        found = destination_kind.inputs_from_api(destination)
        if found.inputs["name"] is None:
            raise ExportError(
                f"Segment Profiles destination {destination.id} has no name, and the program finds it by name: "
                "name it in the Segment app and export again."
            )
        self.config[f"{NAMESPACE}:profiles"] = {
            "destinationName": found.inputs["name"],
            "enabled": found.inputs["enabled"],
        }
        summary.exported = 1
        kept = sorted({*found.inputs["settings"], *found.secret_keys})
        if kept:
            summary.notes.append(f"its settings ({', '.join(kept)}) stay as they are, unmanaged")

    def _export_traits(self, traits: list[ComputedTrait]) -> dict[str, Any]:
        summary = self.summary["Computed traits"]
        summary.found = len(traits)
        guide = {trait_id: False for trait_id in GUIDE_TRAITS}
        custom: list[dict[str, Any]] = []
        keys: dict[str, str] = {}
        for trait in sorted(traits, key=lambda t: (t.name, t.id)):
            guide_id = _guide_trait(trait)
            if guide_id is not None and not guide[guide_id]:
                guide[guide_id] = True
                keys[trait_key(trait.name)] = trait.name
                self.adopt_ids[f"trait-{guide_id}"] = trait.id
                summary.exported += 1
                continue
            entry = self._trait_config(trait)
            if entry is None:
                continue
            key = trait_key(trait.name)
            if key in keys:
                summary.gaps.append(
                    Gap(
                        f"trait '{trait.name}'",
                        f"its key {key} is also the key of '{keys[key]}': the program needs unique keys",
                        "left out: the stack neither manages nor changes it",
                    )
                )
                continue
            keys[key] = trait.name
            self.adopt_ids[f"trait-{key}"] = trait.id
            custom.append(entry)
            summary.exported += 1
        builder = sum("query" not in entry for entry in custom)
        if custom:
            summary.notes.append(
                f"{builder} in builder form, {len(custom) - builder} kept as raw queries, "
                f"{sum(guide.values())} as the guide's traits"
            )
        return {
            "guide": guide,
            # The traits already exist in Segment: they need not wait for the Flex events.
            "requireFlexEvents": False,
            "custom": custom,
        }

    def _trait_config(self, trait: ComputedTrait) -> dict[str, Any] | None:
        summary = self.summary["Computed traits"]
        found = trait_kind.inputs_from_api(trait).inputs
        definition = found["definition"]
        if definition is None:
            summary.gaps.append(
                Gap(f"trait '{trait.name}'", "Segment returned no definition", "left out: not managed")
            )
            return None
        try:
            options = found["options"]
            fields: dict[str, Any] = {
                "description": found["description"],
                "enabled": found["enabled"],
                "entity": definition["type"],
                "options": TraitOptions(**options) if options is not None else None,
            }
            spec = try_from_query(definition["query"], found["name"], **fields)
            config = (spec or RawTrait(name=found["name"], query=definition["query"], **fields)).to_config()
            parse_trait_config("trait", config)  # what the program will do with it
        except (pydantic.ValidationError, TraitDefinitionError) as error:
            reason = str(error) if isinstance(error, TraitDefinitionError) else _first_problem(error)
            summary.gaps.append(Gap(f"trait '{trait.name}'", reason, "left out: not managed"))
            return None
        return config

    # --------------------------------------------------------------------------------------- secrets

    def _credentials(self, config_key: str, keys: Sequence[str], what: str) -> list[str]:
        secrets = [SecretSetting(f"{NAMESPACE}:{config_key}", f"{key} of {what}", nested=key) for key in keys]
        self.secrets.extend(secrets)
        return [secret.key for secret in secrets]

    def _secret_comment(self, section: str, config_key: str, keys: Sequence[str]) -> None:
        if keys:
            self.comments[f"{NAMESPACE}:{section}"] = [
                f"secret {config_key} ({', '.join(keys)}): not written here; set with the commands at the end"
            ]


def _slug_and_name(source: Mapping[str, Any]) -> dict[str, Any]:
    """``sourceSlug`` and, when Segment gave the source one, ``name`` of a source's config section."""
    named = {"name": source["name"]} if source["name"] is not None else {}
    return {"sourceSlug": source["slug"], **named}


def _first_problem(error: pydantic.ValidationError) -> str:
    detail = error.errors()[0]
    where = ".".join(str(part) for part in detail["loc"])
    message = detail["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def _guide_trait(trait: ComputedTrait) -> str | None:
    """The guide trait this one is, when name, query, description and defaults all match it."""
    if trait.definition is None or trait.definition.type != "USERS" or not trait.enabled:
        return None
    if trait.options is not None and any(v is not None for v in trait.options.model_dump().values()):
        return None
    for trait_id, spec in GUIDE_TRAITS.items():
        if (
            spec.name == trait.name
            and spec.description == trait.description
            and same_query(spec.query, trait.definition.query)
        ):
            return trait_id
    return None


# ----------------------------------------------------------------------------------------- checking it


def check_export(export: Export, stack: str) -> None:
    """Load the exported config exactly as the program will; raise ExportError listing every problem."""
    values = dict(export.config)
    secret_keys = set()
    for secret in export.secrets:
        secret_keys.add(secret.full_key)
        if secret.nested is not None:
            values.setdefault(secret.full_key, {})[secret.nested] = "placeholder"
        else:
            values[secret.full_key] = "placeholder"
    with tempfile.TemporaryDirectory(prefix="export-check-") as scratch:
        definitions = Path(scratch) / f"definitions.{stack}.yaml"
        definitions.write_text(render_definitions_file(export, stack))
        values[f"{NAMESPACE}:definitionsFile"] = definitions.name

        def get(key: str) -> Any:
            value = values.get(key)
            return json.dumps(value) if isinstance(value, dict | list) else value

        try:
            load_program_config(get, lambda key: key in secret_keys, stack, Path(scratch))
        except ConfigError as error:
            problems = "\n".join(f"  - {p.key}: {p.message}" for p in error.problems)
            raise ExportError(
                "the workspace cannot be described as valid stack config (nothing was written):\n" + problems
            ) from None


# ------------------------------------------------------------------------------------------ rendering


def _comments(lines: Iterable[str]) -> list[str]:
    return [comment(line) for line in lines]


def render_stack_file(export: Export, stack: str, definitions_ref: str) -> str:
    """The stack file: comment lines, then the whole config as one YAML document, then comment lines."""
    config = {**export.config, f"{NAMESPACE}:definitionsFile": definitions_ref}
    comments = {
        **export.comments,
        f"{NAMESPACE}:definitionsFile": [
            "this stack's model, mapping and traits, as found in Segment (the repository's definitions.yaml",
            "is left alone; point this at it once the two agree)",
        ],
    }
    order = [k for k in config if k.startswith("segment:")] + [
        k for k in config if not k.startswith("segment:")
    ]
    header = [
        f"Stack {stack}: exported from Segment workspace '{export.workspace_slug}', space '{export.space_slug}',",
        "by `flex-export`. It describes what exists; `adopt: true` makes the first",
        "`pulumi up` take every object over without changing it (docs/migration.md).",
        "Secrets are NOT in this file: set each with the commands at the end before `pulumi preview`.",
        "",
        "About the keys below:",
    ]
    for key in order:
        notes = comments.get(key, [])
        header += [f"  {key}: {notes[0]}", *(f"    {line}" for line in notes[1:])] if notes else []
    footer = ["", "Secrets (never written to this file; supply each value yourself):"]
    footer += [f"  {secret.command(stack)}   # {secret.what}" for secret in export.secrets]
    footer.append(f"  (optional) pulumi config set --stack {stack} --secret profileApiToken {PLACEHOLDER}")
    gaps = export.gaps
    if gaps:
        footer += ["", "Not representable in this config (see the export's summary):"]
        footer += [f"  {kind}: {gap.what}: {gap.why} → {gap.effect}" for kind, gap in gaps]
    body = dump({"config": {key: config[key] for key in order}})
    return "\n".join(_comments(header)) + "\n" + body + "\n".join(_comments(footer)) + "\n"


def render_definitions_file(export: Export, stack: str) -> str:
    header = [
        f"Definitions of stack {stack}: the Reverse ETL model, the Send Identify mapping and the computed traits",
        f"of space '{export.space_slug}' as they exist in Segment (exported by `flex-export`).",
        "Traits the builder can express are in builder form (docs/traits.md); others keep their query verbatim.",
        "",
    ]
    return "\n".join(_comments(header)) + "\n" + dump(export.definitions)


def _loads_back(text: str, data: Any, path: Path) -> None:
    """Refuse to write a file that would not read back as exactly ``data`` (the last line of defence)."""
    try:
        same = load_yaml(text) == data
    except yaml.YAMLError:
        same = False
    if not same:
        raise ExportError(f"{path} would not read back as what Segment returned: nothing was written")


def render_summary(export: Export) -> str:
    rows = [("object kind", "found", "exported", "needs a secret", "not representable")]
    for summary in export.summary.values():
        rows.append(
            (
                summary.kind,
                str(summary.found),
                str(summary.exported),
                ", ".join(summary.secrets) or "-",
                str(len(summary.gaps)) if summary.gaps else "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    gaps = export.gaps
    if gaps:
        lines += ["", "Not representable (why → what the first `pulumi up` does):"]
        lines += [f"  - {kind}: {gap.what}: {gap.why} → {gap.effect}" for kind, gap in gaps]
    notes = [(s.kind, note) for s in export.summary.values() for note in s.notes]
    if notes:
        lines += ["", "Notes:"]
        lines += [f"  - {kind}: {note}" for kind, note in notes]
    return "\n".join(lines)


def _printable(text: str) -> str:
    """Text for the terminal: Segment's strings may hold escape sequences or line breaks of their own."""
    return "\n".join(escaped(line) for line in text.split("\n"))


def render_secret_commands(export: Export, stack: str) -> str:
    lines = ["Set these secrets before `pulumi preview` (values are never written by the export):"]
    lines += [f"  {secret.command(stack)}" for secret in export.secrets]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ files


@dataclass(frozen=True)
class Written:
    stack_file: Path
    definitions_file: Path


def output_paths(out_dir: Path, stack: str, project_dir: Path) -> Written:
    """The two files of ``stack`` in ``out_dir``, each checked to stay inside ``project_dir``: no symbolic link
    (followed or dangling, it could lead anywhere), and a real folder inside the project once every link of the
    folders above it is followed."""
    project = project_dir.resolve()
    paths = Written(out_dir / f"Pulumi.{stack}.yaml", out_dir / f"definitions.{stack}.yaml")
    for path in (paths.stack_file, paths.definitions_file):
        if path.is_symlink():
            raise ExportError(
                f"{path} is a symbolic link (to {os.readlink(path)}), and the export never writes through a link, "
                "which could lead outside the project: nothing was written. Remove the link, or give --out another "
                "folder inside the project."
            )
        if not path.parent.resolve().is_relative_to(project):
            raise ExportError(
                f"--out {out_dir} is outside the project directory {project_dir} ({path.parent.resolve()}), "
                f"where the program could not read {paths.definitions_file.name} (it reads definitionsFile only "
                "inside the project, and Pulumi reads a stack file only beside Pulumi.yaml): nothing was "
                "written. Leave out --out to write into the project, or give a folder inside it."
            )
    return paths


def definitions_reference(definitions_file: Path, project_dir: Path) -> str:
    """``definitionsFile`` as the program reads it: the path relative to the project (``output_paths`` checked
    that the project holds it)."""
    return (
        (definitions_file.parent.resolve() / definitions_file.name)
        .relative_to(project_dir.resolve())
        .as_posix()
    )


def refuse_to_overwrite(paths: Written, force: bool) -> None:
    existing = [p for p in (paths.stack_file, paths.definitions_file) if os.path.lexists(p)]
    if existing and not force:
        raise ExportError(
            f"{', '.join(str(p) for p in existing)} already exist(s): nothing was written. Pass --force to "
            "overwrite, or --out DIR to write elsewhere."
        )


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a new file renamed over it: a link put there meanwhile is replaced,
    never followed."""
    handle, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(scratch, path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise


def write_export(
    export: Export, stack: str, out_dir: Path, *, project_dir: Path, force: bool = False
) -> Written:
    paths = output_paths(out_dir, stack, project_dir)
    refuse_to_overwrite(paths, force)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = output_paths(out_dir, stack, project_dir)  # again, now that the folder exists
    reference = definitions_reference(paths.definitions_file, project_dir)
    definitions = render_definitions_file(export, stack)
    stack_text = render_stack_file(export, stack, reference)
    _loads_back(definitions, export.definitions, paths.definitions_file)
    config = {**export.config, f"{NAMESPACE}:definitionsFile": reference}
    _loads_back(stack_text, {"config": config}, paths.stack_file)
    _replace(paths.definitions_file, definitions)
    _replace(paths.stack_file, stack_text)
    return paths


# -------------------------------------------------------------------------------------------------- CLI


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="flex-export",
        description="Describe a hand-built Unify setup as a stack (Pulumi.NAME.yaml + definitions.NAME.yaml) "
        "whose first `pulumi up` adopts every object unchanged. Read-only: nothing is written to Segment.",
        epilog=f"The token comes from {TOKEN_ENV} (or {TOKEN_ENV_ALIAS}), never from the command line. "
        f"Exit status: {EXIT_WRITTEN} when the files were written, {EXIT_REFUSED} when the export was refused, "
        f"{EXIT_CODES_HELP}",
    )
    add_debug_flag(parser)
    parser.add_argument("--space", required=True, help="slug of the Unify space to export")
    parser.add_argument(
        "--stack", required=True, type=plain_stack_name, help="name of the stack to write, e.g. dev or prod"
    )
    parser.add_argument(
        "--environment",
        choices=("dev", "prod"),
        help="the stack's environment (default: the stack name when it is dev or prod)",
    )
    parser.add_argument("--region", choices=("us", "eu"), help="the workspace's region (default us)")
    parser.add_argument(
        "--endpoint", help="Segment Public API base URL instead of the region's (e.g. the emulator)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="where to write the files, a folder inside the project (default: the project directory)",
    )
    add_project_dir(parser)
    parser.add_argument("--force", action="store_true", help="overwrite existing files of this stack")
    parser.add_argument(
        "--salesforce-source", metavar="SLUG", help="the Salesforce source, when there are several"
    )
    parser.add_argument(
        "--warehouse", metavar="ID_OR_NAME", help="the warehouse, when Salesforce loads into several"
    )
    parser.add_argument(
        "--mapping", metavar="ID", help="the Send Identify mapping, when several send to the space"
    )
    arguments = parser.parse_args(argv)
    if arguments.environment is None:
        if arguments.stack not in ("dev", "prod"):
            parser.error(f"stack '{arguments.stack}' is neither dev nor prod: pass --environment dev or prod")
        arguments.environment = arguments.stack
    return arguments


def client_from(arguments: argparse.Namespace, env: Mapping[str, str]) -> SegmentClient:
    token = env.get(TOKEN_ENV) or env.get(TOKEN_ENV_ALIAS)
    if not token:
        raise ExportError(
            f"no Segment Public API token: set {TOKEN_ENV} in the environment (never on the command line). A "
            "workspace owner creates tokens under Settings → Access Management → Tokens; read access is enough."
        )
    settings = ClientSettings.resolve(
        token=token, region=arguments.region, endpoint=arguments.endpoint, env=env
    )
    return SegmentClient(settings)


def main(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] = os.environ,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    project_dir: Path | None = None,
) -> int:
    """``project_dir``: the project, for a caller that knows it (``--project-dir`` still wins); by default the
    nearest folder holding Pulumi.yaml, from the current directory upward."""
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    debug = arguments.debug
    try:
        if arguments.project_dir is not None or project_dir is None:
            project_dir = find_project(arguments.project_dir)
        out_dir = arguments.out or project_dir
        refuse_to_overwrite(output_paths(out_dir, arguments.stack, project_dir), arguments.force)
        try:
            client = client_from(arguments, env)
        except ExportError as error:  # no token: it cannot run, nothing was refused
            raise CannotRun(str(error)) from None
        reach(client, token_from=f"{TOKEN_ENV} (or {TOKEN_ENV_ALIAS})")
        export = export_workspace(
            client,
            space_slug=arguments.space,
            environment=arguments.environment,
            choices=Choices(arguments.salesforce_source, arguments.warehouse, arguments.mapping),
            region=client.settings.region,
            endpoint=client.settings.endpoint,
        )
        check_export(export, arguments.stack)
        try:
            written = write_export(export, arguments.stack, out_dir, project_dir=project_dir, force=True)
        except OSError as error:
            raise CannotRun(
                f"cannot write to {out_dir}: {error.strerror}; give --out a writable folder"
            ) from None
    except ExportError as error:
        report("export", ExportError(_printable(str(error))), debug=debug, err=err)
        return EXIT_REFUSED
    except (CannotRun, SegmentError) as error:
        report("export", error, debug=debug, err=err)
        return EXIT_CANNOT_RUN
    print(f"Exported space '{export.space_slug}' of workspace '{export.workspace_slug}':\n", file=out)
    print(_printable(render_summary(export)), file=out)
    print(f"\nWrote {written.stack_file} and {written.definitions_file}.\n", file=out)
    print(_printable(next_steps(export, arguments.stack, written, project_dir)), file=out)
    return EXIT_WRITTEN


def next_steps(export: Export, stack: str, written: Written, project_dir: Path) -> str:
    """What to run after the export: the secrets, then preview and up. A stack file written elsewhere than beside
    Pulumi.yaml is first moved there, because Pulumi reads a stack's settings only from that place."""
    steps = []
    in_place = project_dir.resolve() / stack_file_name(stack)
    if written.stack_file.parent.resolve() != in_place.parent:
        steps += [
            f"Pulumi reads stack {stack}'s settings only from the {in_place.name} beside Pulumi.yaml. Put this one "
            f"there first (its definitionsFile, {definitions_reference(written.definitions_file, project_dir)}, is "
            "relative to the project and stays valid):",
            f"  cp {shlex.quote(str(written.stack_file))} {shlex.quote(str(in_place))}",
        ]
        if in_place.exists():
            steps.append(
                f"This replaces the {in_place.name} there: if it has an encryptionsalt or secretsprovider line, add "
                "that line to the new file too (Pulumi needs it to read the stack's secrets)."
            )
        steps.append("")
    steps.append(render_secret_commands(export, stack))
    steps.append(
        f"\nThen: pulumi preview --stack {stack} (every object is adopted), pulumi up, and a second preview that "
        "reports no changes (docs/migration.md)."
    )
    return "\n".join(steps)


if __name__ == "__main__":
    raise SystemExit(main())
