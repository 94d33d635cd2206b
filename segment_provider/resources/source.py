"""Sources: Salesforce (its OAuth is a manual step) and the Reverse ETL warehouse sources.

Natural key: the source slug, unique within a workspace. Segment can rename a slug in place, but a slug is also
what ``adopt`` and lost-response reconciliation look objects up by, so a slug change replaces the source,
deleting the old one first because two sources cannot share a slug.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pydantic
from pulumi.dynamic import Resource

from segment_provider.api.models import Source as ApiSource
from segment_provider.resources.base import (
    SegmentProvider,
    SettingsInputs,
    configured_subset,
    only_changed,
    resource_props,
    with_secret_outputs,
)

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
# Segment adds these settings once the Salesforce OAuth has been completed in the app (🟡: seen in exports).
SALESFORCE_AUTHORIZED_SETTING = "instance-url"


class SourceInputs(SettingsInputs):
    slug: str = pydantic.Field(min_length=1, max_length=100, pattern=SLUG_PATTERN)
    catalog_slug: str = pydantic.Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    """Catalog slug of the source type, e.g. ``salesforce`` or ``snowflake`` (Reverse ETL)."""
    name: str | None = pydantic.Field(default=None, min_length=1, max_length=100)
    enabled: bool = True


class SourceProvider(SegmentProvider[SourceInputs, ApiSource]):
    kind = "Source"
    inputs_model = SourceInputs
    replace_on = frozenset({"slug", "catalog_slug"})
    delete_before_replace = True

    def describe(self, inputs: SourceInputs) -> str:
        return f"'{inputs.slug}'"

    def find_existing(self, inputs: SourceInputs) -> ApiSource | None:
        return next((s for s in self.client.list_sources() if s.slug == inputs.slug), None)

    def create_remote(self, inputs: SourceInputs) -> ApiSource:
        metadata = self.client.catalog.source_by_slug(inputs.catalog_slug)
        return self.client.create_source(
            slug=inputs.slug,
            metadata_id=metadata.id,
            enabled=inputs.enabled,
            name=inputs.name,
            settings=inputs.merged_settings(),
            disconnect_all_warehouses=True,
        )

    def get_remote(self, id_: str, props: Mapping[str, Any]) -> ApiSource:
        return self.client.get_source(id_)

    def update_remote(
        self, id_: str, inputs: SourceInputs, changed: set[str], olds: Mapping[str, Any]
    ) -> ApiSource:
        return self.client.update_source(
            id_,
            **only_changed(inputs, changed, "name", "enabled"),
            settings=inputs.settings_if_changed(changed),
        )

    def delete_remote(self, id_: str, props: Mapping[str, Any]) -> None:
        self.client.delete_source(id_)

    def observed(self, remote: ApiSource, desired: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "slug": remote.slug,
            "catalog_slug": remote.metadata.slug,
            "name": remote.name if desired.get("name") is not None else None,
            "enabled": remote.enabled,
            # Only keys the configuration sets: Segment adds its own (e.g. after OAuth).
            "settings": configured_subset(remote.settings, desired),
        }

    def resource_id(self, remote: ApiSource) -> str:
        return remote.id

    def computed_outputs(self, remote: ApiSource) -> dict[str, Any]:
        settings = remote.settings or {}
        return {
            "source_id": remote.id,
            "metadata_id": remote.metadata.id,
            "workspace_id": remote.workspace_id,
            "write_keys": list(remote.write_keys),
            "app_url": self.links.url("sources", remote.slug, "overview"),
            "authorized": remote.metadata.slug != "salesforce" or SALESFORCE_AUTHORIZED_SETTING in settings,
        }


class Source(Resource, module="segment", name="Source"):
    """A Segment source created from the catalog by slug."""

    slug: pulumi.Output[str]
    source_id: pulumi.Output[str]
    metadata_id: pulumi.Output[str]
    workspace_id: pulumi.Output[str]
    write_keys: pulumi.Output[list[str]]
    app_url: pulumi.Output[str]
    authorized: pulumi.Output[bool]

    OUTPUTS = ("source_id", "metadata_id", "workspace_id", "write_keys", "app_url", "authorized")
    SECRET_OUTPUTS = ("write_keys", "secret_settings")

    def __init__(
        self,
        resource_name: str,
        *,
        slug: pulumi.Input[str],
        catalog_slug: pulumi.Input[str],
        name: pulumi.Input[str] | None = None,
        enabled: pulumi.Input[bool] = True,
        settings: pulumi.Input[Mapping[str, Any]] | None = None,
        secret_settings: pulumi.Input[Mapping[str, Any]] | None = None,
        adopt: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs = {
            "slug": slug,
            "catalog_slug": catalog_slug,
            "name": name,
            "enabled": enabled,
            "settings": settings,
            "secret_settings": pulumi.Output.secret(secret_settings) if secret_settings is not None else None,
            "adopt": adopt,
        }
        super().__init__(
            SourceProvider(),
            resource_name,
            resource_props(inputs, self.OUTPUTS),
            with_secret_outputs(opts, self.SECRET_OUTPUTS),
        )
