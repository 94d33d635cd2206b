"""Actions mappings (destination subscriptions), e.g. Segment Profiles "Send Identify" of a Reverse ETL model.

Id: ``destinationId:subscriptionId``. Segment's create call cannot carry the schedule, so a scheduled mapping
costs two calls: the create, then a PATCH with the model and schedule. A lost answer to the PATCH is sent again;
if it fails for good the new mapping is kept, and the next ``up``, which looks a mapping up by its name before
creating one, adopts it and sets its schedule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pulumi
import pydantic

from segment_provider.api.errors import SegmentError
from segment_provider.api.models import DestinationSubscription as ApiSubscription
from segment_provider.api.models import ReverseEtlSchedule
from segment_provider.resources.base import (
    FoundInputs,
    ResourceError,
    SegmentProvider,
    SegmentResource,
    SettingsInputs,
    configured_subset,
    only_changed,
    resource_props,
    settings_keeping_unmanaged,
    split_settings,
    with_secret_outputs,
)
from segment_provider.resources.schedule import Schedule, duration_minutes

# The Reverse ETL record events a mapping can fire on (the app's "Added / Updated / Added or updated / Deleted").
RETL_TRIGGERS = {
    "added": 'event = "new"',
    "updated": 'event = "updated"',
    "added_or_updated": 'event = "new" or event = "updated"',
    "deleted": 'event = "deleted"',
}


# A trigger is FQL: quoted strings, operators and words; the spaces between them carry no meaning.
_TRIGGER_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[=!<>]+|[()]|[^\s"=!<>()]+')


def same_trigger(left: str, right: str) -> bool:
    """Whether two triggers differ at most in spacing (``event = "new"`` and ``event="new"``)."""
    return _TRIGGER_TOKEN.findall(left) == _TRIGGER_TOKEN.findall(right)


def trigger_name(trigger: str) -> str | None:
    """The ``RETL_TRIGGERS`` key of a trigger Segment returned, or None when it is none of the app's four."""
    return next((key for key, text in RETL_TRIGGERS.items() if same_trigger(trigger, text)), None)


# A Reverse ETL mapping reads a model column as ``{"@path": "$.properties.<column>"}``: the row is the event's
# properties.
_COLUMN_PATH = re.compile(r"^\$\.properties\.(?P<column>[A-Za-z_][A-Za-z0-9_$]*)$")


def column_path(column: str) -> dict[str, str]:
    """A mapping value that reads one column of the model's row."""
    return {"@path": f"$.properties.{column}"}


def path_column(value: Any) -> str | None:
    """The model column a mapping value reads, when it is exactly ``column_path(column)``; else None."""
    if not isinstance(value, Mapping) or set(value) != {"@path"} or not isinstance(value["@path"], str):
        return None
    match = _COLUMN_PATH.match(value["@path"])
    return match["column"] if match else None


def schedule_from_api(remote: ReverseEtlSchedule) -> Schedule:
    """The ``schedule`` input of a schedule Segment returned; raises ``pydantic.ValidationError`` when the
    input would be refused (an interval outside Segment's documented bounds, a config that does not fit its
    strategy)."""
    return Schedule(strategy=remote.strategy, config=remote.config or None)


def inputs_from_api(remote: ApiSubscription, secret_fields: Iterable[str] = ()) -> FoundInputs:
    """The mapping as ``DestinationSubscription`` inputs, its settings and schedule as Segment holds them.

    ``secret_fields`` are fields the action takes a credential in (Segment Profiles' ``engage_space`` takes a
    write key): they go to ``secret_keys`` like any field whose name says credential.
    """
    settings, secret_keys = split_settings(remote.settings, secret=secret_fields)
    schedule = remote.reverse_etl_schedule
    inputs = {
        "destination_id": remote.destination_id,
        "action_slug": remote.action_slug,
        "name": remote.name,
        "trigger": remote.trigger,
        "enabled": remote.enabled,
        "settings": settings,
        "model_id": remote.model_id,
        "schedule": None
        if schedule is None
        else {"strategy": schedule.strategy.upper(), "config": schedule.config or None},
    }
    return FoundInputs(inputs, secret_keys)


def _observed_schedule(
    remote: Mapping[str, Any] | None, desired: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The remote schedule; an interval spelled differently but of the same length reads as the desired one.

    Segment may give a PERIODIC interval back in another spelling of the same duration (``60m`` for ``1h``).
    """
    if remote is None:
        return None
    schedule = dict(remote)
    wanted = (desired or {}).get("config") or {}
    interval, wanted_interval = (schedule["config"] or {}).get("interval"), wanted.get("interval")
    if schedule["strategy"] == "PERIODIC" and isinstance(interval, str) and isinstance(wanted_interval, str):
        try:
            if duration_minutes(interval) == duration_minutes(wanted_interval):
                schedule["config"] = {**schedule["config"], "interval": wanted_interval}
        except ValueError:
            pass  # not a duration: shown as it is, so the difference is visible
    return schedule


class DestinationSubscriptionInputs(SettingsInputs):
    destination_id: str = pydantic.Field(min_length=1)
    catalog_slug: str = pydantic.Field(min_length=1)
    """Catalog slug of the destination, to find the action (e.g. ``actions-segment-profiles``)."""
    action_slug: str = pydantic.Field(min_length=1)
    """Action of that destination, e.g. ``sendIdentify``."""
    name: str = pydantic.Field(min_length=1, max_length=100)
    trigger: str = pydantic.Field(min_length=1)
    enabled: bool = True
    model_id: str | None = None
    schedule: Schedule | None = None

    @pydantic.model_validator(mode="after")
    def _schedule_needs_model(self) -> DestinationSubscriptionInputs:
        if self.schedule is not None and not self.model_id:
            raise ValueError(
                "schedule is only for Reverse ETL mappings: set model_id too, or drop the schedule"
            )
        return self


def split_subscription_id(id_: str) -> tuple[str, str]:
    destination_id, _, subscription_id = id_.partition(":")
    return destination_id, subscription_id


class DestinationSubscriptionProvider(SegmentProvider[DestinationSubscriptionInputs, ApiSubscription]):
    kind = "DestinationSubscription"
    inputs_model = DestinationSubscriptionInputs
    replace_on = frozenset({"destination_id", "catalog_slug", "action_slug"})
    # Segment makes a second mapping of the same name on a destination without complaint (two of them sync the
    # same model twice): looked up before a create.
    unique_key = False

    def describe(self, inputs: DestinationSubscriptionInputs) -> str:
        return f"'{inputs.name}' on destination {inputs.destination_id}"

    def find_existing(self, inputs: DestinationSubscriptionInputs) -> ApiSubscription | None:
        matches = [s for s in self.client.list_subscriptions(inputs.destination_id) if s.name == inputs.name]
        return self.single_match(matches, inputs)

    def create_remote(self, inputs: DestinationSubscriptionInputs) -> ApiSubscription:
        action_id = self.client.catalog.action_id(inputs.catalog_slug, inputs.action_slug)
        created = self.client.create_subscription(
            inputs.destination_id,
            name=inputs.name,
            action_id=action_id,
            trigger=inputs.trigger,
            enabled=inputs.enabled,
            settings=inputs.merged_settings(),
            model_id=inputs.model_id,
        )
        if inputs.schedule is None:
            return created
        try:
            return self._set_schedule(inputs.destination_id, created.id, inputs)
        except SegmentError as error:
            raise ResourceError(
                f"mapping {self.describe(inputs)} was created (id {created.id}) but its schedule could not be set "
                f"({error}). Run `pulumi up` again: it finds the mapping and sets its schedule."
            ) from error

    def _set_schedule(
        self, destination_id: str, subscription_id: str, inputs: DestinationSubscriptionInputs
    ) -> Any:
        schedule = inputs.schedule.model_dump(mode="json") if inputs.schedule else None
        return self.client.update_subscription(
            destination_id, subscription_id, model_id=inputs.model_id, schedule=schedule
        )

    def id_for_adoption(self, inputs: DestinationSubscriptionInputs, given: str) -> str:
        # Terraform's import id is `<destination_id>:<id>`; the mapping's own id alone is under this destination.
        return given if ":" in given else f"{inputs.destination_id}:{given}"

    def get_remote(self, id_: str, props: Mapping[str, Any]) -> ApiSubscription:
        destination_id, subscription_id = split_subscription_id(id_)
        return self.client.get_subscription(destination_id, subscription_id)

    def update_remote(
        self, id_: str, inputs: DestinationSubscriptionInputs, changed: set[str], olds: Mapping[str, Any]
    ) -> ApiSubscription:
        destination_id, subscription_id = split_subscription_id(id_)
        wanted = inputs.settings_if_changed(changed)
        if wanted is not None:
            # The app's mappings carry fields the program does not map (consent, message_id, timestamp …).
            current = self.client.get_subscription(destination_id, subscription_id).settings
            wanted = settings_keeping_unmanaged(current, wanted, olds)
        return self.client.update_subscription(
            destination_id,
            subscription_id,
            **only_changed(inputs, changed, "name", "trigger", "enabled", "model_id"),
            settings=wanted,
            schedule=inputs.schedule.model_dump(mode="json")
            if "schedule" in changed and inputs.schedule
            else None,
        )

    def delete_remote(self, id_: str, props: Mapping[str, Any]) -> None:
        destination_id, subscription_id = split_subscription_id(id_)
        self.client.delete_subscription(destination_id, subscription_id)

    def observed(self, remote: ApiSubscription, desired: Mapping[str, Any]) -> dict[str, Any]:
        wanted_trigger = desired.get("trigger")
        same = isinstance(wanted_trigger, str) and same_trigger(remote.trigger, wanted_trigger)
        found = inputs_from_api(remote).inputs
        return {
            **found,
            "trigger": wanted_trigger if same else remote.trigger,
            "settings": configured_subset(remote.settings, desired),
            "schedule": _observed_schedule(found["schedule"], desired.get("schedule")),
        }

    def resource_id(self, remote: ApiSubscription) -> str:
        return f"{remote.destination_id}:{remote.id}"

    def computed_outputs(self, remote: ApiSubscription) -> dict[str, Any]:
        return {
            "subscription_id": remote.id,
            "action_id": remote.action_id,
            "app_url": self.links.url("destinations", remote.destination_id, "mappings", remote.id),
        }


class DestinationSubscription(SegmentResource, module="segment", name="DestinationSubscription"):
    """An Actions mapping of a destination, optionally fed by a Reverse ETL model on a schedule."""

    if TYPE_CHECKING:  # for type checkers only: see SegmentResource
        subscription_id: pulumi.Output[str]
        action_id: pulumi.Output[str]
        app_url: pulumi.Output[str]

    OUTPUTS = ("subscription_id", "action_id", "app_url")
    SECRET_OUTPUTS = ("secret_settings",)

    def __init__(
        self,
        resource_name: str,
        *,
        destination_id: pulumi.Input[str],
        catalog_slug: pulumi.Input[str],
        action_slug: pulumi.Input[str],
        name: pulumi.Input[str],
        trigger: pulumi.Input[str],
        enabled: pulumi.Input[bool] = True,
        settings: pulumi.Input[Mapping[str, Any]] | None = None,
        secret_settings: pulumi.Input[Mapping[str, Any]] | None = None,
        model_id: pulumi.Input[str] | None = None,
        schedule: pulumi.Input[Mapping[str, Any]] | None = None,
        adopt: bool = False,
        adopt_id: str | None = None,
        environment: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        inputs = {
            "environment": environment,
            "destination_id": destination_id,
            "catalog_slug": catalog_slug,
            "action_slug": action_slug,
            "name": name,
            "trigger": trigger,
            "enabled": enabled,
            "settings": settings,
            "secret_settings": pulumi.Output.secret(secret_settings) if secret_settings is not None else None,
            "model_id": model_id,
            "schedule": schedule,
            "adopt": adopt,
            "adopt_id": adopt_id,
        }
        super().__init__(
            DestinationSubscriptionProvider(),
            resource_name,
            resource_props(inputs, self.OUTPUTS),
            with_secret_outputs(opts, self.SECRET_OUTPUTS),
        )
