"""Read-only checks the program makes before registering anything: the facts Segment's API can tell us.

* the Unify space exists (the API cannot create one: a missing space stops the run with the steps to create it);
* the space's internal Profiles source, whose write key the Send Identify mapping needs;
* which Flex events and properties the space has seen, so computed traits that need missing ones wait
  (Segment's guide: connect Flex and complete one interaction before creating computed traits). A trait that
  already exists in the space never waits: if the schema stops listing its events (the Flex connection was
  reset, the events were removed), it is kept as it is rather than deleted with every value it holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from segment_provider.api import SegmentClient
from segment_provider.api.models import Source, Space, Workspace
from segment_provider.resources.source import environment_label
from segment_provider.resources.space import create_space_steps, find_profiles_source


class PreflightError(Exception):
    """Something that must exist in Segment does not; the message says how to fix it."""


@dataclass(frozen=True)
class Preflight:
    workspace: Workspace
    space: Space
    profiles_source_found: bool
    schema: dict[str, set[str]]
    """Event name → property names seen in the space (only the events the traits use)."""
    waiting: dict[str, str] = field(default_factory=dict)
    """Trait id → why it waits (missing event or properties)."""
    kept: dict[str, str] = field(default_factory=dict)
    """Trait id → why it would wait, for traits that already exist in the space: they stay as they are."""

    def ready(self, trait_id: str) -> bool:
        return trait_id not in self.waiting


def find_space(client: SegmentClient, slug: str | None, name: str | None) -> Space:
    spaces = client.list_spaces()
    matches = [s for s in spaces if s.slug == slug] if slug else [s for s in spaces if s.name == name]
    wanted = f"slug '{slug}'" if slug else f"name '{name}'"
    if not matches:
        known = ", ".join(sorted(s.slug for s in spaces)) or "none"
        raise PreflightError(f"{create_space_steps(wanted)} (spaces in this workspace: {known})")
    if len(matches) > 1:
        raise PreflightError(
            f"{len(matches)} spaces match {wanted}: set flex-unified-profiles:space.slug instead"
        )
    return matches[0]


def refuse_foreign_sources(sources: Iterable[Source], environment: str, slugs: Mapping[str, str]) -> None:
    """Stop when a source this stack names (config key → slug) is labelled for another environment in Segment:
    the stack would adopt, change or delete another environment's source and everything beneath it."""
    by_slug = {source.slug: source for source in sources}
    for key, slug in slugs.items():
        source = by_slug.get(slug)
        label = environment_label(source) if source is not None else None
        if label is not None and label != environment:
            raise PreflightError(
                f"{key}: source '{slug}' is labelled environment:{label} in Segment, and this is the {environment} "
                f"stack, so it would take over {label}'s source and everything beneath it (nothing was changed). "
                f"Give this stack its own source slug in Pulumi.<stack>.yaml ({key}), or, if the label is "
                "wrong, correct it under the source's Settings in the Segment app"
            )


def space_schema(client: SegmentClient, space_id: str, events: Iterable[str]) -> dict[str, set[str]]:
    """Properties seen for each wanted event that the space knows (events it never saw are left out)."""
    seen = set(client.list_space_events(space_id))
    return {e: set(client.list_space_event_properties(space_id, e)) for e in sorted(set(events)) if e in seen}


def waiting_traits(
    required: Mapping[str, Mapping[str, set[str]]], schema: Mapping[str, set[str]]
) -> dict[str, str]:
    """Trait id → reason, for traits whose events or properties the space has not seen yet."""
    waiting: dict[str, str] = {}
    for trait_id, needs in required.items():
        reasons = []
        for event, properties in sorted(needs.items()):
            if event not in schema:
                reasons.append(f"event '{event}' not seen in the space yet")
                continue
            missing = sorted(properties - schema[event])
            if missing:
                reasons.append(
                    f"event '{event}' has no propert{'y' if len(missing) == 1 else 'ies'} {missing}"
                )
        if reasons:
            waiting[trait_id] = "; ".join(reasons)
    return waiting


def run_preflight(
    client: SegmentClient,
    *,
    space_slug: str | None,
    space_name: str | None,
    required: Mapping[str, Mapping[str, set[str]]],
    check_events: bool = True,
    trait_names: Mapping[str, str] | None = None,
    environment: str | None = None,
    source_slugs: Mapping[str, str] | None = None,
) -> Preflight:
    """``trait_names`` (trait id → its name in Segment, the natural key) lets traits that already exist in the
    space be kept instead of waiting; it costs one list call, made only when some trait would wait."""
    workspace = client.get_workspace()
    space = find_space(client, space_slug, space_name)
    sources = client.list_sources()
    if environment is not None:
        refuse_foreign_sources(sources, environment, source_slugs or {})
    profiles_source_found = find_profiles_source(sources, space) is not None
    schema: dict[str, set[str]] = {}
    waiting: dict[str, str] = {}
    kept: dict[str, str] = {}
    if check_events and required:
        events = {event for needs in required.values() for event in needs}
        schema = space_schema(client, space.id, events)
        waiting = waiting_traits(required, schema)
    if waiting and trait_names:
        existing = {trait.name for trait in client.list_computed_traits(space.id)}
        kept = {t: reason for t, reason in waiting.items() if trait_names.get(t) in existing}
        waiting = {t: reason for t, reason in waiting.items() if t not in kept}
    return Preflight(
        workspace=workspace,
        space=space,
        profiles_source_found=profiles_source_found,
        schema=schema,
        waiting=waiting,
        kept=kept,
    )
