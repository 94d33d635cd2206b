"""What the real engine (tests/e2e) and the engine stand-in (tests/program) must both do, call by call, so the
two layers tell the same story. Each list is the mutating requests Segment receives, in order, as the real
``pulumi`` CLI v3.276 made them against the emulator."""

from __future__ import annotations

from typing import Any

NEW_SALESFORCE_SLUG = "flex_dev_salesforce_v2"
REPLACING_THE_SALESFORCE_SOURCE = [
    # Source and WarehouseConnection are delete_before_replace (Segment refuses a second source with the slug
    # and a second connection of the pair): the dependent connection goes first, then the source...
    "DELETE removeSourceConnectionFromWarehouse",
    "DELETE deleteSource",
    # ...and the new source (created, then named: the stable create body has no name; then labelled with the
    # stack's environment) gets its connection back.
    "POST createSource",
    "PATCH updateSource",
    "POST addLabelsToSource",
    "POST addConnectionFromSourceToWarehouse",
]
"""A new ``salesforce.sourceSlug`` on a deployed dev stack."""

SPECIFIC_DAYS_SCHEDULE: dict[str, Any] = {
    "strategy": "SPECIFIC_DAYS",
    "config": {"days": [1, 3, 5], "hours": [6, 18], "timezone": "America/New_York"},
}
"""A schedule whose days and hours Segment types as integers (the wire carries them as floats)."""
