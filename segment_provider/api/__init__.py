"""Segment Public API client: settings, typed calls, wire models, catalog lookups and one error hierarchy;
and a read-only Profile API client (``profiles.py``) that raises the same errors.

This package does not depend on Pulumi.
"""

from segment_provider.api.collector import collector_paused

# The package's modules and pydantic make most of what a process imports: see collector.py.
with collector_paused():
    from segment_provider.api.catalog import Catalog, clear_catalog_cache
    from segment_provider.api.client import (
        BASE_URLS,
        USER_AGENT,
        ClientSettings,
        SegmentClient,
        backoff,
        jitter,
    )
    from segment_provider.api.errors import (
        ApiError,
        AuthenticationError,
        ConfigurationError,
        ConflictError,
        NotFoundError,
        OutcomeUnknownError,
        PermissionDeniedError,
        RateLimitedError,
        SegmentError,
        ServerError,
        TransportError,
        UnknownCatalogSlugError,
        ValidationError,
        error_for_response,
    )
    from segment_provider.api.models import (
        ComputedTrait,
        Destination,
        DestinationAction,
        DestinationMetadata,
        DestinationSubscription,
        IntegrationOption,
        ManualSync,
        MetadataRef,
        ReverseEtlModel,
        ReverseEtlSchedule,
        Source,
        SourceMetadata,
        Space,
        SyncStatus,
        TraitDefinition,
        TraitOptions,
        Warehouse,
        WarehouseMetadata,
        WarehouseValidation,
        Workspace,
    )
    from segment_provider.api.operations import OPERATIONS, Operation, operation
    from segment_provider.api.pacing import Pacer
    from segment_provider.api.profiles import PROFILE_API_URLS, ProfileApiClient, ProfileApiSettings

__all__ = [
    "BASE_URLS",
    "OPERATIONS",
    "PROFILE_API_URLS",
    "USER_AGENT",
    "ApiError",
    "AuthenticationError",
    "Catalog",
    "ClientSettings",
    "ComputedTrait",
    "ConfigurationError",
    "ConflictError",
    "Destination",
    "DestinationAction",
    "DestinationMetadata",
    "DestinationSubscription",
    "IntegrationOption",
    "ManualSync",
    "MetadataRef",
    "NotFoundError",
    "Operation",
    "OutcomeUnknownError",
    "Pacer",
    "PermissionDeniedError",
    "ProfileApiClient",
    "ProfileApiSettings",
    "RateLimitedError",
    "ReverseEtlModel",
    "ReverseEtlSchedule",
    "SegmentClient",
    "SegmentError",
    "ServerError",
    "Source",
    "SourceMetadata",
    "Space",
    "SyncStatus",
    "TraitDefinition",
    "TraitOptions",
    "TransportError",
    "UnknownCatalogSlugError",
    "ValidationError",
    "Warehouse",
    "WarehouseMetadata",
    "WarehouseValidation",
    "Workspace",
    "backoff",
    "clear_catalog_cache",
    "error_for_response",
    "jitter",
    "operation",
]
