"""The lifecycle every Segment resource provider shares.

Each Segment object kind (space, source, warehouse, …) is one module under ``segment_provider.resources`` with
two classes: a ``pulumi.dynamic.Resource`` the program instantiates, and a provider subclassing
:class:`SegmentProvider` that implements a handful of kind-specific hooks. This module owns everything else, so
every kind behaves the same way:

``check``
    Validates the inputs with the kind's pydantic model and returns field-named failures. No API call.
``diff``
    Compares the checked inputs with the stored outputs field by field (numbers compare by value, because the
    engine's wire format turns every int into a float). Fields in ``replace_on`` force a replacement.
``create``
    One mutating call, sent at most once. With ``adopt: true`` it takes over the object that already has the
    natural key instead (and PATCHes whatever differs). Kinds Segment does not keep unique look the natural key
    up first and adopt what an interrupted run made. If Segment's answer to the create was lost, the object is
    looked up and adopted; when it is not there the resource fails, and the next run's lookup finds it.
``read``
    Refreshes from the API. A 404 returns an empty id (the engine drops the resource); differences from the
    desired inputs appear in the outputs, so the next ``up`` restores them.
``update``
    PATCHes only the changed fields and returns the full outputs.
``delete``
    Tolerates an object that is already gone.

Credentials never live on the provider object: the engine pickles it into the state. They arrive through
``configure()`` (stack config ``segment:token``, ``segment:region``, ``segment:endpoint``, with the
``SEGMENT_API_*`` environment as fallback, and the optional timeouts and retries of ``CLIENT_TUNING_KEYS``) and
the HTTP client is built lazily in the provider process.
"""

from __future__ import annotations

import atexit
import functools
import gc
import hashlib
import json
import logging
import math
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, ParamSpec, TypeVar

import pulumi
import pulumi.dynamic
import pydantic
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown
from pulumi.runtime import rpc

from segment_provider.api import ClientSettings, SegmentClient
from segment_provider.api import secrets as secret_values
from segment_provider.api.errors import (
    ConfigurationError,
    ConflictError,
    NotFoundError,
    OutcomeUnknownError,
    SegmentError,
    mask,
)
from segment_provider.api.models import IntegrationOption, Workspace
from segment_provider.api.models import Source as ApiSource
from segment_provider.resources import engine_log, engine_watch, provider_errors
from segment_provider.resources.provider_errors import UserError
from segment_provider.rules import number_problem, parse_number

log = logging.getLogger("segment_provider.resources")
_collector_skipped_at_exit = threading.Lock()


def quick_exit_teardown() -> None:
    """Spare this process the collector's passes over every object still alive when it exits.

    Python's exit runs the cyclic garbage collector over the whole Pulumi SDK, every model and every
    resource (some 0.2 s, which the engine waits for); objects frozen at exit are skipped, and the process
    ends as before: same exit status, output flushed, ``atexit`` handlers run. Once per process.
    """
    if _collector_skipped_at_exit.acquire(blocking=False):
        atexit.register(gc.freeze)


provider_errors.install()
engine_log.install()
if engine_watch.install():
    quick_exit_teardown()

PROVIDER_KEY = "__provider"
# How the API client waits and retries; the defaults suit Segment, so these keys are rarely set.
CLIENT_TUNING_KEYS = {
    "segment:connectTimeout": "connect_timeout",
    "segment:readTimeout": "read_timeout",
    "segment:maxRetries": "max_retries",
    "segment:backoffBase": "backoff_base",
    "segment:backoffCap": "backoff_cap",
    "segment:maxRateLimitWait": "max_rate_limit_wait",
}
CONFIG_KEYS = ("segment:token", "segment:region", "segment:endpoint", *CLIENT_TUNING_KEYS)
ENVIRONMENT_KEY = "flex-unified-profiles:environment"
"""Read by the providers only where the state does not say (objects deployed before environments were kept)."""
ENVIRONMENT_LABEL = "environment"


TUNING_RANGES: dict[str, tuple[float, float]] = {
    "connect_timeout": (0, 300),
    "read_timeout": (0, 600),
    "max_retries": (0, 10),
    "backoff_base": (0, 60),
    "backoff_cap": (0, 600),
    "max_rate_limit_wait": (0, 3600),
}
"""Each tuning option's range (docs/reliability.md); a timeout must be above its low end, the rest may equal it."""


def client_tuning(get: Callable[[str], str | None]) -> dict[str, Any]:
    """``ClientSettings`` options from the stack config (``segment:readTimeout: 5`` …); unset keys are left out.

    Raises ``ConfigurationError`` naming the key when a value is not a number in ASCII digits within its range.
    """
    options: dict[str, float | int] = {}
    for key, option in CLIENT_TUNING_KEYS.items():
        raw = get(key)
        if raw is None or str(raw).strip() == "":
            continue
        whole = option == "max_retries"
        low, high = TUNING_RANGES[option]
        positive = option.endswith("timeout")
        value = parse_number(str(raw), whole=whole)
        if (
            value is None
            or number_problem(value, low=low, high=high, whole=whole)
            or (positive and value == low)
        ):
            kind = "a whole number" if whole else "a number of seconds"
            bound = f"above {low} and at most {high}" if positive else f"from {low} to {high}"
            raise ConfigurationError(
                f"{key} is {str(raw)[:40]!r}, but it must be {kind} {bound}, in ASCII digits. Fix it with "
                f"`pulumi config set {key} <value>` or remove it with `pulumi config rm {key}`.",
                key=key,
            )
        options[option] = value
    return options


class ResourceInputs(pydantic.BaseModel):
    """Base of every kind's input model: unknown keys are refused so typos fail in ``check``."""

    # Built on first validation: a provider process validates only the kinds it is asked about, and the
    # program only those it adopts.
    model_config = pydantic.ConfigDict(
        extra="forbid", frozen=True, hide_input_in_errors=True, defer_build=True
    )

    adopt: bool = False
    """Take over the existing object with this natural key instead of creating one."""
    adopt_id: str | None = pydantic.Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,100}$")
    """Take over the object with this Segment id instead of creating one; wins over the natural key."""
    environment: str | None = pydantic.Field(default=None, pattern=r"^[a-z][a-z0-9_-]*$")
    """The stack's environment (``dev``, ``prod``): objects under a source labelled for another one are refused."""


class SettingsInputs(ResourceInputs):
    """Inputs of kinds configured by a free-form ``settings`` object, part of which may be credentials."""

    settings: dict[str, Any] = pydantic.Field(default_factory=dict)
    secret_settings: dict[str, Any] = pydantic.Field(default_factory=dict)
    """Credentials (passwords, private keys): sent merged into ``settings``, kept secret in the state."""

    @pydantic.model_validator(mode="after")
    def _settings_do_not_overlap(self) -> SettingsInputs:
        overlap = set(self.settings) & set(self.secret_settings)
        if overlap:
            raise ValueError(
                f"settings and secret_settings both set {sorted(overlap)}: keep each key in one place"
            )
        return self

    def merged_settings(self) -> dict[str, Any]:
        return {**self.settings, **self.secret_settings}

    def settings_if_changed(self, changed: set[str]) -> dict[str, Any] | None:
        """The full settings when either half changed (a PATCH may replace the stored settings as a whole), else None."""
        return self.merged_settings() if changed & {"settings", "secret_settings"} else None


PREVIOUS_INPUTS = "previous_inputs"
"""The validation context key ``check`` gives the inputs it checked last time (the state's), for
:func:`checked_before`."""


def checked_before(info: pydantic.ValidationInfo, **values: Any) -> bool:
    """Whether ``check`` passed exactly these input values last time (the state's inputs hold them), so that a
    rule too slow to run on every preview need not judge them again. False outside ``check``."""
    previous = (info.context or {}).get(PREVIOUS_INPUTS) or {}
    return all(name in previous and previous[name] == value for name, value in values.items())


def only_changed(inputs: pydantic.BaseModel, changed: set[str], *fields: str) -> dict[str, Any]:
    """Keyword arguments for a partial update: each field's new value if it changed, else None (not sent)."""
    return {f: getattr(inputs, f) if f in changed else None for f in fields}


def configured_subset(
    remote_settings: Mapping[str, Any] | None,
    desired: Mapping[str, Any],
    defaults: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The remote settings restricted to the keys the configuration sets (Segment adds its own defaults).

    ``defaults`` (the catalog's default values) stand in for keys Segment left out: an object built in the app
    often stores no value where the app showed the default.
    """
    remote_settings = {**(defaults or {}), **(remote_settings or {})}
    wanted = desired.get("settings") or {}
    return {k: remote_settings[k] for k in wanted if k in remote_settings}


MASK_CHARACTER = "•"
"""Segment returns a stored credential masked: its value starts with this character."""


@dataclass(frozen=True)
class FoundInputs:
    """An object as Segment returned it, written as its kind's resource inputs (``Source(**inputs)`` …).

    Credentials are never among them: Segment masks them when reading back. ``secret_keys`` names each setting
    that belongs in ``secret_settings``, whose value only the user can supply.
    """

    inputs: dict[str, Any]
    secret_keys: tuple[str, ...] = ()


def split_settings(
    settings: Mapping[str, Any] | None,
    options: Iterable[IntegrationOption] = (),
    *,
    drop: Iterable[str] = (),
    secret: Iterable[str] = (),
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """``(plain settings, credential keys)`` of settings read from Segment, sorted by key; ``drop`` is left out.

    A setting is a credential when the catalog calls it a password, its key looks like one, it is in ``secret``,
    or Segment returned it masked; its value is left out either way.
    """
    option_types = {o.name: o.type for o in options}
    dropped, named_secret = set(drop), set(secret)
    plain: dict[str, Any] = {}
    credentials: list[str] = []
    for key, value in sorted((settings or {}).items()):
        if key in dropped:
            continue
        masked = isinstance(value, str) and value.startswith(MASK_CHARACTER)
        if key in named_secret or masked or secret_values.is_credential_setting(key, option_types.get(key)):
            credentials.append(key)
        else:
            plain[key] = value
    return plain, tuple(credentials)


def catalog_defaults(options: Iterable[IntegrationOption], names: Iterable[str]) -> dict[str, Any]:
    """The catalog's default values of the settings ``names`` (those without a default are left out)."""
    wanted = set(names)
    return {o.name: o.default_value for o in options if o.name in wanted and o.default_value is not None}


def settings_keeping_unmanaged(
    current: Mapping[str, Any] | None, wanted: Mapping[str, Any], olds: Mapping[str, Any]
) -> dict[str, Any]:
    """The settings to PATCH: the configured ones, plus every key Segment holds that this stack does not set.

    Objects built in the app carry keys the program does not model (a mapping's ``consent`` and ``message_id``,
    a source's OAuth ``instance-url``, a warehouse's extra options). Segment does not document whether a PATCH
    replaces the settings or merges into them, so this is right either way: every key the stack does not set
    is sent back as read (a masked secret read back keeps its stored value), and a key this stack set before
    (``olds``) and no longer sets, if Segment still holds it, is sent as ``null``, which removes it (as Segment's
    Terraform provider removes a setting).
    """
    held = dict(current or {})
    ours = {*(olds.get("settings") or {}), *(olds.get("secret_settings") or {})}
    dropped = {key: None for key in ours - set(wanted) if key in held}
    return {**{k: v for k, v in held.items() if k not in ours and k not in wanted}, **dropped, **wanted}


InputsT = TypeVar("InputsT", bound=ResourceInputs)
RemoteT = TypeVar("RemoteT")


class ResourceError(UserError):
    """A failure the user must act on; the message says what to do next."""


def from_wire(value: Any) -> Any:
    """Inputs as the program gave them. The engine's wire (a protobuf ``Struct``) carries every number as a
    float, and Segment refuses ``1.0`` wherever its schema says integer (``days``, ``hours``,
    ``backfillDurationDays``, …), so every whole float becomes an int here, once for every kind. A fraction
    stays a float, for the inputs model or the schedule rules to refuse where an integer is due."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: from_wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [from_wire(v) for v in value]
    return value


def contains_unknown(value: Any) -> bool:
    """True when a preview left part of ``value`` unknown (an output of a resource not created yet)."""
    if isinstance(value, Unknown):
        return True
    if isinstance(value, Mapping):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains_unknown(v) for v in value)
    return False


def same_value(left: Any, right: Any) -> bool:
    """Structural equality that ignores the int/float round trip of the engine's wire format."""
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right or (left == right and type(left) is type(right))
    if isinstance(left, int | float) and isinstance(right, int | float):
        return math.isclose(float(left), float(right), rel_tol=0.0, abs_tol=1e-9)
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        keys = {k for k, v in left.items() if v is not None} | {k for k, v in right.items() if v is not None}
        return all(same_value(left.get(k), right.get(k)) for k in keys)
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(same_value(a, b) for a, b in zip(left, right, strict=True))
    return bool(left == right)


def _failure_path(loc: Iterable[int | str]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


SECRET_PROPERTIES = ("secret_settings", "write_keys", "profiles_source_write_key", "found_write_key")
"""Properties of any kind that hold secrets: credentials, and the write keys Segment made."""


def secret_setting_values(props: Mapping[str, Any]) -> list[str]:
    """The secrets among a resource's properties (``SECRET_PROPERTIES``), and each line of a multi-line one
    (a PEM key may come back re-wrapped or cut), longest first."""
    values: set[str] = set()
    found: list[Any] = []
    for name in SECRET_PROPERTIES:
        value = props.get(name)
        found.extend(
            value.values() if isinstance(value, Mapping) else value if isinstance(value, list) else [value]
        )
    for value in found:
        if value is None:
            continue
        try:
            text = value if isinstance(value, str) else json.dumps(value)
        except TypeError:  # an unknown value (preview): nothing to mask yet
            continue
        values.add(text.strip())
        values.update(line.strip() for line in text.splitlines() if len(line.strip()) >= 8)
    return sorted((v for v in values if v), key=len, reverse=True)


def _withhold(error: BaseException, secrets: list[str]) -> None:
    """Mask ``secrets`` in the text of ``error`` and of the exceptions chained to it, in place."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.args = tuple(mask(a, secrets) if isinstance(a, str) else a for a in current.args)
        for name, value in vars(current).items():
            if isinstance(value, str):
                setattr(current, name, mask(value, secrets))
        current = current.__cause__ or current.__context__


P = ParamSpec("P")
R = TypeVar("R")


def withholds_credentials(method: Callable[P, R]) -> Callable[P, R]:
    """Segment may quote a credential it was sent back in an error message; the provider server would then
    pass it on, traceback and all, to the engine's output. Mask every secret setting of the call's
    properties in whatever the method raises."""

    @functools.wraps(method)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        props = [a for a in (*args, *kwargs.values()) if isinstance(a, Mapping)]
        secrets = [value for p in props for value in secret_setting_values(p)]
        # Process-wide too: another resource's error (a 5xx quoting this one's password) is masked as well.
        secret_values.register(*secrets)
        try:
            return method(*args, **kwargs)
        except Exception as error:
            _withhold(error, secrets)
            raise

    return guarded


def validation_failures(error: pydantic.ValidationError) -> list[CheckFailure]:
    """Field-named failures without the offending values (a value may be a secret)."""
    return [CheckFailure(_failure_path(e["loc"]) or "inputs", e["msg"]) for e in error.errors()]


SHARED_CLIENTS = 8
"""Clients kept per process, one per settings (a provider process has one; a test process may have more)."""
_shared_clients: OrderedDict[ClientSettings, SegmentClient] = OrderedDict()
_shared_clients_lock = threading.Lock()


def shared_client(settings: ClientSettings) -> SegmentClient:
    """The process's client for ``settings``. The engine unpickles one provider object per resource kind; with a
    client each, a refresh of the Flex stack opened a connection to Segment per kind (a TLS handshake each),
    where one client's pool serves them all."""
    with _shared_clients_lock:
        client = _shared_clients.get(settings)
        if client is None:
            client = _shared_clients[settings] = SegmentClient(settings)
            while len(_shared_clients) > SHARED_CLIENTS:
                _shared_clients.popitem(last=False)
        else:
            _shared_clients.move_to_end(settings)
    return client


class SegmentProvider(ResourceProvider, Generic[InputsT, RemoteT]):
    """Shared lifecycle; subclasses implement the hooks at the bottom of the class."""

    # Nothing secret is captured by the provider object (tests decode the blob to prove it), so the blob need
    # not be encrypted on every resource.
    serialize_as_secret_always = False

    kind: ClassVar[str]
    inputs_model: ClassVar[type[ResourceInputs]]
    replace_on: ClassVar[frozenset[str]] = frozenset()
    """Input fields Segment cannot change in place: a change replaces the object."""
    delete_before_replace: ClassVar[bool] = False
    """Segment refuses two objects with the same natural key at once (e.g. source slugs)."""
    unique_key: ClassVar[bool] = False
    """Segment answers 409 to a second create with this natural key, so the create itself finds an object an
    interrupted run made. Kinds without that guard are looked up by their natural key before they are created
    (one list call per create)."""
    ignored_in_diff: ClassVar[frozenset[str]] = frozenset({"adopt", "adopt_id", "environment"})

    # ----------------------------------------------------------------- credentials and client

    def configure(self, req: ConfigureRequest) -> None:
        values = {key: req.config.get(key) for key in (*CONFIG_KEYS, ENVIRONMENT_KEY)}
        self.__dict__["_config_values"] = values
        self.__dict__["_client_lock"] = threading.Lock()
        self.__dict__.pop("_client", None)

    def __getstate__(self) -> dict[str, Any]:
        # Belt and braces: whatever configure() or the client left on the instance stays out of the pickle.
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    @property
    def client(self) -> SegmentClient:
        client = self.__dict__.get("_client")
        if client is not None:
            return client
        lock = self.__dict__.setdefault("_client_lock", threading.Lock())
        with lock:
            client = self.__dict__.get("_client")
            if client is None:
                values = self.__dict__.get("_config_values", {})
                settings = ClientSettings.resolve(
                    token=values.get("segment:token"),
                    region=values.get("segment:region"),
                    endpoint=values.get("segment:endpoint"),
                    **client_tuning(values.get),
                )
                client = shared_client(settings)
                self.__dict__["_client"] = client
        return client

    @property
    def links(self) -> WorkspaceLinks:
        links = self.__dict__.get("_links")
        if links is None:
            links = self.__dict__.setdefault("_links", WorkspaceLinks(self.client))
        return links

    # ----------------------------------------------------------------- lifecycle (same for every kind)

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        props = from_wire({k: v for k, v in news.items() if k != PROVIDER_KEY})
        # The engine checks every resource before it changes any: from here on their credentials are masked.
        secret_values.register(*secret_setting_values(props))
        if contains_unknown(props):
            return CheckResult(news, [])
        try:
            inputs = self.inputs_model.model_validate(props, context={PREVIOUS_INPUTS: from_wire(olds)})
        except pydantic.ValidationError as error:
            return CheckResult(news, validation_failures(error))
        failures = [CheckFailure(field, reason) for field, reason in self.extra_checks(inputs)]  # type: ignore[arg-type]
        checked = inputs.model_dump(mode="json")
        if PROVIDER_KEY in news:
            checked[PROVIDER_KEY] = news[PROVIDER_KEY]
        return CheckResult(checked, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        fields = [f for f in self.inputs_model.model_fields if f not in self.ignored_in_diff]
        changed = [
            f for f in fields if contains_unknown(news.get(f)) or not same_value(olds.get(f), news.get(f))
        ]
        replaces = [f for f in changed if f in self.replace_on]
        return DiffResult(
            changes=bool(changed),
            replaces=replaces,
            delete_before_replace=bool(replaces) and self.delete_before_replace,
        )

    @withholds_credentials
    def create(self, props: dict[str, Any]) -> CreateResult:
        inputs = self._inputs(props)
        if inputs.adopt_id:
            remote = self._adopt_by_id(inputs, inputs.adopt_id)
        elif inputs.adopt:
            found = self.find_existing(inputs)
            if found is None:
                raise ResourceError(self.adoption_target_missing(inputs))
            self.refuse_foreign("adopt", inputs.model_dump(mode="json"), found)
            log.info("adopting existing %s %s", self.kind, self.describe(inputs))
            remote = self._converge(found, inputs)
        else:
            remote = self._create_once(inputs)
        return CreateResult(self.resource_id(remote), self._outputs(remote, inputs))

    @withholds_credentials
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        try:
            remote = self.get_remote(id_, props)
        except NotFoundError:
            remote = None
        if remote is None:
            return ReadResult(None, {})
        remember_workspace(self.client, props)
        stored = {f: props.get(f) for f in self.inputs_model.model_fields}
        observed = {**stored, **self.observed(remote, stored)}
        # The refreshed inputs are what Segment holds: the engine compares them with the program's, so a preview
        # names the fields changed in the app (without them it names whichever input it cannot know yet).
        inputs = {
            f: rpc.wrap_rpc_secret(v) if f in SECRET_PROPERTIES else v
            for f, v in observed.items()
            if v is not None
        }
        return ReadResult(self.resource_id(remote), {**observed, **self.computed_outputs(remote)}, inputs)

    @withholds_credentials
    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        inputs = self._inputs(news)
        changed = {
            f
            for f in self.inputs_model.model_fields
            if f not in self.ignored_in_diff and not same_value(olds.get(f), news.get(f))
        }
        self.refuse_foreign("update", {**from_wire(olds), **inputs.model_dump(mode="json"), "id": id_}, None)
        remember_workspace(self.client, olds)
        remote = self.update_remote(id_, inputs, changed, from_wire(olds))
        return UpdateResult(self._outputs(remote, inputs))

    @withholds_credentials
    def delete(self, id_: str, props: dict[str, Any]) -> None:
        try:
            self.refuse_foreign("delete", {**from_wire(props), "id": id_}, None)
            self.delete_remote(id_, props)
        except NotFoundError:
            log.info("%s %s was already deleted", self.kind, id_)

    # ----------------------------------------------------------------- shared helpers

    def _inputs(self, props: Mapping[str, Any]) -> InputsT:
        return self.inputs_model.model_validate(  # type: ignore[return-value]
            {k: from_wire(v) for k, v in props.items() if k in self.inputs_model.model_fields}
        )

    def _create_once(self, inputs: InputsT) -> RemoteT:
        """At most one create per object per run, and none when the object is there already.

        Kinds Segment does not keep unique are looked up by their natural key first: an interrupted run (a
        killed CLI, a create Segment applied after its answer was given up on) may have made the object, and
        Pulumi forgets a create whose answer it never got. A create whose answer is lost is never sent again:
        the object is looked up, adopted if found, and otherwise the resource fails so that the next run's
        lookup finds it, however late Segment applies it.
        """
        if not self.unique_key:
            found = self.find_existing(inputs)
            if found is not None and self._differences(found, inputs)[1]:
                # It differs where Segment cannot change it: the object a replacement is about to delete (Pulumi
                # creates the new one first), not one made for this configuration.
                log.info(
                    "%s %s exists with other fixed settings (being replaced): creating a new one",
                    self.kind,
                    self.describe(inputs),
                )
                found = None
            if found is not None:
                self.refuse_foreign("adopt", self._owner_props(inputs, found), found)
                log.warning(
                    "found %s %s in Segment, made by an interrupted run; adopting it instead of making a "
                    "second one",
                    self.kind,
                    self.describe(inputs),
                )
                return self._converge(found, inputs)
        try:
            return self.create_remote(inputs)
        except ConflictError as conflict:
            # A 409 is a lost answer seen late: an earlier create (one whose answer never came, in a failed or
            # killed run) went through, and the natural key is taken.
            return self._adopt_after_conflict(inputs, conflict)
        except OutcomeUnknownError as error:
            return self._adopt_after_lost_answer(inputs, error)

    def _adopt_by_id(self, inputs: InputsT, given: str) -> RemoteT:
        """The object Segment has under ``given``, taken over (PATCHed where it differs from the config)."""
        try:
            remote = self.get_remote(self.id_for_adoption(inputs, given), inputs.model_dump(mode="json"))
        except NotFoundError:
            remote = None
        if remote is None:
            raise ResourceError(
                f"{self.kind} {self.describe(inputs)} was to adopt the object with id '{given}', but Segment has "
                "none under that id (or it belongs to another parent). Check the id in the app, or remove it to "
                "find the object by its name."
            )
        self.refuse_foreign(
            "adopt", {**inputs.model_dump(mode="json"), "adopt": True, "id": self.resource_id(remote)}, remote
        )
        log.info("adopting %s %s by its id %s", self.kind, self.describe(inputs), given)
        return self._converge(remote, inputs)

    def id_for_adoption(self, inputs: InputsT, given: str) -> str:
        """The resource id of the object a user names by its Segment id (kinds under a parent prefix it)."""
        return given

    def _owner_props(self, inputs: InputsT, remote: RemoteT) -> dict[str, Any]:
        """What ``refuse_foreign`` needs of an object found by its natural key."""
        return {**inputs.model_dump(mode="json"), "id": self.resource_id(remote)}

    def _adopt_after_conflict(self, inputs: InputsT, conflict: ConflictError) -> RemoteT:
        remote = self.find_existing(inputs)
        if remote is None:
            raise ResourceError(
                f"Segment refused to create {self.kind} {self.describe(inputs)} because one already exists "
                f"({conflict}), but none was found by that name to take over. Rename it in the configuration or "
                "in Segment, then run `pulumi up` again."
            ) from None
        self.refuse_foreign("adopt", self._owner_props(inputs, remote), remote)
        log.warning(
            "create of %s %s answered 409: it exists already (made by an interrupted run, or an earlier answer "
            "was lost); adopting it",
            self.kind,
            self.describe(inputs),
        )
        return self._converge(remote, inputs)

    def _adopt_after_lost_answer(self, inputs: InputsT, error: OutcomeUnknownError) -> RemoteT:
        """The object if Segment made it (adopted); else the resource fails, and the create is not sent again:
        Segment may still apply it (a request it answers late, or a 5xx from a gateway in front of it)."""
        lost = str(error).removesuffix(OutcomeUnknownError.default_advice).strip().rstrip(".")
        made = (
            f"Segment may have made the {self.kind} {self.describe(inputs)}: the answer to its create was lost "
            f"({lost})"
        )
        again = (
            "Run `pulumi up` again: it will find it and adopt it, not make a second one (or create it then, if "
            "Segment did not make it)."
        )
        try:
            remote = self.find_existing(inputs)
        except SegmentError as lookup_error:
            raise ResourceError(f"{made}, and looking it up failed too ({lookup_error}). {again}") from None
        if remote is None:
            raise ResourceError(f"{made}, and it is not there yet. {again}") from None
        self.refuse_foreign("adopt", self._owner_props(inputs, remote), remote)
        log.warning("create of %s %s lost its answer; adopting it", self.kind, self.describe(inputs))
        return self._converge(remote, inputs)

    def _differences(self, remote: RemoteT, inputs: InputsT) -> tuple[set[str], set[str], dict[str, Any]]:
        """The fields where ``remote`` differs from the desired inputs, those of them Segment cannot change in
        place, and ``remote`` as observed."""
        desired = inputs.model_dump(mode="json")
        observed = self.observed(remote, desired)
        changed = {
            f
            for f, v in observed.items()
            if f not in self.ignored_in_diff and not same_value(v, desired.get(f))
        }
        return changed, changed & self.replace_on, observed

    def _converge(self, remote: RemoteT, inputs: InputsT) -> RemoteT:
        """PATCH an adopted object where it differs from the desired inputs (nothing when it matches)."""
        changed, blocked, observed = self._differences(remote, inputs)
        if blocked:
            raise ResourceError(
                f"cannot adopt {self.kind} {self.describe(inputs)}: its {', '.join(sorted(blocked))} differ(s) "
                "from the configuration and cannot be changed in place. Align the configuration with the "
                "existing object, or delete the object in Segment and remove adopt."
            )
        if not changed:
            return remote
        desired = inputs.model_dump(mode="json")
        return self.update_remote(self.resource_id(remote), inputs, changed, {**desired, **observed})

    def _outputs(self, remote: RemoteT, inputs: InputsT) -> dict[str, Any]:
        return {**inputs.model_dump(mode="json"), **self.computed_outputs(remote)}

    # ----------------------------------------------------------------- ownership (one environment per stack)

    def environment_of(self, props: Mapping[str, Any]) -> str | None:
        """The stack's environment: as the state records it, else as the stack config sets it."""
        configured = self.__dict__.get("_config_values", {}).get(ENVIRONMENT_KEY)
        return props.get("environment") or (str(configured) if configured else None)

    def owning_sources(self, props: Mapping[str, Any], remote: RemoteT | None) -> list[ApiSource]:
        """The sources this object hangs off (its own source, the destination's source …), read from Segment.

        By default the ``source_id`` or ``destination_id`` among the properties; kinds under no source (the space,
        computed traits: bound through the space) or elsewhere (warehouses) override it.
        """
        if props.get("source_id"):
            return [owner_source(self.client, str(props["source_id"]))]
        if props.get("destination_id"):
            return [owner_source(self.client, destination_source(self.client, str(props["destination_id"])))]
        return []

    def refuse_foreign(self, action: str, props: Mapping[str, Any], remote: RemoteT | None) -> None:
        """Refuse to ``action`` an object under a source Segment labels for another environment (no call made
        that changes anything)."""
        environment = self.environment_of(props)
        if environment is None:
            return
        try:
            sources = self.owning_sources(props, remote)
        except NotFoundError:
            return  # gone: nothing of another environment to protect
        for source in sources:
            foreign = sorted(
                {x.value for x in source.labels if x.key == ENVIRONMENT_LABEL and x.value != environment}
            )
            if foreign:
                whose = "it is" if self.kind == "Source" else f"it hangs off source '{source.slug}', which is"
                if action == "adopt" and not props.get("adopt"):
                    # Found by its natural key before a create: the names collide across environments.
                    raise ResourceError(
                        f"refusing to adopt {self.kind} {props.get('id') or ''} ({self.describe_props(props)}) "
                        f"found by its name: {whose} labelled {ENVIRONMENT_LABEL}:{foreign[0]} in Segment, and "
                        f"this is the {environment} stack. Nothing was changed. Give this stack's {self.kind} a "
                        f"name of its own in Pulumi.{environment}.yaml (names are per stack), then run "
                        "`pulumi up` again."
                    )
                raise ResourceError(
                    f"refusing to {action} {self.kind} {props.get('id') or ''} ({self.describe_props(props)}): "
                    f"{whose} labelled {ENVIRONMENT_LABEL}:{foreign[0]} in Segment, and this is the {environment} "
                    f"stack. Nothing was changed. A stack only changes its own environment's objects: point "
                    f"Pulumi.{environment}.yaml at this environment's own sources, or, if this stack's state "
                    "holds another stack's objects, remove them from it with `pulumi state delete <urn>`."
                )

    def describe_props(self, props: Mapping[str, Any]) -> str:
        try:
            return self.describe(self._inputs(props))
        except (pydantic.ValidationError, NotImplementedError):
            return "as in the state"

    # ----------------------------------------------------------------- hooks each kind implements

    def extra_checks(self, inputs: InputsT) -> list[tuple[str, str]]:
        """Cross-field rules beyond the model: (field, reason) pairs. No API calls."""
        return []

    def describe(self, inputs: InputsT) -> str:
        """The natural key, for messages."""
        raise NotImplementedError

    def single_match(self, matches: list[RemoteT], inputs: InputsT) -> RemoteT | None:
        """The one object with this natural key, None if there is none; several are ambiguous to adopt."""
        if len(matches) > 1:
            ids = ", ".join(self.resource_id(m) for m in matches)
            raise ResourceError(
                f"{len(matches)} {self.kind} objects match {self.describe(inputs)} in Segment: {ids}. Nothing was "
                "changed. Name the one to adopt by its id in the stack config (`adoptIds`, see docs/migration.md), "
                "or keep one: delete the others in the Segment app (or rename them). Then run `pulumi up` again."
            )
        return matches[0] if matches else None

    def adoption_target_missing(self, inputs: InputsT) -> str:
        return (
            f"{self.kind} {self.describe(inputs)} was marked adopt: true but does not exist in Segment. "
            "Remove adopt (to create it) or fix the name so it matches the existing object."
        )

    def find_existing(self, inputs: InputsT) -> RemoteT | None:
        """Look the object up by its natural key (source slug; names within their parent)."""
        raise NotImplementedError

    def create_remote(self, inputs: InputsT) -> RemoteT:
        raise NotImplementedError

    def get_remote(self, id_: str, props: Mapping[str, Any]) -> RemoteT | None:
        """Fetch by id; None (or NotFoundError) when it is gone."""
        raise NotImplementedError

    def update_remote(self, id_: str, inputs: InputsT, changed: set[str], olds: Mapping[str, Any]) -> RemoteT:
        raise NotImplementedError

    def delete_remote(self, id_: str, props: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def observed(self, remote: RemoteT, desired: Mapping[str, Any]) -> dict[str, Any]:
        """The remote object in the shape of the inputs, normalised against what was asked for.

        API-side defaults, masked secrets and settings keys the user never set must not show as changes.
        """
        raise NotImplementedError

    def resource_id(self, remote: RemoteT) -> str:
        raise NotImplementedError

    def computed_outputs(self, remote: RemoteT) -> dict[str, Any]:
        """Outputs that are not inputs: ids, keys, status, app URLs."""
        return {}


# Segment's app hosts. The EU host is ❓ (not in Segment's docs we could read): one constant to correct.
APP_HOSTS = {"us": "https://app.segment.com", "eu": "https://app.eu1.segment.com"}


# A token belongs to one workspace, so the workspace is read once per provider process and API address/token,
# not once per resource kind: every kind needs its slug for app URLs, and the space reports its id.
_workspaces: dict[str, Workspace] = {}
_workspace_slugs: dict[str, str] = {}
_workspaces_lock = threading.Lock()


def _scope(client: SegmentClient) -> str:
    settings = client.settings
    # Keyed by a digest: the registry never keeps a token.
    return hashlib.sha256(f"{settings.base_url}\n{settings.token.get_secret_value()}".encode()).hexdigest()


def workspace_of(client: SegmentClient) -> Workspace:
    """The workspace of the client's token, read on first use and shared by every provider in the process."""
    scope = _scope(client)
    with _workspaces_lock:
        workspace = _workspaces.get(scope)
        if workspace is None:
            workspace = _workspaces[scope] = client.get_workspace()
        return workspace


def remember_workspace(client: SegmentClient, props: Mapping[str, Any]) -> None:
    """Take the workspace from a resource's state instead of reading it (a refresh): a token belongs to one
    workspace, whose id and slug every create recorded (the space's ``workspace_id``/``workspace_slug``, the
    slug in every ``app_url``)."""
    scope = _scope(client)
    host = APP_HOSTS.get(client.settings.region, APP_HOSTS["us"])
    slug, ident = props.get("workspace_slug"), props.get("workspace_id")
    app_url = props.get("app_url")
    if not slug and isinstance(app_url, str) and app_url.startswith(host + "/"):
        slug = app_url.removeprefix(host + "/").partition("/")[0]
    if not isinstance(slug, str) or not slug:
        return
    with _workspaces_lock:
        if scope in _workspaces:
            return
        if isinstance(ident, str) and ident:
            _workspaces[scope] = Workspace(id=ident, slug=slug, name=slug)
        _workspace_slugs.setdefault(scope, slug)


# The owners read for the environment check, once per provider process: a destroy asks the same two sources
# for every object beneath them.
_owners: dict[tuple[str, str], ApiSource] = {}
_destination_sources: dict[tuple[str, str], str] = {}


def owner_source(client: SegmentClient, source_id: str) -> ApiSource:
    key = (_scope(client), source_id)
    with _workspaces_lock:
        known = _owners.get(key)
    if known is None:
        known = client.get_source(source_id)
        with _workspaces_lock:
            _owners[key] = known
    return known


def destination_source(client: SegmentClient, destination_id: str) -> str:
    key = (_scope(client), destination_id)
    with _workspaces_lock:
        known = _destination_sources.get(key)
    if known is None:
        known = client.get_destination(destination_id).source_id
        with _workspaces_lock:
            _destination_sources[key] = known
    return known


class WorkspaceLinks:
    """App URLs for objects of one workspace."""

    def __init__(self, client: SegmentClient) -> None:
        self._client = client

    @property
    def workspace_slug(self) -> str:
        with _workspaces_lock:
            known = _workspace_slugs.get(_scope(self._client))
        return known or workspace_of(self._client).slug

    def url(self, *path: str) -> str:
        host = APP_HOSTS.get(self._client.settings.region, APP_HOSTS["us"])
        return "/".join([host, self.workspace_slug, *path])


_UNWRAPPED_BATCH_SETITEMS = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]


class SegmentResource(pulumi.dynamic.Resource):
    """The ``pulumi.dynamic.Resource`` every kind's resource class derives from.

    Pulumi's SDK pickles each dynamic resource's provider with ``pickle._Pickler._batch_setitems`` wrapped in a
    sorting function, and leaves the wrapper in place: the next registration wraps the wrapper. After about 985
    registrations in one program (a stack of about that many traits), pickling the next provider raises
    ``RecursionError`` (pulumi/pulumi#17803). The unwrapped function is put back after each registration.

    Each kind declares its outputs' types (``trait_id: pulumi.Output[str]`` …) under ``if TYPE_CHECKING:``, for
    type checkers only: the SDK reads a resource class's annotations again for every resource it registers
    (``typing.get_type_hints``, compiling each annotation's text), and the outputs of a dynamic resource need no
    type to be read back. The names come from each kind's ``OUTPUTS``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().__init__(*args, **kwargs)
        finally:
            pickle._Pickler._batch_setitems = _UNWRAPPED_BATCH_SETITEMS  # type: ignore[attr-defined]


def resource_props(inputs: Mapping[str, Any], output_names: Iterable[str]) -> dict[str, Any]:
    """Props for ``pulumi.dynamic.Resource``: inputs left unset are omitted; outputs start unknown.

    The SDK makes every prop an Output that it tracks until the program ends (at 500 traits, most of the
    program's time): ``adopt: false``, the default, is left out too, and ``check`` writes it into the inputs
    the engine keeps, so the state and every diff read as before.
    """
    props = {k: v for k, v in inputs.items() if v is not None and not (k == "adopt" and v is False)}
    props.update({name: None for name in output_names if name not in props})
    return props


def with_secret_outputs(
    opts: pulumi.ResourceOptions | None, secret_outputs: Iterable[str]
) -> pulumi.ResourceOptions:
    """Mark outputs secret even where no input of the same name was (the engine only copies secrecy by key)."""
    extra = pulumi.ResourceOptions(additional_secret_outputs=sorted(secret_outputs))
    return pulumi.ResourceOptions.merge(opts, extra)
