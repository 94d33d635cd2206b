"""The Snowflake side of the Segment setup: what a warehouse destination and a Reverse ETL source need.

``SegmentSnowflake`` creates, with pulumi-snowflake, the objects and grants from Segment's Snowflake guides
(warehouse destination and Reverse ETL source): virtual warehouses, databases, roles, key-pair service users,
and the grants that tie them together, plus read access for the Reverse ETL role to the tables Segment loads.

Only public keys pass through this module. Private keys stay with the user (Segment's connection settings and
the admin provider's secret config); ``SnowflakeAdmin`` carries the admin key as a secret Pulumi input only.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import importlib.util
import re
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

import pulumi
import pydantic
from pydantic import Field
from pydantic.alias_generators import to_camel


def _imported_on_first_use(name: str) -> ModuleType:
    """``name`` loaded only when first used (the standard library's LazyLoader). pulumi-snowflake takes about
    4 s to import, which every ``pulumi preview`` and ``up`` paid even with ``snowflake.manage: false``."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}: run `make venv` (requirements.txt)", name=name)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    import pulumi_snowflake as snowflake
else:
    snowflake = _imported_on_first_use("pulumi_snowflake")

COMPONENT_TYPE: Final = "flex-unified-profiles:snowflake:SegmentSnowflake"

# Segment's outbound addresses, for a Snowflake network policy (docs/snowflake.md shows how to use them).
SEGMENT_IP_ALLOWLIST: Final[dict[str, list[str]]] = {
    "us": ["52.25.130.38/32", "34.223.203.0/28"],
    "eu": ["3.251.148.96/29"],
}

DEFAULT_COMMENT: Final = "Managed by Pulumi for Segment (Flex Unified Profiles)"
MIN_RSA_BITS: Final = 2048  # Segment rejects Snowflake key pairs shorter than 2048 bits.

_IDENTIFIER = re.compile(r"^[A-Z_][A-Z0-9_$]*$")
_ORG_ACCOUNT = re.compile(r"^[A-Za-z][A-Za-z0-9]*-[A-Za-z][A-Za-z0-9_-]*$")
_LOCATOR = re.compile(r"^[A-Za-z]{1,4}[0-9]{3,8}(\.[A-Za-z0-9-]+){0,2}$")
_PEM_LINE = re.compile(r"^-----(BEGIN|END) ([A-Z0-9 ]+)-----$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
_RSA_ENCRYPTION_OID: Final = bytes.fromhex("2a864886f70d010101")
_SEQUENCE, _OID, _BIT_STRING, _INTEGER = 0x30, 0x06, 0x03, 0x02  # DER tags

# Snowflake accepts several spellings per size; the canonical one keeps previews free of spelling-only diffs.
_WAREHOUSE_SIZES: Final[dict[str, str]] = {
    "XSMALL": "XSMALL",
    "X-SMALL": "XSMALL",
    "SMALL": "SMALL",
    "MEDIUM": "MEDIUM",
    "LARGE": "LARGE",
    "XLARGE": "XLARGE",
    "X-LARGE": "XLARGE",
    "XXLARGE": "XXLARGE",
    "X2LARGE": "XXLARGE",
    "2X-LARGE": "XXLARGE",
    "XXXLARGE": "XXXLARGE",
    "X3LARGE": "XXXLARGE",
    "3X-LARGE": "XXXLARGE",
    "X4LARGE": "X4LARGE",
    "4X-LARGE": "X4LARGE",
    "X5LARGE": "X5LARGE",
    "5X-LARGE": "X5LARGE",
    "X6LARGE": "X6LARGE",
    "6X-LARGE": "X6LARGE",
}


# ----------------------------------------------------------------------------- validation helpers


def normalize_account(value: str) -> str:
    """Check a Snowflake account identifier as Segment's connection settings expect it."""
    account = value.strip()
    if "://" in account or ".snowflakecomputing.com" in account.lower():
        raise ValueError(
            "give the account identifier only, without https:// and .snowflakecomputing.com "
            "(e.g. myorg-myaccount)"
        )
    if _ORG_ACCOUNT.match(account) or _LOCATOR.match(account):
        return account
    raise ValueError(
        "not a Snowflake account identifier: use <orgname>-<accountname> (e.g. myorg-myaccount, from "
        "Snowsight → Admin → Accounts) or the account locator with its region (e.g. xy12345.us-east-2.aws)"
    )


def normalize_identifier(value: str) -> str:
    """Upper-case a Snowflake object name and check that it is a plain (unquoted) identifier.

    pulumi-snowflake quotes every name it creates, so a lower-case name would become a case-sensitive object
    that Segment (which uses unquoted, upper-cased names) could not find.
    """
    name = value.strip().upper()
    if not _IDENTIFIER.match(name) or len(name) > 255:
        raise ValueError(
            "must be a plain Snowflake identifier: letters, digits, _ and $, not starting with a digit, "
            "at most 255 characters (e.g. SEGMENT_EVENTS)"
        )
    return name


def normalize_warehouse_size(value: str) -> str:
    size = _WAREHOUSE_SIZES.get(value.strip().upper())
    if size is None:
        raise ValueError(
            "unknown warehouse size: use XSMALL (Segment's recommendation), SMALL, MEDIUM, LARGE, XLARGE, "
            "XXLARGE, XXXLARGE, X4LARGE, X5LARGE or X6LARGE"
        )
    return size


def normalize_public_key(value: str) -> str:
    """The one-line base64 body Snowflake's RSA_PUBLIC_KEY takes, from a pasted PEM or bare body.

    Error messages never repeat the value: a private key pasted by mistake must not reach logs.
    """
    lines = [line.strip() for line in value.strip().splitlines() if line.strip()]
    for line in lines:
        header = _PEM_LINE.match(line)
        if header:
            _check_pem_label(header.group(2))
    body = "".join(line for line in lines if not _PEM_LINE.match(line))
    body = re.sub(r"\s+", "", body)
    if not body:
        raise ValueError("empty: paste the public key (the output of `openssl rsa -in key.p8 -pubout`)")
    der = _decode_base64(body)
    bits = rsa_public_key_bits(der)
    if bits < MIN_RSA_BITS:
        raise ValueError(
            f"the key has {bits} bits; Segment needs at least {MIN_RSA_BITS}: generate a new pair with "
            "`openssl genrsa 2048` (see docs/snowflake.md)"
        )
    return body


def _check_pem_label(label: str) -> None:
    if "PRIVATE" in label:
        raise ValueError(
            "this is a PRIVATE key: put only the public key here (`openssl rsa -in key.p8 -pubout`); the "
            "private key goes into Segment's connection settings via `pulumi config set --secret`"
        )
    if label == "RSA PUBLIC KEY":
        raise ValueError(
            "PKCS#1 public key: Snowflake needs the SubjectPublicKeyInfo form; convert it with "
            "`openssl rsa -RSAPublicKey_in -in key.pub -pubout`"
        )
    if label != "PUBLIC KEY":
        raise ValueError(f"unexpected PEM block '{label}': paste a '-----BEGIN PUBLIC KEY-----' block")


def _decode_base64(body: str) -> bytes:
    if not _BASE64.match(body):
        raise ValueError(
            "not base64: paste the public key block (with or without its BEGIN/END lines) exactly as "
            "`openssl rsa -in key.p8 -pubout` prints it"
        )
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error:
        raise ValueError(
            "not valid base64 (truncated or mis-padded): copy the whole public key block again"
        ) from None


def rsa_public_key_bits(der: bytes) -> int:
    """Modulus size of a DER SubjectPublicKeyInfo holding an RSA key; ValueError for anything else."""
    try:
        algorithm, bit_string = _der_children(der, 0, len(der), expect=_SEQUENCE)
        oid = _der_children(der, algorithm[1], algorithm[2], expect=None)[0]
        # The BIT STRING starts with its count of unused bits (always 0 here), then the RSAPublicKey.
        modulus, exponent = _der_children(der, bit_string[1] + 1, bit_string[2], expect=_SEQUENCE)
    except (IndexError, ValueError):
        raise _not_rsa() from None
    tags = (algorithm[0], oid[0], bit_string[0], modulus[0], exponent[0])
    is_rsa = der[oid[1] : oid[2]] == _RSA_ENCRYPTION_OID and der[bit_string[1]] == 0
    if tags != (_SEQUENCE, _OID, _BIT_STRING, _INTEGER, _INTEGER) or not is_rsa:
        raise _not_rsa()
    return int.from_bytes(der[modulus[1] : modulus[2]], "big").bit_length()


def _not_rsa() -> ValueError:
    return ValueError(
        "not an RSA public key (SubjectPublicKeyInfo): create it with `openssl rsa -in key.p8 -pubout`"
    )


def _der_children(der: bytes, start: int, end: int, expect: int | None) -> list[tuple[int, int, int]]:
    """(tag, content start, content end) of each element in der[start:end], or of the one element there.

    With ``expect`` set, der[start:end] is a single element of that tag whose children are returned.
    """
    if expect is not None:
        tag, content_start, content_end = _der_element(der, start)
        if tag != expect or content_end != end:
            raise IndexError("unexpected DER element")
        start = content_start
    children = []
    while start < end:
        element = _der_element(der, start)
        children.append(element)
        start = element[2]
    if start != end:
        raise IndexError("DER element overruns its parent")
    return children


def _der_element(der: bytes, offset: int) -> tuple[int, int, int]:
    tag, first = der[offset], der[offset + 1]
    if first < 0x80:
        length, header = first, 2
    else:
        count = first & 0x7F
        if not 1 <= count <= 4:
            raise IndexError("unsupported DER length")
        length = int.from_bytes(der[offset + 2 : offset + 2 + count], "big")
        header = 2 + count
    content_start = offset + header
    if content_start + length > len(der):
        raise IndexError("DER element is truncated")
    return tag, content_start, content_start + length


# ----------------------------------------------------------------------------- spec

_PUBLIC_KEY_FIELDS: Final = ("destination_public_key", "retl_public_key")


@dataclasses.dataclass(frozen=True)
class _Withheld:
    """Stands in for a rejected value so that validation errors cannot carry the value itself."""

    reason: str

    def __repr__(self) -> str:
        return "<value withheld>"

    __str__ = __repr__


def _screen_public_key(value: str) -> str | _Withheld:
    try:
        return normalize_public_key(value)
    except ValueError as problem:
        return _Withheld(str(problem))


class SnowflakeSpec(pydantic.BaseModel):
    """What to create in Snowflake for Segment. Names default to those in Segment's setup guides.

    Holds no secret: the RSA keys are public keys (one line, PEM header/footer stripped).
    """

    model_config = pydantic.ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        alias_generator=to_camel,
        defer_build=True,
    )

    account: str
    destination_public_key: str
    retl_public_key: str
    load_warehouse: str = "SEGMENT_WAREHOUSE"
    retl_warehouse: str = "SEGMENT_REVERSE_ETL"
    events_database: str = "SEGMENT_EVENTS"
    retl_database: str = "SEGMENT_REVERSE_ETL"
    destination_role: str = "SEGMENT"
    retl_role: str = "SEGMENT_REVERSE_ETL"
    destination_user: str = "SEGMENT_USER"
    retl_user: str = "SEGMENT_REVERSE_ETL_USER"
    share_warehouse: bool = False
    warehouse_size: str = "XSMALL"
    auto_suspend_seconds: int = Field(default=600, ge=60, le=86400)
    comment: str = Field(default=DEFAULT_COMMENT, max_length=256)

    @pydantic.field_validator("account")
    @classmethod
    def _account(cls, value: str) -> str:
        return normalize_account(value)

    @pydantic.field_validator(
        "load_warehouse",
        "retl_warehouse",
        "events_database",
        "retl_database",
        "destination_role",
        "retl_role",
        "destination_user",
        "retl_user",
    )
    @classmethod
    def _identifier(cls, value: str) -> str:
        return normalize_identifier(value)

    @pydantic.model_validator(mode="before")
    @classmethod
    def _screen_keys(cls, data: Any) -> Any:
        # pydantic copies a failing field's raw input into ValidationError.errors() and .json(), even with
        # hide_input_in_errors and in any model this spec is nested in. A private key pasted into a key field
        # (or under a made-up key such as privateKey) would leak that way, so such values are checked here and
        # reach pydantic only as a marker.
        if not isinstance(data, dict):
            return data
        known = {name for field in cls.model_fields for name in (field, to_camel(field))}
        screened = {key: value if key in known else _Withheld("unknown key") for key, value in data.items()}
        for field in _PUBLIC_KEY_FIELDS:
            for key in (field, to_camel(field)):
                value = screened.get(key)
                if isinstance(value, str):
                    screened[key] = _screen_public_key(value)
        return screened

    @pydantic.field_validator(*_PUBLIC_KEY_FIELDS, mode="before")
    @classmethod
    def _public_key(cls, value: Any) -> Any:
        if isinstance(value, _Withheld):
            raise ValueError(value.reason)
        return value

    @pydantic.field_validator("warehouse_size")
    @classmethod
    def _size(cls, value: str) -> str:
        return normalize_warehouse_size(value)

    @pydantic.model_validator(mode="after")
    def _distinct_objects(self) -> SnowflakeSpec:
        pairs = [
            ("eventsDatabase", self.events_database, "retlDatabase", self.retl_database),
            ("destinationRole", self.destination_role, "retlRole", self.retl_role),
            ("destinationUser", self.destination_user, "retlUser", self.retl_user),
        ]
        for left_key, left, right_key, right in pairs:
            if left == right:
                raise ValueError(f"{left_key} and {right_key} are both {left}: give them different names")
        if not self.share_warehouse and self.load_warehouse == self.retl_warehouse:
            raise ValueError(
                f"loadWarehouse and retlWarehouse are both {self.load_warehouse}: set shareWarehouse: true "
                "to use one warehouse for both, or give them different names"
            )
        if self.destination_public_key == self.retl_public_key:
            raise ValueError(
                "destinationPublicKey and retlPublicKey are the same key: "
                "give each Segment user its own key pair"
            )
        return self


# ----------------------------------------------------------------------------- admin provider


@dataclasses.dataclass(frozen=True)
class SnowflakeAdmin:
    """The Snowflake identity Pulumi uses to create the objects (key-pair sign-in, e.g. ACCOUNTADMIN).

    ``private_key`` is the PEM private key (a secret input, e.g. ``config.require_secret("privateKey")``).
    """

    organization_name: str
    account_name: str
    user: str
    private_key: pulumi.Input[str] = dataclasses.field(repr=False)
    role: str = "ACCOUNTADMIN"
    private_key_passphrase: pulumi.Input[str] | None = dataclasses.field(default=None, repr=False)

    def __post_init__(self) -> None:
        for key, value in (
            ("snowflake:organizationName", self.organization_name),
            ("snowflake:accountName", self.account_name),
            ("snowflake:user", self.user),
            ("snowflake:role", self.role),
        ):
            if not value or not value.strip():
                raise ValueError(f"{key} is empty: set it with `pulumi config set {key} <value>`")
        if isinstance(self.private_key, str):
            _check_private_key_text(self.private_key)


def _check_private_key_text(text: str) -> None:
    if "PRIVATE KEY-----" not in text:
        raise ValueError(
            "snowflake:privateKey is not a PEM private key: set it with "
            "`pulumi config set --secret snowflake:privateKey < admin_key.p8`"
        )


def _pem_with_newlines(text: str) -> str:
    # A PEM passed through some shells or CI variables arrives with literal "\n"; the provider needs newlines.
    return text.replace("\\n", "\n") if "\n" not in text else text


def build_admin_provider(
    name: str, admin: SnowflakeAdmin, opts: pulumi.ResourceOptions | None = None
) -> snowflake.Provider:
    """An explicit pulumi-snowflake provider that signs in with a key pair (SNOWFLAKE_JWT)."""
    private_key = pulumi.Output.secret(admin.private_key).apply(_pem_with_newlines)
    passphrase = (
        None if admin.private_key_passphrase is None else pulumi.Output.secret(admin.private_key_passphrase)
    )
    return snowflake.Provider(
        name,
        organization_name=admin.organization_name,
        account_name=admin.account_name,
        user=admin.user,
        role=admin.role,
        authenticator="SNOWFLAKE_JWT",
        private_key=private_key,
        private_key_passphrase=passphrase,
        opts=opts,
    )


# ----------------------------------------------------------------------------- component


@dataclasses.dataclass(frozen=True)
class _ServiceAccount:
    """One Segment identity in Snowflake: its role, its user and the grants that make it usable."""

    role: snowflake.AccountRole
    user: snowflake.ServiceUser
    grants: list[pulumi.CustomResource]


class SegmentSnowflake(pulumi.ComponentResource):
    """Snowflake objects for a Segment warehouse destination and a Reverse ETL source.

    Every child has ``parent=self``: a ``protect=True`` (or an explicit snowflake provider) in ``opts``
    reaches all of them, because Pulumi passes both from parent to children.
    """

    account: pulumi.Output[str]
    events_database: pulumi.Output[str]
    retl_database: pulumi.Output[str]
    load_warehouse: pulumi.Output[str]
    retl_warehouse: pulumi.Output[str]
    destination_user: pulumi.Output[str]
    retl_user: pulumi.Output[str]
    destination_role: pulumi.Output[str]
    retl_role: pulumi.Output[str]

    def __init__(self, name: str, spec: SnowflakeSpec, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        self._prefix = name
        self._spec = spec

        load_warehouse = self._warehouse("load-warehouse", spec.load_warehouse)
        retl_warehouse = (
            load_warehouse if spec.share_warehouse else self._warehouse("retl-warehouse", spec.retl_warehouse)
        )
        events_database = self._database("events-database", spec.events_database)
        retl_database = self._database("retl-database", spec.retl_database)

        destination = self._service_account(
            "destination",
            role_name=spec.destination_role,
            user_name=spec.destination_user,
            public_key=spec.destination_public_key,
            warehouse=load_warehouse,
            database=events_database,
        )
        # Segment creates (and so owns) the __segment_reverse_etl schema: CREATE SCHEMA on this database.
        retl = self._service_account(
            "retl",
            role_name=spec.retl_role,
            user_name=spec.retl_user,
            public_key=spec.retl_public_key,
            warehouse=retl_warehouse,
            database=retl_database,
        )
        retl_reads = self._read_access("retl-read-events", retl.role, events_database)
        retl_ready = retl.grants + retl_reads

        self.account = pulumi.Output.from_input(spec.account)
        self.events_database = _after(events_database.name, destination.grants)
        self.load_warehouse = _after(load_warehouse.name, destination.grants)
        self.destination_role = _after(destination.role.name, destination.grants)
        self.destination_user = _after(destination.user.name, destination.grants)
        self.retl_database = _after(retl_database.name, retl_ready)
        self.retl_warehouse = _after(retl_warehouse.name, retl_ready)
        self.retl_role = _after(retl.role.name, retl_ready)
        self.retl_user = _after(retl.user.name, retl_ready)
        self.register_outputs(
            {
                "account": self.account,
                "events_database": self.events_database,
                "retl_database": self.retl_database,
                "load_warehouse": self.load_warehouse,
                "retl_warehouse": self.retl_warehouse,
                "destination_user": self.destination_user,
                "retl_user": self.retl_user,
                "destination_role": self.destination_role,
                "retl_role": self.retl_role,
            }
        )

    def _child(self, suffix: str) -> tuple[str, pulumi.ResourceOptions]:
        return f"{self._prefix}-{suffix}", pulumi.ResourceOptions(parent=self)

    def _warehouse(self, suffix: str, warehouse_name: str) -> snowflake.Warehouse:
        resource_name, opts = self._child(suffix)
        return snowflake.Warehouse(
            resource_name,
            name=warehouse_name,
            warehouse_type="STANDARD",
            warehouse_size=self._spec.warehouse_size,
            auto_suspend=self._spec.auto_suspend_seconds,
            auto_resume="true",  # pulumi-snowflake takes this flag as the string "true"/"false"
            initially_suspended=True,
            comment=self._spec.comment,
            opts=opts,
        )

    def _database(self, suffix: str, database_name: str) -> snowflake.Database:
        resource_name, opts = self._child(suffix)
        return snowflake.Database(resource_name, name=database_name, comment=self._spec.comment, opts=opts)

    def _service_account(
        self,
        prefix: str,
        *,
        role_name: str,
        user_name: str,
        public_key: str,
        warehouse: snowflake.Warehouse,
        database: snowflake.Database,
    ) -> _ServiceAccount:
        resource_name, opts = self._child(f"{prefix}-role")
        role = snowflake.AccountRole(resource_name, name=role_name, comment=self._spec.comment, opts=opts)
        resource_name, opts = self._child(f"{prefix}-user")
        # TYPE=SERVICE: key-pair sign-in only, no password can be set (Segment supports key pairs only).
        user = snowflake.ServiceUser(
            resource_name,
            name=user_name,
            default_role=role.name,
            default_warehouse=warehouse.name,
            rsa_public_key=public_key,
            comment=self._spec.comment,
            opts=opts,
        )
        grants: list[pulumi.CustomResource] = [
            self._grant_on_account_object(
                f"{prefix}-warehouse-usage", role, ["USAGE"], "WAREHOUSE", warehouse.name
            ),
            self._grant_on_account_object(
                f"{prefix}-database-access", role, ["USAGE", "CREATE SCHEMA"], "DATABASE", database.name
            ),
            self._grant_role_to_user(f"{prefix}-role-to-user", role, user),
        ]
        return _ServiceAccount(role=role, user=user, grants=grants)

    def _read_access(
        self, prefix: str, role: snowflake.AccountRole, database: snowflake.Database
    ) -> list[pulumi.CustomResource]:
        """SELECT on the tables Segment loads into ``database``, now and later.

        The destination role creates one schema per source at its first load, after this program ran, so the
        future grants do the work; the ALL grants cover schemas and tables that already exist on re-runs.
        """
        schemas = snowflake.GrantPrivilegesToAccountRoleOnSchemaArgs
        tables = snowflake.GrantPrivilegesToAccountRoleOnSchemaObjectArgs
        all_tables = snowflake.GrantPrivilegesToAccountRoleOnSchemaObjectAllArgs
        future_tables = snowflake.GrantPrivilegesToAccountRoleOnSchemaObjectFutureArgs
        return [
            self._grant_on_account_object(f"{prefix}-database", role, ["USAGE"], "DATABASE", database.name),
            self._grant(
                f"{prefix}-all-schemas",
                role,
                ["USAGE"],
                on_schema=schemas(all_schemas_in_database=database.name),
            ),
            self._grant(
                f"{prefix}-future-schemas",
                role,
                ["USAGE"],
                on_schema=schemas(future_schemas_in_database=database.name),
            ),
            self._grant(
                f"{prefix}-all-tables",
                role,
                ["SELECT"],
                on_schema_object=tables(
                    all=all_tables(object_type_plural="TABLES", in_database=database.name)
                ),
            ),
            self._grant(
                f"{prefix}-future-tables",
                role,
                ["SELECT"],
                on_schema_object=tables(
                    future=future_tables(object_type_plural="TABLES", in_database=database.name)
                ),
            ),
        ]

    def _grant_on_account_object(
        self,
        suffix: str,
        role: snowflake.AccountRole,
        privileges: list[str],
        object_type: str,
        object_name: pulumi.Input[str],
    ) -> snowflake.GrantPrivilegesToAccountRole:
        target = snowflake.GrantPrivilegesToAccountRoleOnAccountObjectArgs(
            object_type=object_type, object_name=object_name
        )
        return self._grant(suffix, role, privileges, on_account_object=target)

    def _grant(
        self, suffix: str, role: snowflake.AccountRole, privileges: list[str], **target: Any
    ) -> snowflake.GrantPrivilegesToAccountRole:
        resource_name, opts = self._child(suffix)
        return snowflake.GrantPrivilegesToAccountRole(
            resource_name, account_role_name=role.name, privileges=privileges, opts=opts, **target
        )

    def _grant_role_to_user(
        self, suffix: str, role: snowflake.AccountRole, user: snowflake.ServiceUser
    ) -> snowflake.GrantAccountRole:
        resource_name, opts = self._child(suffix)
        return snowflake.GrantAccountRole(resource_name, role_name=role.name, user_name=user.name, opts=opts)


def _after(value: pulumi.Output[str], resources: Sequence[pulumi.CustomResource]) -> pulumi.Output[str]:
    """``value``, resolved only once ``resources`` exist.

    Segment checks the connection as soon as it receives these settings; a user whose role or grants are
    still being created would fail that check.
    """
    gated: pulumi.Output[Any] = pulumi.Output.all(value, *(resource.id for resource in resources))
    return gated.apply(lambda values: str(values[0]))
