"""HTTP client for Segment's Public API: auth, base URL, media types, envelopes, paging, retries, timeouts.

A ``SegmentClient`` is cheap to create and safe to share between threads, which share its connection pool
(``connections.py``: a kept-open connection per thread, opened on a thread's first request). Never pickle a
client (it holds the token and live connections): create it where it is used, for example lazily inside a
Pulumi dynamic provider after ``configure()``.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Literal, NoReturn, TypeVar

import pydantic

from segment_provider.api import secrets as secret_values
from segment_provider.api.catalog import Catalog
from segment_provider.api.connections import ConnectionPool, NoAnswer
from segment_provider.api.errors import (
    ENDPOINT_ENV,
    ENDPOINT_KEY,
    REGION_ENV,
    REGION_KEY,
    TOKEN_ENV,
    TOKEN_KEY,
    ApiError,
    ConfigurationError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    ServerError,
    error_for_response,
    outcome_unknown_after_status,
    transport_error,
)
from segment_provider.api.models import (
    ComputedTrait,
    Destination,
    DestinationSubscription,
    Label,
    ManualSync,
    ReverseEtlModel,
    ReverseEtlSchedule,
    Source,
    Space,
    SyncStatus,
    TraitDefinition,
    TraitOptions,
    Warehouse,
    WarehouseValidation,
    WireModel,
    Workspace,
)
from segment_provider.api.operations import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    MAX_TOP_LEVEL_PAGE_SIZE,
    Operation,
    operation,
)
from segment_provider.api.pacing import Pacer, pacing_from_env, shared_pacer
from segment_provider.api.transport import (
    Answer,
    ConnectionSettings,
    PageTrail,
    ResponseRefusedError,
    decode_json,
    endpoint_problem,
    error_document,
    exchange,
    token_problem,
)

PRODUCT_VERSION = "0.1.0"
USER_AGENT = f"flex-unified-profiles/{PRODUCT_VERSION}"
Region = Literal["us", "eu"]
BASE_URLS: dict[Region, str] = {
    "us": "https://api.segmentapis.com",
    "eu": "https://eu1.api.segmentapis.com",
}

TOKEN_FIX = (
    f"set it again with `pulumi config set --secret {TOKEN_KEY}` (it asks for the value) (or {TOKEN_ENV})"
)
ADDRESS_ADVICE = (
    f"Check {ENDPOINT_KEY} / {ENDPOINT_ENV}: it must be Segment's API address (or the local emulator's)."
)

log = logging.getLogger("segment_provider.api")
ModelT = TypeVar("ModelT", bound=WireModel)


def jitter(delay: float) -> float:
    """A random wait between ``delay / 2`` and ``delay`` ("equal jitter"): parallel clients spread out."""
    return random.uniform(delay / 2, delay)


def backoff(attempt: int, base: float, cap: float) -> float:
    """The jittered exponential wait before retry number ``attempt`` (1 for the first retry)."""
    return jitter(min(cap, base * 2 ** (attempt - 1)))


# ------------------------------------------------------------------------------------------------ settings


class ClientSettings(ConnectionSettings):
    """How to reach Segment. Build it with ``ClientSettings.resolve``; the token never shows in its repr."""

    token_fix: ClassVar[str] = TOKEN_FIX
    region: Region = "us"
    max_retries: int = pydantic.Field(default=4, ge=0)
    backoff_base: float = pydantic.Field(default=1.0, ge=0)
    backoff_cap: float = pydantic.Field(default=30.0, ge=0)
    max_rate_limit_wait: float = pydantic.Field(default=300.0, ge=0)
    """A 429 asking for a longer wait than this is raised instead of waited out."""
    pacing_time_scale: float = pydantic.Field(default=1.0, ge=0)
    """Pace requests to Segment's per-operation limits (``pacing.py``), windows scaled by this; 0 turns it off."""

    @property
    def base_url(self) -> str:
        return self.endpoint or BASE_URLS[self.region]

    @classmethod
    def resolve(
        cls,
        token: str | None = None,
        region: str | None = None,
        endpoint: str | None = None,
        env: Mapping[str, str] = os.environ,
        **options: Any,
    ) -> ClientSettings:
        """Settings from explicit values (stack config), else ``SEGMENT_API_TOKEN`` / ``SEGMENT_API_REGION`` /
        ``SEGMENT_API_URL``. ``options`` sets the tuning fields (timeouts, retries, backoff); pacing comes from
        ``SEGMENT_API_PACING`` unless ``options`` sets it.

        Raises ``ConfigurationError`` naming the config key and environment variable to fix.
        """
        token_value = first_set(token, env.get(TOKEN_ENV))
        if token_value is None:
            raise ConfigurationError(
                f"No Segment Public API token. Set it with `pulumi config set --secret {TOKEN_KEY}` (it asks for the value) "
                f"or the {TOKEN_ENV} environment variable. A workspace owner creates tokens in the "
                "Segment app under Settings > Workspace settings > Access Management > Tokens.",
                key=TOKEN_KEY,
            )
        if problem := token_problem(token_value, TOKEN_FIX):
            raise ConfigurationError(f"{TOKEN_KEY} (or {TOKEN_ENV}): {problem}", key=TOKEN_KEY)
        region_value = (first_set(region, env.get(REGION_ENV)) or "us").lower()
        if region_value not in BASE_URLS:
            raise ConfigurationError(
                f"{REGION_KEY} (or {REGION_ENV}) is '{region_value}', but it must be one of: "
                f"{', '.join(BASE_URLS)}. Use the region your Segment workspace lives in, for example "
                f"`pulumi config set {REGION_KEY} eu`.",
                key=REGION_KEY,
            )
        endpoint_value = first_set(endpoint, env.get(ENDPOINT_ENV))
        if endpoint_value is not None and (problem := endpoint_problem(endpoint_value)):
            raise ConfigurationError(
                f"{ENDPOINT_KEY} (or {ENDPOINT_ENV}) {problem}. Give a base URL such as "
                f"https://api.segmentapis.com, or remove it to use the {REGION_KEY} default.",
                key=ENDPOINT_KEY,
            )
        options = {**pacing_from_env(env), **options}
        try:
            return cls(token=token_value, region=region_value, endpoint=endpoint_value, **options)
        except pydantic.ValidationError as error:
            raise ConfigurationError(describe_invalid_options(error)) from None


def first_set(*values: str | None) -> str | None:
    for value in values:
        if value is not None and value.strip():
            return value.strip()
    return None


def describe_invalid_options(error: pydantic.ValidationError, client: str = "Segment client") -> str:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
        for e in error.errors(include_input=False, include_url=False)
    )
    return f"Invalid {client} settings ({problems})."


# -------------------------------------------------------------------------------------------------- client


class SegmentClient:
    """Segment Public API client. Thread-safe; one kept-open connection per thread. Do not pickle it."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        pacer: Pacer | None = None,
    ) -> None:
        """``pacer`` defaults to the process-wide one of this address and token (none when pacing is off)."""
        secret_values.register_token(settings.token.get_secret_value())
        self._settings = settings
        self._pacer = pacer or shared_pacer(
            settings.base_url, settings.token.get_secret_value(), settings.pacing_time_scale
        )
        self._sleep = sleep
        self._clock = clock
        self._connections = ConnectionPool(
            settings.base_url,
            {"Authorization": f"Bearer {settings.token.get_secret_value()}", "User-Agent": USER_AGENT},
        )
        self._catalog: Catalog | None = None
        self._catalog_lock = threading.Lock()

    @property
    def settings(self) -> ClientSettings:
        return self._settings

    @property
    def catalog(self) -> Catalog:
        with self._catalog_lock:
            if self._catalog is None:
                self._catalog = Catalog(self._catalog_pages, self._settings.base_url)
            return self._catalog

    def _catalog_pages(self, operation_id: str, items_key: str) -> Iterator[dict[str, Any]]:
        # Hundreds of entries: at the largest page the SDK allows, one request instead of several.
        return self.paginate(operation_id, items_key, page_size=MAX_PAGE_SIZE)

    def __repr__(self) -> str:
        return f"SegmentClient(base_url={self._settings.base_url!r})"

    def __getstate__(self) -> NoReturn:
        raise TypeError(
            "SegmentClient cannot be pickled: it holds the API token and live HTTP connections. "
            "Create the client where it is used (for example lazily in the provider after configure())."
        )

    # -------------------------------------------------------------------------------------------- transport

    def call(
        self,
        operation_id: str,
        *,
        path_params: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> Any:
        """Send one operation (with retries) and return the answer's ``data``."""
        return self._send(operation(operation_id), path_params, query, body)

    def paginate(
        self,
        operation_id: str,
        items_key: str,
        *,
        path_params: Mapping[str, str] | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        query: Mapping[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list operation, page by page, following ``pagination.next`` until it is empty."""
        op = operation(operation_id)
        if op.pagination == "none":
            raise ValueError(f"{operation_id} is not a paginated operation")
        cursor: str | None = None
        trail = PageTrail(operation_id)
        while True:
            page_query = {**(query or {}), **_page_query(op, page_size, cursor)}
            data = self._send(op, path_params, page_query, None)
            yield from self._items(op, data, items_key)
            cursor = _next_cursor(data)
            if cursor is None:
                return
            trail.follow(cursor)

    def _send(
        self,
        op: Operation,
        path_params: Mapping[str, str] | None,
        query: Mapping[str, Any] | None,
        body: Any,
    ) -> Any:
        url_path = op.url_path(path_params)
        url = self._settings.base_url + url_path
        headers = {"Accept": op.media_type}
        payload: str | None = None
        if body is not None:
            headers["Content-Type"] = op.media_type
            payload = json.dumps(body, separators=(",", ":"))
        attempt = 0
        while True:
            attempt += 1
            started = time.monotonic()
            try:
                answer = self._exchange(op, url, query, payload, headers)
            except NoAnswer as cause:
                self._log_request(op, url_path, type(cause).__name__, attempt, started)
                self._retry_after_transport_error(op, cause, attempt)
                continue
            except ResponseRefusedError as refused:
                raise _unusable(op, refused) from None
            self._log_request(op, url_path, str(answer.status), attempt, started)
            if answer.ok:
                try:
                    return _data(op, answer)
                except ResponseRefusedError as refused:
                    raise _unusable(op, refused) from None
            error = self._error(op, answer)
            self._pause_before_retry(op, error, self._wait_before_retry(op, error, attempt), attempt)

    def _exchange(
        self,
        op: Operation,
        url: str,
        query: Mapping[str, Any] | None,
        payload: str | None,
        headers: Mapping[str, str],
    ) -> Answer:
        """One attempt, booked with the pacer, which learns when its answer came (or that it failed)."""
        ticket = self._pacer.acquire(op.operation_id) if self._pacer is not None else None
        try:
            return exchange(
                self._connections,
                op.method,
                url,
                operation=op.operation_id,
                limits=self._settings.limits,
                advice=ADDRESS_ADVICE,
                params=query,
                data=payload,
                headers=headers,
            )
        finally:
            if ticket is not None and self._pacer is not None:
                self._pacer.release(ticket)

    def _retry_after_transport_error(self, op: Operation, cause: NoAnswer, attempt: int) -> None:
        # A create may have reached Segment before the connection dropped or timed out, and creates are not
        # idempotent: sending it again could make a duplicate, so the caller must look the object up instead.
        # Every other call (reads, PATCHes, deletes, adding a label, connecting a source) is sent again, and so
        # is a create that never left (no connection could be made).
        resendable = op.safe_to_resend or not cause.request_sent
        error = transport_error(
            op.operation_id, cause, outcome_unknown=not resendable, base_url=self._settings.base_url
        )
        if not resendable or attempt > self._settings.max_retries:
            raise error from cause
        self._pause_before_retry(op, error, self._backoff(attempt), attempt)

    def _wait_before_retry(self, op: Operation, error: ApiError, attempt: int) -> float:
        """Seconds to wait before sending again; raises when the error is final."""
        if isinstance(error, RateLimitedError):
            # Nothing was done, so a 429 is safe to repeat for every method.
            wait = error.retry_after if error.retry_after is not None else self._backoff(attempt)
            if attempt > self._settings.max_retries or wait > self._settings.max_rate_limit_wait:
                raise error
            return wait
        if isinstance(error, ServerError) and error.status is not None and error.status >= 500:
            if not op.safe_to_resend:
                raise outcome_unknown_after_status(error)
            if attempt > self._settings.max_retries:
                raise error
            return self._backoff(attempt)
        raise error

    def _pause_before_retry(self, op: Operation, error: ApiError, wait: float, attempt: int) -> None:
        log.info(
            "Segment %s %s failed (%s); retrying in %.1fs (retry %d of %d)",
            op.operation_id,
            op.method,
            error.status or type(error).__name__,
            wait,
            attempt,
            self._settings.max_retries,
        )
        self._sleep(wait)

    def _backoff(self, attempt: int) -> float:
        return backoff(attempt, self._settings.backoff_base, self._settings.backoff_cap)

    def _error(self, op: Operation, answer: Answer) -> ApiError:
        return error_for_response(
            answer.status,
            error_document(answer, op.operation_id),
            operation=op.operation_id,
            headers=answer.headers,
            secrets=[self._settings.token.get_secret_value()],
            now=self._clock(),
        )

    def _log_request(self, op: Operation, url_path: str, outcome: str, attempt: int, started: float) -> None:
        log.debug(
            "Segment %s %s %s -> %s (attempt %d, %.0f ms)",
            op.operation_id,
            op.method,
            url_path,
            outcome,
            attempt,
            (time.monotonic() - started) * 1000,
        )

    def _items(self, op: Operation, data: Any, items_key: str) -> list[dict[str, Any]]:
        items = data.get(items_key) if isinstance(data, Mapping) else None
        if not isinstance(items, list):
            raise ServerError(
                f"Segment's answer to {op.operation_id} has no '{items_key}' list. Try again later; if it "
                "persists, the API may have changed.",
                operation=op.operation_id,
            )
        return items

    # ---------------------------------------------------------------------------------------- typed helpers

    def _get_one(self, operation_id: str, model: type[ModelT], body: Any = None, **path: str) -> ModelT:
        op = operation(operation_id)
        data = self._send(op, path, None, body)
        return _parse(model, _field(op, data), op)

    def _list(
        self, operation_id: str, model: type[ModelT], *, page_size: int = DEFAULT_PAGE_SIZE, **path: str
    ) -> list[ModelT]:
        op = operation(operation_id)
        items = self.paginate(operation_id, op.data_key, path_params=path, page_size=page_size)
        return [_parse(model, item, op) for item in items]

    def _status(self, operation_id: str, body: Any = None, **path: str) -> str:
        op = operation(operation_id)
        return str(_field(op, self._send(op, path, None, body)))

    # ------------------------------------------------------------------------------------ workspace, spaces

    def get_workspace(self) -> Workspace:
        return self._get_one("getWorkspace", Workspace)

    def list_spaces(self) -> list[Space]:
        return self._list("listSpaces", Space)

    def get_space(self, space_id: str) -> Space:
        op = operation("getSpace")
        space = _field(op, self._send(op, {"spaceId": space_id}, None, None), required=False)
        if space is None:
            raise NotFoundError(
                f"Segment has no space {space_id} in this workspace. {NotFoundError.default_advice}",
                operation=op.operation_id,
            )
        return _parse(Space, space, op)

    def list_space_events(self, space_id: str) -> list[str]:
        """Names of the events the space has seen."""
        items = self.paginate("listEvents", "events", path_params={"spaceId": space_id})
        return _unique_names(items)

    def list_space_event_properties(self, space_id: str, event_name: str) -> list[str]:
        """Names of the properties (and context fields) seen on one event in the space."""
        path = {"spaceId": space_id, "eventName": event_name}
        items = self.paginate("listPropertiesFromEvent", "eventProperties", path_params=path)
        return _unique_names(items)

    # ---------------------------------------------------------------------------------------------- sources

    def list_sources(self) -> list[Source]:
        return self._list("listSources", Source)

    def get_source(self, source_id: str) -> Source:
        return self._get_one("getSource", Source, sourceId=source_id)

    def create_source(
        self,
        *,
        slug: str,
        metadata_id: str,
        enabled: bool,
        settings: Mapping[str, Any] | None = None,
        name: str | None = None,
        disconnect_all_warehouses: bool | None = True,
    ) -> Source:
        """Create a source. Without ``disconnect_all_warehouses`` Segment connects it to every warehouse.

        The stable create body has no ``name`` (only the alpha one does, and it lacks
        ``disconnectAllWarehouses``), so a name is set with a follow-up update.
        """
        body = _without_none(
            slug=slug,
            enabled=enabled,
            metadataId=metadata_id,
            settings=_plain(settings),
            disconnectAllWarehouses=disconnect_all_warehouses,
        )
        source = self._get_one("createSource", Source, body)
        if name is not None and name != source.name:
            return self.update_source(source.id, name=name)
        return source

    def update_source(
        self,
        source_id: str,
        *,
        name: str | None = None,
        enabled: bool | None = None,
        slug: str | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> Source:
        changes = _without_none(name=name, enabled=enabled, slug=slug, settings=_plain(settings))
        if not changes:
            return self.get_source(source_id)
        return self._get_one("updateSource", Source, changes, sourceId=source_id)

    def delete_source(self, source_id: str) -> None:
        self._status("deleteSource", sourceId=source_id)

    def add_labels_to_source(self, source_id: str, labels: Sequence[Label]) -> list[Label]:
        """Add ``labels`` (each must exist in the workspace) to the source's labels; returns them all."""
        op = operation("addLabelsToSource")
        body = {
            "labels": [_without_none(key=x.key, value=x.value, description=x.description) for x in labels]
        }
        items = self._items(op, self._send(op, {"sourceId": source_id}, None, body), op.data_key)
        return [_parse(Label, item, op) for item in items]

    def list_connected_warehouses(self, source_id: str) -> list[Warehouse]:
        return self._list("listConnectedWarehousesFromSource", Warehouse, sourceId=source_id)

    # ------------------------------------------------------------------------------------------- warehouses

    def list_warehouses(self) -> list[Warehouse]:
        return self._list("listWarehouses", Warehouse)

    def get_warehouse(self, warehouse_id: str) -> Warehouse:
        return self._get_one("getWarehouse", Warehouse, warehouseId=warehouse_id)

    def create_warehouse(
        self,
        *,
        metadata_id: str,
        settings: Mapping[str, Any],
        name: str | None = None,
        enabled: bool | None = True,
        disconnect_all_sources: bool | None = True,
    ) -> Warehouse:
        """Create a warehouse. Without ``disconnect_all_sources`` Segment connects every source to it."""
        body = _without_none(
            metadataId=metadata_id,
            name=name,
            enabled=enabled,
            settings=dict(settings),
            disconnectAllSources=disconnect_all_sources,
        )
        return self._get_one("createWarehouse", Warehouse, body)

    def update_warehouse(
        self,
        warehouse_id: str,
        *,
        settings: Mapping[str, Any],
        name: str | None = None,
        enabled: bool | None = None,
    ) -> Warehouse:
        """Update a warehouse. Segment requires ``settings`` on every warehouse update."""
        body = _without_none(name=name, enabled=enabled, settings=dict(settings))
        return self._get_one("updateWarehouse", Warehouse, body, warehouseId=warehouse_id)

    def delete_warehouse(self, warehouse_id: str) -> None:
        self._status("deleteWarehouse", warehouseId=warehouse_id)

    def validate_warehouse(self, *, metadata_id: str, settings: Mapping[str, Any]) -> WarehouseValidation:
        """Ask Segment to try the connection settings before a warehouse is created."""
        op = operation("createValidationInWarehouse")
        data = self._send(op, None, None, {"metadataId": metadata_id, "settings": dict(settings)})
        return _parse(WarehouseValidation, data, op)

    def connect_source_to_warehouse(self, warehouse_id: str, source_id: str) -> str:
        """Connect a source to a warehouse; returns Segment's status (``CONNECTED`` or ``NOT_CONNECTED``)."""
        return self._status(
            "addConnectionFromSourceToWarehouse", warehouseId=warehouse_id, sourceId=source_id
        )

    def disconnect_source_from_warehouse(self, warehouse_id: str, source_id: str) -> None:
        self._status("removeSourceConnectionFromWarehouse", warehouseId=warehouse_id, sourceId=source_id)

    def list_connected_sources(self, warehouse_id: str) -> list[Source]:
        return self._list("listConnectedSourcesFromWarehouse", Source, warehouseId=warehouse_id)

    # ----------------------------------------------------------------------------------------- destinations

    def list_destinations(self) -> list[Destination]:
        return self._list("listDestinations", Destination)

    def get_destination(self, destination_id: str) -> Destination:
        return self._get_one("getDestination", Destination, destinationId=destination_id)

    def create_destination(
        self,
        *,
        source_id: str,
        metadata_id: str,
        settings: Mapping[str, Any],
        name: str | None = None,
        enabled: bool | None = False,
    ) -> Destination:
        body = _without_none(
            sourceId=source_id, metadataId=metadata_id, settings=dict(settings), name=name, enabled=enabled
        )
        return self._get_one("createDestination", Destination, body)

    def update_destination(
        self,
        destination_id: str,
        *,
        name: str | None = None,
        enabled: bool | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> Destination:
        changes = _without_none(name=name, enabled=enabled, settings=_plain(settings))
        if not changes:
            return self.get_destination(destination_id)
        return self._get_one("updateDestination", Destination, changes, destinationId=destination_id)

    def delete_destination(self, destination_id: str) -> None:
        self._status("deleteDestination", destinationId=destination_id)

    # ---------------------------------------------------------------------------- destination subscriptions

    def list_subscriptions(self, destination_id: str) -> list[DestinationSubscription]:
        return self._list(
            "listSubscriptionsFromDestination", DestinationSubscription, destinationId=destination_id
        )

    def get_subscription(self, destination_id: str, subscription_id: str) -> DestinationSubscription:
        return self._get_one(
            "getSubscriptionFromDestination",
            DestinationSubscription,
            destinationId=destination_id,
            id=subscription_id,
        )

    def create_subscription(
        self,
        destination_id: str,
        *,
        name: str,
        action_id: str,
        trigger: str,
        enabled: bool,
        settings: Mapping[str, Any] | None = None,
        model_id: str | None = None,
    ) -> DestinationSubscription:
        """Create a mapping. Segment's create body has no Reverse ETL schedule: set it with an update."""
        body = _without_none(
            name=name,
            actionId=action_id,
            trigger=trigger,
            enabled=enabled,
            settings=_plain(settings),
            modelId=model_id,
        )
        return self._get_one(
            "createDestinationSubscription", DestinationSubscription, body, destinationId=destination_id
        )

    def update_subscription(
        self,
        destination_id: str,
        subscription_id: str,
        *,
        name: str | None = None,
        trigger: str | None = None,
        enabled: bool | None = None,
        settings: Mapping[str, Any] | None = None,
        model_id: str | None = None,
        schedule: ReverseEtlSchedule | Mapping[str, Any] | None = None,
    ) -> DestinationSubscription:
        """Change a mapping. On update Segment names the model ``reverseETLModelId`` (``modelId`` on create)
        and wraps the fields in ``input``.
        """
        changes = _without_none(
            name=name,
            trigger=trigger,
            enabled=enabled,
            settings=_plain(settings),
            reverseETLModelId=model_id,
            reverseETLSchedule=_schedule_body(schedule),
        )
        if not changes:
            return self.get_subscription(destination_id, subscription_id)
        return self._get_one(
            "updateSubscriptionForDestination",
            DestinationSubscription,
            {"input": changes},
            destinationId=destination_id,
            id=subscription_id,
        )

    def delete_subscription(self, destination_id: str, subscription_id: str) -> None:
        self._status("removeSubscriptionFromDestination", destinationId=destination_id, id=subscription_id)

    # ------------------------------------------------------------------------------------------ reverse ETL

    def list_reverse_etl_models(self) -> list[ReverseEtlModel]:
        return self._list("listReverseEtlModels", ReverseEtlModel)

    def get_reverse_etl_model(self, model_id: str) -> ReverseEtlModel:
        return self._get_one("getReverseEtlModel", ReverseEtlModel, modelId=model_id)

    def create_reverse_etl_model(
        self,
        *,
        source_id: str,
        name: str,
        description: str,
        enabled: bool,
        query: str,
        query_identifier_column: str,
    ) -> ReverseEtlModel:
        body = {
            "sourceId": source_id,
            "name": name,
            "description": description,
            "enabled": enabled,
            "query": query,
            "queryIdentifierColumn": query_identifier_column,
        }
        return self._get_one("createReverseEtlModel", ReverseEtlModel, body)

    def update_reverse_etl_model(
        self,
        model_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        enabled: bool | None = None,
        query: str | None = None,
        query_identifier_column: str | None = None,
    ) -> ReverseEtlModel:
        changes = _without_none(
            name=name,
            description=description,
            enabled=enabled,
            query=query,
            queryIdentifierColumn=query_identifier_column,
        )
        if not changes:
            return self.get_reverse_etl_model(model_id)
        return self._get_one("updateReverseEtlModel", ReverseEtlModel, changes, modelId=model_id)

    def delete_reverse_etl_model(self, model_id: str) -> None:
        self._status("deleteReverseEtlModel", modelId=model_id)

    def create_manual_sync(self, *, source_id: str, model_id: str, subscription_id: str) -> ManualSync:
        body = {"sourceId": source_id, "modelId": model_id, "subscriptionId": subscription_id}
        return self._get_one("createReverseETLManualSync", ManualSync, body)

    def get_sync_status(self, model_id: str, sync_id: str) -> SyncStatus:
        return self._get_one("getReverseETLSyncStatus", SyncStatus, modelId=model_id, syncId=sync_id)

    def list_sync_statuses(self, model_id: str, subscription_id: str) -> list[SyncStatus]:
        return self._list(
            "listReverseETLSyncStatusesFromModelAndSubscriptionId",
            SyncStatus,
            page_size=MAX_TOP_LEVEL_PAGE_SIZE,
            modelId=model_id,
            subscriptionId=subscription_id,
        )

    # -------------------------------------------------------------------------------------- computed traits

    def list_computed_traits(self, space_id: str) -> list[ComputedTrait]:
        return self._list("listComputedTraits", ComputedTrait, spaceId=space_id)

    def get_computed_trait(self, space_id: str, trait_id: str) -> ComputedTrait:
        return self._get_one("getComputedTrait", ComputedTrait, spaceId=space_id, id=trait_id)

    def create_computed_trait(
        self,
        space_id: str,
        *,
        name: str,
        definition: TraitDefinition,
        enabled: bool | None = True,
        description: str | None = None,
        options: TraitOptions | None = None,
    ) -> ComputedTrait:
        """Create a computed trait. Segment accepts ``options`` only here; a definition set through the API
        can no longer be edited in the Segment app.
        """
        body = _without_none(
            name=name,
            enabled=enabled,
            description=description,
            definition=definition.to_api(),
            options=options.to_api() if options is not None else None,
        )
        return self._get_one("createComputedTrait", ComputedTrait, body, spaceId=space_id)

    def update_computed_trait(
        self,
        space_id: str,
        trait_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        enabled: bool | None = None,
        definition: TraitDefinition | None = None,
    ) -> ComputedTrait:
        changes = _without_none(
            name=name,
            description=description,
            enabled=enabled,
            definition=definition.to_api() if definition is not None else None,
        )
        if not changes:
            return self.get_computed_trait(space_id, trait_id)
        return self._get_one(
            "updateComputedTraitForSpace", ComputedTrait, changes, spaceId=space_id, id=trait_id
        )

    def delete_computed_trait(self, space_id: str, trait_id: str) -> None:
        self._status("removeComputedTraitFromSpace", spaceId=space_id, id=trait_id)


# ------------------------------------------------------------------------------------------------- helpers


def _page_query(op: Operation, page_size: int, cursor: str | None) -> dict[str, Any]:
    # Segment's SDKs disagree on how to encode the pagination object; the bracket form is what the Go and
    # TypeScript SDKs send. The Reverse ETL sync list takes plain top-level count/cursor instead.
    if op.pagination == "top-level":
        query: dict[str, Any] = {"count": min(page_size, MAX_TOP_LEVEL_PAGE_SIZE)}
        if cursor is not None:
            query["cursor"] = cursor
        return query
    query = {"pagination[count]": page_size}
    if cursor is not None:
        query["pagination[cursor]"] = cursor
    return query


def _next_cursor(data: Any) -> str | None:
    pagination = data.get("pagination") if isinstance(data, Mapping) else None
    if not isinstance(pagination, Mapping):
        return None
    cursor = pagination.get("next")
    return str(cursor) if cursor else None


def _data(op: Operation, answer: Answer) -> Any:
    body = decode_json(answer, op.operation_id)
    return body.get("data") if isinstance(body, Mapping) else body


def _unusable(op: Operation, error: ResponseRefusedError) -> ApiError:
    """A successful answer to a POST that could not be read may still have created the object: the caller must
    look it up by its natural key rather than create it again."""
    if not op.safe_to_resend and error.status is not None and 200 <= error.status < 300:
        return OutcomeUnknownError(
            f"{error} {OutcomeUnknownError.default_advice}", operation=op.operation_id, status=error.status
        )
    return error


def _field(op: Operation, data: Any, *, required: bool = True) -> Any:
    value = data.get(op.data_key) if isinstance(data, Mapping) else None
    if value is None and required:
        raise ServerError(
            f"Segment's answer to {op.operation_id} has no '{op.data_key}'. Try again later; if it persists, "
            "the API may have changed.",
            operation=op.operation_id,
        )
    return value


def _parse(model: type[ModelT], data: Any, op: Operation) -> ModelT:
    try:
        return model.from_api(data)
    except pydantic.ValidationError as error:
        # Only locations and messages: the input values may hold secrets such as write keys.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in error.errors(include_input=False, include_url=False)[:5]
        )
        raise ServerError(
            f"Segment's answer to {op.operation_id} does not match the {model.__name__} shape ({problems}).",
            operation=op.operation_id,
        ) from None


def _without_none(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if value is not None}


def _plain(mapping: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return dict(mapping) if mapping is not None else None


def _schedule_body(schedule: ReverseEtlSchedule | Mapping[str, Any] | None) -> dict[str, Any] | None:
    if schedule is None:
        return None
    if isinstance(schedule, ReverseEtlSchedule):
        model = schedule
    else:
        model = ReverseEtlSchedule.model_validate(schedule)
    body: dict[str, Any] = {"strategy": model.strategy}
    # MANUAL has no config; Segment stores it as null.
    body["config"] = model.config
    return body


def _unique_names(items: Iterator[dict[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for item in items:
        name = item.get("name")
        if isinstance(name, str):
            names.setdefault(name, None)
    return list(names)


__all__ = [
    "BASE_URLS",
    "USER_AGENT",
    "ClientSettings",
    "SegmentClient",
    "endpoint_problem",
    "jitter",
]
