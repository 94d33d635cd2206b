"""Sources: Salesforce (its OAuth is a manual step) and the Reverse ETL warehouse sources.

Natural key: the source slug, unique within a workspace. Segment can rename a slug in place, but a slug is also
what ``adopt`` and lost-response reconciliation look objects up by, so a slug change replaces the source,
deleting the old one first because two sources cannot share a slug. A new source is named and labelled by two
more calls; when they fail for good the source is kept, and the next ``up`` adopts it (its create is answered
409) and finishes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pulumi
import pydantic

from segment_provider.api.errors import SegmentError, ValidationError
from segment_provider.api.models import IntegrationOption, Label
from segment_provider.api.models import Source as ApiSource
from segment_provider.resources.base import (
    ENVIRONMENT_LABEL,
    FoundInputs,
    ResourceError,
    SegmentProvider,
    SegmentResource,
    SettingsInputs,
    catalog_defaults,
    configured_subset,
    only_changed,
    owner_source,
    resource_props,
    settings_keeping_unmanaged,
    split_settings,
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


def environment_label(source: ApiSource) -> str | None:
    """The value of the source's environment label (``dev``, ``prod``), None when it has none."""
    return next((x.value for x in source.labels if x.key == ENVIRONMENT_LABEL), None)


def inputs_from_api(remote: ApiSource, options: Iterable[IntegrationOption] = ()) -> FoundInputs:
    """The source as ``Source`` inputs; ``options`` (its catalog entry's) tell which settings are credentials."""
    settings, secret_keys = split_settings(remote.settings, options)
    inputs = {
        "slug": remote.slug,
        "catalog_slug": remote.metadata.slug,
        "name": remote.name or None,
        "enabled": remote.enabled,
        "environment": environment_label(remote),
        "settings": settings,
    }
    return FoundInputs(inputs, secret_keys)


class SourceProvider(SegmentProvider[SourceInputs, ApiSource]):
    kind = "Source"
    inputs_model = SourceInputs
    replace_on = frozenset({"slug", "catalog_slug"})
    delete_before_replace = True
    # Segment answers 409 to a second source with the same slug: the create finds what an interrupted run made.
    unique_key = True
    # The environment is the source's environment label: one missing in Segment is put back by the next update.
    ignored_in_diff = frozenset({"adopt"})

    def owning_sources(self, props: Mapping[str, Any], remote: ApiSource | None) -> list[ApiSource]:
        return [remote if remote is not None else owner_source(self.client, str(props["id"]))]

    def _label(self, source: ApiSource, environment: str | None) -> ApiSource:
        """The source with its environment label (Segment's default labels environment:dev / environment:prod)."""
        if environment is None or any(
            x.key == ENVIRONMENT_LABEL and x.value == environment for x in source.labels
        ):
            return source
        try:
            labels = self.client.add_labels_to_source(
                source.id, [Label(key=ENVIRONMENT_LABEL, value=environment)]
            )
        except ValidationError as error:
            # Segment refuses a label the workspace does not have: an owner deleted the default one.
            raise ResourceError(
                f"source {source.slug} cannot be labelled {ENVIRONMENT_LABEL}:{environment} ({error}): a Workspace "
                f"Owner must create that label again (Settings → Admin → Label Management; Segment's default "
                "labels are environment:dev and environment:prod), then run `pulumi up` again"
            ) from error
        return source.model_copy(update={"labels": labels})

    def describe(self, inputs: SourceInputs) -> str:
        return f"'{inputs.slug}'"

    def find_existing(self, inputs: SourceInputs) -> ApiSource | None:
        return next((s for s in self.client.list_sources() if s.slug == inputs.slug), None)

    def create_remote(self, inputs: SourceInputs) -> ApiSource:
        metadata = self.client.catalog.source_by_slug(inputs.catalog_slug)
        # Segment's create body has no name: the name is a second call, after which the source is complete.
        source = self.client.create_source(
            slug=inputs.slug,
            metadata_id=metadata.id,
            enabled=inputs.enabled,
            settings=inputs.merged_settings(),
            disconnect_all_warehouses=True,
        )
        try:
            if inputs.name is not None and inputs.name != source.name:
                source = self.client.update_source(source.id, name=inputs.name)
            return self._label(source, inputs.environment)
        except (SegmentError, ResourceError) as error:
            # The PATCH and the label are sent again by the client when an answer is lost; this is a failure
            # that outlasted its retries. The source stays: the next create of its slug is answered 409, and the
            # source is adopted and named and labelled then.
            raise ResourceError(
                f"source {self.describe(inputs)} was created (id {source.id}) but could not be named or labelled "
                f"({error}). Run `pulumi up` again: it adopts the source and finishes it."
            ) from error

    def get_remote(self, id_: str, props: Mapping[str, Any]) -> ApiSource:
        return self.client.get_source(id_)

    def update_remote(
        self, id_: str, inputs: SourceInputs, changed: set[str], olds: Mapping[str, Any]
    ) -> ApiSource:
        fields = only_changed(inputs, changed, "name", "enabled")
        settings = self._settings_for_update(id_, inputs, changed, olds)
        if settings is None and not any(v is not None for v in fields.values()):
            source = self.client.get_source(id_)  # only the label was missing
        else:
            source = self.client.update_source(id_, **fields, settings=settings)
        return self._label(source, inputs.environment)

    def _settings_for_update(
        self, id_: str, inputs: SourceInputs, changed: set[str], olds: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """The configured settings, plus those Segment added itself, or None when the settings did not change.

        Segment may replace a source's settings as a whole, and the Salesforce OAuth done in the app lives there
        (``instance-url`` and friends): sending only the configured keys would undo the authorisation. Keys this
        stack set before and no longer sets are sent as null; every other key Segment holds is sent back as read.
        """
        wanted = inputs.settings_if_changed(changed)
        if wanted is None:
            return None
        return settings_keeping_unmanaged(self.client.get_source(id_).settings, wanted, olds)

    def delete_remote(self, id_: str, props: Mapping[str, Any]) -> None:
        self.client.delete_source(id_)

    def observed(self, remote: ApiSource, desired: Mapping[str, Any]) -> dict[str, Any]:
        found = inputs_from_api(remote).inputs
        return {
            "slug": found["slug"],
            "catalog_slug": found["catalog_slug"],
            "name": remote.name if desired.get("name") is not None else None,
            "enabled": found["enabled"],
            "environment": found["environment"] if desired.get("environment") else None,
            # Only keys the configuration sets: Segment adds its own (e.g. after OAuth).
            "settings": configured_subset(
                remote.settings, desired, self._defaults_of_missing(remote, desired)
            ),
        }

    def _defaults_of_missing(self, remote: ApiSource, desired: Mapping[str, Any]) -> dict[str, Any]:
        """Catalog defaults of the configured settings the source does not store (read only when some are)."""
        missing = set(desired.get("settings") or {}) - set(remote.settings or {})
        if not missing:
            return {}
        return catalog_defaults(self.client.catalog.source_by_slug(remote.metadata.slug).options, missing)

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


class Source(SegmentResource, module="segment", name="Source"):
    """A Segment source created from the catalog by slug."""

    if TYPE_CHECKING:  # for type checkers only: see SegmentResource
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
        adopt_id: str | None = None,
        environment: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs = {
            "environment": environment,
            "slug": slug,
            "catalog_slug": catalog_slug,
            "name": name,
            "enabled": enabled,
            "settings": settings,
            "secret_settings": pulumi.Output.secret(secret_settings) if secret_settings is not None else None,
            "adopt": adopt,
            "adopt_id": adopt_id,
        }
        super().__init__(
            SourceProvider(),
            resource_name,
            resource_props(inputs, self.OUTPUTS),
            with_secret_outputs(opts, self.SECRET_OUTPUTS),
        )
