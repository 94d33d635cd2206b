"""Read-only checks of one stack's Segment setup, for ``flex-doctor`` and promotion.

Each check answers one question a person would otherwise click through the Segment app for, and returns a
:class:`Check` row: ``ok``, ``gap`` (something to do or to wait for, with the next action), ``manual`` (the
API cannot tell; a reminder) or ``error`` (the check itself could not run). Nothing is changed in Segment.

Objects are found by the natural keys the program creates them under (source slugs, names from the stack
config and ``definitions.yaml``), so the checks need no Pulumi state and work on a stack that was never
deployed. Use :func:`run_checks`; :func:`all_passed` says whether a stack is ready.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from flex_program.adoption import differences_from_config
from flex_program.config import NAMESPACE, Program, expected_profile_traits
from flex_program.preflight import (
    PreflightError,
    find_space,
    misspelt_traits,
    near_events,
    space_schema,
    waiting_traits,
)
from flex_program.traits import required_schema, trait_key
from flex_program.unified_profiles import PROFILES_DESTINATION_SLUG, SALESFORCE_CATALOG_SLUG
from segment_provider.api import SegmentClient
from segment_provider.api.errors import (
    ApiError,
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    SegmentError,
)
from segment_provider.api.models import (
    ComputedTrait,
    Destination,
    DestinationSubscription,
    ReverseEtlModel,
    Source,
    Space,
    SyncStatus,
    Warehouse,
)
from segment_provider.api.profiles import PROFILE_SPACE_KEY, PROFILE_TOKEN_KEY, ProfileApiClient
from segment_provider.resources.base import ResourceError, WorkspaceLinks
from segment_provider.resources.source import SALESFORCE_AUTHORIZED_SETTING

CheckState = Literal["ok", "gap", "manual", "error"]
STATES: tuple[CheckState, ...] = ("ok", "gap", "manual", "error")
# Statuses Segment lists for computed traits: Backfilling, Computing, Failed, Live, Awaiting Destinations, Disabled.
# ❓ "Awaiting Destinations" is undocumented; the trait has values on profiles, so it counts as computed.
COMPUTED_TRAIT_STATUSES = ("Live", "Awaiting Destinations")
STILL_COMPUTING = ("Computing", "Backfilling")
# ❓ Segment does not document the status strings of warehouse load reports; these read as failures.
FAILED_LOAD_STATUSES = ("failed", "failure", "error", "errored")
# A user id no profile has: a 404 for it means the Profile API accepted the token.
PROBE_USER_ID = "flex-unified-profiles-doctor-probe"
LOAD_REPORTS_PAGE = 200


@dataclass(frozen=True)
class Check:
    """One row of the doctor's table."""

    name: str
    state: CheckState
    detail: str
    next_action: str = ""

    @property
    def passed(self) -> bool:
        """Manual reminders do not fail a stack: the API cannot tell either way."""
        return self.state in ("ok", "manual")


def all_passed(checks: Iterable[Check]) -> bool:
    return all(check.passed for check in checks)


class _Gap(Exception):
    """An object a check needs is missing; the check becomes a gap with this detail and next action."""

    def __init__(self, detail: str, next_action: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.next_action = next_action


# ------------------------------------------------------------------------------------------------ lookups


@dataclass
class _Lookups:
    """The stack's objects in Segment, found once by natural key and shared by the checks."""

    program: Program
    client: SegmentClient
    owned: frozenset[str] = frozenset()
    """The ids the stack's state holds (empty when the doctor cannot read the state)."""
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def up(self) -> str:
        return f"run `pulumi up --stack {self.program.stack.environment}`"

    def _once(self, key: str, find: Callable[[], Any]) -> Any:
        if key not in self._cache:
            try:
                self._cache[key] = find()
            except (_Gap, SegmentError) as problem:
                self._cache[key] = problem
        found = self._cache[key]
        if isinstance(found, Exception):
            raise found
        return found

    def space(self) -> Space:
        def find() -> Space:
            space = self.program.stack.space
            try:
                return find_space(self.client, space.slug, space.name)
            except PreflightError as missing:
                wanted = f"slug '{space.slug}'" if space.slug else f"name '{space.name}'"
                raise _Gap(f"no Unify space with {wanted}", str(missing)) from None

        found: Space = self._once("space", find)
        return found

    def needs_space(self) -> Space:
        try:
            return self.space()
        except _Gap:
            raise _Gap("needs the Unify space, which was not found", "see the 'Unify space' row") from None

    def links(self) -> WorkspaceLinks:
        found: WorkspaceLinks = self._once("links", lambda: WorkspaceLinks(self.client))
        return found

    def app_url(self, *path: str) -> str:
        try:
            return self.links().url(*path)
        except SegmentError:
            return "the Segment app"

    def source(self, slug: str, what: str) -> Source:
        sources: list[Source] = self._once("sources", self.client.list_sources)
        found = next((s for s in sources if s.slug == slug), None)
        if found is None:
            raise _Gap(f"{what} '{slug}' not found", f"{self.up} to create it")
        return found

    def salesforce(self) -> Source:
        return self.source(self.program.stack.salesforce.source_slug, "Salesforce source")

    def reverse_etl_source(self) -> Source:
        return self.source(self.program.stack.reverse_etl.source_slug, "Reverse ETL source")

    def warehouse(self) -> Warehouse:
        config = self.program.stack.warehouse

        def find() -> Warehouse:
            matches = [
                w
                for w in self.client.list_warehouses()
                if w.name == config.name and w.metadata.slug == config.type
            ]
            return _single(matches, f"{config.type} warehouse named '{config.name}'", self.up, self.owned)

        found: Warehouse = self._once("warehouse", find)
        return found

    def model(self) -> ReverseEtlModel:
        name = self.program.definitions.model.name

        def find() -> ReverseEtlModel:
            source = self.reverse_etl_source()
            matches = [
                m
                for m in self.client.list_reverse_etl_models()
                if m.name == name and m.source_id == source.id
            ]
            return _single(matches, f"Reverse ETL model '{name}'", self.up, self.owned)

        found: ReverseEtlModel = self._once("model", find)
        return found

    def destination(self) -> Destination:
        name = self.program.stack.profiles.destination_name

        def find() -> Destination:
            source = self.reverse_etl_source()
            matches = [
                d
                for d in self.client.list_destinations()
                if d.name == name
                and d.source_id == source.id
                and d.metadata.slug == PROFILES_DESTINATION_SLUG
            ]
            return _single(matches, f"Segment Profiles destination '{name}'", self.up, self.owned)

        found: Destination = self._once("destination", find)
        return found

    def mapping(self) -> DestinationSubscription:
        name = self.program.definitions.mapping.name

        def find() -> DestinationSubscription:
            destination = self.destination()
            matches = [s for s in self.client.list_subscriptions(destination.id) if s.name == name]
            return _single(matches, f"mapping '{name}'", self.up, self.owned)

        found: DestinationSubscription = self._once("mapping", find)
        return found

    def schema(self) -> dict[str, set[str]]:
        """Event → properties the space has seen, for the events the enabled traits use."""

        def find() -> dict[str, set[str]]:
            events = {event for needs in self.required().values() for event in needs}
            return space_schema(self.client, self.needs_space().id, events) if events else {}

        found: dict[str, set[str]] = self._once("schema", find)
        return found

    def near_events(self) -> dict[str, list[str]]:
        """Wanted event the space has not seen → seen events with a close name (a likely typo)."""

        def find() -> dict[str, list[str]]:
            events = {event for needs in self.required().values() for event in needs}
            return near_events(self.client, self.needs_space().id, self.schema(), events)

        found: dict[str, list[str]] = self._once("near_events", find)
        return found

    def waiting(self) -> dict[str, str]:
        return waiting_traits(self.required(), self.schema(), self.near_events())

    def required(self) -> dict[str, dict[str, set[str]]]:
        return {trait_id: required_schema(spec) for trait_id, spec in self.program.traits.items()}

    def traits(self) -> list[ComputedTrait]:
        found: list[ComputedTrait] = self._once(
            "traits", lambda: self.client.list_computed_traits(self.needs_space().id)
        )
        return found


def _single(matches: list[Any], what: str, up: str, owned: frozenset[str] = frozenset()) -> Any:
    if not matches:
        raise _Gap(f"{what} not found", f"{up} to create it")
    if len(matches) > 1:
        raise _Gap(*duplicates(matches, what, owned))
    return matches[0]


def duplicates(matches: list[Any], what: str, owned: frozenset[str]) -> tuple[str, str]:
    """The detail and next action for several objects matching one natural key: which one the stack's state owns
    (keep it) and which to delete, by id."""
    ids = [str(match.id) for match in matches]
    kept = [id_ for id_ in ids if id_ in owned]
    others = [id_ for id_ in ids if id_ not in owned]
    detail = f"{len(matches)} objects match {what}: {', '.join(ids)}"
    if len(kept) == 1:
        return (
            f"{detail}; the stack owns {kept[0]} (its id in the state)",
            f"delete {', '.join(others)} in the Segment app (not in the state: no `pulumi` command touches "
            f"{'them' if len(others) > 1 else 'it'}); keep {kept[0]}",
        )
    if not owned:
        return (
            f"{detail}; the doctor could not read the stack's state to tell which one it owns",
            "run the doctor without --config-file (it reads the state through the pulumi CLI) to learn which id "
            "to keep",
        )
    return (
        f"{detail}; the stack's state owns {'none' if not kept else 'several'} of them",
        "run `pulumi refresh`, then the doctor again; delete in the Segment app only an id the state does not hold",
    )


# ------------------------------------------------------------------------------------------------- checks


def _space(look: _Lookups) -> Check:
    space = look.space()
    return Check("Unify space", "ok", f"'{space.slug}' found (id {space.id})")


def _identity_rules(look: _Lookups) -> Check:
    return Check(
        "Identity rules",
        "manual",
        "the Public API cannot read or set identity resolution rules",
        "check Unify settings → Identity resolution: phone (custom identifier, trait key phone) and email; "
        "phone numbers in E.164",
    )


def _salesforce(look: _Lookups) -> Check:
    source = look.salesforce()
    if source.metadata.slug != SALESFORCE_CATALOG_SLUG:
        return Check(
            "Salesforce source",
            "gap",
            f"source '{source.slug}' is a {source.metadata.slug} source, not Salesforce",
            f"point {NAMESPACE}:salesforce.sourceSlug at the Salesforce source",
        )
    # The program's own test: Segment adds instance-url to the settings once the OAuth is done in the app.
    if SALESFORCE_AUTHORIZED_SETTING in (source.settings or {}):
        return Check("Salesforce source", "ok", f"'{source.slug}' is authorised")
    return Check(
        "Salesforce source",
        "gap",
        f"'{source.slug}' exists but is not authorised (no {SALESFORCE_AUTHORIZED_SETTING} in its settings)",
        f"open {look.app_url('sources', source.slug, 'overview')} → Authenticate with a Salesforce user that "
        "has API access and 'View all'",
    )


def _warehouse_connection(look: _Lookups) -> Check:
    warehouse = look.warehouse()
    data = look.client.call("getConnectionStateFromWarehouse", path_params={"warehouseId": warehouse.id})
    state = str((data or {}).get("connectionState") or "unknown")
    if state != "CONNECTED":
        return Check(
            "Warehouse connection",
            "gap",
            f"Segment reports the warehouse '{warehouse.name}' as {state}",
            f"check {NAMESPACE}:warehouse.settings and the secret warehouseCredentials (user, key, role grants), "
            "then `pulumi up` again",
        )
    salesforce = look.salesforce()
    connected = {s.id for s in look.client.list_connected_sources(warehouse.id)}
    if salesforce.id not in connected:
        return Check(
            "Warehouse connection",
            "gap",
            f"'{warehouse.name}' is CONNECTED but the Salesforce source '{salesforce.slug}' does not load into it",
            f"{look.up} to connect them",
        )
    return Check(
        "Warehouse connection", "ok", f"'{warehouse.name}' is CONNECTED and receives '{salesforce.slug}'"
    )


def _first_load(look: _Lookups) -> Check:
    warehouse, salesforce = look.warehouse(), look.salesforce()
    # One page only: Segment allows this operation 2 requests a minute.
    data = look.client.call(
        "listSyncsFromWarehouseAndSource",
        path_params={"warehouseId": warehouse.id, "sourceId": salesforce.id},
        query={"pagination[count]": LOAD_REPORTS_PAGE},
    )
    reports = [r for r in (data or {}).get("reports", []) if isinstance(r, Mapping)]
    if not reports:
        waiting_for = (
            "Salesforce's first sync (up to 72 h) and the first warehouse load (up to 24 h)"
            if SALESFORCE_AUTHORIZED_SETTING in (salesforce.settings or {})
            else "the Salesforce authorisation, then Salesforce's first sync (up to 72 h)"
        )
        return Check(
            "First warehouse load",
            "gap",
            f"Segment reports no load of '{salesforce.slug}' into '{warehouse.name}' yet",
            f"wait for {waiting_for}, then run the doctor again",
        )
    latest = max(reports, key=lambda r: str(r.get("start") or ""))
    status = str(latest.get("status") or "unknown")
    when = latest.get("end") or latest.get("start")
    if status.lower() in FAILED_LOAD_STATUSES:
        notices = "; ".join(
            str(n.get("message")) for n in latest.get("notices") or [] if isinstance(n, Mapping)
        )
        return Check(
            "First warehouse load",
            "gap",
            f"the latest load ({when}) is '{status}'" + (f": {notices}" if notices else ""),
            f"open {look.app_url('destinations', 'warehouses', warehouse.id, 'overview')} → Syncs, fix the "
            "cause (credentials, grants, schema), then wait for the next load",
        )
    return Check(
        "First warehouse load",
        "ok",
        f"{len(reports)} load(s) reported; the latest ({when}) is '{status}' with {latest.get('count')} rows",
    )


def _model(look: _Lookups) -> Check:
    model = look.model()
    if not model.enabled:
        return Check(
            "Reverse ETL model",
            "gap",
            f"'{model.name}' is disabled",
            f"{look.up}: the program enables it (or enable it at {look.app_url('reverse-etl', 'models', model.id)})",
        )
    return Check("Reverse ETL model", "ok", f"'{model.name}' is enabled")


def _mapping(look: _Lookups) -> Check:
    mapping, destination = look.mapping(), look.destination()
    problems = []
    if not mapping.enabled:
        problems.append(f"the mapping '{mapping.name}' is disabled")
    if not destination.enabled:
        problems.append(f"the destination '{destination.name}' is disabled, so no sync can start")
    if mapping.model_id != look.model().id:
        problems.append("the mapping does not use the stack's model")
    if problems:
        return Check(
            "Send Identify mapping", "gap", "; ".join(problems), f"{look.up}: the program enables both"
        )
    plan = mapping.reverse_etl_schedule
    schedule = (
        " ".join([plan.strategy, *(str(value) for value in (plan.config or {}).values())])
        if plan is not None
        else "no schedule"
    )
    return Check(
        "Send Identify mapping",
        "ok",
        f"'{mapping.name}' and the destination '{destination.name}' are enabled ({schedule})",
    )


def _last_sync(look: _Lookups) -> Check:
    model, mapping = look.model(), look.mapping()
    syncs = look.client.list_sync_statuses(model.id, mapping.id)
    mapping_url = look.app_url("destinations", mapping.destination_id, "mappings", mapping.id)
    if not syncs:
        return Check(
            "Last Reverse ETL sync",
            "gap",
            "no Reverse ETL sync has run for the mapping yet",
            f"wait for the schedule, or start one at {mapping_url} (Sync now); the warehouse must hold the "
            "model's table first",
        )
    latest = _latest_sync(syncs)
    if latest.sync_status == "SUCCESS":
        delivered = latest.load_phase.deliver_success_count if latest.load_phase else "?"
        return Check(
            "Last Reverse ETL sync",
            "ok",
            f"SUCCESS, finished {latest.finished_at}, {delivered} records delivered",
        )
    if latest.sync_status == "IN_PROGRESS":
        return Check(
            "Last Reverse ETL sync",
            "gap",
            f"a sync has been running since {latest.started_at}",
            "wait for it to finish, then run the doctor again",
        )
    cause = ": ".join(part for part in (latest.error_code, latest.error) if part)
    return Check(
        "Last Reverse ETL sync",
        "gap",
        f"the latest sync ({latest.started_at}) is {latest.sync_status}" + (f" ({cause})" if cause else ""),
        f"open {mapping_url} → Sync history, fix the cause (the model's query runs in the warehouse), sync again",
    )


def _latest_sync(syncs: list[SyncStatus]) -> SyncStatus:
    return max(syncs, key=lambda s: s.started_at)


def _flex_events(look: _Lookups) -> Check:
    required = look.required()
    if not any(required.values()):
        return Check("Flex events", "ok", "no enabled computed trait needs events")
    waiting = look.waiting()
    if waiting:
        reasons = sorted({reason for reason in waiting.values()})
        misspelt = misspelt_traits(required, waiting, look.near_events())
        actions = []
        if misspelt:
            actions.append(
                f"correct the event name of {', '.join(sorted(misspelt))} in "
                f"{look.program.stack.definitions_file} (the space has seen the event named: nothing to wait for)"
            )
        if set(waiting) - misspelt:
            actions.append(
                "connect the space to Flex in the Twilio Console and complete one Flex interaction"
            )
        return Check(
            "Flex events",
            "gap",
            f"{len(waiting)} trait(s) wait: {'; '.join(reasons)}",
            f"{'; '.join(actions)}; then `pulumi up --stack {look.program.stack.environment}` creates the "
            "waiting traits",
        )
    events = sorted(look.schema())
    return Check("Flex events", "ok", f"the space has seen {', '.join(repr(e) for e in events)}")


def _computed_traits(look: _Lookups) -> list[Check]:
    if not look.program.traits:
        return []
    remote = {t.name: t for t in look.traits()}
    waiting = look.waiting()
    return [
        _trait(look, trait_id, spec.name, spec.enabled, remote, waiting)
        for trait_id, spec in look.program.traits.items()
    ]


def _trait(
    look: _Lookups,
    trait_id: str,
    name: str,
    wanted_enabled: bool,
    remote: Mapping[str, ComputedTrait],
    waiting: Mapping[str, str],
) -> Check:
    label = f"Trait {trait_key(name)}"
    trait = remote.get(name)
    if trait is None:
        if trait_id in waiting:
            return Check(
                label, "gap", f"not created: waits ({waiting[trait_id]})", "see the 'Flex events' row"
            )
        return Check(label, "gap", f"'{name}' not found in the space", f"{look.up} to create it")
    if not wanted_enabled:
        if trait.enabled:
            return Check(label, "gap", "enabled in Segment but disabled in definitions.yaml", f"{look.up}")
        return Check(label, "ok", "disabled, as definitions.yaml says")
    url = look.app_url("unify", "spaces", trait.space_id, "traits", trait.id)
    status = trait.status or "no status"
    if not trait.enabled or status == "Disabled":
        return Check(
            label, "gap", f"'{name}' is disabled ({status})", f"{look.up}: definitions.yaml enables it"
        )
    if status in COMPUTED_TRAIT_STATUSES:
        return Check(label, "ok", f"{status}")
    if status in STILL_COMPUTING:
        return Check(
            label,
            "gap",
            f"{status}: Segment has not finished computing it",
            "wait, then run the doctor again",
        )
    return Check(label, "gap", f"{status}", f"open {url}, check the definition and the events it uses")


STORE_PROFILE_TOKEN = (
    f"`pulumi config set --secret profileApiToken` (it asks for the value) ({PROFILE_TOKEN_KEY})"
)
"""How a stack stores the Profile API token; a caller without a stack (``flex-doctor --config-file``) gives its own."""


def _profile_api(look: _Lookups, profiles: ProfileApiClient | None, store_token: str) -> Check:
    name = "Profile API"
    if profiles is None:
        return Check(
            name,
            "gap",
            "no Profile API token configured",
            f"generate one (Unify → Unify settings → API access), then {store_token}",
        )
    space_id = look.program.stack.profile_api.space_id or look.needs_space().id
    sample = look.program.stack.verify.sample_user_id
    refused = (
        f"generate a new token under Unify settings → API access, then {store_token}; check segment:region, and "
        f"set {PROFILE_SPACE_KEY} if API access shows another space id"
    )
    try:
        if sample is None:
            # A 404 means the token was accepted: there is just no such profile.
            with contextlib.suppress(NotFoundError):
                profiles.user_traits(space_id, PROBE_USER_ID, include=["email"])
            return Check(
                name,
                "ok",
                f"the token is accepted for space {space_id}",
                f"set {NAMESPACE}:verify.sampleUserId to also check a real profile's computed traits",
            )
        expected = expected_profile_traits(look.program)
        found = profiles.user_traits(space_id, sample, include=expected)
    except (AuthenticationError, PermissionDeniedError):
        return Check(name, "gap", f"the Profile API refused the token for space {space_id}", refused)
    except NotFoundError:
        return Check(
            name,
            "gap",
            f"no profile user_id:{sample} in space {space_id}",
            f"check {NAMESPACE}:verify.sampleUserId; the profile arrives with the first Reverse ETL sync",
        )
    missing = [key for key in expected if key not in found]
    if missing:
        return Check(
            name,
            "gap",
            f"user_id:{sample} lacks {len(missing)} of {len(expected)} expected traits: {', '.join(missing)}",
            "wait until the traits are Live (Segment computes them from Flex events), or adjust "
            f"{NAMESPACE}:verify.expectedTraits",
        )
    return Check(
        name, "ok", f"user_id:{sample} has all {len(expected)} expected traits: {', '.join(expected)}"
    )


# ------------------------------------------------------------------------------------------------ running


def run_checks(
    program: Program,
    client: SegmentClient,
    profiles: ProfileApiClient | None,
    *,
    store_profile_token: str = STORE_PROFILE_TOKEN,
    owned_ids: frozenset[str] = frozenset(),
) -> list[Check]:
    """Every check of the stack, in the order of Segment's setup guide. Read-only; a failed request becomes an
    ``error`` row instead of an exception. ``store_profile_token`` is the fix that stores a Profile API token; ``owned_ids`` (the ids in the stack's state)
    let a duplicate row name the object to keep and the one to delete."""
    look = _Lookups(program, client, owned_ids)
    checks: list[tuple[str, Callable[[_Lookups], Check | list[Check]]]] = [
        ("Unify space", _space),
        ("Identity rules", _identity_rules),
        ("Salesforce source", _salesforce),
        ("Warehouse connection", _warehouse_connection),
        ("First warehouse load", _first_load),
        ("Reverse ETL model", _model),
        ("Send Identify mapping", _mapping),
        ("Last Reverse ETL sync", _last_sync),
        ("Flex events", _flex_events),
        ("Computed traits", _computed_traits),
        ("Profile API", functools.partial(_profile_api, profiles=profiles, store_token=store_profile_token)),
        ("Drift", _drift),
    ]
    rows: list[Check] = []
    for name, check in checks:
        rows.extend(_guarded(name, check, look))
    return rows


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _drift(look: _Lookups) -> Check:
    """Segment against the config, with the providers' own comparison: what the next ``up`` would change."""
    found = differences_from_config(look.program, look.client, look.space().id, look.traits())
    if not found:
        return Check("Drift", "ok", "every object found in Segment matches the config")
    changed = "; ".join(
        f"{d.label}: {d.field} is {_shown(d.found)} in Segment, the config says {_shown(d.wanted)}"
        for d in found
    )
    return Check(
        "Drift",
        "gap",
        changed,
        f"{look.up} to put the config's values back (`pulumi preview` names each field), or set them in the "
        "config to keep Segment's",
    )


def _guarded(name: str, check: Callable[[_Lookups], Check | list[Check]], look: _Lookups) -> list[Check]:
    try:
        found = check(look)
    except _Gap as missing:
        return [Check(name, "gap", missing.detail, missing.next_action)]
    except ApiError as failure:
        return [Check(name, "error", str(failure), "fix what the message says, then run the doctor again")]
    except SegmentError as failure:
        return [Check(name, "error", str(failure), "fix the setting it names, then run the doctor again")]
    except ResourceError as refused:
        # What a provider would stop `pulumi up` with (two objects with one name, another environment's object).
        return [Check(name, "gap", str(refused), "do what the message says, then run the doctor again")]
    return found if isinstance(found, list) else [found]


__all__ = ["STATES", "Check", "CheckState", "all_passed", "run_checks"]
