"""Pulumi dynamic resources for the Segment objects of a Flex Unified Profiles setup, one module per kind."""

from segment_provider.resources.computed_trait import ComputedTrait
from segment_provider.resources.destination import Destination, DestinationActivation
from segment_provider.resources.destination_subscription import RETL_TRIGGERS, DestinationSubscription
from segment_provider.resources.reverse_etl_model import ReverseEtlModel
from segment_provider.resources.source import Source
from segment_provider.resources.space import UnifySpace
from segment_provider.resources.warehouse import Warehouse
from segment_provider.resources.warehouse_connection import WarehouseConnection

__all__ = [
    "RETL_TRIGGERS",
    "ComputedTrait",
    "Destination",
    "DestinationActivation",
    "DestinationSubscription",
    "ReverseEtlModel",
    "Source",
    "UnifySpace",
    "Warehouse",
    "WarehouseConnection",
]
