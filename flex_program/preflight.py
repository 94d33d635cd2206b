"""Read-only checks the program makes before registering anything: the facts Segment's API can tell us.

* the Unify space exists (the API cannot create one: a missing space stops the run with the steps to create it);
* the space's internal Profiles source, whose write key the Send Identify mapping needs;
* which Flex events and properties the space has seen, so computed traits that need missing ones wait
  (Segment's guide: connect Flex and complete one interaction before creating computed traits). A trait that
  already exists in the space never waits: if the schema stops listing its events (the Flex connection was
  reset, the events were removed), it is kept as it is rather than deleted with every value it holds.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from segment_provider.api import NotFoundError, SegmentClient
from segment_provider.api.models import Source, Space
from segment_provider.resources.source import environment_label
from segment_provider.resources.space import create_space_steps, find_profiles_source


class PreflightError(Exception):
    """Something that must exist in Segment does not; the message says how to fix it."""


# ❓ Segment's docs do not say what listPropertiesFromEvent answers for an event the space never saw; the
# emulator answers 404, as Segment does for other names it does not know. While this holds, each wanted event
# costs one read (its properties) and the event list is not read. False: list the events first (one more read).
UNSEEN_EVENT_PROPERTIES_ARE_404 = True

# How close (difflib's ratio) an event the space has seen must be to a wanted one to be taken for what was meant:
# a letter or two off ('Flex - Engagment Initiated', 0.98) is; another Flex event is not ('Flex - Engagement
# Completed' for '… Initiated', 0.78), as a space may have seen one and not yet the other.
NEAR_EVENT_RATIO = 0.85

T = TypeVar("T")


@dataclass(frozen=True)
class Preflight:
    space: Space
    profiles_source: Source | None
    """The space's internal Profiles source (its write key feeds the mapping), when the token can see it."""
    schema: dict[str, set[str]]
    """Event name → property names seen in the space (only the events the traits use)."""
    waiting: dict[str, str] = field(default_factory=dict)
    """Trait id → why it waits (missing event or properties)."""
    kept: dict[str, str] = field(default_factory=dict)
    """Trait id → why it would wait, for traits that already exist in the space: they stay as they are."""
    misspelt: frozenset[str] = frozenset()
    """Waiting traits that name an event the space has not seen, close to one it has: a typo, not a wait."""

    def ready(self, trait_id: str) -> bool:
        return trait_id not in self.waiting

    @property
    def profiles_source_found(self) -> bool:
        return self.profiles_source is not None


def in_parallel(calls: list[Callable[[], T]]) -> list[T]:
    """The results of independent reads, sent at once: the deployment's first resources wait for them."""
    if len(calls) < 2:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="preflight") as pool:
        futures = [pool.submit(call) for call in calls]
        return [future.result() for future in futures]


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
    wanted = sorted(set(events))
    if not UNSEEN_EVENT_PROPERTIES_ARE_404:
        seen = set(client.list_space_events(space_id))
        wanted = [e for e in wanted if e in seen]

    def properties(event: str) -> set[str] | None:
        try:
            return set(client.list_space_event_properties(space_id, event))
        except NotFoundError:
            return None  # the space never saw this event

    found = in_parallel([functools.partial(properties, e) for e in wanted])
    return {e: props for e, props in zip(wanted, found, strict=True) if props is not None}


def near_events(
    client: SegmentClient, space_id: str, schema: Mapping[str, set[str]], events: Iterable[str]
) -> dict[str, list[str]]:
    """Wanted event the space has not seen → the events it has seen with a close name (a likely typo). The
    space's event list costs one more read, made only when a wanted event is missing."""
    unseen = sorted(set(events) - set(schema))
    if not unseen:
        return {}
    seen = sorted(set(client.list_space_events(space_id)))
    near = {event: difflib.get_close_matches(event, seen, n=3, cutoff=NEAR_EVENT_RATIO) for event in unseen}
    return {event: names for event, names in near.items() if names}


def waiting_traits(
    required: Mapping[str, Mapping[str, set[str]]],
    schema: Mapping[str, set[str]],
    near: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, str]:
    """Trait id → reason, for traits whose events or properties the space has not seen yet; an event with a
    close name the space has seen (``near``) is named as the likely meant one."""
    waiting: dict[str, str] = {}
    for trait_id, needs in required.items():
        reasons = []
        for event, properties in sorted(needs.items()):
            if event not in schema:
                meant = (near or {}).get(event)
                if meant:
                    reasons.append(
                        f"event '{event}' is not one the space has seen: did you mean "
                        + " or ".join(f"'{name}'" for name in meant)
                        + "?"
                    )
                else:
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


def misspelt_traits(
    required: Mapping[str, Mapping[str, set[str]]], waiting: Iterable[str], near: Mapping[str, Sequence[str]]
) -> frozenset[str]:
    """The waiting traits that name an event close to one the space has seen."""
    return frozenset(t for t in waiting if any(event in near for event in required.get(t, {})))


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
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="preflight") as pool:
        listing = pool.submit(client.list_sources)
        space = find_space(client, space_slug, space_name)
        sources = listing.result()
    if environment is not None:
        refuse_foreign_sources(sources, environment, source_slugs or {})
    profiles_source = find_profiles_source(sources, space)
    schema: dict[str, set[str]] = {}
    waiting: dict[str, str] = {}
    kept: dict[str, str] = {}
    near: dict[str, list[str]] = {}
    if check_events and required:
        events = {event for needs in required.values() for event in needs}
        schema = space_schema(client, space.id, events)
        near = near_events(client, space.id, schema, events)
        waiting = waiting_traits(required, schema, near)
    if waiting and trait_names:
        existing = {trait.name for trait in client.list_computed_traits(space.id)}
        kept = {t: reason for t, reason in waiting.items() if trait_names.get(t) in existing}
        waiting = {t: reason for t, reason in waiting.items() if t not in kept}
    return Preflight(
        space=space,
        profiles_source=profiles_source,
        schema=schema,
        waiting=waiting,
        kept=kept,
        misspelt=misspelt_traits(required, waiting, near),
    )
