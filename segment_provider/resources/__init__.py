"""Pulumi dynamic resources for the Segment objects of a Flex Unified Profiles setup, one module per kind.

Each kind's module is imported when its resource is first used (``from segment_provider.resources import
Source``, or the provider process unpickling a Source's provider), not with this package: the provider process
that the engine starts for a refresh of three sources loads the source kind alone.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Redundant aliases: these names are the package's own (re-exported), for type checkers.
if TYPE_CHECKING:
    from segment_provider.resources.computed_trait import ComputedTrait as ComputedTrait
    from segment_provider.resources.destination import Destination as Destination
    from segment_provider.resources.destination import DestinationActivation as DestinationActivation
    from segment_provider.resources.destination_subscription import RETL_TRIGGERS as RETL_TRIGGERS
    from segment_provider.resources.destination_subscription import (
        DestinationSubscription as DestinationSubscription,
    )
    from segment_provider.resources.reverse_etl_model import ReverseEtlModel as ReverseEtlModel
    from segment_provider.resources.source import Source as Source
    from segment_provider.resources.space import UnifySpace as UnifySpace
    from segment_provider.resources.warehouse import Warehouse as Warehouse
    from segment_provider.resources.warehouse_connection import WarehouseConnection as WarehouseConnection

MODULE_OF = {
    "ComputedTrait": "computed_trait",
    "Destination": "destination",
    "DestinationActivation": "destination",
    "DestinationSubscription": "destination_subscription",
    "RETL_TRIGGERS": "destination_subscription",
    "ReverseEtlModel": "reverse_etl_model",
    "Source": "source",
    "UnifySpace": "space",
    "Warehouse": "warehouse",
    "WarehouseConnection": "warehouse_connection",
}
"""Each name this package exports, and the module of the kind that defines it."""

__all__ = sorted(MODULE_OF)


def __getattr__(name: str) -> Any:
    module = MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *MODULE_OF})
