"""Destinations from the catalog by slug; first of all Segment Profiles on the Reverse ETL source.

Natural key: name + catalog type within the source it is attached to. A destination cannot move to another
source, so a ``source_id`` change replaces it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pulumi
import pydantic
from pulumi.dynamic import CreateResult

from segment_provider.api.models import Destination as ApiDestination
from segment_provider.api.models import IntegrationOption
from segment_provider.resources.base import (
    FoundInputs,
    ResourceInputs,
    SegmentProvider,
    SegmentResource,
    SettingsInputs,
    configured_subset,
    only_changed,
    resource_props,
    settings_keeping_unmanaged,
    split_settings,
    with_secret_outputs,
    withholds_credentials,
)


def inputs_from_api(remote: ApiDestination, options: Iterable[IntegrationOption] = ()) -> FoundInputs:
    """The destination as ``Destination`` inputs; ``options`` (its catalog entry's) tell the credentials."""
    settings, secret_keys = split_settings(remote.settings, options)
    inputs = {
        "source_id": remote.source_id,
        "catalog_slug": remote.metadata.slug,
        "name": remote.name or None,
        "enabled": remote.enabled,
        "settings": settings,
    }
    return FoundInputs(inputs, secret_keys)


def activation_inputs_from_api(remote: ApiDestination) -> FoundInputs:
    """Whether the destination is on, as ``DestinationActivation`` inputs."""
    return FoundInputs({"destination_id": remote.id, "enabled": remote.enabled})


class DestinationInputs(SettingsInputs):
    source_id: str = pydantic.Field(min_length=1)
    catalog_slug: str = pydantic.Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    name: str = pydantic.Field(min_length=1, max_length=100)
    enabled: bool | None = None
    """None leaves enabling to a DestinationActivation (Segment wants mappings enabled first)."""


class DestinationProvider(SegmentProvider[DestinationInputs, ApiDestination]):
    kind = "Destination"
    inputs_model = DestinationInputs
    replace_on = frozenset({"source_id", "catalog_slug"})
    # Segment makes a second destination of one type and name on a source without complaint: looked up before
    # a create.
    unique_key = False

    def describe(self, inputs: DestinationInputs) -> str:
        return f"'{inputs.name}' ({inputs.catalog_slug}) on source {inputs.source_id}"

    def find_existing(self, inputs: DestinationInputs) -> ApiDestination | None:
        matches = [
            d
            for d in self.client.list_destinations()
            if d.name == inputs.name
            and d.source_id == inputs.source_id
            and d.metadata.slug == inputs.catalog_slug
        ]
        return self.single_match(matches, inputs)

    def create_remote(self, inputs: DestinationInputs) -> ApiDestination:
        metadata = self.client.catalog.destination_by_slug(inputs.catalog_slug)
        return self.client.create_destination(
            source_id=inputs.source_id,
            metadata_id=metadata.id,
            settings=inputs.merged_settings(),
            name=inputs.name,
            enabled=bool(inputs.enabled),
        )

    def get_remote(self, id_: str, props: Mapping[str, Any]) -> ApiDestination:
        return self.client.get_destination(id_)

    def update_remote(
        self, id_: str, inputs: DestinationInputs, changed: set[str], olds: Mapping[str, Any]
    ) -> ApiDestination:
        wanted = inputs.settings_if_changed(changed)
        return self.client.update_destination(
            id_,
            **only_changed(inputs, changed, "name", "enabled"),
            settings=None
            if wanted is None
            else settings_keeping_unmanaged(self.client.get_destination(id_).settings, wanted, olds),
        )

    def delete_remote(self, id_: str, props: Mapping[str, Any]) -> None:
        self.client.delete_destination(id_)

    def observed(self, remote: ApiDestination, desired: Mapping[str, Any]) -> dict[str, Any]:
        found = inputs_from_api(remote).inputs
        return {
            "source_id": found["source_id"],
            "catalog_slug": found["catalog_slug"],
            "name": remote.name,
            "enabled": found["enabled"] if desired.get("enabled") is not None else None,
            "settings": configured_subset(remote.settings, desired),
        }

    def resource_id(self, remote: ApiDestination) -> str:
        return remote.id

    def computed_outputs(self, remote: ApiDestination) -> dict[str, Any]:
        return {
            "destination_id": remote.id,
            "metadata_id": remote.metadata.id,
            "app_url": self.links.url("destinations", remote.id, "overview"),
        }


class Destination(SegmentResource, module="segment", name="Destination"):
    """A Segment destination attached to a source."""

    if TYPE_CHECKING:  # for type checkers only: see SegmentResource
        destination_id: pulumi.Output[str]
        metadata_id: pulumi.Output[str]
        app_url: pulumi.Output[str]

    OUTPUTS = ("destination_id", "metadata_id", "app_url")
    SECRET_OUTPUTS = ("secret_settings",)

    def __init__(
        self,
        resource_name: str,
        *,
        source_id: pulumi.Input[str],
        catalog_slug: pulumi.Input[str],
        name: pulumi.Input[str],
        enabled: pulumi.Input[bool] | None = None,
        settings: pulumi.Input[Mapping[str, Any]] | None = None,
        secret_settings: pulumi.Input[Mapping[str, Any]] | None = None,
        adopt: bool = False,
        adopt_id: str | None = None,
        environment: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs = {
            "environment": environment,
            "source_id": source_id,
            "catalog_slug": catalog_slug,
            "name": name,
            "enabled": enabled,
            "settings": settings,
            "secret_settings": pulumi.Output.secret(secret_settings) if secret_settings is not None else None,
            "adopt": adopt,
            "adopt_id": adopt_id,
        }
        super().__init__(
            DestinationProvider(),
            resource_name,
            resource_props(inputs, self.OUTPUTS),
            with_secret_outputs(opts, self.SECRET_OUTPUTS),
        )


class DestinationActivationInputs(ResourceInputs):
    destination_id: str = pydantic.Field(min_length=1)
    enabled: bool = True


class DestinationActivationProvider(SegmentProvider[DestinationActivationInputs, ApiDestination]):
    """Enables a destination once its mappings exist (Segment: enable mappings before the destination).

    Shares the destination's id; deleting it disables the destination again (when it still exists).
    """

    kind = "DestinationActivation"
    inputs_model = DestinationActivationInputs
    replace_on = frozenset({"destination_id"})

    def describe(self, inputs: DestinationActivationInputs) -> str:
        return f"of destination {inputs.destination_id}"

    def find_existing(self, inputs: DestinationActivationInputs) -> ApiDestination | None:
        return self.client.get_destination(inputs.destination_id)

    @withholds_credentials
    def create(self, props: dict[str, Any]) -> CreateResult:
        # The destination is this stack's own (its resource was created or adopted, refusing another
        # environment's source), and switching it on or off is the same PATCH whatever it was: no read first.
        # Adopting, it is read, so a destination already as configured is taken over without a call.
        inputs = self._inputs(props)
        if inputs.adopt:
            return super().create(props)
        remote = self.client.update_destination(inputs.destination_id, enabled=inputs.enabled)
        return CreateResult(self.resource_id(remote), self._outputs(remote, inputs))

    def create_remote(self, inputs: DestinationActivationInputs) -> ApiDestination:
        return self.client.update_destination(inputs.destination_id, enabled=inputs.enabled)

    def get_remote(self, id_: str, props: Mapping[str, Any]) -> ApiDestination:
        return self.client.get_destination(id_)

    def update_remote(
        self, id_: str, inputs: DestinationActivationInputs, changed: set[str], olds: Mapping[str, Any]
    ) -> ApiDestination:
        return self.client.update_destination(id_, enabled=inputs.enabled)

    def delete_remote(self, id_: str, props: Mapping[str, Any]) -> None:
        self.client.update_destination(id_, enabled=False)

    def observed(self, remote: ApiDestination, desired: Mapping[str, Any]) -> dict[str, Any]:
        return activation_inputs_from_api(remote).inputs

    def resource_id(self, remote: ApiDestination) -> str:
        return remote.id


class DestinationActivation(SegmentResource, module="segment", name="DestinationActivation"):
    """Turns a destination on after its mappings are in place."""

    if TYPE_CHECKING:  # for type checkers only: see SegmentResource
        enabled: pulumi.Output[bool]

    def __init__(
        self,
        resource_name: str,
        *,
        destination_id: pulumi.Input[str],
        enabled: pulumi.Input[bool] = True,
        environment: str | None = None,
        adopt: bool = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs = {
            "destination_id": destination_id,
            "enabled": enabled,
            "adopt": adopt,
            "environment": environment,
        }
        super().__init__(DestinationActivationProvider(), resource_name, resource_props(inputs, ()), opts)
