"""The Unify space: adopted, never created or deleted.

Segment's Public API can list and read spaces but not create, change or delete them, so this resource looks the
space up by slug or name. A missing space fails with the steps to create it in the app; destroying the stack
releases the space from the stack and leaves it in Segment.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pulumi
import pydantic

from segment_provider.api.models import Source as ApiSource
from segment_provider.api.models import Space as ApiSpace
from segment_provider.resources.base import (
    FoundInputs,
    ResourceError,
    ResourceInputs,
    SegmentProvider,
    SegmentResource,
    resource_props,
    with_secret_outputs,
    workspace_of,
)

PROFILES_SOURCE_CATALOG_SLUG = "personas-compute"

log = logging.getLogger("segment_provider.resources")


def create_space_steps(wanted: str) -> str:
    return (
        f"No Unify space matches {wanted}. The Public API cannot create spaces; create it in the Segment app: "
        "1) Unify → Create space (or Engage → Spaces → Create space); 2) name it and note its slug; "
        "3) set its identity rules (Unify settings → Identity resolution: add phone and email); "
        "4) set the stack's flex-unified-profiles:space.slug to that slug and run `pulumi up` again."
    )


def find_profiles_source(sources: Iterable[ApiSource], space: ApiSpace) -> ApiSource | None:
    """The space's internal Profiles source, whose write key the Send Identify mapping needs.

    🟡 Not documented by Segment: each space has a source of catalog type ``personas-compute`` whose slug is
    ``personas_<space slug>`` (seen in workspace exports); its first write key is the mapping's ``engage_space``
    value. Segment only returns write keys to tokens with Source Admin access.
    """
    candidates = [s for s in sources if s.metadata.slug == PROFILES_SOURCE_CATALOG_SLUG]
    found = [s for s in candidates if s.slug == f"personas_{space.slug}"] or [
        s for s in candidates if space.name in (s.name or "")
    ]
    return found[0] if len(found) == 1 else None


def inputs_from_api(remote: ApiSpace) -> FoundInputs:
    """The space as ``UnifySpace`` inputs."""
    return FoundInputs({"slug": remote.slug, "name": remote.name})


class UnifySpaceInputs(ResourceInputs):
    slug: str | None = pydantic.Field(default=None, min_length=1)
    name: str | None = pydantic.Field(default=None, min_length=1)
    adopt: bool = True
    found: dict[str, str | None] | None = None
    """What the program already read: the space (``id``, ``slug``, ``name``) and its Profiles source's id
    (``profiles_source_id``), so the create reads neither again. Never compared: a refresh reads both afresh."""
    found_write_key: str | None = None
    """That Profiles source's write key (secret)."""

    @pydantic.model_validator(mode="after")
    def _slug_or_name(self) -> UnifySpaceInputs:
        if not self.slug and not self.name:
            raise ValueError("set slug or name of the Unify space to use")
        return self


class UnifySpaceProvider(SegmentProvider[UnifySpaceInputs, ApiSpace]):
    kind = "UnifySpace"
    inputs_model = UnifySpaceInputs
    replace_on = frozenset({"slug", "name"})
    # Never created (the API cannot): only ever looked up.
    unique_key = True
    ignored_in_diff = frozenset({"adopt", "environment", "found", "found_write_key"})

    def describe(self, inputs: UnifySpaceInputs) -> str:
        return f"slug '{inputs.slug}'" if inputs.slug else f"name '{inputs.name}'"

    def find_existing(self, inputs: UnifySpaceInputs) -> ApiSpace | None:
        found = inputs.found or {}
        if found.get("id") and (
            found.get("slug") == inputs.slug if inputs.slug else found.get("name") == inputs.name
        ):
            space = ApiSpace(id=str(found["id"]), slug=str(found["slug"]), name=str(found["name"]))
            _profiles_sources[space.id] = (found.get("profiles_source_id"), inputs.found_write_key)
            return space
        spaces = self.client.list_spaces()
        if inputs.slug:
            return next((s for s in spaces if s.slug == inputs.slug), None)
        named = [s for s in spaces if s.name == inputs.name]
        if len(named) > 1:
            raise ResourceError(
                f"{len(named)} Unify spaces are named '{inputs.name}': set unified-profiles:space.slug instead"
            )
        return named[0] if named else None

    def adoption_target_missing(self, inputs: UnifySpaceInputs) -> str:
        return create_space_steps(self.describe(inputs))

    def create_remote(self, inputs: UnifySpaceInputs) -> ApiSpace:
        raise ResourceError(create_space_steps(self.describe(inputs)))

    def get_remote(self, id_: str, props: Mapping[str, Any]) -> ApiSpace:
        return self.client.get_space(id_)

    def update_remote(
        self, id_: str, inputs: UnifySpaceInputs, changed: set[str], olds: Mapping[str, Any]
    ) -> ApiSpace:
        return self.client.get_space(id_)

    def delete_remote(self, id_: str, props: Mapping[str, Any]) -> None:
        log.warning(
            "Unify space %s released from the stack; it stays in Segment (spaces are deleted in the app only)",
            props.get("space_slug") or id_,
        )

    def observed(self, remote: ApiSpace, desired: Mapping[str, Any]) -> dict[str, Any]:
        found = inputs_from_api(remote).inputs
        return {key: found[key] if desired.get(key) else None for key in ("slug", "name")}

    def resource_id(self, remote: ApiSpace) -> str:
        return remote.id

    def computed_outputs(self, remote: ApiSpace) -> dict[str, Any]:
        workspace = workspace_of(self.client)
        known = _profiles_sources.get(remote.id)
        if known is not None:
            source_id, write_key = known
        else:
            profiles_source = find_profiles_source(self.client.list_sources(), remote)
            write_keys = list(profiles_source.write_keys) if profiles_source else []
            source_id = profiles_source.id if profiles_source else None
            write_key = write_keys[0] if write_keys else None
        return {
            "profiles_source_id": source_id,
            "profiles_source_write_key": write_key,
            "space_id": remote.id,
            "space_slug": remote.slug,
            "space_name": remote.name,
            "workspace_id": workspace.id,
            "workspace_slug": workspace.slug,
            "app_url": self.links.url("unify", "spaces", remote.slug, "explorer"),
        }


# The Profiles source the program read, by space id, for this process's create of the space (a refresh, in a
# process of its own, lists the sources afresh).
_profiles_sources: dict[str, tuple[str | None, str | None]] = {}


class UnifySpace(SegmentResource, module="segment", name="UnifySpace"):
    """An existing Unify space, looked up by slug or name."""

    if TYPE_CHECKING:  # for type checkers only: see SegmentResource
        space_id: pulumi.Output[str]
        space_slug: pulumi.Output[str]
        space_name: pulumi.Output[str]
        workspace_id: pulumi.Output[str]
        workspace_slug: pulumi.Output[str]
        app_url: pulumi.Output[str]
        profiles_source_id: pulumi.Output[str | None]
        profiles_source_write_key: pulumi.Output[str | None]

    OUTPUTS = (
        "space_id",
        "space_slug",
        "space_name",
        "workspace_id",
        "workspace_slug",
        "app_url",
        "profiles_source_id",
        "profiles_source_write_key",
    )
    SECRET_OUTPUTS = ("profiles_source_write_key", "found_write_key")

    def __init__(
        self,
        resource_name: str,
        *,
        slug: pulumi.Input[str] | None = None,
        name: pulumi.Input[str] | None = None,
        found: ApiSpace | None = None,
        profiles_source: ApiSource | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``found``/``profiles_source``: the space and its Profiles source as the program already read them."""
        write_keys = list(profiles_source.write_keys) if profiles_source else []
        inputs = {
            "slug": slug,
            "name": name,
            "adopt": True,
            "found": {
                "id": found.id,
                "slug": found.slug,
                "name": found.name,
                "profiles_source_id": profiles_source.id if profiles_source else None,
            }
            if found
            else None,
            "found_write_key": pulumi.Output.secret(write_keys[0]) if write_keys else None,
        }
        super().__init__(
            UnifySpaceProvider(),
            resource_name,
            resource_props(inputs, self.OUTPUTS),
            with_secret_outputs(opts, self.SECRET_OUTPUTS),
        )
