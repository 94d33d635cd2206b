"""SegmentSnowflake under Pulumi mocks: the exact objects, grants, options and outputs it registers."""

from __future__ import annotations

import base64
import dataclasses
import ipaddress
import random
from collections.abc import Callable
from typing import Any

import pulumi
import pydantic
import pytest
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

from flex_program.snowflake import (
    COMPONENT_TYPE,
    SEGMENT_IP_ALLOWLIST,
    SegmentSnowflake,
    SnowflakeAdmin,
    SnowflakeSpec,
    build_admin_provider,
)

WAREHOUSE = "snowflake:index/warehouse:Warehouse"
DATABASE = "snowflake:index/database:Database"
ROLE = "snowflake:index/accountRole:AccountRole"
SERVICE_USER = "snowflake:index/serviceUser:ServiceUser"
GRANT = "snowflake:index/grantPrivilegesToAccountRole:GrantPrivilegesToAccountRole"
ROLE_GRANT = "snowflake:index/grantAccountRole:GrantAccountRole"
PROVIDER = "pulumi:providers:snowflake"

# A real key printed by `openssl genrsa 2048 | openssl rsa -pubout` (public, so safe to keep in a test).
OPENSSL_PUBLIC_KEY_PEM = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA2qgjvyd/Y5CBXdjwT6/r
UTSTtQS0MuD3OXOPEyARwEzWXY8yUDNWNxfMWOX2GwatxaqbDiWjFNg1LHCj8e4x
qTvTY6SeYwg9B7570tjPpqn6UCf/HQC1TssBK3q3QuK058HlPqRUJ+p+qBermGlY
3flRR6uG1beHoH6J/cnPMg3J2P+eC2UGKjRcDbSZRx1CVCDP3kdUzFoN9fM5X0Mb
eqsmc7blF/PhMqYm76lT5gZSRRkuk2UTMREyhKDkEhr4TKnFww2Gy9Wt3G07YvBU
6Bc8r6zLeTXVMTsHfmKbQytjN4/a55OzfED4LHjs196VbYbmei2SEvF2bVG4fHlH
8wIDAQAB
-----END PUBLIC KEY-----
"""
RSA_OID = bytes.fromhex("2a864886f70d010101")


# ----------------------------------------------------------------------------- key material


def _der(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    size = (length.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + length.to_bytes(size, "big") + content


def _der_integer(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def rsa_public_key_body(bits: int, seed: int, algorithm_oid: bytes = RSA_OID) -> str:
    """Base64 SubjectPublicKeyInfo of an RSA key with a random odd modulus of exactly ``bits`` bits."""
    modulus = random.Random(seed).getrandbits(bits) | (1 << (bits - 1)) | 1
    rsa_key = _der(0x30, _der_integer(modulus) + _der_integer(65537))
    algorithm = _der(0x30, _der(0x06, algorithm_oid) + _der(0x05, b""))
    spki = _der(0x30, algorithm + _der(0x03, b"\x00" + rsa_key))
    return base64.b64encode(spki).decode()


def as_pem(body: str, label: str = "PUBLIC KEY", newline: str = "\n") -> str:
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return newline.join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""])


DESTINATION_KEY = rsa_public_key_body(2048, seed=1)
RETL_KEY = rsa_public_key_body(2048, seed=2)


def make_spec(**overrides: Any) -> SnowflakeSpec:
    values: dict[str, Any] = {
        "account": "myorg-myaccount",
        "destination_public_key": DESTINATION_KEY,
        "retl_public_key": RETL_KEY,
    }
    return SnowflakeSpec(**{**values, **overrides})


# ----------------------------------------------------------------------------- mocks harness


@dataclasses.dataclass
class Registration:
    type: str
    name: str
    urn: str
    inputs: dict[str, Any]
    protect: bool | None
    provider: str
    parent: str


class EchoMocks(pulumi.runtime.Mocks):
    """Every resource's state is its inputs (what the real providers report for these objects)."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        return {}, None


class RecordingMonitor(MockMonitor):
    """Keeps each raw RegisterResource request: protect, provider and parent are not in MockResourceArgs."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registrations.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    urn=self.make_urn(request.parent, request.type, request.name),
                    inputs=rpc.deserialize_properties(request.object),
                    protect=request.protect if request.HasField("protect") else None,
                    provider=request.provider,
                    parent=request.parent,
                )
            )
        return response


OUTPUT_NAMES = (
    "account",
    "events_database",
    "retl_database",
    "load_warehouse",
    "retl_warehouse",
    "destination_user",
    "retl_user",
    "destination_role",
    "retl_role",
)


@dataclasses.dataclass
class Deployment:
    registrations: list[Registration]
    outputs: dict[str, Any]
    output_dependencies: dict[str, set[str]]

    def snowflake_children(self) -> list[Registration]:
        return [r for r in self.registrations if r.type.startswith("snowflake:")]

    def by_name(self, name: str) -> Registration:
        (match,) = [r for r in self.registrations if r.name == name]
        return match

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]


def deploy(
    spec: SnowflakeSpec, opts: Callable[[], pulumi.ResourceOptions | None] = lambda: None
) -> Deployment:
    """Run a program holding one SegmentSnowflake named "sf" under fresh mocks; collect what it registered."""
    mocks = EchoMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(
        mocks, project="flex-unified-profiles", stack="test", preview=False, monitor=monitor
    )
    outputs: dict[str, Any] = {}
    dependencies: dict[str, set[str]] = {}

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        component = SegmentSnowflake("sf", spec, opts=opts())

        def collect(values: list[Any]) -> None:
            outputs.update(zip(OUTPUT_NAMES, values, strict=True))

        async def dependency_names() -> dict[str, set[str]]:
            for output_name in OUTPUT_NAMES:
                resources = await getattr(component, output_name).resources()
                dependencies[output_name] = {resource._name for resource in resources}
            return dependencies

        collected = pulumi.Output.all(*(getattr(component, n) for n in OUTPUT_NAMES)).apply(collect)
        dependencies_known: pulumi.Output[dict[str, set[str]]] = pulumi.Output.from_input(dependency_names())
        return pulumi.Output.all(collected, dependencies_known)

    program()
    return Deployment(list(monitor.registrations), outputs, dependencies)


def grant_target(inputs: dict[str, Any]) -> tuple[str, ...]:
    """A grant's target as a flat tuple, e.g. ("ACCOUNT OBJECT", "DATABASE", "SEGMENT_EVENTS")."""
    if "onAccountObject" in inputs:
        target = inputs["onAccountObject"]
        return ("ACCOUNT OBJECT", target["objectType"], target["objectName"])
    if "onSchema" in inputs:
        ((scope, database),) = inputs["onSchema"].items()
        return ("SCHEMAS", scope, database)
    ((scope, objects),) = inputs["onSchemaObject"].items()
    return ("SCHEMA OBJECTS", scope, objects["objectTypePlural"], objects["inDatabase"])


# ----------------------------------------------------------------------------- resource set


EXPECTED_DEFAULT_RESOURCES = {
    (COMPONENT_TYPE, "sf"),
    (WAREHOUSE, "sf-load-warehouse"),
    (WAREHOUSE, "sf-retl-warehouse"),
    (DATABASE, "sf-events-database"),
    (DATABASE, "sf-retl-database"),
    (ROLE, "sf-destination-role"),
    (ROLE, "sf-retl-role"),
    (SERVICE_USER, "sf-destination-user"),
    (SERVICE_USER, "sf-retl-user"),
    (GRANT, "sf-destination-warehouse-usage"),
    (GRANT, "sf-destination-database-access"),
    (ROLE_GRANT, "sf-destination-role-to-user"),
    (GRANT, "sf-retl-warehouse-usage"),
    (GRANT, "sf-retl-database-access"),
    (ROLE_GRANT, "sf-retl-role-to-user"),
    (GRANT, "sf-retl-read-events-database"),
    (GRANT, "sf-retl-read-events-all-schemas"),
    (GRANT, "sf-retl-read-events-future-schemas"),
    (GRANT, "sf-retl-read-events-all-tables"),
    (GRANT, "sf-retl-read-events-future-tables"),
}


def test_default_spec_registers_exactly_the_documented_objects() -> None:
    deployment = deploy(make_spec())

    registered = [(r.type, r.name) for r in deployment.registrations]
    assert len(registered) == len(set(registered))
    assert set(registered) == EXPECTED_DEFAULT_RESOURCES
    object_names = {r.name: r.inputs["name"] for r in deployment.registrations if "name" in r.inputs}
    assert object_names == {
        "sf-load-warehouse": "SEGMENT_WAREHOUSE",
        "sf-retl-warehouse": "SEGMENT_REVERSE_ETL",
        "sf-events-database": "SEGMENT_EVENTS",
        "sf-retl-database": "SEGMENT_REVERSE_ETL",
        "sf-destination-role": "SEGMENT",
        "sf-retl-role": "SEGMENT_REVERSE_ETL",
        "sf-destination-user": "SEGMENT_USER",
        "sf-retl-user": "SEGMENT_REVERSE_ETL_USER",
    }


def test_every_snowflake_object_is_a_child_of_the_component() -> None:
    deployment = deploy(make_spec())

    (component,) = deployment.of_type(COMPONENT_TYPE)
    assert {r.parent for r in deployment.snowflake_children()} == {component.urn}


def test_warehouses_follow_segments_recommended_settings() -> None:
    deployment = deploy(make_spec())

    for warehouse in deployment.of_type(WAREHOUSE):
        assert warehouse.inputs["warehouseSize"] == "XSMALL"
        assert warehouse.inputs["warehouseType"] == "STANDARD"
        assert warehouse.inputs["autoSuspend"] == 600
        assert warehouse.inputs["autoResume"] == "true"
        assert warehouse.inputs["initiallySuspended"] is True


def test_warehouse_size_and_auto_suspend_come_from_the_spec() -> None:
    deployment = deploy(make_spec(warehouse_size="x-small", auto_suspend_seconds=300))

    sizes = {w.inputs["warehouseSize"] for w in deployment.of_type(WAREHOUSE)}
    suspends = {w.inputs["autoSuspend"] for w in deployment.of_type(WAREHOUSE)}
    assert (sizes, suspends) == ({"XSMALL"}, {300})
    assert deploy(make_spec(warehouse_size="2X-Large")).by_name("sf-load-warehouse").inputs[
        "warehouseSize"
    ] == ("XXLARGE")


# ----------------------------------------------------------------------------- grants


def test_grants_give_each_role_exactly_the_documented_privileges() -> None:
    deployment = deploy(make_spec())

    grants = {
        r.name: (r.inputs["accountRoleName"], tuple(r.inputs["privileges"]), grant_target(r.inputs))
        for r in deployment.of_type(GRANT)
    }
    assert grants == {
        "sf-destination-warehouse-usage": (
            "SEGMENT",
            ("USAGE",),
            ("ACCOUNT OBJECT", "WAREHOUSE", "SEGMENT_WAREHOUSE"),
        ),
        "sf-destination-database-access": (
            "SEGMENT",
            ("USAGE", "CREATE SCHEMA"),
            ("ACCOUNT OBJECT", "DATABASE", "SEGMENT_EVENTS"),
        ),
        "sf-retl-warehouse-usage": (
            "SEGMENT_REVERSE_ETL",
            ("USAGE",),
            ("ACCOUNT OBJECT", "WAREHOUSE", "SEGMENT_REVERSE_ETL"),
        ),
        "sf-retl-database-access": (
            "SEGMENT_REVERSE_ETL",
            ("USAGE", "CREATE SCHEMA"),
            ("ACCOUNT OBJECT", "DATABASE", "SEGMENT_REVERSE_ETL"),
        ),
        "sf-retl-read-events-database": (
            "SEGMENT_REVERSE_ETL",
            ("USAGE",),
            ("ACCOUNT OBJECT", "DATABASE", "SEGMENT_EVENTS"),
        ),
        "sf-retl-read-events-all-schemas": (
            "SEGMENT_REVERSE_ETL",
            ("USAGE",),
            ("SCHEMAS", "allSchemasInDatabase", "SEGMENT_EVENTS"),
        ),
        "sf-retl-read-events-future-schemas": (
            "SEGMENT_REVERSE_ETL",
            ("USAGE",),
            ("SCHEMAS", "futureSchemasInDatabase", "SEGMENT_EVENTS"),
        ),
        "sf-retl-read-events-all-tables": (
            "SEGMENT_REVERSE_ETL",
            ("SELECT",),
            ("SCHEMA OBJECTS", "all", "TABLES", "SEGMENT_EVENTS"),
        ),
        "sf-retl-read-events-future-tables": (
            "SEGMENT_REVERSE_ETL",
            ("SELECT",),
            ("SCHEMA OBJECTS", "future", "TABLES", "SEGMENT_EVENTS"),
        ),
    }


def test_grants_never_use_always_apply_so_previews_stay_clean() -> None:
    deployment = deploy(make_spec())

    assert not any(g.inputs.get("alwaysApply") for g in deployment.of_type(GRANT))
    assert not any(g.inputs.get("allPrivileges") for g in deployment.of_type(GRANT))


def test_each_role_is_granted_to_its_own_user() -> None:
    deployment = deploy(make_spec())

    role_grants = {(r.inputs["roleName"], r.inputs.get("userName")) for r in deployment.of_type(ROLE_GRANT)}
    assert role_grants == {("SEGMENT", "SEGMENT_USER"), ("SEGMENT_REVERSE_ETL", "SEGMENT_REVERSE_ETL_USER")}


# ----------------------------------------------------------------------------- users and keys


def test_users_are_key_pair_service_users_without_password() -> None:
    deployment = deploy(make_spec())

    users = {r.name: r.inputs for r in deployment.of_type(SERVICE_USER)}
    assert set(users) == {"sf-destination-user", "sf-retl-user"}
    assert users["sf-destination-user"]["rsaPublicKey"] == DESTINATION_KEY
    assert users["sf-retl-user"]["rsaPublicKey"] == RETL_KEY
    assert (
        users["sf-destination-user"]["defaultRole"],
        users["sf-destination-user"]["defaultWarehouse"],
    ) == (
        "SEGMENT",
        "SEGMENT_WAREHOUSE",
    )
    assert (users["sf-retl-user"]["defaultRole"], users["sf-retl-user"]["defaultWarehouse"]) == (
        "SEGMENT_REVERSE_ETL",
        "SEGMENT_REVERSE_ETL",
    )
    for inputs in users.values():
        assert not [key for key in inputs if "password" in key.lower()]
    assert not deployment.of_type("snowflake:index/user:User")
    assert not deployment.of_type("snowflake:index/legacyServiceUser:LegacyServiceUser")


@pytest.mark.parametrize(
    "pasted",
    [
        pytest.param(as_pem(DESTINATION_KEY), id="pem"),
        pytest.param(as_pem(DESTINATION_KEY, newline="\r\n"), id="pem-crlf"),
        pytest.param("  \n" + as_pem(DESTINATION_KEY).replace("\n", "\n   ") + "\n\n", id="pem-indented"),
        pytest.param(" ".join(as_pem(DESTINATION_KEY).splitlines()[1:-1]), id="body-with-spaces"),
    ],
)
def test_pasted_public_keys_become_one_line_without_pem_armor(pasted: str) -> None:
    deployment = deploy(make_spec(destination_public_key=pasted))

    assert deployment.by_name("sf-destination-user").inputs["rsaPublicKey"] == DESTINATION_KEY


def test_a_real_openssl_public_key_is_accepted() -> None:
    spec = make_spec(retl_public_key=OPENSSL_PUBLIC_KEY_PEM)

    assert spec.retl_public_key == "".join(OPENSSL_PUBLIC_KEY_PEM.splitlines()[1:-1])
    assert "\n" not in spec.retl_public_key


# ----------------------------------------------------------------------------- names


def test_custom_names_are_upper_cased_everywhere() -> None:
    spec = make_spec(
        load_warehouse="flex_load",
        retl_warehouse="flex_retl_wh",
        events_database="flex_events",
        retl_database="flex_retl",
        destination_role="flex_loader",
        retl_role="flex_reader",
        destination_user="flex_loader_user",
        retl_user="flex_reader_user",
    )
    deployment = deploy(spec)

    assert deployment.by_name("sf-load-warehouse").inputs["name"] == "FLEX_LOAD"
    assert deployment.by_name("sf-retl-database").inputs["name"] == "FLEX_RETL"
    assert deployment.by_name("sf-retl-user").inputs["defaultRole"] == "FLEX_READER"
    assert deployment.by_name("sf-retl-read-events-future-tables").inputs["onSchemaObject"]["future"][
        "inDatabase"
    ] == ("FLEX_EVENTS")
    assert deployment.outputs == {
        "account": "myorg-myaccount",
        "events_database": "FLEX_EVENTS",
        "retl_database": "FLEX_RETL",
        "load_warehouse": "FLEX_LOAD",
        "retl_warehouse": "FLEX_RETL_WH",
        "destination_user": "FLEX_LOADER_USER",
        "retl_user": "FLEX_READER_USER",
        "destination_role": "FLEX_LOADER",
        "retl_role": "FLEX_READER",
    }


def test_spec_accepts_the_camel_case_keys_of_stack_config() -> None:
    spec = SnowflakeSpec.model_validate(
        {
            "account": "myorg-myaccount",
            "destinationPublicKey": DESTINATION_KEY,
            "retlPublicKey": RETL_KEY,
            "shareWarehouse": True,
            "eventsDatabase": "events",
            "autoSuspendSeconds": 120,
        }
    )

    assert (spec.share_warehouse, spec.events_database, spec.auto_suspend_seconds) == (True, "EVENTS", 120)


def test_shared_warehouse_serves_both_roles() -> None:
    deployment = deploy(make_spec(share_warehouse=True))

    warehouses = deployment.of_type(WAREHOUSE)
    assert [(w.name, w.inputs["name"]) for w in warehouses] == [("sf-load-warehouse", "SEGMENT_WAREHOUSE")]
    usage_targets = {
        deployment.by_name(name).inputs["onAccountObject"]["objectName"]
        for name in ("sf-destination-warehouse-usage", "sf-retl-warehouse-usage")
    }
    assert usage_targets == {"SEGMENT_WAREHOUSE"}
    assert deployment.by_name("sf-retl-user").inputs["defaultWarehouse"] == "SEGMENT_WAREHOUSE"
    assert deployment.outputs["retl_warehouse"] == deployment.outputs["load_warehouse"] == "SEGMENT_WAREHOUSE"
    assert len(deployment.registrations) == len(EXPECTED_DEFAULT_RESOURCES) - 1


def test_shared_warehouse_may_reuse_one_name() -> None:
    deployment = deploy(make_spec(share_warehouse=True, load_warehouse="segment", retl_warehouse="segment"))

    assert [w.inputs["name"] for w in deployment.of_type(WAREHOUSE)] == ["SEGMENT"]
    assert deployment.outputs["retl_warehouse"] == "SEGMENT"


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "account",
    ["myorg-myaccount", "MyOrg-My_Account", "xy12345", "xy12345.us-east-2.aws", "ab12345.eu-west-1", " a-b "],
)
def test_valid_account_identifiers(account: str) -> None:
    assert make_spec(account=account).account == account.strip()


def _single_error(**overrides: Any) -> tuple[tuple[Any, ...], str]:
    with pytest.raises(pydantic.ValidationError) as caught:
        make_spec(**overrides)
    (error,) = caught.value.errors()
    return tuple(error["loc"]), error["msg"]


@pytest.mark.parametrize(
    ("overrides", "field", "fix"),
    [
        ({"account": "myaccount"}, "account", "<orgname>-<accountname>"),
        ({"account": "myorg.myaccount"}, "account", "<orgname>-<accountname>"),
        ({"account": "https://myorg-myaccount.snowflakecomputing.com"}, "account", "without https://"),
        ({"account": "myorg-myaccount.snowflakecomputing.com"}, "account", "without https://"),
        ({"account": ""}, "account", "<orgname>-<accountname>"),
        ({"destination_public_key": "not a key!"}, "destination_public_key", "not base64"),
        ({"retl_public_key": "MIIBIjAN*Bgkq"}, "retl_public_key", "not base64"),
        (
            {"retl_public_key": "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA2qgjvyd"},
            "retl_public_key",
            "base64",
        ),
        ({"retl_public_key": "   "}, "retl_public_key", "empty"),
        ({"retl_public_key": base64.b64encode(b"hello world").decode()}, "retl_public_key", "not an RSA"),
        (
            {
                "retl_public_key": rsa_public_key_body(
                    2048, seed=3, algorithm_oid=bytes.fromhex("2a8648ce3d0201")
                )
            },
            "retl_public_key",
            "not an RSA",
        ),
        ({"retl_public_key": rsa_public_key_body(1024, seed=4)}, "retl_public_key", "1024 bits"),
        ({"retl_public_key": as_pem(RETL_KEY, "RSA PUBLIC KEY")}, "retl_public_key", "-RSAPublicKey_in"),
        ({"retl_public_key": as_pem(RETL_KEY, "CERTIFICATE")}, "retl_public_key", "BEGIN PUBLIC KEY"),
        ({"warehouse_size": "HUGE"}, "warehouse_size", "XSMALL"),
        ({"warehouse_size": "XS"}, "warehouse_size", "XSMALL"),
        ({"auto_suspend_seconds": 0}, "auto_suspend_seconds", "greater than or equal to 60"),
        ({"events_database": "1EVENTS"}, "events_database", "plain Snowflake identifier"),
        ({"retl_user": "segment user"}, "retl_user", "plain Snowflake identifier"),
        ({"destination_role": 'SEGMENT"; DROP'}, "destination_role", "plain Snowflake identifier"),
        ({"load_warehouse": "W" * 256}, "load_warehouse", "at most 255"),
    ],
)
def test_invalid_specs_are_rejected_naming_the_field_and_the_fix(
    overrides: dict[str, Any], field: str, fix: str
) -> None:
    loc, message = _single_error(**overrides)

    assert loc in {(field,), (pydantic.alias_generators.to_camel(field),)}
    assert fix in message


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"retl_database": "segment_events"}, "eventsDatabase and retlDatabase"),
        ({"retl_role": "segment"}, "destinationRole and retlRole"),
        ({"retl_user": "segment_user"}, "destinationUser and retlUser"),
        ({"retl_warehouse": "segment_warehouse"}, "shareWarehouse: true"),
        ({"retl_public_key": as_pem(DESTINATION_KEY)}, "destinationPublicKey and retlPublicKey"),
    ],
)
def test_clashing_objects_are_rejected_naming_both_fields(overrides: dict[str, Any], fields: str) -> None:
    _, message = _single_error(**overrides)

    assert fields in message


def test_unknown_spec_keys_are_rejected_without_echoing_their_value() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        make_spec(privateKey="-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYMATERIAL\n-----END PRIVATE KEY-----")

    (error,) = caught.value.errors()
    assert (error["loc"], error["type"]) == (("privateKey",), "extra_forbidden")
    assert "TOPSECRETKEYMATERIAL" not in f"{caught.value}\n{caught.value.errors()}\n{caught.value.json()}"


@pytest.mark.parametrize("label", ["PRIVATE KEY", "RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY"])
def test_a_private_key_pasted_as_public_key_is_rejected_without_echoing_it(label: str) -> None:
    private_body = rsa_public_key_body(2048, seed=5)  # stands in for private key material
    with pytest.raises(pydantic.ValidationError) as caught:
        make_spec(destination_public_key=as_pem(private_body, label))

    text = f"{caught.value}\n{caught.value.errors()}\n{caught.value.json()}"
    assert "PRIVATE key" in text
    assert private_body[10:40] not in text


def test_key_errors_stay_redacted_when_the_spec_is_nested_in_stack_config() -> None:
    class StackLike(pydantic.BaseModel):
        snowflake: SnowflakeSpec

    private_body = rsa_public_key_body(2048, seed=7)  # stands in for private key material
    raw = {"account": "myorg-myaccount", "destinationPublicKey": as_pem(private_body, "PRIVATE KEY")}
    with pytest.raises(pydantic.ValidationError) as caught:
        StackLike.model_validate({"snowflake": {**raw, "retlPublicKey": RETL_KEY}})

    (error,) = caught.value.errors()
    assert error["loc"] == ("snowflake", "destinationPublicKey")
    assert private_body[10:40] not in f"{caught.value}\n{caught.value.errors()}\n{caught.value.json()}"


def test_invalid_key_errors_never_echo_the_key() -> None:
    short_key = rsa_public_key_body(1024, seed=6)
    with pytest.raises(pydantic.ValidationError) as caught:
        make_spec(retl_public_key=short_key)

    assert short_key[10:40] not in f"{caught.value}{caught.value.errors()}"


# ----------------------------------------------------------------------------- options: protect, provider


def test_protect_on_the_component_reaches_every_child() -> None:
    deployment = deploy(make_spec(), opts=lambda: pulumi.ResourceOptions(protect=True))

    assert {(r.name, r.protect) for r in deployment.registrations} == {
        (name, True) for _, name in EXPECTED_DEFAULT_RESOURCES
    }


def test_children_are_not_protected_unless_the_component_is() -> None:
    deployment = deploy(make_spec())

    assert not any(r.protect for r in deployment.registrations)


def test_protect_inherited_through_a_parent_component() -> None:
    parents: list[pulumi.ComponentResource] = []

    def under_protected_parent() -> pulumi.ResourceOptions:
        parent = pulumi.ComponentResource(
            "test:index:Parent", "parent", None, pulumi.ResourceOptions(protect=True)
        )
        parents.append(parent)
        return pulumi.ResourceOptions(parent=parent)

    deployment = deploy(make_spec(), opts=under_protected_parent)

    assert parents
    assert deployment.snowflake_children()
    assert all(r.protect is True for r in deployment.snowflake_children())


def _admin(
    private_key: pulumi.Input[str] = "-----BEGIN PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----",
) -> SnowflakeAdmin:
    return SnowflakeAdmin(
        organization_name="myorg", account_name="myaccount", user="PULUMI", private_key=private_key
    )


def test_an_explicit_provider_in_opts_reaches_every_child() -> None:
    def with_admin_provider() -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(provider=build_admin_provider("admin", _admin()))

    deployment = deploy(make_spec(), opts=with_admin_provider)

    (provider,) = deployment.of_type(PROVIDER)
    children = deployment.snowflake_children()
    assert len(children) == len(EXPECTED_DEFAULT_RESOURCES) - 1
    assert {r.provider for r in children} == {f"{provider.urn}::admin-id"}


def test_admin_provider_signs_in_with_a_secret_key_pair() -> None:
    deployment = deploy(
        make_spec(), opts=lambda: pulumi.ResourceOptions(provider=build_admin_provider("admin", _admin()))
    )

    (provider,) = deployment.of_type(PROVIDER)
    inputs = provider.inputs
    assert (inputs["organizationName"], inputs["accountName"], inputs["user"], inputs["role"]) == (
        "myorg",
        "myaccount",
        "PULUMI",
        "ACCOUNTADMIN",
    )
    assert inputs["authenticator"] == "SNOWFLAKE_JWT"
    assert "password" not in inputs
    private_key = inputs["privateKey"]
    assert rpc.is_rpc_secret(private_key)
    assert (
        rpc.unwrap_rpc_secret(private_key) == "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"
    )


def test_admin_keeps_the_private_key_out_of_its_repr() -> None:
    admin = _admin("-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYMATERIAL\n-----END PRIVATE KEY-----")

    assert "TOPSECRETKEYMATERIAL" not in repr(admin)
    assert "myorg" in repr(admin)


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"organization_name": " "}, "snowflake:organizationName"),
        ({"account_name": ""}, "snowflake:accountName"),
        ({"user": ""}, "snowflake:user"),
        ({"private_key": "TOPSECRETKEYMATERIAL"}, "snowflake:privateKey"),
    ],
)
def test_admin_rejects_missing_settings_naming_the_config_key(overrides: dict[str, Any], key: str) -> None:
    values: dict[str, Any] = {
        "organization_name": "myorg",
        "account_name": "myaccount",
        "user": "PULUMI",
        "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
    }
    with pytest.raises(ValueError, match=key) as caught:
        SnowflakeAdmin(**{**values, **overrides})

    assert "TOPSECRETKEYMATERIAL" not in str(caught.value)


# ----------------------------------------------------------------------------- outputs


def test_outputs_are_the_settings_segment_needs() -> None:
    deployment = deploy(make_spec(account="xy12345.us-east-2.aws"))

    assert deployment.outputs == {
        "account": "xy12345.us-east-2.aws",
        "events_database": "SEGMENT_EVENTS",
        "retl_database": "SEGMENT_REVERSE_ETL",
        "load_warehouse": "SEGMENT_WAREHOUSE",
        "retl_warehouse": "SEGMENT_REVERSE_ETL",
        "destination_user": "SEGMENT_USER",
        "retl_user": "SEGMENT_REVERSE_ETL_USER",
        "destination_role": "SEGMENT",
        "retl_role": "SEGMENT_REVERSE_ETL",
    }


def test_user_outputs_wait_for_the_grants_that_make_the_user_usable() -> None:
    deployment = deploy(make_spec())

    destination_grants = {
        "sf-destination-warehouse-usage",
        "sf-destination-database-access",
        "sf-destination-role-to-user",
    }
    retl_grants = {
        "sf-retl-warehouse-usage",
        "sf-retl-database-access",
        "sf-retl-role-to-user",
        "sf-retl-read-events-future-tables",
        "sf-retl-read-events-future-schemas",
    }
    assert destination_grants <= deployment.output_dependencies["destination_user"]
    assert retl_grants <= deployment.output_dependencies["retl_user"]
    assert retl_grants <= deployment.output_dependencies["retl_database"]


# ----------------------------------------------------------------------------- allow-list


def test_ip_allowlist_holds_valid_ipv4_networks_for_both_regions() -> None:
    assert set(SEGMENT_IP_ALLOWLIST) == {"us", "eu"}
    for networks in SEGMENT_IP_ALLOWLIST.values():
        assert networks
        for network in networks:
            assert ipaddress.ip_network(network, strict=True).version == 4
