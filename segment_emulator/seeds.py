"""What a fresh emulator holds: one workspace, two Unify spaces with their internal Profiles sources, and,
on request, the Flex enrichment events a space sees once Flex is connected.
"""

from __future__ import annotations

from dataclasses import dataclass

from segment_emulator.clock import iso_timestamp
from segment_emulator.store import IdFactory, Record, Store

DEFAULT_SEED = "flex-unified-profiles"
WORKSPACE_SLUG = "flex-emulator"
WORKSPACE_NAME = "Flex Emulator"
DEV_SPACE_SLUG = "unified-profiles-dev"
SPACES = ((DEV_SPACE_SLUG, "Unified Profiles Dev"), ("unified-profiles-prod", "Unified Profiles Prod"))
# Each Unify space has an internal source of catalog type personas-compute, slug personas_<space slug>; its
# first write key is what the Segment Profiles "engage_space" field holds (seen in workspace exports).
PERSONAS_METADATA_ID = "dBg7wLNWBb"

INITIATED = "Flex - Engagement Initiated"
COMPLETED = "Flex - Engagement Completed"


@dataclass(frozen=True)
class PropertySeed:
    name: str
    samples: tuple[str, ...]


# Property names as in Segment's Unified Profiles guide (Twilio's page capitalises Direction and Duration);
# sample values are made up but shaped like Flex's (WK worker SIDs, KD interaction SIDs, UO channel SIDs).
FLEX_EVENTS: dict[str, tuple[PropertySeed, ...]] = {
    INITIATED: (
        PropertySeed("customerStartTime", ("2026-01-15T09:30:12.000Z", "2026-01-15T10:02:47.000Z")),
        PropertySeed("direction", ("Inbound", "Outbound")),
        PropertySeed("duration", ("184", "95", "402")),
        PropertySeed("lastKnownAgentWorkerSid", ("WK5f0c1a2b3c4d5e6f708192a3b4c5d6e7",)),
        PropertySeed("firstKnownAgentWorkerSid", ("WK0a1b2c3d4e5f60718293a4b5c6d7e8f9",)),
        PropertySeed("interactionSid", ("KD7e6d5c4b3a29180f7e6d5c4b3a291807",)),
        PropertySeed("channelSid", ("UO1a2b3c4d5e6f708192a3b4c5d6e7f809",)),
        PropertySeed("channelType", ("Voice", "SMS", "WhatsApp", "Email")),
    ),
    COMPLETED: (
        PropertySeed("channelSid", ("UO1a2b3c4d5e6f708192a3b4c5d6e7f809",)),
        PropertySeed("interactionSid", ("KD7e6d5c4b3a29180f7e6d5c4b3a291807",)),
        PropertySeed("codes", ('{"dispositionCode":"resolved","topic":"billing"}',)),
        PropertySeed("sentiment", ("positive", "neutral", "negative")),
    ),
}


def seeded_store(now: float, *, seed: str = DEFAULT_SEED, with_flex_events: bool = False) -> Store:
    ids = IdFactory(seed)
    store = Store(
        seed=seed,
        ids=ids,
        workspace={"id": ids.next(), "slug": WORKSPACE_SLUG, "name": WORKSPACE_NAME},
        user_id=ids.next(),
    )
    for slug, name in SPACES:
        space = {"id": store.new_id(), "slug": slug, "name": name}
        store.spaces[space["id"]] = space
        source = personas_source_for(store, space)
        store.sources[source["id"]] = source
        store.events[space["id"]] = {}
    if with_flex_events:
        for space in store.spaces.values():
            add_flex_events(store, space["id"], now)
    return store


def personas_source_for(store: Store, space: Record) -> Record:
    return {
        "id": store.new_id(),
        "slug": f"personas_{space['slug']}",
        "name": f"Personas {space['name']}",
        "metadataId": PERSONAS_METADATA_ID,
        "workspaceId": store.workspace["id"],
        "enabled": True,
        "writeKeys": [store.new_write_key()],
        "settings": {},
        "labels": [],
    }


def add_flex_events(store: Store, space_id: str, now: float) -> None:
    """Record the two Flex events (and their properties) as seen by the space ``space_id`` at ``now``."""
    seen_at = iso_timestamp(now)
    events = store.events.setdefault(space_id, {})
    for event_name, properties in FLEX_EVENTS.items():
        events[event_name] = {
            "name": event_name,
            "type": "TRACK",
            "lastSeenAt": seen_at,
            "properties": {
                p.name: {"type": "PROPERTY", "lastSeenAt": seen_at, "samples": list(p.samples)}
                for p in properties
            },
        }
