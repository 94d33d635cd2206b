"""Typed, validated configuration of one stack (dev or prod).

Two sources, kept apart on purpose so that a promotion from dev to prod cannot drift:

* **Stack config** (``Pulumi.<stack>.yaml``, namespace ``flex-unified-profiles``): only what differs between
  environments — which space, object names, credentials, the sync schedule, protection.
* **Shared definitions** (``definitions.yaml`` beside ``Pulumi.yaml``): the Reverse ETL model, the Send Identify
  mapping and the computed traits. Both stacks read the same file.

Every problem is reported at once, each with the config key path and the fix, before any resource is registered.
Secrets are read in plain form only to validate them and are handed on as secret values (``SecretStr``), so they
never show in reprs, logs or error messages.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from collections.abc import Callable, Hashable, Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import yaml
from pydantic import AfterValidator, Field, SecretStr, ValidationInfo
from pydantic.alias_generators import to_camel

from flex_program import guards
from flex_program.ownership import (
    SAFE_LOADER,
    claims,
    conflicts,
    environment_of_stack,
    environment_problem,
    other_stacks,
)
from flex_program.snowflake import SnowflakeSpec
from flex_program.traits import (
    FlexSchema,
    RawTrait,
    TraitDefinitionError,
    TraitSpec,
    guide_traits,
    parse_trait_config,
    trait_key,
)
from flex_program.warehouse_options import settings_problems
from segment_provider.api import secrets as secret_values
from segment_provider.api.client import TOKEN_FIX
from segment_provider.api.profiles import PROFILE_TOKEN_FIX
from segment_provider.api.secrets import is_credential_setting
from segment_provider.api.transport import endpoint_problem, token_problem
from segment_provider.model_sql import missing_columns, query_problem
from segment_provider.resources.base import CONFIG_KEYS as SEGMENT_CONFIG_KEYS
from segment_provider.resources.reverse_etl_model import MAX_QUERY_LENGTH
from segment_provider.resources.schedule import Schedule

NAMESPACE = "flex-unified-profiles"
DEFAULT_DEFINITIONS_FILE = "definitions.yaml"
WAREHOUSE_TYPES = ("snowflake", "bigquery", "postgres", "redshift")
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_$]*$"
TABLE = r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$"
SLUG = r"^[a-z0-9][a-z0-9_-]*$"
SEGMENT_ID = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
"""An id Segment gives an object (``spa_9Fz2kLmN0pQ``, ``9aQ1Lj62S4bomZKLF4DPqW``); it goes into URL paths."""
WRITE_KEY = r"^[A-Za-z0-9_-]{1,100}$"
"""A source write key: an opaque run of letters and digits (32 of them in every key Segment shows)."""
MAX_DEFINITIONS_BYTES = 512 * 1024
MAX_CREDENTIAL_LENGTH = 16384  # a 4096-bit PEM private key is about 3.3 KB
MAX_TRAIT_KEY_LENGTH = 255  # as a computed trait's name (flex_program.traits.MAX_NAME_LENGTH)
MAX_IDENTIFY_TRAITS = 299  # Unify rejects identify calls with 300 or more traits.
# What a pattern mismatch means, in words (pydantic would only print the regular expression).
PATTERN_HINTS = {
    SLUG: "use lower-case letters, digits, '_' and '-', starting with a letter or digit (e.g. flex_dev_salesforce)",
    TABLE: "write schema.table (or database.schema.table) with plain identifiers: letters, digits, '_' and '$'",
    IDENTIFIER: "use a plain column name: letters, digits, '_' and '$', not starting with a digit",
    SEGMENT_ID: "use the id Segment shows (e.g. spa_9Fz2kLmN0pQ): ASCII letters, digits, '_' and '-', at most 64",
    WRITE_KEY: "a write key is letters, digits, '_' and '-' only (no spaces or line breaks): copy it again from the "
    "source's settings and set it with `pulumi config set --secret engageSpaceWriteKey` (it asks for the value)",
}


def profile_trait_key_problem(key: str) -> str | None:
    """Why ``key`` cannot be a trait key on a profile (the mapping's keys, verify.expectedTraits), or None.

    The mapping's keys are the user's own (Segment's app takes any text), so only what no reader sees is refused:
    hidden characters, spaces around it, and compatibility forms (fullwidth letters) that Unicode's NFKC form
    reads as another key.
    """
    if problem := guards.text_problem(key, max_length=MAX_TRAIT_KEY_LENGTH, what="a trait key"):
        return f"{problem} (trait key {key[:40]!r})"
    if key != key.strip():
        return f"trait key {key!r} has spaces around it: remove them"
    if (normal := unicodedata.normalize("NFKC", key)) != key:
        return (
            f"trait key {key[:40]!r} holds look-alike characters (fullwidth letters, ligatures…) of another key: "
            f"write it as {normal[:40]!r}"
        )
    return None


# Secret stack config keys and what each holds (the README lists them with the command that sets each).
SECRET_KEYS = {
    "segment:token": "Segment Public API token",
    f"{NAMESPACE}:warehouseCredentials": "credentials of the warehouse destination (e.g. {private_key: …})",
    f"{NAMESPACE}:reverseEtlCredentials": "credentials of the Reverse ETL source (e.g. {private_key: …})",
    f"{NAMESPACE}:profileApiToken": "Profile API token of the space (Unify settings → API access)",
    f"{NAMESPACE}:engageSpaceWriteKey": "write key of the space's Profiles source (only if discovery fails)",
}


def _check_name(name: str) -> str:
    if name and not name.strip():
        raise ValueError("must not be empty: write a name")
    if problem := guards.hidden_problem(name, ""):
        raise ValueError(problem)
    return name


Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_check_name)]
"""The name of a Segment object: one visible line, at most 100 characters."""


class ConfigProblem(pydantic.BaseModel):
    key: str
    message: str
    file: str | None = None
    """The file to edit (``Pulumi.dev.yaml``, ``definitions.yaml``); None when the key is itself a file."""


class ConfigError(Exception):
    """All configuration problems of a stack, each naming its file, its key and the fix.

    The message is one block, problems grouped under the file that holds them::

        invalid stack configuration (nothing was created):
          in Pulumi.dev.yaml:
          - flex-unified-profiles:warehous: unknown key: did you mean flex-unified-profiles:warehouse? …
    """

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        lines: list[str] = []
        for file in dict.fromkeys(p.file for p in problems):
            if file is not None:
                lines.append(f"  in {file}:")
            lines.extend(secret_values.mask(f"  - {p.key}: {p.message}") for p in problems if p.file == file)
        super().__init__("invalid stack configuration (nothing was created):\n" + "\n".join(lines))


class _Model(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        alias_generator=pydantic.alias_generators.to_camel,
        hide_input_in_errors=True,  # a value may be a secret pasted into the wrong key
        defer_build=True,  # built on the first validation, not at import (a run validates them all)
    )


# ----------------------------------------------------------------------------- stack config


class SpaceConfig(_Model):
    slug: str | None = Field(default=None, pattern=SLUG)
    name: Name | None = None

    @pydantic.model_validator(mode="after")
    def _slug_or_name(self) -> SpaceConfig:
        if not self.slug and not self.name:
            raise ValueError("set slug (preferred) or name of the Unify space this stack manages")
        return self


class SalesforceConfig(_Model):
    source_slug: str = Field(pattern=SLUG, max_length=100)
    name: Name | None = None
    environment: Literal["production", "sandbox"] = "production"
    enabled: bool = True
    adopt: bool = False


def _credentials_problem(settings: Mapping[str, Any], secret_key: str) -> str | None:
    # In `warehouse.settings` / `reverseEtl.settings` a credential would sit in plain config and plain state.
    leaked = sorted(key for key in settings if is_credential_setting(key))
    if not leaked:
        return None
    first = leaked[0]
    return (
        f"holds credentials {leaked} in plain stack config: remove them from settings and set each as a secret, "
        f"e.g. `pulumi config set --secret --path '{secret_key}.{first}' …`"
    )


class WarehouseConfig(_Model):
    type: Literal["snowflake", "bigquery", "postgres", "redshift"]
    name: Name
    settings: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True
    validate_connection: bool = True
    adopt: bool = False

    @pydantic.field_validator("settings")
    @classmethod
    def _no_credentials(cls, settings: dict[str, Any]) -> dict[str, Any]:
        if problem := _credentials_problem(settings, "warehouseCredentials"):
            raise ValueError(problem)
        return settings


class ReverseEtlConfig(_Model):
    source_slug: str = Field(pattern=SLUG, max_length=100)
    name: Name | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True
    adopt: bool = False

    @pydantic.field_validator("settings")
    @classmethod
    def _no_credentials(cls, settings: dict[str, Any]) -> dict[str, Any]:
        if problem := _credentials_problem(settings, "reverseEtlCredentials"):
            raise ValueError(problem)
        return settings


class ProfilesConfig(_Model):
    destination_name: Name = "Segment Profiles"
    enabled: bool = True
    adopt: bool = False


class SnowflakeConfig(_Model):
    manage: bool = False
    spec: SnowflakeSpec | None = None

    @pydantic.model_validator(mode="after")
    def _spec_when_managed(self) -> SnowflakeConfig:
        if self.manage and self.spec is None:
            raise ValueError(
                "manage: true needs spec (account and the two RSA public keys); see docs/snowflake.md"
            )
        return self


class VerifyConfig(_Model):
    """What ``flex-doctor`` (and promotion) checks on a real profile."""

    sample_user_id: str | None = Field(default=None, min_length=1, max_length=400)
    """A user_id whose profile should carry the computed traits (read through the Profile API)."""
    expected_traits: list[str] | None = None
    """Trait keys that profile must have; by default the keys of the enabled computed traits."""

    @pydantic.field_validator("sample_user_id")
    @classmethod
    def _bare_user_id(cls, value: str | None) -> str | None:
        if value is not None and value != value.strip():
            raise ValueError("remove the spaces around the user id")
        if value is not None and (problem := guards.hidden_problem(value, "the user id")):
            raise ValueError(problem)
        if value is not None and value.lower().startswith("user_id:"):
            raise ValueError("give the bare user id (the doctor adds the user_id: prefix itself)")
        return value

    @pydantic.field_validator("expected_traits")
    @classmethod
    def _trait_keys(cls, keys: list[str] | None) -> list[str] | None:
        if keys is None:
            return None
        if not keys:
            raise ValueError(
                "list at least one trait key, or leave expectedTraits out to expect every enabled trait"
            )
        for key in keys:
            if problem := profile_trait_key_problem(key):
                raise ValueError(problem)
            if "," in key:
                raise ValueError(
                    f"trait key {key[:40]!r} holds a comma: the doctor asks the Profile API for the traits as one "
                    "comma-separated list, so list each key as its own entry"
                )
        if len(set(keys)) != len(keys):
            raise ValueError("a trait key is listed twice")
        return keys

    @pydantic.model_validator(mode="after")
    def _traits_need_a_user(self) -> VerifyConfig:
        if self.expected_traits is not None and self.sample_user_id is None:
            raise ValueError(
                "expectedTraits needs sampleUserId: the traits are read from that user's profile"
            )
        return self


class ProfileApiConfig(_Model):
    endpoint: str | None = None
    """Another Profile API base URL (the local emulator); by default the one of segment:region."""
    space_id: str | None = Field(default=None, pattern=SEGMENT_ID)
    """The space id shown under Unify settings → API access, if it differs from the Public API's space id."""

    @pydantic.field_validator("endpoint")
    @classmethod
    def _endpoint_is_url(cls, value: str | None) -> str | None:
        if value is not None and (problem := endpoint_problem(value)):
            raise ValueError(f"{problem}; give a base URL such as https://profiles.segment.com")
        return value.strip().rstrip("/") if value is not None else None


ADOPTABLE_RESOURCES = (
    "salesforce-source",
    "warehouse",
    "reverse-etl-source",
    "model",
    "profiles-destination",
    "send-identify",
)
"""The resources ``adoptIds`` may name, besides ``trait-<trait id>``: each object with a Segment id of its own."""
ADOPTABLE = Annotated[
    str, Field(pattern=rf"^({'|'.join(ADOPTABLE_RESOURCES)}|trait-[a-z0-9_]+)$", max_length=120)
]
SegmentId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,100}$")]


class StackConfig(_Model):
    environment: Literal["dev", "prod"]
    space: SpaceConfig
    salesforce: SalesforceConfig
    warehouse: WarehouseConfig
    reverse_etl: ReverseEtlConfig
    profiles: ProfilesConfig = ProfilesConfig()
    snowflake: SnowflakeConfig = SnowflakeConfig()
    schedule: Schedule = Schedule(strategy="PERIODIC", config={"interval": "1h"})
    verify: VerifyConfig = VerifyConfig()
    profile_api: ProfileApiConfig = ProfileApiConfig()
    allow_unprotected_prod: bool = False
    protect: bool
    adopt: bool = False
    """Take over every object that already exists (same natural key) instead of creating it, computed traits
    included; the per-object ``adopt`` flags do the same for one object. ``flex_tools.export`` sets it."""
    adopt_ids: dict[ADOPTABLE, SegmentId] = Field(default_factory=dict)
    """Objects to take over by their Segment id, by resource name (``model``, ``trait-total_inbounds`` …): an
    id wins over the natural key. ``flex_tools.export`` writes them."""
    definitions_file: str = DEFAULT_DEFINITIONS_FILE
    region: Literal["us", "eu"] = "us"
    endpoint: str | None = None
    # Secrets (read from secret config; never printed).
    segment_token: SecretStr | None = None
    warehouse_credentials: dict[str, SecretStr] = Field(default_factory=dict)
    reverse_etl_credentials: dict[str, SecretStr] = Field(default_factory=dict)
    profile_api_token: SecretStr | None = None
    engage_space_write_key: SecretStr | None = None

    @pydantic.field_validator("engage_space_write_key")
    @classmethod
    def _write_key_shape(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and not re.fullmatch(WRITE_KEY, key.get_secret_value()):
            raise ValueError(PATTERN_HINTS[WRITE_KEY])
        return key

    @pydantic.field_validator("protect")
    @classmethod
    def _prod_is_protected(cls, protect: bool, info: ValidationInfo) -> bool:
        # A field validator (not a model validator) so the problem is reported under the protect key.
        if (
            info.data.get("environment") == "prod"
            and not protect
            and not info.data.get("allow_unprotected_prod")
        ):
            raise ValueError(
                "a prod stack must be protected: remove protect: false, or set allowUnprotectedProd: true if you "
                "really mean to let `pulumi destroy` delete production objects"
            )
        return protect

    @pydantic.field_validator("region", mode="before")
    @classmethod
    def _known_region(cls, region: Any) -> Any:
        if isinstance(region, str) and region.strip().lower() in ("us", "eu"):
            return region.strip().lower()
        raise ValueError(
            "must be 'us' or 'eu', the region your Segment workspace lives in (e.g. "
            "`pulumi config set segment:region eu`); for any other API URL set segment:endpoint"
        )

    @pydantic.field_validator("segment_token", "profile_api_token")
    @classmethod
    def _token_shape(cls, token: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        fix = TOKEN_FIX if info.field_name == "segment_token" else PROFILE_TOKEN_FIX
        if token is not None and (problem := token_problem(token.get_secret_value(), fix)):
            raise ValueError(problem)
        return token

    @pydantic.field_validator("warehouse_credentials", "reverse_etl_credentials", mode="before")
    @classmethod
    def _credentials_object(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, Mapping):
            key = to_camel(str(info.field_name))
            raise ValueError(
                f"must be an object of credential fields: `pulumi config rm {key}`, then set each field with "
                f"`pulumi config set --secret --path '{key}.<field>' …` (e.g. {key}.private_key)"
            )
        return value


# ----------------------------------------------------------------------------- shared definitions


class ModelDefinition(_Model):
    name: Name = "Salesforce accounts"
    description: str = Field(
        default="Salesforce accounts sent to Unify as profiles (Flex Unified Profiles)",
        max_length=guards.MAX_TEXT_LENGTH,
    )
    table: str = Field(default="salesforce.accounts", pattern=TABLE)
    columns: list[str] = Field(
        default_factory=lambda: ["ID", "NAME", "PHONE", "BILLING_COUNTRY", "INDUSTRY"],
        description="explicit column list (Unify rejects identifies with 300 or more traits)",
    )
    identifier_column: str = Field(default="ID", pattern=IDENTIFIER, max_length=191)
    enabled: bool = True
    query: str | None = None
    """Raw SQL instead of table + columns (one statement)."""

    @pydantic.field_validator("columns")
    @classmethod
    def _columns(cls, columns: list[str]) -> list[str]:
        bad = [c for c in columns if not re.match(IDENTIFIER, c)]
        if bad:
            raise ValueError(f"column names must be plain identifiers, got {bad}")
        if len(set(c.upper() for c in columns)) != len(columns):
            raise ValueError("a column is listed twice")
        if len(columns) > MAX_IDENTIFY_TRAITS:
            raise ValueError(
                f"at most {MAX_IDENTIFY_TRAITS} columns: Unify rejects identifies with 300+ traits"
            )
        return columns

    @pydantic.field_validator("query")
    @classmethod
    def _query(cls, query: str | None) -> str | None:
        # Whether it is one SELECT is judged in the warehouse's dialect, once the stack's warehouse is known
        # (see load_program_config).
        if query is not None and len(query) > MAX_QUERY_LENGTH:
            raise ValueError(
                f"the query is {len(query)} characters long and Segment accepts at most {MAX_QUERY_LENGTH}: "
                "move the logic into a view in the warehouse and select from it"
            )
        return query

    @pydantic.model_validator(mode="after")
    def _identifier_selected(self) -> ModelDefinition:
        if self.query is None and self.identifier_column.upper() not in {c.upper() for c in self.columns}:
            raise ValueError(f"identifierColumn {self.identifier_column} is not among columns {self.columns}")
        return self

    def sql(self) -> str:
        if self.query is not None:
            return self.query
        return f"SELECT {', '.join(self.columns)} FROM {self.table}"


class MappingDefinition(_Model):
    name: Name = "Send Identify"
    trigger: Literal["added", "updated", "added_or_updated", "deleted"] = "added_or_updated"
    user_id_column: str = Field(default="ID", pattern=IDENTIFIER)
    enabled: bool = True
    traits: dict[str, str] = Field(
        default_factory=lambda: {
            "name": "NAME",
            "phone": "PHONE",
            "billing_country": "BILLING_COUNTRY",
            "industry": "INDUSTRY",
        },
        description="profile trait key → model column",
    )

    @pydantic.field_validator("traits")
    @classmethod
    def _traits(cls, traits: dict[str, str]) -> dict[str, str]:
        if len(traits) > MAX_IDENTIFY_TRAITS:
            raise ValueError(
                f"at most {MAX_IDENTIFY_TRAITS} traits: Unify rejects identifies with 300+ traits"
            )
        bad = [c for c in traits.values() if not re.match(IDENTIFIER, c)]
        if bad:
            raise ValueError(f"trait columns must be plain column names, got {bad}")
        for key in traits:
            if problem := profile_trait_key_problem(key):
                raise ValueError(problem)
        return traits


class TraitsDefinition(_Model):
    guide: dict[str, bool] = Field(default_factory=dict)
    """Guide trait id → on/off; every guide trait is on unless switched off here."""
    custom: list[dict[str, Any]] = []  # pydantic copies a list default for each instance
    flex_schema: FlexSchema = FlexSchema()
    require_flex_events: bool = True


class Definitions(_Model):
    model: ModelDefinition = ModelDefinition()
    mapping: MappingDefinition = MappingDefinition()
    traits: TraitsDefinition = TraitsDefinition()

    @pydantic.model_validator(mode="after")
    def _mapping_uses_model_columns(self) -> Definitions:
        if self.model.query is not None:
            return self  # raw SQL: the columns are only known to the warehouse
        selected = {c.upper() for c in self.model.columns}
        missing = [
            c
            for c in [self.mapping.user_id_column, *self.mapping.traits.values()]
            if c.upper() not in selected
        ]
        if missing:
            raise ValueError(
                f"mapping uses columns the model does not select: {missing}; add them to model.columns"
            )
        return self


class Program(pydantic.BaseModel):
    """Everything the program needs, validated."""

    model_config = pydantic.ConfigDict(frozen=True, defer_build=True)

    stack: StackConfig
    definitions: Definitions
    traits: dict[str, TraitSpec | RawTrait]
    """Enabled traits by stable id (guide ids, then custom trait keys)."""


# ----------------------------------------------------------------------------- loading

ConfigGetter = Callable[[str], Any]
SecretCheck = Callable[[str], bool]

STACK_KEYS = {
    "environment": "environment",
    "space": "space",
    "salesforce": "salesforce",
    "warehouse": "warehouse",
    "reverseEtl": "reverse_etl",
    "profiles": "profiles",
    "snowflake": "snowflake",
    "schedule": "schedule",
    "protect": "protect",
    "allowUnprotectedProd": "allow_unprotected_prod",
    "adopt": "adopt",
    "adoptIds": "adopt_ids",
    "definitionsFile": "definitions_file",
    "verify": "verify",
    "profileApi": "profile_api",
}
SECRET_STACK_KEYS = {
    "warehouseCredentials": "warehouse_credentials",
    "reverseEtlCredentials": "reverse_etl_credentials",
    "profileApiToken": "profile_api_token",
    "engageSpaceWriteKey": "engage_space_write_key",
}


def _decode(raw: Any) -> Any:
    """Pulumi hands structured config to programs as JSON strings."""
    if isinstance(raw, str) and raw[:1] in ("{", "["):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            return raw
    if isinstance(raw, str) and raw in ("true", "false"):
        return raw == "true"
    return raw


def _key_path(prefix: str, loc: tuple[int | str, ...]) -> str:
    path = prefix
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _fields_at(model: Any, loc: tuple[int | str, ...]) -> list[str] | None:
    """The camelCase keys the model at ``loc`` inside ``model`` takes, or None when that is not a model."""
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, pydantic.BaseModel)):
            return None
        fields = model.model_fields
        field = fields.get(str(part)) or next((f for f in fields.values() if f.alias == part), None)
        if field is None:
            return None
        model = _model_of(field.annotation)
    if isinstance(model, type) and issubclass(model, pydantic.BaseModel):
        return [f.alias or name for name, f in model.model_fields.items()]
    return None


def _model_of(annotation: Any) -> Any:
    """The pydantic model inside ``X | None``, ``list[X]``, ``Annotated[X, …]``, or ``annotation`` itself."""
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        if (found := _model_of(arg)) is not None and isinstance(found, type):
            return found
    return None


def _problems(
    prefix: str,
    error: pydantic.ValidationError,
    aliases: Mapping[str, str],
    root: type[pydantic.BaseModel] | None = None,
) -> list[ConfigProblem]:
    problems = []
    for e in error.errors():
        loc = tuple(e["loc"])
        head = loc[0] if loc else ""
        if isinstance(head, str) and head in aliases:
            key = _key_path(f"{NAMESPACE}:{aliases[head]}", loc[1:])
        else:
            key = _key_path(prefix, loc)
        message = e["msg"].removeprefix("Value error, ")
        if e["type"] == "string_pattern_mismatch" and e.get("ctx", {}).get("pattern") in PATTERN_HINTS:
            message = PATTERN_HINTS[e["ctx"]["pattern"]]
        elif e["type"] == "missing":
            message = "required: set it in the stack file or with `pulumi config set`"
        elif e["type"] == "extra_forbidden":
            known = _fields_at(root, loc[:-1]) if root is not None else None
            nearest = _nearest(str(loc[-1]), known) if known else None
            hint = f"did you mean {nearest}? Rename it; " if nearest else ""
            message = (
                f"unknown key: {hint}check its spelling against the README's configuration reference"
                + (f" (this section takes {sorted(known)})" if known and not nearest else "")
            )
        problems.append(ConfigProblem(key=key, message=message))
    return problems


# Namespaces something reads: this program, its Segment providers, pulumi-snowflake, and Pulumi itself.
READ_NAMESPACES = (NAMESPACE, "segment", "snowflake", "pulumi")
SEGMENT_KEYS = tuple(sorted(SEGMENT_CONFIG_KEYS))


def _nearest(word: str, known: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _known_keys(namespace: str) -> list[str] | None:
    if namespace == NAMESPACE:
        return [f"{NAMESPACE}:{k}" for k in (*STACK_KEYS, *SECRET_STACK_KEYS)]
    return list(SEGMENT_KEYS) if namespace == "segment" else None


def _nearest_known(key: str) -> str | None:
    """For a key of this program's namespaces that nothing reads, the nearest one that is read."""
    known = _known_keys(key.partition(":")[0])
    return None if known is None or key in known else _nearest(key, known)


def unknown_keys(keys: Iterable[str], stack_file: str) -> list[ConfigProblem]:
    """Keys of this program's namespaces that nothing reads (a typo, most likely), each with the nearest known
    key. Without this a typo'd ``warehous:`` only showed as ``warehouse: required``."""
    problems = []
    for key in sorted(set(keys)):
        known = _known_keys(key.partition(":")[0])
        if known is None or key in known:
            continue
        nearest = _nearest(key, known)
        hint = f"did you mean {nearest}? Rename it" if nearest else "remove it"
        problems.append(
            ConfigProblem(
                key=key,
                message=f"unknown key: {hint} in {stack_file} (the README's configuration reference lists "
                "every key)",
                file=stack_file,
            )
        )
    return problems


def unread_namespace_warnings(keys: Iterable[str], stack_file: str) -> list[str]:
    """One warning per config key in a namespace nobody reads (``flex-unified-profile:…``): silently ignored
    otherwise."""
    warnings = []
    for key in sorted(set(keys)):
        namespace, colon, rest = key.partition(":")
        if not colon or namespace in READ_NAMESPACES:
            continue
        nearest = _nearest(namespace, READ_NAMESPACES)
        hint = f": did you mean {nearest}:{rest}?" if nearest else ""
        warnings.append(
            f"{stack_file}: config key {key} is in the namespace '{namespace}', which nothing in this program "
            f"reads, so it is ignored{hint}"
        )
    return warnings


def stack_file_name(stack_name: str) -> str:
    # A qualified name (org/project/dev) names its stack file by the stack alone, as Pulumi does.
    return f"Pulumi.{stack_name.rsplit('/', 1)[-1]}.yaml"


def load_program_config(
    get: ConfigGetter,
    is_secret: SecretCheck,
    stack_name: str,
    project_dir: Path,
    *,
    keys: Iterable[str] = (),
    stack_file: str | None = None,
    deploying: bool = False,
) -> Program:
    """Read and validate the stack config and the shared definitions; raise ConfigError listing every problem.

    ``keys`` are all the stack's config keys (those of the program's namespaces that nothing reads are reported
    with the nearest known key); ``stack_file`` names the file they come from (default ``Pulumi.<stack>.yaml``).
    ``deploying`` (``pulumi up``) requires the warehouse credentials even when their key is not set at all; the
    tools that only read (doctor, promotion) check them only when it is.
    """
    stack_file = stack_file or stack_file_name(stack_name)
    problems: list[ConfigProblem] = unknown_keys(keys, stack_file)
    raw: dict[str, Any] = {}
    for key, field in STACK_KEYS.items():
        value = get(f"{NAMESPACE}:{key}")
        if value is not None:
            raw[field] = _decode(value)
    if problem := environment_problem(stack_name, raw.get("environment")):
        problems.append(ConfigProblem(key=f"{NAMESPACE}:environment", message=problem))
        raw["environment"] = environment_of_stack(stack_name)  # the rest is checked as the stack it is
    raw.setdefault("environment", environment_of_stack(stack_name))
    if raw["environment"] is None:
        problems.append(
            ConfigProblem(
                key=f"{NAMESPACE}:environment",
                message=f"stack '{stack_name}' is neither dev nor prod: set environment to dev or prod",
            )
        )
        raw.pop("environment")
    raw.setdefault("protect", raw.get("environment") == "prod")

    for key, field in SECRET_STACK_KEYS.items():
        full = f"{NAMESPACE}:{key}"
        value = get(full)
        if value is None:
            continue
        # Secret whether or not it was stored as one: masked in every message of this process from now on.
        secret_values.register_all([_decode(value)])
        if key == "profileApiToken":
            secret_values.register_token(str(value))
        if not is_secret(full):
            problems.append(
                ConfigProblem(
                    key=full,
                    message=f"holds a secret but is stored in plain text: run `pulumi config rm {key}` and then "
                    f"`pulumi config set --secret {key} …` (use --path for objects)",
                )
            )
            continue
        raw[field] = _decode(value)

    token = get("segment:token")
    secret_values.register_token(token)
    if token is not None and not is_secret("segment:token"):
        problems.append(
            ConfigProblem(
                key="segment:token",
                message="the Segment token is stored in plain text: run `pulumi config rm segment:token` and then "
                "`pulumi config set --secret segment:token …`",
            )
        )
    elif token is not None:
        raw["segment_token"] = token
    region = get("segment:region")
    if region is not None:
        raw["region"] = region
    endpoint = get("segment:endpoint")
    if endpoint is not None:
        raw["endpoint"] = endpoint

    # Error locations use the camelCase aliases; map each top-level field back to its config key.
    aliases = {k: k for k in {**STACK_KEYS, **SECRET_STACK_KEYS}}
    # Values are passed under field names, so errors inside them are located by field name too.
    aliases.update({field: key for key, field in {**STACK_KEYS, **SECRET_STACK_KEYS}.items()})
    aliases.update(
        {"segmentToken": "token", "segment_token": "token", "region": "region", "endpoint": "endpoint"}
    )
    problems.extend(_raw_value_problems(raw))
    stack: StackConfig | None = None
    try:
        stack = StackConfig.model_validate(raw)
    except pydantic.ValidationError as error:
        problems.extend(_segment_keys(_problems(NAMESPACE, error, aliases, StackConfig)))

    given = str(raw.get("definitions_file") or DEFAULT_DEFINITIONS_FILE)
    definitions, traits = _load_definitions(given, project_dir, problems)
    if definitions is not None:
        warehouse = raw.get("warehouse")
        kind = warehouse.get("type") if isinstance(warehouse, dict) else None
        problems.extend(_model_query_problems(definitions, kind if kind in WAREHOUSE_TYPES else None, given))

    if stack is not None and traits is not None:
        problems.extend(
            ConfigProblem(
                key=f"{NAMESPACE}:adoptIds.{name}",
                message=f"names no enabled trait of {given}: use trait-<id> with one of {sorted(traits)}",
            )
            for name in sorted(stack.adopt_ids)
            if name.startswith("trait-") and name.removeprefix("trait-") not in traits
        )
    if stack is not None:
        problems.extend(_warehouse_problems(stack, deploying))
        problems.extend(_shared_with_other_stacks(stack, stack_name, project_dir))
    if problems or stack is None or definitions is None:
        raise ConfigError(
            [_with_file(p, stack_file, Path(given).name) for p in _without_misspelt(problems, keys)]
        )
    return Program(stack=stack, definitions=definitions, traits=traits)


def _raw_value_problems(raw: Mapping[str, Any]) -> list[ConfigProblem]:
    """Oversized strings, non-finite or huge numbers, deep nesting: anywhere in the stack config."""
    config_keys = {field: key for key, field in {**STACK_KEYS, **SECRET_STACK_KEYS}.items()}
    problems: list[ConfigProblem] = []
    for field, value in raw.items():
        name = config_keys.get(field)
        key = f"{NAMESPACE}:{name}" if name else f"segment:{'token' if field == 'segment_token' else field}"
        limit = MAX_CREDENTIAL_LENGTH if name in SECRET_STACK_KEYS else guards.MAX_TEXT_LENGTH
        problems.extend(
            ConfigProblem(key=k, message=m) for k, m in guards.value_problems(value, key, max_length=limit)
        )
    return problems


def _warehouse_problems(stack: StackConfig, deploying: bool) -> list[ConfigProblem]:
    """The warehouse and Reverse ETL settings and credentials against the options of the warehouse type."""
    # A Snowflake side the program manages gives account, database, warehouse and username itself.
    provided = ("account", "database", "warehouse", "username") if stack.snowflake.manage else ()
    problems: list[ConfigProblem] = []
    for section, secret_key, settings, field in (
        ("warehouse", "warehouseCredentials", stack.warehouse.settings, "warehouse_credentials"),
        ("reverseEtl", "reverseEtlCredentials", stack.reverse_etl.settings, "reverse_etl_credentials"),
    ):
        credentials: dict[str, SecretStr] = getattr(stack, field)
        plain = {name: value.get_secret_value() for name, value in credentials.items()}
        required = deploying or field in stack.model_fields_set
        problems.extend(
            ConfigProblem(key=f"{NAMESPACE}:{key}", message=message)
            for key, message in settings_problems(
                stack.warehouse.type,
                settings,
                plain,
                section,
                secret_key,
                provided,
                require_credentials=required,
            )
        )
    return problems


def _model_query_problems(
    definitions: Definitions, warehouse_type: str | None, given: str
) -> list[ConfigProblem]:
    """The model's raw SQL, parsed in the warehouse's dialect: one SELECT that selects every column used."""
    model, mapping = definitions.model, definitions.mapping
    if model.query is None:
        return []
    prefix = Path(given).name
    if problem := query_problem(model.query, warehouse_type):
        return [ConfigProblem(key=f"{prefix}:model.query", message=problem)]
    needed = [model.identifier_column, mapping.user_id_column, *mapping.traits.values()]
    missing = missing_columns(model.query, warehouse_type, needed)
    if not missing:
        return []
    return [
        ConfigProblem(
            key=f"{prefix}:model.query",
            message=f"the query does not select {missing}, which identifierColumn and the mapping use: add "
            "them to its select list (or alias a column to that name)",
        )
    ]


def _without_misspelt(problems: list[ConfigProblem], keys: Iterable[str]) -> list[ConfigProblem]:
    """A "required" key that a misspelt key stands for is said once, by the misspelt key's problem."""
    meant = {nearest for key in keys if (nearest := _nearest_known(key))}
    return [p for p in problems if not (p.key in meant and p.message.startswith("required"))]


def _with_file(problem: ConfigProblem, stack_file: str, definitions_file: str) -> ConfigProblem:
    if problem.file is not None:
        return problem
    if problem.key.startswith((f"{NAMESPACE}:", "segment:")):
        return problem.model_copy(update={"file": stack_file})
    if problem.key.startswith(f"{definitions_file}:") or problem.key == definitions_file:
        return problem.model_copy(update={"file": definitions_file})
    return problem


def _shared_with_other_stacks(stack: StackConfig, stack_name: str, project_dir: Path) -> list[ConfigProblem]:
    """Objects this stack names that another stack file of the project names too, and prod spaces (see
    :mod:`flex_program.ownership`)."""
    others, unreadable = other_stacks(project_dir, NAMESPACE, stack_name)
    problems = [
        ConfigProblem(
            key=file,
            message="cannot be read, so this stack cannot check that it shares no Segment object with that "
            "stack: fix the YAML of that stack file (or remove it)",
        )
        for file in unreadable
    ]
    sections = (stack.space, stack.salesforce, stack.reverse_etl, stack.warehouse)
    names = ("space", "salesforce", "reverseEtl", "warehouse")
    own = claims(
        NAMESPACE, {name: s.model_dump(by_alias=True) for name, s in zip(names, sections, strict=True)}
    )
    problems.extend(
        ConfigProblem(key=key, message=message) for key, message in conflicts(own, stack.environment, others)
    )
    return problems


def _segment_keys(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    """Segment connection settings live in the ``segment:`` namespace, not the project's."""
    renamed = []
    for p in problems:
        for name in ("token", "region", "endpoint"):
            if p.key == f"{NAMESPACE}:{name}" or p.key.startswith(f"{NAMESPACE}:{name}."):
                p = ConfigProblem(key=p.key.replace(f"{NAMESPACE}:", "segment:", 1), message=p.message)
        renamed.append(p)
    return renamed


def _definitions_text(path: Path, given: str, project_dir: Path) -> tuple[str | None, str | None]:
    """``(text, None)`` of the definitions file, or ``(None, why it cannot be used)``.

    A relative ``definitionsFile`` must stay inside the project (no ``../`` out of it); an absolute one is an
    explicit choice (``flex_tools.export`` always writes a relative one).
    """
    fix = "point definitionsFile at a YAML file inside the project (by default definitions.yaml)"
    if not Path(given).is_absolute() and not path.resolve().is_relative_to(project_dir.resolve()):
        return None, f"'{given}' leads outside the project directory {project_dir}: {fix}"
    if not path.exists():
        return None, (
            f"{path} does not exist: restore definitions.yaml from the repository or point "
            "definitionsFile at your shared definitions"
        )
    if not path.is_file():
        return None, f"{path} is not a regular file: {fix}"
    if path.stat().st_size > MAX_DEFINITIONS_BYTES:
        return (
            None,
            f"{path} is larger than {MAX_DEFINITIONS_BYTES // 1024} KB, far more than definitions need: {fix}",
        )
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None, f"{path} is not readable UTF-8 text (a binary file?): {fix}"
    if "\x00" in text:
        return None, f"{path} holds NUL bytes (a binary file?): {fix}"
    if not text.strip():
        return None, (
            f"{path} is empty: write the definitions (see the repository's definitions.yaml), or remove "
            "definitionsFile to use definitions.yaml"
        )
    return text, None


def _load_definitions(
    given: str, project_dir: Path, problems: list[ConfigProblem]
) -> tuple[Definitions | None, dict[str, TraitSpec | RawTrait]]:
    path = project_dir / given
    prefix = path.name
    text, problem = _definitions_text(path, given, project_dir)
    if text is None:
        problems.append(ConfigProblem(key=f"{NAMESPACE}:definitionsFile", message=str(problem)))
        return None, {}
    try:
        data = load_yaml(text)
    except yaml.YAMLError as error:
        problems.append(
            ConfigProblem(
                key=prefix,
                message=f"is not valid YAML: {yaml_problem(error)}: check the indentation of that line and the "
                "one above it (spaces only; a key's children indented one step more than the key)",
            )
        )
        return None, {}
    if data is None:
        problems.append(
            ConfigProblem(key=prefix, message="holds no definitions (only comments): write them out")
        )
        return None, {}
    walked = [
        ConfigProblem(key=k.replace(f"{prefix}.", f"{prefix}:", 1), message=m)
        for k, m in guards.value_problems(data, prefix, long_keys={"query": MAX_DEFINITIONS_BYTES})
    ]
    if walked:
        problems.extend(walked)
        return None, {}
    try:
        definitions = Definitions.model_validate(data)
    except pydantic.ValidationError as error:
        problems.extend(
            ConfigProblem(key=p.key.replace(f"{prefix}.", f"{prefix}:", 1), message=p.message)
            for p in _problems(prefix, error, {}, Definitions)
        )
        return None, {}
    return definitions, _enabled_traits(definitions, prefix, problems)


# On libyaml's C parser when PyYAML has it (``SAFE_LOADER``); the guards below work the same on both.
class StrictYamlLoader(SAFE_LOADER):
    """YAML as people mean it: a key given twice is an error (not "the last one wins"), aliases (``*name``) are
    refused, so a file cannot expand into gigabytes (the "billion laughs"), and a plain ``yes``/``no``/``on``/``off``
    is kept as a :class:`~flex_program.guards.YamlWord` (YAML 1.2 reads it as text, YAML 1.1 as a boolean)."""

    def get_single_node(self) -> Any:
        # The composer gives an alias the very node of its anchor: a node met twice is an alias. The node graph
        # is as small as the text; only constructing it would expand it.
        node = super().get_single_node()
        seen: set[int] = set()
        stack = [node] if node is not None else []
        while stack:
            current = stack.pop()
            if id(current) in seen:
                raise yaml.composer.ComposerError(
                    None, None, "aliases (*name) are not accepted: write the value out", current.start_mark
                )
            seen.add(id(current))
            if isinstance(current, yaml.MappingNode):
                stack.extend(part for pair in current.value for part in pair)
            elif isinstance(current, yaml.SequenceNode):
                stack.extend(current.value)
        return node

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {str(key)[:80]!r} is given twice: keep one", key_node.start_mark
                )
            if isinstance(key, Hashable):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_bool(self, node: Any) -> Any:
        word = self.construct_scalar(node)
        if isinstance(word, str) and word.lower() not in ("true", "false"):
            return guards.YamlWord(word)
        return super().construct_yaml_bool(node)


StrictYamlLoader.add_constructor("tag:yaml.org,2002:bool", StrictYamlLoader.construct_yaml_bool)


def load_yaml(text: str) -> Any:
    """``text`` parsed with ``StrictYamlLoader``; raises ``yaml.YAMLError`` (describe it with ``yaml_problem``)."""
    return yaml.load(text, Loader=StrictYamlLoader)


def yaml_problem(error: yaml.YAMLError) -> str:
    """What is wrong and where (line and column), without quoting the offending line: it may hold a secret."""
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        return f"{error.problem or error.context or 'unreadable'}{where}"
    return type(error).__name__


def _enabled_traits(
    definitions: Definitions, prefix: str, problems: list[ConfigProblem]
) -> dict[str, TraitSpec | RawTrait]:
    guide = guide_traits(definitions.traits.flex_schema)
    unknown = sorted(set(definitions.traits.guide) - set(guide))
    if unknown:
        problems.append(
            ConfigProblem(
                key=f"{prefix}:traits.guide",
                message=f"unknown guide traits {unknown}; the guide traits are {sorted(guide)}",
            )
        )
    enabled: dict[str, TraitSpec | RawTrait] = {
        trait_id: spec for trait_id, spec in guide.items() if definitions.traits.guide.get(trait_id, True)
    }
    keys = {trait_key(spec.name): trait_id for trait_id, spec in enabled.items()}
    for index, raw in enumerate(definitions.traits.custom):
        key = f"{prefix}:traits.custom[{index}]"
        try:
            spec = parse_trait_config(key, raw)
        except TraitDefinitionError as error:
            problems.extend(ConfigProblem(key=path, message=message) for path, message in error.problems)
            continue
        trait_id = trait_key(spec.name)
        if trait_id in keys:
            problems.append(
                ConfigProblem(
                    key=f"{key}.name",
                    message=f"trait name '{spec.name}' clashes with {keys[trait_id]} (both have the key {trait_id}): "
                    "names must be unique in a space because Segment derives the trait key from them",
                )
            )
            continue
        keys[trait_id] = f"traits.custom[{index}]"
        enabled[trait_id] = spec
    # The mapping writes its traits onto the same profiles: a key of both would be overwritten by whichever
    # runs last, so the computed trait would flicker.
    for key in sorted(set(definitions.mapping.traits) & set(keys)):
        problems.append(
            ConfigProblem(
                key=f"{prefix}:mapping.traits.{key}",
                message=f"is also the key of the computed trait {keys[key]}: rename the mapped trait (or switch "
                "the computed one off) so one value does not overwrite the other on every profile",
            )
        )
    return enabled


def expected_profile_traits(program: Program) -> list[str]:
    """Trait keys the sample profile must carry: ``verify.expectedTraits``, else every enabled trait's key."""
    if program.stack.verify.expected_traits is not None:
        return list(program.stack.verify.expected_traits)
    return [trait_key(spec.name) for spec in program.traits.values() if spec.enabled]


def pulumi_config_getter() -> tuple[ConfigGetter, SecretCheck]:
    """Read config the way the program runs under Pulumi (plain values of secrets, for validation only)."""
    from pulumi.runtime import config as runtime_config

    return runtime_config.get_config, runtime_config.is_config_secret
