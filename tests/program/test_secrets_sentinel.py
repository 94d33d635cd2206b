"""Secrets sentinel: every secret gets a unique marker value, and the marker must not show anywhere it should not.

The program runs through the engine stand-in against an emulator whose token is a sentinel too: preview, an up
that Segment fails (its error echoes the credentials back, as some APIs do), the up that finishes the job, an up
with nothing to do, refresh, a run whose first Segment answer echoes the token, and destroy. After each, the
scanner looks at

* the pickled providers (``__provider`` of every resource in the state and of every registration),
* the state as a state file stores it (secret values are ciphertext there) and the non-secret stack outputs,
* every log line: Python logging in this process (the engine's log messages arrive there under mocks), the
  provider server's stderr, and what the test process printed,
* the text of every exception the runs raised,
* the emulator's request log: nothing but the Authorization header and the request-body fields Segment must
  receive (warehouse and Reverse ETL credentials in ``settings``, the Profiles write key in ``engage_space``)
  may carry a sentinel.

The secrets: the Segment token, warehouse credentials (a Snowflake private key and its passphrase, or a Postgres
password), the Reverse ETL credentials, the Profile API token, ``engageSpaceWriteKey``, the seeded write key of
each space's Profiles source (planted in the emulator) and the write keys the emulator hands out to the sources
the program creates. A self-check proves the scanner finds a sentinel placed where it must not be.
"""

from __future__ import annotations

import base64
import json
import logging
import pickle
import secrets as random_secrets
import traceback
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest

from flex_tools.demo import stack_config
from segment_emulator import Emulator
from segment_emulator.seeds import PERSONAS_METADATA_ID
from tests.contract.recorder import session_recorder
from tests.harness import (
    PROVIDER_KEY,
    DeploymentFailed,
    ProgramEngine,
    ProviderError,
    ProviderServer,
    decode_provider_blob,
)

REPO = Path(__file__).resolve().parents[2]
MAIN = REPO / "__main__.py"
NS = "flex-unified-profiles"

WAREHOUSE_WRITES = frozenset({"createWarehouse", "updateWarehouse", "createValidationInWarehouse"})
SOURCE_WRITES = frozenset({"createSource", "updateSource"})
MAPPING_WRITES = frozenset({"createDestinationSubscription", "updateSubscriptionForDestination"})


def sentinel(name: str) -> str:
    return f"SENTINEL{name.upper().replace('-', '')}{random_secrets.token_hex(6)}"


def pem(body: str) -> str:
    return f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n"


@dataclass(frozen=True)
class Secret:
    """One secret: its sentinel, and where Segment must receive it (operation ids and the body field name)."""

    name: str
    value: str
    operations: frozenset[str] = frozenset()
    body_field: str | None = None

    def may_be_sent(self, operation: str | None, path: tuple[str, ...]) -> bool:
        return operation in self.operations and bool(path) and path[-1] == self.body_field


@dataclass
class Scenario:
    """A warehouse type with its credential fields; with or without engageSpaceWriteKey in the config."""

    warehouse: dict[str, Any]
    reverse_etl_settings: dict[str, Any]
    credential_fields: tuple[str, ...]
    engage_key_in_config: bool
    secrets: dict[str, Secret] = field(default_factory=dict)

    def __post_init__(self) -> None:
        def add(secret: Secret) -> None:
            self.secrets[secret.name] = secret

        for credential in self.credential_fields:
            add(Secret(f"warehouse {credential}", sentinel(f"wh{credential}"), WAREHOUSE_WRITES, credential))
            add(Secret(f"reverse etl {credential}", sentinel(f"retl{credential}"), SOURCE_WRITES, credential))
        add(Secret("profile api token", sentinel("profileapi")))
        # The write key the mapping sends: engageSpaceWriteKey when set, else the one discovered in Segment.
        if self.engage_key_in_config:
            add(Secret("engageSpaceWriteKey", sentinel("engagekey"), MAPPING_WRITES, "engage_space"))
        discovered_sent = frozenset() if self.engage_key_in_config else MAPPING_WRITES
        add(Secret("seeded profiles write key (dev)", sentinel("seededdev"), discovered_sent, "engage_space"))
        add(Secret("seeded profiles write key (prod)", sentinel("seededprod")))

    def credentials(self, prefix: str) -> dict[str, str]:
        values = {field: self.secrets[f"{prefix} {field}"].value for field in self.credential_fields}
        return {k: pem(v) if k == "private_key" else v for k, v in values.items()}

    def config(self, url: str, token: str) -> tuple[dict[str, str], set[str]]:
        config = stack_config(url, "dev", token)
        config[f"{NS}:warehouse"] = json.dumps(self.warehouse)
        config[f"{NS}:reverseEtl"] = json.dumps(
            {**json.loads(config[f"{NS}:reverseEtl"]), "settings": self.reverse_etl_settings}
        )
        secret_config = {
            "segment:token": token,
            f"{NS}:warehouseCredentials": json.dumps(self.credentials("warehouse")),
            f"{NS}:reverseEtlCredentials": json.dumps(self.credentials("reverse etl")),
            f"{NS}:profileApiToken": self.secrets["profile api token"].value,
        }
        if self.engage_key_in_config:
            secret_config[f"{NS}:engageSpaceWriteKey"] = self.secrets["engageSpaceWriteKey"].value
        config.update(secret_config)
        return config, set(secret_config)


def snowflake_scenario() -> Scenario:
    settings = {"account": "myorg-myaccount", "database": "SEGMENT_EVENTS", "warehouse": "SEGMENT_WAREHOUSE"}
    return Scenario(
        warehouse={
            "type": "snowflake",
            "name": "Flex Dev Snowflake",
            "settings": {**settings, "username": "SEGMENT_USER"},
        },
        reverse_etl_settings={
            **settings,
            "database": "SEGMENT_REVERSE_ETL",
            "username": "SEGMENT_REVERSE_ETL_USER",
        },
        credential_fields=("private_key", "private_key_passphrase"),
        engage_key_in_config=True,
    )


def postgres_scenario() -> Scenario:
    settings = {"hostname": "db.example.com", "port": 5432, "database": "segment", "username": "segment"}
    return Scenario(
        warehouse={"type": "postgres", "name": "Flex Dev Postgres", "settings": settings},
        reverse_etl_settings={**settings, "username": "segment_retl"},
        credential_fields=("password",),
        engage_key_in_config=False,
    )


# ----------------------------------------------------------------------------- the scanner


@dataclass(frozen=True)
class Leak:
    secret: str
    where: str

    def __str__(self) -> str:
        return f"{self.secret} in {self.where}"


class LeakScanner:
    """Collects every place a sentinel shows up where it must not."""

    def __init__(self, secrets: Iterable[Secret]) -> None:
        self.secrets = list(secrets)
        self.leaks: list[Leak] = []

    def text(self, where: str, text: str) -> None:
        for secret in self.secrets:
            if secret.value in text:
                self.leaks.append(Leak(secret.name, where))

    def provider_blobs(self, where: str, resources: Iterable[tuple[str, Mapping[str, Any]]]) -> int:
        """Decode the ``__provider`` of each (name, properties); returns how many blobs were decoded."""
        texts = provider_blob_texts(where, resources)
        for blob_where, text in texts:
            self.text(blob_where, text)
        return len(texts)

    def request(self, index: int, request: Any) -> None:
        """A request the emulator received: only Authorization and the fields Segment must receive may hold one."""
        where = f"request #{index} {request.method} {request.operation_id or request.path}"
        self.text(f"{where}: path", request.path)
        self.text(f"{where}: query", json.dumps(request.query))
        for header, value in request.headers.items():
            if header.lower() == "authorization":
                continue
            self.text(f"{where}: header {header}", value)
        for path, value in leaves(request.body):
            for secret in self.secrets:
                if secret.value in value and not secret.may_be_sent(request.operation_id, path):
                    self.leaks.append(Leak(secret.name, f"{where}: body {'.'.join(path) or '(whole)'}"))


def provider_blob_texts(
    where: str, resources: Iterable[tuple[str, Mapping[str, Any]]]
) -> list[tuple[str, str]]:
    """The decoded pickles of the ``__provider`` of each (name, properties), as text to scan."""
    return [
        (
            f"{where}: pickled provider of {name}",
            decode_provider_blob(properties[PROVIDER_KEY]).decode("latin-1"),
        )
        for name, properties in resources
        if PROVIDER_KEY in properties
    ]


def leaves(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """(path, text) of every string in a JSON value; keys count as text too."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield (*path, str(key)), str(key)
            yield from leaves(item, (*path, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from leaves(item, (*path, str(index)))
    elif value is not None:
        yield path, value if isinstance(value, str) else json.dumps(value)


def exception_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(error)) + "\n" + repr(error)


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def server() -> Iterator[ProviderServer]:
    with ProviderServer(cwd=REPO) as running:
        yield running


@pytest.fixture(scope="module")
def sentinel_emulator() -> Iterator[Emulator]:
    """An emulator of its own, because the Segment token it accepts must be a sentinel too."""
    token = sentinel("emulatortoken")
    with Emulator(
        token=token, time_scale=0.01, default_rate_limit=10_000, on_exchange=session_recorder().record
    ) as emulator:
        yield emulator


@pytest.fixture
def provider_errors(server: ProviderServer, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The full text of every provider failure: the traceback the provider server sends, which the Pulumi CLI
    prints in full (the harness keeps only its last line in ``DeploymentFailed``)."""
    details: list[str] = []
    call = server.call

    def recording_call(method: str, request: Any, *, urn: str = "") -> Any:
        try:
            return call(method, request, urn=urn)
        except ProviderError as error:
            details.append(error.details)
            raise

    monkeypatch.setattr(server, "call", recording_call)
    return details


def plant_seeded_write_keys(emulator: Emulator, scenario: Scenario) -> None:
    """Give each space's Profiles source (the seeded personas-compute source) a sentinel write key."""
    keys = {
        "personas_unified-profiles-dev": scenario.secrets["seeded profiles write key (dev)"].value,
        "personas_unified-profiles-prod": scenario.secrets["seeded profiles write key (prod)"].value,
    }
    with emulator.store_lock:
        for source in emulator.store.sources.values():
            if source["metadataId"] == PERSONAS_METADATA_ID:
                source["writeKeys"] = [keys[source["slug"]]]


def handed_out_write_keys(emulator: Emulator, planted: set[str]) -> dict[str, Secret]:
    """Write keys the emulator gave the sources the program created, by source slug."""
    with emulator.store_lock:
        return {
            source["slug"]: Secret(f"write key of source {source['slug']}", key)
            for source in emulator.store.sources.values()
            for key in source["writeKeys"]
            if key not in planted
        }


# ----------------------------------------------------------------------------- the test


class Run:
    """One scenario's runs. What may hold a secret is kept as text and scanned at the end, once the write keys
    Segment hands out are known too."""

    def __init__(self, scenario: Scenario, server: ProviderServer, emulator: Emulator) -> None:
        self.scenario = scenario
        self.secrets = {**scenario.secrets, "segment token": Secret("segment token", emulator.token)}
        config, secret_keys = scenario.config(emulator.url, emulator.token)
        self.engine = ProgramEngine(server, stack="dev", config=config, secret_keys=secret_keys)
        self.artifacts: list[tuple[str, str]] = []
        self.errors: list[BaseException] = []
        self.blobs_decoded = 0

    def after(self, step: str) -> None:
        state = self.engine.state
        blobs = provider_blob_texts(
            f"state after {step}", ((record.name, record.outputs) for record in state)
        )
        blobs += provider_blob_texts(
            f"registrations of {step}", ((r.name, r.inputs) for r in self.engine.registrations)
        )
        self.blobs_decoded += len(blobs)
        self.artifacts.extend(blobs)
        self.artifacts.append((f"state file after {step}", json.dumps(state.plaintext_view(), default=str)))
        plain_outputs = {k: v for k, v in state.outputs.items() if k not in state.secret_outputs}
        self.artifacts.append((f"plain stack outputs after {step}", json.dumps(plain_outputs, default=str)))

    def expect_failure(self, step: str, action: Any) -> None:
        with pytest.raises((DeploymentFailed, pulumi.RunError)) as raised:
            action()
        self.errors.append(raised.value)
        self.artifacts.append((f"exception of {step}", exception_text(raised.value)))
        if isinstance(raised.value, DeploymentFailed):
            for failure in raised.value.failures:
                self.artifacts.append((f"failure message of {step} ({failure.name})", failure.message))
        self.after(step)


@pytest.mark.parametrize(
    "make_scenario",
    [snowflake_scenario, postgres_scenario],
    ids=["snowflake key pair, engageSpaceWriteKey set", "postgres password, write key discovered"],
)
def test_no_secret_leaks_through_a_whole_lifecycle(
    make_scenario: Any,
    server: ProviderServer,
    sentinel_emulator: Emulator,
    provider_errors: list[str],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    scenario = make_scenario()
    emulator = sentinel_emulator
    emulator.reset(seed_flex_events=True)
    plant_seeded_write_keys(emulator, scenario)
    stderr_before = len(server.stderr)
    run = Run(scenario, server, emulator)
    engine = run.engine

    engine.preview(MAIN)
    run.after("preview")

    # Segment refuses the warehouse and echoes the credentials it was sent in its error message.
    echoed = ", ".join(scenario.credentials("warehouse").values())
    emulator.add_fault(
        "status",
        operation="createWarehouse",
        status=422,
        body={
            "errors": [
                {
                    "type": "input-validation",
                    "message": f"settings are invalid: {echoed}",
                    "field": "settings",
                }
            ]
        },
    )
    run.expect_failure("up refused by Segment", lambda: engine.up(MAIN))

    first = engine.up(MAIN)
    run.after("up")
    assert first.failures == [] and "send-identify" in engine.state
    handed_out = handed_out_write_keys(emulator, {secret.value for secret in run.secrets.values()})
    assert set(handed_out) == {"flex_dev_salesforce", "flex_dev_reverse_etl"}
    assert engine.up(MAIN).changes == {}
    run.after("second up")
    engine.refresh()
    run.after("refresh")

    # A Segment answer that quotes the token back must not put it into the error either.
    emulator.add_fault(
        "status",
        operation="listSpaces",
        status=401,
        body={"errors": [{"type": "unauthorized", "message": f"token {emulator.token} is revoked"}]},
    )
    run.expect_failure("up with the token refused", lambda: engine.up(MAIN))

    engine.destroy()
    run.after("destroy")
    assert len(engine.state) == 0

    scanner = LeakScanner([*run.secrets.values(), *handed_out.values()])
    for where, text in run.artifacts:
        scanner.text(where, text)
    scanner.text("python logging", caplog.text)
    for details in provider_errors:
        scanner.text("provider error (full traceback)", details)
    scanner.text("provider server stderr", server.stderr[stderr_before:])
    captured = capfd.readouterr()
    scanner.text("test process stdout/stderr", captured.out + captured.err)
    for index, request in enumerate(emulator.requests):
        scanner.request(index, request)

    assert [str(leak) for leak in scanner.leaks] == []

    # The sentinels really travelled: otherwise the checks above would prove nothing.
    assert run.blobs_decoded > 0
    received = [r for r in emulator.requests if r.headers.get("Authorization") == f"Bearer {emulator.token}"]
    assert received and len(received) == len(emulator.requests), "every request carries the sentinel token"
    bodies = json.dumps(
        [r.body for r in emulator.requests if r.operation_id in WAREHOUSE_WRITES | SOURCE_WRITES]
    )
    for name, secret in run.secrets.items():
        if secret.operations & (WAREHOUSE_WRITES | SOURCE_WRITES):
            assert secret.value in bodies, f"{name} never reached Segment"
    engage = (
        scenario.secrets.get("engageSpaceWriteKey") or scenario.secrets["seeded profiles write key (dev)"]
    )
    mapping_bodies = json.dumps([r.body for r in emulator.requests if r.operation_id in MAPPING_WRITES])
    assert engage.value in mapping_bodies, "the mapping never received the Profiles write key"
    assert engine.state.outputs == {} and len(run.errors) == 2
    assert any("createWarehouse" in details for details in provider_errors), "the refused create was not seen"
    assert any(r.name == "segment_provider.api" for r in caplog.records), "the program's log was not captured"


# ----------------------------------------------------------------------------- the scanner can fail


def test_the_scanner_finds_a_sentinel_wherever_it_is_placed() -> None:
    secret = Secret("warehouse private_key", sentinel("selfcheck"), WAREHOUSE_WRITES, "private_key")
    scanner = LeakScanner([secret])

    class CapturingProvider:
        def __init__(self) -> None:
            self.credentials = {"private_key": secret.value}

    blob = base64.b64encode(pickle.dumps(CapturingProvider().__dict__)).decode()
    assert scanner.provider_blobs("blob", [("warehouse", {PROVIDER_KEY: blob})]) == 1
    scanner.text("log", f"INFO create warehouse with {secret.value}")

    @dataclass
    class FakeRequest:
        method: str
        path: str
        operation_id: str
        body: Any
        query: dict[str, list[str]] = field(default_factory=dict)
        headers: dict[str, str] = field(default_factory=dict)

    allowed = FakeRequest(
        "POST", "/warehouses", "createWarehouse", {"settings": {"private_key": secret.value}}
    )
    wrong_field = FakeRequest("POST", "/warehouses", "createWarehouse", {"name": secret.value})
    wrong_operation = FakeRequest(
        "POST", "/sources", "createSource", {"settings": {"private_key": secret.value}}
    )
    in_header = FakeRequest("GET", "/", "getWorkspace", None, headers={"X-Debug": secret.value})
    for index, request in enumerate([allowed, wrong_field, wrong_operation, in_header]):
        scanner.request(index, request)

    assert [leak.where for leak in scanner.leaks] == [
        "blob: pickled provider of warehouse",
        "log",
        "request #1 POST createWarehouse: body name",
        "request #2 POST createSource: body settings.private_key",
        "request #3 GET getWorkspace: header X-Debug",
    ]
