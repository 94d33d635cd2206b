"""Bad input, end to end: the real program under the engine stand-in, against the emulator.

Each case starts from the demo dev (or prod) stack, breaks one thing, runs ``pulumi up`` and checks that the run
fails, that the message names the config key (or definitions field) and says what to do, that no secret shows
in it, and that nothing was created. Cases that only the Segment API can judge (a space that does not exist, a
token Segment refuses) may read from the API; every other case must fail before the first request.

``tests/program/test_config.py`` checks the config loader on its own; the cases here go through the program.
``docs/bad-input.md`` lists every case with the key it names and how its message starts: a test below keeps it
in sync with this table.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from flex_program import guards
from flex_program import program as flex_program_run
from flex_program.config import Definitions, _model_query_problems
from flex_program.traits import TraitDefinitionError, parse_trait_config
from flex_program.warehouse_options import settings_problems
from flex_tools.demo import DEMO_SECRETS, stack_config
from flex_tools.doctor import main as doctor_main
from segment_provider.api.errors import ConfigurationError
from segment_provider.resources.base import CLIENT_TUNING_KEYS, client_tuning
from segment_provider.resources.reverse_etl_model import ReverseEtlModelProvider
from segment_provider.resources.schedule import schedule_problem
from tests.conftest import SESSION_PACING_ENV
from tests.harness import DeploymentFailed, ProgramEngine, ProviderServer

REPO = Path(__file__).resolve().parents[2]
MAIN = REPO / "__main__.py"
DOC = REPO / "docs" / "bad-input.md"
NS = "flex-unified-profiles"
MUTATING = ("POST", "PATCH", "PUT", "DELETE")

PLAIN_SECRET = "plain-secret-5f1e0c"
"""A value given as plain (non-secret) config in the cases below: it must never be repeated in a message."""
PRIVATE_KEY = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"


@dataclass
class Stack:
    """What a case may break: the stack config, which keys are secret, and the shared definitions."""

    config: dict[str, str]
    secret_keys: set[str]
    definitions: dict[str, Any]
    name: str = "dev"
    definitions_text: str | None = None
    """The definitions file's text itself, for cases of YAML that a dict cannot hold (duplicate keys, aliases)."""

    def set(self, key: str, value: Any, *, secret: bool = False) -> None:
        self.config[key] = json.dumps(value) if isinstance(value, dict | list) else str(value)
        if secret:
            self.secret_keys.add(key)
        else:
            self.secret_keys.discard(key)

    def patch(self, key: str, **fields: Any) -> None:
        self.set(key, {**json.loads(self.config[key]), **fields})

    def define(self, dotted: str, value: Any) -> None:
        node = self.definitions
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value

    def custom_traits(self, *traits: dict[str, Any]) -> None:
        self.define("traits.custom", list(traits))


@dataclass(frozen=True)
class Case:
    id: str
    key: str
    """The config key or definitions field the message must name (a problem line starts with it)."""
    fix: str
    """Words of the fix the message must contain."""
    change: Callable[[Stack], None]
    stack: str = "dev"
    reads_api: bool = False
    """The problem can only be seen by asking Segment (read-only requests are allowed, nothing else)."""
    secrets: tuple[str, ...] = field(default=(PLAIN_SECRET,))


def counted_trait(**overrides: Any) -> dict[str, Any]:
    trait: dict[str, Any] = {
        "name": "Voice inbounds",
        "event": "Flex - Engagement Initiated",
        "aggregation": {"type": "count"},
    }
    return {**trait, **overrides}


def unset(key: str) -> Callable[[Stack], None]:
    def change(stack: Stack) -> None:
        stack.config.pop(key)
        stack.secret_keys.discard(key)

    return change


def plain(key: str, value: Any) -> Callable[[Stack], None]:
    """A secret stored with ``pulumi config set`` instead of ``pulumi config set --secret``."""

    def change(stack: Stack) -> None:
        stack.set(key, value, secret=False)

    return change


def secret(key: str, value: Any) -> Callable[[Stack], None]:
    def change(stack: Stack) -> None:
        stack.set(key, value, secret=True)

    return change


def put(key: str, value: Any) -> Callable[[Stack], None]:
    def change(stack: Stack) -> None:
        stack.set(key, value)

    return change


def patch(key: str, **fields: Any) -> Callable[[Stack], None]:
    def change(stack: Stack) -> None:
        stack.patch(key, **fields)

    return change


def define(dotted: str, value: Any) -> Callable[[Stack], None]:
    def change(stack: Stack) -> None:
        stack.define(dotted, value)

    return change


def custom(*traits: dict[str, Any]) -> Callable[[Stack], None]:
    def change(stack: Stack) -> None:
        stack.custom_traits(*traits)

    return change


def definitions_file(value: str) -> Callable[[Stack], None]:
    def change(stack: Stack) -> None:
        stack.set(f"{NS}:definitionsFile", value)

    return change


def unprotected_prod(stack: Stack) -> None:
    stack.set(f"{NS}:protect", "false")


def both(*changes: Callable[[Stack], None]) -> Callable[[Stack], None]:
    def change(stack: Stack) -> None:
        for each in changes:
            each(stack)

    return change


def rename(key: str, to: str) -> Callable[[Stack], None]:
    def change(stack: Stack) -> None:
        stack.config[to] = stack.config.pop(key)

    return change


def setting(section: str, **settings: Any) -> Callable[[Stack], None]:
    """Settings of ``section`` (warehouse, reverseEtl) changed; a value of None removes the setting."""

    def change(stack: Stack) -> None:
        key = f"{NS}:{section}"
        merged = {**json.loads(stack.config[key])["settings"], **settings}
        stack.patch(key, settings={k: v for k, v in merged.items() if v is not None})

    return change


def warehouse_type(
    kind: str, settings: dict[str, Any], credentials: dict[str, str]
) -> Callable[[Stack], None]:
    """Both the warehouse and the Reverse ETL source of another type, with these settings and credentials."""

    def change(stack: Stack) -> None:
        stack.patch(f"{NS}:warehouse", type=kind, settings=settings)
        stack.patch(f"{NS}:reverseEtl", settings=settings)
        for key in ("warehouseCredentials", "reverseEtlCredentials"):
            stack.set(f"{NS}:{key}", credentials, secret=True)

    return change


def schedule(strategy: str, **config: Any) -> Callable[[Stack], None]:
    return put(f"{NS}:schedule", {"strategy": strategy, "config": config})


def definitions_text(text: str) -> Callable[[Stack], None]:
    def change(stack: Stack) -> None:
        stack.definitions_text = text

    return change


def mapped(**traits: str) -> Callable[[Stack], None]:
    def change(stack: Stack) -> None:
        stack.define("mapping.traits", {**stack.definitions["mapping"]["traits"], **traits})

    return change


POSTGRES = {"hostname": "db.internal", "port": 5432, "database": "segment", "username": "segment"}
TRAIT_KEY = "total_inbounds"
"""The key of a computed trait definitions.yaml switches on (the guide's Total inbounds)."""


CASES: list[Case] = [
    # ----------------------------------------------------------------- Segment connection
    Case(
        "missing token", "segment:token", "pulumi config set --secret segment:token", unset("segment:token")
    ),
    Case(
        "token with a Bearer prefix",
        "segment:token",
        "without the 'Bearer ' prefix",
        secret("segment:token", f"Bearer {PLAIN_SECRET}"),
    ),
    Case(
        "token with a line break",
        "segment:token",
        "pulumi config set --secret segment:token",
        secret("segment:token", f"{PLAIN_SECRET}\nsecond-line"),
    ),
    Case(
        "token Segment refuses",
        "segment:token",
        "valid Segment Public API token",
        secret("segment:token", PLAIN_SECRET),
        reads_api=True,
    ),
    Case("wrong region", "segment:region", "'us' or 'eu'", put("segment:region", "mars")),
    Case(
        "endpoint without scheme",
        "segment:endpoint",
        "https://",
        put("segment:endpoint", "api.segmentapis.com"),
    ),
    # ----------------------------------------------------------------- secrets stored in plain text
    Case("token in plain text", "segment:token", "--secret", plain("segment:token", PLAIN_SECRET)),
    Case(
        "warehouse credentials in plain text",
        f"{NS}:warehouseCredentials",
        "--secret",
        plain(f"{NS}:warehouseCredentials", {"private_key": PLAIN_SECRET}),
    ),
    Case(
        "reverse etl credentials in plain text",
        f"{NS}:reverseEtlCredentials",
        "--secret",
        plain(f"{NS}:reverseEtlCredentials", {"private_key": PLAIN_SECRET}),
    ),
    Case(
        "profile api token in plain text",
        f"{NS}:profileApiToken",
        "--secret",
        plain(f"{NS}:profileApiToken", PLAIN_SECRET),
    ),
    Case(
        "engage space write key in plain text",
        f"{NS}:engageSpaceWriteKey",
        "--secret",
        plain(f"{NS}:engageSpaceWriteKey", PLAIN_SECRET),
    ),
    Case(
        "private key in warehouse settings",
        f"{NS}:warehouse.settings",
        "warehouseCredentials.private_key",
        patch(f"{NS}:warehouse", settings={"account": "acme", "private_key": PRIVATE_KEY}),
        secrets=(PRIVATE_KEY.splitlines()[1],),
    ),
    Case(
        "password in reverse etl settings",
        f"{NS}:reverseEtl.settings",
        "reverseEtlCredentials.password",
        patch(f"{NS}:reverseEtl", settings={"account": "acme", "password": PLAIN_SECRET}),
    ),
    Case(
        "warehouse credentials not an object",
        f"{NS}:warehouseCredentials",
        "--path 'warehouseCredentials.",
        secret(f"{NS}:warehouseCredentials", PLAIN_SECRET),
    ),
    # ----------------------------------------------------------------- stack config
    Case(
        "unknown warehouse type", f"{NS}:warehouse.type", "snowflake", patch(f"{NS}:warehouse", type="oracle")
    ),
    Case(
        "misspelt warehouse setting key",
        f"{NS}:warehouse.setings",
        "check its spelling",
        patch(f"{NS}:warehouse", setings={"account": "acme"}),
    ),
    Case(
        "space that does not exist",
        f"{NS}:space.slug",
        "create it in the Segment app",
        put(f"{NS}:space", {"slug": "unified-profiles-qa"}),
        reads_api=True,
    ),
    Case(
        "reverse etl slug with forbidden characters",
        f"{NS}:reverseEtl.sourceSlug",
        "lower-case letters",
        patch(f"{NS}:reverseEtl", sourceSlug="Flex RETL!"),
    ),
    Case(
        "profiles destination name too long",
        f"{NS}:profiles.destinationName",
        "at most 100",
        put(f"{NS}:profiles", {"destinationName": "P" * 101}),
    ),
    Case(
        "prod stack without protection",
        f"{NS}:protect",
        "allowUnprotectedProd: true",
        unprotected_prod,
        stack="prod",
    ),
    Case(
        "schedule config of another strategy",
        f"{NS}:schedule",
        "exactly ['interval']",
        put(f"{NS}:schedule", {"strategy": "PERIODIC", "config": {"spec": "0 * * * *", "timezone": "UTC"}}),
    ),
    Case(
        "specific days hour 24",
        f"{NS}:schedule",
        "0-23",
        put(
            f"{NS}:schedule",
            {"strategy": "SPECIFIC_DAYS", "config": {"days": [1], "hours": [24], "timezone": "UTC"}},
        ),
    ),
    Case(
        "periodic interval of a week",
        f"{NS}:schedule",
        "less than 168h",
        put(f"{NS}:schedule", {"strategy": "PERIODIC", "config": {"interval": "168h"}}),
    ),
    Case(
        "dbt cloud without account",
        f"{NS}:schedule",
        "missing ['accountId']",
        put(f"{NS}:schedule", {"strategy": "DBT_CLOUD", "config": {"jobId": "42"}}),
    ),
    Case(
        "sample user id with prefix",
        f"{NS}:verify.sampleUserId",
        "bare user id",
        put(f"{NS}:verify", {"sampleUserId": "user_id:0011x00000AbCdE"}),
    ),
    Case(
        "snowflake private key as public key",
        f"{NS}:snowflake.spec.destinationPublicKey",
        "public key",
        put(
            f"{NS}:snowflake",
            {
                "manage": True,
                "spec": {
                    "account": "myorg-myaccount",
                    "destinationPublicKey": PRIVATE_KEY,
                    "retlPublicKey": "x",
                },
            },
        ),
        secrets=(PRIVATE_KEY.splitlines()[1],),
    ),
    Case(
        "definitions file missing",
        f"{NS}:definitionsFile",
        "restore definitions.yaml",
        definitions_file("no-such-definitions.yaml"),
    ),
    # ----------------------------------------------------------------- definitions: model and mapping
    Case(
        "empty sql",
        "definitions.yaml:model.query",
        "write one SELECT statement",
        define("model.query", "  \n "),
    ),
    Case(
        "multi statement sql",
        "definitions.yaml:model.query",
        "exactly one SELECT statement",
        define("model.query", "SELECT ID, NAME FROM salesforce.accounts; DELETE FROM salesforce.accounts"),
    ),
    Case(
        "sql longer than segment accepts",
        "definitions.yaml:model.query",
        "65535",
        define(
            "model.query", "SELECT ID FROM salesforce.accounts WHERE NAME IN (" + "'x'," * 20_000 + "'x')"
        ),
    ),
    Case(
        "identifier column not selected",
        "definitions.yaml:model",
        "identifierColumn",
        define("model.identifierColumn", "ACCOUNT_ID"),
    ),
    Case(
        "mapping user id column not selected",
        "definitions.yaml",
        "add them to model.columns",
        define("mapping.userIdColumn", "EMAIL"),
    ),
    Case(
        "table name with forbidden characters",
        "definitions.yaml:model.table",
        "schema.table",
        define("model.table", "salesforce.accounts; DROP TABLE x"),
    ),
    Case(
        "mapping name too long",
        "definitions.yaml:mapping.name",
        "at most 100",
        define("mapping.name", "M" * 101),
    ),
    # ----------------------------------------------------------------- definitions: computed traits
    Case(
        "unknown event property operator",
        "definitions.yaml:traits.custom[0].where.operator",
        "use one of",
        custom(counted_trait(where={"property": "channelType", "operator": "like", "value": "Voice"})),
    ),
    Case(
        "min frequency below 1",
        "definitions.yaml:traits.custom[0].aggregation.minFrequency",
        "at least 1",
        custom(
            counted_trait(aggregation={"type": "most_frequent", "property": "channelType", "minFrequency": 0})
        ),
    ),
    Case(
        "window of 0 days",
        "definitions.yaml:traits.custom[0].window.within.days",
        "at least 1",
        custom(counted_trait(window={"within": {"days": 0}})),
    ),
    Case(
        "unknown aggregation",
        "definitions.yaml:traits.custom[0].aggregation",
        "one of: count",
        custom(counted_trait(aggregation={"type": "median", "property": "duration"})),
    ),
    Case(
        "day range in the wrong order",
        "definitions.yaml:traits.custom[0].window.between",
        "less than toDays",
        custom(counted_trait(window={"between": {"fromDays": 10, "toDays": 7}})),
    ),
    Case(
        "trait name too long",
        "definitions.yaml:traits.custom[0].name",
        "at most 255",
        custom(counted_trait(name="T" * 256)),
    ),
    Case(
        "trait name with a line break",
        "definitions.yaml:traits.custom[0].name",
        "remove it",
        custom(counted_trait(name="Voice\ninbounds")),
    ),
    Case(
        "duplicate trait names",
        "definitions.yaml:traits.custom[1].name",
        "must be unique",
        custom(counted_trait(name="Agent rating"), counted_trait(name="agent RATING")),
    ),
    Case(
        "raw query and builder together",
        "definitions.yaml:traits.custom[0]",
        "not both",
        custom(counted_trait(query="event('Flex - Engagement Initiated').count()")),
    ),
    Case(
        "unknown guide trait switch",
        "definitions.yaml:traits.guide",
        "the guide traits are",
        define("traits.guide", {"total_inbound": False}),
    ),
    # ----------------------------------------------------------------- more of the Segment connection
    Case(
        "token not ascii",
        "segment:token",
        "pulumi config set --secret segment:token",
        secret("segment:token", f"tök{PLAIN_SECRET}"),
    ),
    Case(
        "endpoint in plain http",
        "segment:endpoint",
        "https://",
        put("segment:endpoint", "http://api.segmentapis.com"),
    ),
    Case(
        "endpoint with a password in it",
        "segment:endpoint",
        "user:password",
        put("segment:endpoint", f"https://user:{PLAIN_SECRET}@api.segmentapis.com"),
    ),
    Case(
        "profile api endpoint in plain http",
        f"{NS}:profileApi.endpoint",
        "https://profiles.segment.com",
        put(f"{NS}:profileApi", {"endpoint": "http://profiles.segment.com"}),
    ),
    Case(
        "profile api token with a space",
        f"{NS}:profileApiToken",
        "profileApiToken",
        secret(f"{NS}:profileApiToken", f"{PLAIN_SECRET} x"),
    ),
    Case(
        "misspelt top-level key",
        f"{NS}:warehous",
        f"did you mean {NS}:warehouse",
        rename(f"{NS}:warehouse", f"{NS}:warehous"),
    ),
    Case(
        "misspelt segment key",
        "segment:regio",
        "did you mean segment:region",
        rename("segment:region", "segment:regio"),
    ),
    # ----------------------------------------------------------------- warehouse settings
    Case(
        "snowflake without account",
        f"{NS}:warehouse.settings.account",
        "set warehouse.settings.account",
        setting("warehouse", account=None),
    ),
    Case(
        "misspelt snowflake setting",
        f"{NS}:warehouse.settings.acount",
        "did you mean account",
        setting("warehouse", acount="myorg-myaccount"),
    ),
    Case(
        "bigquery with snowflake settings",
        f"{NS}:warehouse.settings.account",
        "set warehouse.type to snowflake",
        patch(f"{NS}:warehouse", type="bigquery"),
    ),
    Case(
        "snowflake with a bigquery setting",
        f"{NS}:warehouse.settings.project",
        "is a bigquery option",
        setting("warehouse", project="acme-analytics"),
    ),
    Case(
        "reverse etl without database",
        f"{NS}:reverseEtl.settings.database",
        "set reverseEtl.settings.database",
        setting("reverseEtl", database=None),
    ),
    Case(
        "setting in both settings and credentials",
        f"{NS}:warehouse.settings.username",
        "keep it in one place",
        secret(f"{NS}:warehouseCredentials", {"private_key": PLAIN_SECRET, "username": "SEGMENT_USER"}),
    ),
    Case(
        "credential of another warehouse type",
        f"{NS}:warehouseCredentials.password",
        "is a postgres and redshift option",
        secret(f"{NS}:warehouseCredentials", {"private_key": PLAIN_SECRET, "password": PLAIN_SECRET}),
    ),
    Case(
        "credentials without the private key",
        f"{NS}:warehouseCredentials.private_key",
        "--path 'warehouseCredentials.private_key'",
        secret(f"{NS}:warehouseCredentials", {"private_key_passphrase": PLAIN_SECRET}),
    ),
    Case(
        "warehouse credentials not set",
        f"{NS}:warehouseCredentials.private_key",
        "--path 'warehouseCredentials.private_key'",
        unset(f"{NS}:warehouseCredentials"),
    ),
    Case(
        "credential that is not a string",
        f"{NS}:warehouseCredentials.private_key",
        "valid string",
        secret(f"{NS}:warehouseCredentials", {"private_key": 42}),
    ),
    Case(
        "setting that is a number",
        f"{NS}:warehouse.settings.database",
        "must be a string",
        setting("warehouse", database=42),
    ),
    Case(
        "setting with a line break",
        f"{NS}:warehouse.settings.database",
        "remove it",
        setting("warehouse", database="SEGMENT_EVENTS\nDROP"),
    ),
    Case(
        "setting of 5000 characters",
        f"{NS}:warehouse.settings.database",
        "at most 1024",
        setting("warehouse", database="D" * 5000),
    ),
    Case(
        "settings not an object",
        f"{NS}:warehouse.settings",
        "valid dictionary",
        patch(f"{NS}:warehouse", settings="account=acme"),
    ),
    Case(
        "postgres port as text",
        f"{NS}:warehouse.settings.port",
        "must be a number",
        warehouse_type("postgres", {**POSTGRES, "port": "5432"}, {"password": PLAIN_SECRET}),
    ),
    Case(
        "postgres port out of range",
        f"{NS}:warehouse.settings.port",
        "from 1 to 65535",
        warehouse_type("postgres", {**POSTGRES, "port": 70000}, {"password": PLAIN_SECRET}),
    ),
    Case(
        "postgres port negative",
        f"{NS}:warehouse.settings.port",
        "from 1 to 65535",
        warehouse_type("postgres", {**POSTGRES, "port": -1}, {"password": PLAIN_SECRET}),
    ),
    Case(
        "redshift without hostname",
        f"{NS}:warehouse.settings.hostname",
        "set warehouse.settings.hostname",
        warehouse_type(
            "redshift", {k: v for k, v in POSTGRES.items() if k != "hostname"}, {"password": PLAIN_SECRET}
        ),
    ),
    Case(
        "setting of infinity",
        f"{NS}:warehouse.settings.port",
        "finite number",
        warehouse_type("postgres", {**POSTGRES, "port": float("inf")}, {"password": PLAIN_SECRET}),
    ),
    Case(
        "setting of NaN",
        f"{NS}:reverseEtl.settings.port",
        "finite number",
        warehouse_type("postgres", {**POSTGRES, "port": float("nan")}, {"password": PLAIN_SECRET}),
    ),
    Case(
        "huge number in a setting",
        f"{NS}:warehouse.settings.port",
        "write a real value",
        warehouse_type("postgres", {**POSTGRES, "port": 10**30}, {"password": PLAIN_SECRET}),
    ),
    # ----------------------------------------------------------------- schedules
    Case(
        "cron with a shell command",
        f"{NS}:schedule",
        "cron",
        schedule("CRON", spec="0 $(reboot) * * 1", timezone="UTC"),
    ),
    Case("cron hour 25", f"{NS}:schedule", "cron", schedule("CRON", spec="0 25 * * *", timezone="UTC")),
    Case(
        "cron unknown timezone",
        f"{NS}:schedule",
        "timezone",
        schedule("CRON", spec="0 6 * * *", timezone="Mars/Olympus_Mons"),
    ),
    Case(
        "periodic interval of 10 minutes",
        f"{NS}:schedule",
        "more than 10m",
        schedule("PERIODIC", interval="10m"),
    ),
    Case(
        "periodic interval not a duration",
        f"{NS}:schedule",
        "interval",
        schedule("PERIODIC", interval="soon"),
    ),
    Case(
        "dbt cloud empty job id",
        f"{NS}:schedule",
        "non-empty string",
        schedule("DBT_CLOUD", jobId="", accountId="12345"),
    ),
    Case(
        "dbt cloud account id a number",
        f"{NS}:schedule",
        "quote it",
        schedule("DBT_CLOUD", jobId="42", accountId=12345),
    ),
    Case(
        "dbt cloud job id a list",
        f"{NS}:schedule",
        "non-empty string",
        schedule("DBT_CLOUD", jobId=["42"], accountId="12345"),
    ),
    Case(
        "specific days day 7",
        f"{NS}:schedule",
        "0-6",
        schedule("SPECIFIC_DAYS", days=[7], hours=[6], timezone="UTC"),
    ),
    Case(
        "specific days without hours",
        f"{NS}:schedule",
        "non-empty list",
        schedule("SPECIFIC_DAYS", days=[1], hours=[], timezone="UTC"),
    ),
    Case(
        "manual schedule with config", f"{NS}:schedule", "takes no config", schedule("MANUAL", interval="1h")
    ),
    Case(
        "unknown schedule strategy", f"{NS}:schedule.strategy", "PERIODIC", schedule("HOURLY", interval="1h")
    ),
    # ----------------------------------------------------------------- names and other stack values
    *(
        Case(case_id, f"{NS}:{section}.{field}", "remove it", patch(f"{NS}:{section}", **{field: name}))
        for case_id, section, field, name in (
            ("warehouse name with a bidi override", "warehouse", "name", "Flex \u202egnp.exe"),
            ("salesforce name with a line separator", "salesforce", "name", "Flex\u2028Salesforce"),
            ("reverse etl name with NEL", "reverseEtl", "name", "Flex\u0085RETL"),
            (
                "profiles destination name with a bidi isolate",
                "profiles",
                "destinationName",
                "P \u2066x\u2069",
            ),
        )
    ),
    Case("blank space name", f"{NS}:space.name", "write a name", put(f"{NS}:space", {"name": "  "})),
    Case("space without slug or name", f"{NS}:space", "set slug", put(f"{NS}:space", {})),
    Case(
        "salesforce name too long",
        f"{NS}:salesforce.name",
        "at most 100",
        patch(f"{NS}:salesforce", name="S" * 101),
    ),
    Case(
        "salesforce environment unknown",
        f"{NS}:salesforce.environment",
        "'production' or 'sandbox'",
        patch(f"{NS}:salesforce", environment="staging"),
    ),
    Case("protect not a boolean", f"{NS}:protect", "valid boolean", put(f"{NS}:protect", "maybe")),
    Case(
        "environment of another stack",
        f"{NS}:environment",
        "prod",
        put(f"{NS}:environment", "prod"),
    ),
    Case(
        "misspelt nested key",
        f"{NS}:warehouse.nmae",
        "did you mean name",
        patch(f"{NS}:warehouse", nmae="Flex Dev Snowflake"),
    ),
    Case(
        "misspelt salesforce key",
        f"{NS}:salesforce.sourceSlg",
        "did you mean sourceSlug",
        put(f"{NS}:salesforce", {"sourceSlg": "flex_dev_salesforce"}),
    ),
    Case(
        "expected traits without a sample user",
        f"{NS}:verify",
        "needs sampleUserId",
        put(f"{NS}:verify", {"expectedTraits": ["total_inbounds"]}),
    ),
    Case(
        "profile api space id with a slash",
        f"{NS}:profileApi.spaceId",
        "the id Segment shows",
        put(f"{NS}:profileApi", {"spaceId": "spa_1/../../x"}),
    ),
    Case(
        "definitions file outside the project",
        f"{NS}:definitionsFile",
        "inside the project",
        definitions_file("../../etc/passwd"),
    ),
    Case(
        "definitions file a directory",
        f"{NS}:definitionsFile",
        "inside the project",
        definitions_file("docs"),
    ),
    # ----------------------------------------------------------------- definitions: the file itself
    Case(
        "definitions file empty",
        f"{NS}:definitionsFile",
        "write the definitions",
        definitions_text(""),
    ),
    Case(
        "definitions file of comments only",
        "definitions.yaml",
        "write them out",
        definitions_text("# nothing here\n"),
    ),
    Case(
        "definitions with a key given twice",
        "definitions.yaml",
        "keep one",
        definitions_text("model:\n  name: a\nmodel:\n  name: b\n"),
    ),
    Case(
        "definitions with an alias",
        "definitions.yaml",
        "write the value out",
        definitions_text("a: &x [1, 2]\nmodel:\n  columns: *x\n"),
    ),
    Case(
        "definitions with a python tag",
        "definitions.yaml",
        "check the indentation",
        definitions_text("model: !!python/object/apply:os.system ['id']\n"),
    ),
    Case(
        "definitions indented with a tab",
        "definitions.yaml",
        "spaces only",
        definitions_text("model:\n\tname: a\n"),
    ),
    Case(
        "definitions with a NUL byte",
        f"{NS}:definitionsFile",
        "binary file",
        definitions_text("model:\n  name: a\x00\n"),
    ),
    Case(
        "definitions file over 512 KB",
        f"{NS}:definitionsFile",
        "512 KB",
        definitions_text("# " + "x" * 600_000 + "\n"),
    ),
    Case(
        "definitions a list",
        "definitions.yaml",
        "valid dictionary",
        definitions_text("- model\n- mapping\n"),
    ),
    Case(
        "definitions nested too deep",
        "definitions.yaml:model.description",
        "levels deep",
        define("model.description", json.loads("[" * 30 + "]" * 30)),
    ),
    Case(
        "misspelt definitions key",
        "definitions.yaml:model.identifierColum",
        "did you mean identifierColumn",
        define("model.identifierColum", "ID"),
    ),
    Case(
        "misspelt top-level definitions key",
        "definitions.yaml:trait",
        "did you mean traits",
        define("trait", {}),
    ),
    # ----------------------------------------------------------------- definitions: the SQL model
    Case(
        "second statement behind a snowflake comment",
        "definitions.yaml:model.query",
        "exactly one SELECT statement",
        define(
            "model.query",
            "SELECT ID, NAME FROM salesforce.accounts // note\n; DROP TABLE salesforce.accounts",
        ),
    ),
    Case(
        "second statement behind an escaped quote",
        "definitions.yaml:model.query",
        "exactly one SELECT statement",
        define("model.query", "SELECT ID FROM salesforce.accounts WHERE NAME = 'a\\''; DROP TABLE x"),
    ),
    Case(
        "delete as the model",
        "definitions.yaml:model.query",
        "not a SELECT",
        define("model.query", "DELETE FROM salesforce.accounts"),
    ),
    Case(
        "call as the model",
        "definitions.yaml:model.query",
        "not a SELECT",
        define("model.query", "CALL system$wait(10)"),
    ),
    Case(
        "misspelt sql",
        "definitions.yaml:model.query",
        "not valid snowflake SQL",
        define("model.query", "SELEC NAME FORM salesforce.accounts"),
    ),
    Case(
        "sql with a trailing semicolon",
        "definitions.yaml:model.query",
        "remove the trailing ';'",
        define("model.query", "SELECT ID, NAME, PHONE, BILLING_COUNTRY, INDUSTRY FROM salesforce.accounts;"),
    ),
    Case(
        "sql without the mapped columns",
        "definitions.yaml:model.query",
        "add them to its select list",
        define("model.query", "SELECT ID FROM salesforce.accounts"),
    ),
    Case(
        "sql without the identifier column",
        "definitions.yaml:model.query",
        "ACCOUNT_ID",
        both(
            define(
                "model.query", "SELECT ID, NAME, PHONE, BILLING_COUNTRY, INDUSTRY FROM salesforce.accounts"
            ),
            define("model.identifierColumn", "ACCOUNT_ID"),
        ),
    ),
    Case(
        "model name with a line break",
        "definitions.yaml:model.name",
        "remove it",
        define("model.name", "Salesforce\naccounts"),
    ),
    Case(
        "model description of 2000 characters",
        "definitions.yaml:model.description",
        "at most 1024",
        define("model.description", "d" * 2000),
    ),
    Case(
        "model column listed twice",
        "definitions.yaml:model.columns",
        "listed twice",
        define("model.columns", ["ID", "NAME", "name", "PHONE", "BILLING_COUNTRY", "INDUSTRY"]),
    ),
    Case(
        "model of 300 columns",
        "definitions.yaml:model.columns",
        "at most 299",
        define("model.columns", ["ID"] + [f"C{i}" for i in range(299)]),
    ),
    # ----------------------------------------------------------------- definitions: the mapping
    Case(
        "mapping trait key empty",
        "definitions.yaml:mapping.traits",
        "must not be empty",
        mapped(**{"": "NAME"}),
    ),
    Case(
        "mapping trait key huge",
        "definitions.yaml:mapping.traits",
        "at most 255",
        mapped(**{"k" * 300: "NAME"}),
    ),
    Case(
        "mapping trait key with a bidi override",
        "definitions.yaml:mapping.traits",
        "remove it",
        mapped(**{"name\u202e": "NAME"}),
    ),
    Case(
        "mapping trait key of a computed trait",
        f"definitions.yaml:mapping.traits.{TRAIT_KEY}",
        "rename the mapped trait",
        mapped(**{TRAIT_KEY: "NAME"}),
    ),
    Case(
        "mapping trait column not a column",
        "definitions.yaml:mapping.traits",
        "plain column names",
        mapped(name="NAME; DROP TABLE x"),
    ),
    Case(
        "mapping trigger unknown",
        "definitions.yaml:mapping.trigger",
        "'added'",
        define("mapping.trigger", "sometimes"),
    ),
    # ----------------------------------------------------------------- definitions: more computed traits
    Case(
        "trait name with a bidi override",
        "definitions.yaml:traits.custom[0].name",
        "remove it",
        custom(counted_trait(name="Voice \u202eselbuod")),
    ),
    Case(
        "trait name with a paragraph separator",
        "definitions.yaml:traits.custom[0].name",
        "remove it",
        custom(counted_trait(name="Voice\u2029inbounds")),
    ),
    Case(
        "trait name with NEL",
        "definitions.yaml:traits.custom[0].name",
        "remove it",
        custom(counted_trait(name="Voice\u0085inbounds")),
    ),
    Case(
        "trait name without a letter",
        "definitions.yaml:traits.custom[0].name",
        "name it in words",
        custom(counted_trait(name="!!! ---")),
    ),
    Case(
        "trait name a number",
        "definitions.yaml:traits.custom[0].name",
        "valid string",
        custom(counted_trait(name=42)),
    ),
    Case(
        "trait event empty",
        "definitions.yaml:traits.custom[0].event",
        "must not be empty",
        custom(counted_trait(event="")),
    ),
    Case(
        "trait compared with infinity",
        "definitions.yaml:traits.custom[0].where.value",
        "finite",
        custom(counted_trait(where={"property": "duration", "operator": ">", "value": float("inf")})),
    ),
    Case(
        "trait compared with NaN",
        "definitions.yaml:traits.custom[0].where.value",
        "finite",
        custom(counted_trait(where={"property": "duration", "operator": ">", "value": float("nan")})),
    ),
    Case(
        "trait compared with a huge number",
        "definitions.yaml:traits.custom[0].where.value",
        "write a real value",
        custom(counted_trait(where={"property": "duration", "operator": ">", "value": 1e300})),
    ),
    Case(
        "trait window of negative days",
        "definitions.yaml:traits.custom[0].window.within.days",
        "at least 1",
        custom(counted_trait(window={"within": {"days": -5}})),
    ),
    Case(
        "trait window of infinite days",
        "definitions.yaml:traits.custom[0].window.within.days",
        "finite",
        custom(counted_trait(window={"within": {"days": float("inf")}})),
    ),
    Case(
        "trait window of huge days",
        "definitions.yaml:traits.custom[0].window.within.days",
        "write a real value",
        custom(counted_trait(window={"within": {"days": 10**30}})),
    ),
    Case(
        "min frequency as text",
        "definitions.yaml:traits.custom[0].aggregation.minFrequency",
        "valid integer",
        custom(
            counted_trait(
                aggregation={"type": "most_frequent", "property": "channelType", "minFrequency": "2"}
            )
        ),
    ),
    Case(
        "trait property with a control character",
        "definitions.yaml:traits.custom[0].where.property",
        "remove it",
        custom(counted_trait(where={"property": "channel\x1bType", "operator": "exists"})),
    ),
    Case(
        "trait value with a line break",
        "definitions.yaml:traits.custom[0].where.value",
        "remove it",
        custom(
            counted_trait(where={"property": "channelType", "operator": "one_of", "value": ["Voice\nSMS"]})
        ),
    ),
    Case(
        "custom traits not a list",
        "definitions.yaml:traits.custom",
        "valid list",
        define("traits.custom", {"name": "Voice inbounds"}),
    ),
    # ----------------------------------------------------------------- round three: crashes before the fix
    Case(
        "cron timezone a tz folder",
        f"{NS}:schedule",
        "IANA time zone",
        schedule("CRON", spec="0 * * * *", timezone="America"),
    ),
    Case(
        "cron timezone of 300 characters",
        f"{NS}:schedule",
        "IANA time zone",
        schedule("CRON", spec="0 * * * *", timezone="Europe/" + "x" * 293),
    ),
    Case(
        "specific days timezone localtime",
        f"{NS}:schedule",
        "IANA time zone",
        schedule("SPECIFIC_DAYS", days=[1], hours=[9], timezone="localtime"),
    ),
    Case(
        "specific days day of infinity",
        f"{NS}:schedule",
        "whole numbers 0-6",
        schedule("SPECIFIC_DAYS", days=[float("inf")], hours=[9], timezone="UTC"),
    ),
    Case(
        "specific days hour of 10^20",
        f"{NS}:schedule",
        "whole numbers 0-23",
        schedule("SPECIFIC_DAYS", days=[1], hours=[10**20], timezone="UTC"),
    ),
    Case(
        "sql ending in a line comment",
        "definitions.yaml:model.query",
        "/* … */",
        define(
            "model.query",
            "SELECT ID, NAME, PHONE, BILLING_COUNTRY, INDUSTRY FROM salesforce.accounts -- the accounts",
        ),
    ),
    # ----------------------------------------------------------------- invisible and look-alike characters
    Case(
        "trait name with a zero-width joiner",
        "definitions.yaml:traits.custom[0].name",
        "remove it",
        custom(counted_trait(name="Voice\u200dinbounds")),
    ),
    Case(
        "salesforce name with a no-break space",
        f"{NS}:salesforce.name",
        "remove it",
        patch(f"{NS}:salesforce", name="Salesforce\u00a0dev"),
    ),
    Case(
        "warehouse name with a left-to-right mark",
        f"{NS}:warehouse.name",
        "remove it",
        patch(f"{NS}:warehouse", name="\u200eSnowflake dev"),
    ),
    Case(
        "reverse etl name with a byte order mark",
        f"{NS}:reverseEtl.name",
        "remove it",
        patch(f"{NS}:reverseEtl", name="\ufeffReverse ETL dev"),
    ),
    Case(
        "profiles destination name with a soft hyphen",
        f"{NS}:profiles.destinationName",
        "remove it",
        patch(f"{NS}:profiles", destinationName="Segment Pro\u00adfiles"),
    ),
    Case(
        "space name with an ideographic space",
        f"{NS}:space.name",
        "remove it",
        put(f"{NS}:space", {"name": "Unified\u3000Profiles"}),
    ),
    Case(
        "model name with an arabic letter mark",
        "definitions.yaml:model.name",
        "remove it",
        define("model.name", "Salesforce\u061c accounts"),
    ),
    Case(
        "mapping name with a word joiner",
        "definitions.yaml:mapping.name",
        "remove it",
        define("mapping.name", "Send\u2060Identify"),
    ),
    Case(
        "setting with a zero-width space",
        f"{NS}:warehouse.settings.database",
        "remove it",
        setting("warehouse", database="SEGMENT\u200b"),
    ),
    Case(
        "trait name in fullwidth letters",
        "definitions.yaml:traits.custom[0].name",
        "write it as 'TOTAL INBOUNDS'",
        custom(
            counted_trait(
                name="\uff34\uff2f\uff34\uff21\uff2c \uff29\uff2e\uff22\uff2f\uff35\uff2e\uff24\uff33"
            )
        ),
    ),
    Case(
        "trait name with a cyrillic letter",
        "definitions.yaml:traits.custom[0].name",
        "ASCII letters and digits",
        custom(counted_trait(name="\u0422otal inbounds")),
    ),
    Case(
        "mapping trait key in fullwidth letters",
        "definitions.yaml:mapping.traits",
        "write it as 'total_inbounds'",
        mapped(**{"\uff54\uff4f\uff54\uff41\uff4c_inbounds": "NAME"}),
    ),
    # ----------------------------------------------------------------- numbers: ASCII digits, within a range
    Case(
        "max retries of a billion",
        "segment:maxRetries",
        "from 0 to 10",
        put("segment:maxRetries", "1000000000"),
    ),
    Case(
        "max retries in arabic-indic digits",
        "segment:maxRetries",
        "in ASCII digits",
        put("segment:maxRetries", "\u0663"),
    ),
    Case(
        "read timeout with an underscore",
        "segment:readTimeout",
        "in ASCII digits",
        put("segment:readTimeout", "1_000"),
    ),
    Case(
        "trait window of 10^12 days",
        "definitions.yaml:traits.custom[0].window.within.days",
        "at most 3650",
        custom(counted_trait(window={"within": {"days": 10**12}})),
    ),
    Case(
        "trait window of 10000 hours",
        "definitions.yaml:traits.custom[0].window.within.hours",
        "at most 8760",
        custom(counted_trait(window={"within": {"hours": 10_000}})),
    ),
    Case(
        "min frequency of a billion",
        "definitions.yaml:traits.custom[0].aggregation.minFrequency",
        "at most 10000",
        custom(
            counted_trait(
                aggregation={"type": "most_frequent", "property": "channelType", "minFrequency": 10**9}
            )
        ),
    ),
    # ----------------------------------------------------------------- shapes
    Case(
        "engage space write key with spaces and a line break",
        f"{NS}:engageSpaceWriteKey",
        "copy it again",
        secret(f"{NS}:engageSpaceWriteKey", f"{PLAIN_SECRET} x\n"),
    ),
    Case(
        "profile api space id of two dots",
        f"{NS}:profileApi.spaceId",
        "the id Segment shows",
        put(f"{NS}:profileApi", {"spaceId": ".."}),
    ),
    Case(
        "profile api space id with an encoded slash",
        f"{NS}:profileApi.spaceId",
        "the id Segment shows",
        put(f"{NS}:profileApi", {"spaceId": "a%2F..%2Fb"}),
    ),
    Case(
        "expected trait with a comma",
        f"{NS}:verify.expectedTraits",
        "list each key as its own entry",
        put(f"{NS}:verify", {"sampleUserId": "42", "expectedTraits": ["total_inbounds,email"]}),
    ),
    Case(
        "dbt cloud job id with spaces around it",
        f"{NS}:schedule",
        "without spaces",
        schedule("DBT_CLOUD", jobId=" 12345 ", accountId="678"),
    ),
    Case(
        "trait condition value an unquoted NO",
        "definitions.yaml:traits.custom[0].where.value",
        "quote it ('NO')",
        definitions_text(
            "traits:\n  custom:\n    - name: Voice inbounds\n      event: Flex - Engagement Initiated\n"
            "      where: {property: channelType, operator: '=', value: NO}\n      aggregation: {type: count}\n"
        ),
    ),
    Case(
        "definitions key on unquoted",
        "definitions.yaml:model",
        "quote it ('on':)",
        definitions_text("model:\n  on: true\n"),
    ),
]


# ----------------------------------------------------------------------------- running a case


@pytest.fixture(scope="module")
def server() -> Iterator[ProviderServer]:
    with ProviderServer(cwd=REPO) as running:
        yield running


def base_stack(emulator: Any, name: str) -> Stack:
    config = stack_config(emulator.url, name, emulator.token)
    definitions = yaml.safe_load((REPO / "definitions.yaml").read_text())
    return Stack(config=config, secret_keys=set(DEMO_SECRETS), definitions=definitions, name=name)


def run_case(case: Case, server: ProviderServer, emulator: Any, tmp_path: Path) -> tuple[str, ProgramEngine]:
    """Run ``pulumi up`` with the case's breakage; the failure's text, and the engine (its state)."""
    stack = base_stack(emulator, case.stack)
    original = json.dumps(stack.definitions, sort_keys=True)
    case.change(stack)
    if stack.definitions_text is not None or json.dumps(stack.definitions, sort_keys=True) != original:
        path = tmp_path / "definitions.yaml"
        text = stack.definitions_text
        # Escaped, not raw: PyYAML writes a raw NEL that its own reader folds away.
        path.write_text(yaml.safe_dump(stack.definitions, allow_unicode=False) if text is None else text)
        stack.set(f"{NS}:definitionsFile", str(path))
    engine = ProgramEngine(server, stack=stack.name, config=stack.config, secret_keys=stack.secret_keys)
    emulator.clear_requests()
    with pytest.raises((pulumi.RunError, DeploymentFailed)) as raised:
        engine.up(MAIN)
    return str(raised.value), engine


def failure_detail(message: str, key: str) -> str | None:
    """What the failure says about ``key``: the text after ``<key>:`` on the line of a config problem list,
    else the whole message when it names ``key`` in its text (errors found by asking Segment)."""
    for line in message.splitlines():
        text = line.strip().removeprefix("- ")
        if text.startswith(f"{key}: "):
            return text[len(key) + 2 :]
    return message.strip() if key in message else None


def documented_cases() -> dict[str, tuple[str, str]]:
    """Case id → (key, message start), from the table in docs/bad-input.md."""
    rows: dict[str, tuple[str, str]] = {}
    for line in DOC.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[1].startswith("`") and not set(cells[0]) <= {"-", " "}:
            case_id, key, start = cells
            rows[case_id] = (key.strip("`"), unescape_markdown(start).removesuffix("…").strip())
    return rows


def unescape_markdown(text: str) -> str:
    return text.replace("\\|", "|")


@pytest.fixture
def provider_requests(monkeypatch: pytest.MonkeyPatch, emulator: Any) -> list[int]:
    """Each time the program asked the engine for the provider's process (``provider_start.py``): how many
    requests Segment had been sent by then."""
    asked: list[int] = []
    monkeypatch.setattr(
        flex_program_run, "start_provider_early", lambda: asked.append(len(emulator.requests))
    )
    return asked


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_fails_naming_the_key_and_the_fix_and_creates_nothing(
    case: Case,
    server: ProviderServer,
    emulator: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    provider_requests: list[int],
) -> None:
    for variable in ("SEGMENT_API_TOKEN", "SEGMENT_API_REGION", "SEGMENT_API_URL"):
        monkeypatch.delenv(variable, raising=False)
    message, engine = run_case(case, server, emulator, tmp_path)

    # Paths in messages start at the checkout; the doc writes {project} for it.
    # Paths of a definitions file written for the case start at its scratch directory: {tmp} in the doc.
    detail = failure_detail(message.replace(str(REPO), "{project}").replace(str(tmp_path), "{tmp}"), case.key)
    assert detail is not None, f"no line names {case.key!r}:\n{message}"
    assert case.fix.lower() in detail.lower(), f"the fix {case.fix!r} is not in: {detail}"
    for value in case.secrets:
        assert value not in message, "the message repeats a secret"

    assert [f"{r.method} {r.operation_id}" for r in emulator.requests if r.method in MUTATING] == []
    if not case.reads_api:
        assert [f"{r.method} {r.path}" for r in emulator.requests] == [], "found without asking Segment"
        assert provider_requests == [], "the engine was asked for the provider's process on bad input"
    assert len(engine.state) == 0, "nothing may be registered when the input is bad"

    documented = documented_cases().get(case.id)
    assert documented is not None, f"docs/bad-input.md has no row for {case.id!r}"
    assert documented[0] == case.key
    assert detail.startswith(documented[1]), (
        f"docs/bad-input.md says {documented[1]!r}, the message is {detail!r}"
    )


def test_the_table_has_at_least_a_hundred_distinct_cases() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) >= 100
    assert len(set(ids)) == len(ids)


def test_docs_list_exactly_the_cases_of_the_table() -> None:
    assert sorted(documented_cases()) == sorted(case.id for case in CASES)


def test_a_good_stack_passes_the_same_run(
    server: ProviderServer, emulator: Any, tmp_path: Path, provider_requests: list[int]
) -> None:
    """The baseline every case breaks must itself deploy, or the cases would prove nothing."""
    stack = base_stack(emulator, "dev")
    engine = ProgramEngine(server, stack="dev", config=stack.config, secret_keys=stack.secret_keys)
    emulator.clear_requests()
    result = engine.up(MAIN)
    assert result.failures == [] and len(engine.state) > 0
    # Once, with the configuration checked and before the preflight's first read.
    assert provider_requests == [0]


# ----------------------------------------------------------------------------- the documented number ranges


def _tuning_accepts(key: str) -> Callable[[float], bool]:
    def accepts(value: float) -> bool:
        try:
            client_tuning({key: str(value)}.get)
        except ConfigurationError:
            return False
        return True

    return accepts


def _trait_accepts(**fields: Any) -> Callable[[float], bool]:
    """Whether a counted trait with ``fields`` (``{"window": {"within": {"days": N}}}``, N the value) is accepted."""

    def accepts(value: float) -> bool:
        raw = json.loads(json.dumps(counted_trait(**fields)).replace('"N"', json.dumps(value)))
        try:
            parse_trait_config("t", raw)
        except TraitDefinitionError:
            return False
        return True

    return accepts


def _days_accepts(name: str) -> Callable[[float], bool]:
    def accepts(value: float) -> bool:
        config = {"days": [1], "hours": [9], "timezone": "UTC", name: [value]}
        return schedule_problem("SPECIFIC_DAYS", config) is None

    return accepts


def _port_accepts(value: float) -> bool:
    settings = {**POSTGRES, "port": value}
    problems = settings_problems("postgres", settings, {"password": "p"}, "warehouse", "warehouseCredentials")
    return problems == []


RANGE_CHECKS: dict[str, Callable[[float], bool]] = {
    **{key: _tuning_accepts(key) for key in CLIENT_TUNING_KEYS},
    "schedule SPECIFIC_DAYS days": _days_accepts("days"),
    "schedule SPECIFIC_DAYS hours": _days_accepts("hours"),
    "warehouse.settings.port (postgres, redshift)": _port_accepts,
    "trait window.within.days": _trait_accepts(window={"within": {"days": "N"}}),
    "trait window.within.hours": _trait_accepts(window={"within": {"hours": "N"}}),
    "trait window.between.toDays": _trait_accepts(window={"between": {"fromDays": 0, "toDays": "N"}}),
    "trait aggregation.minFrequency": _trait_accepts(
        aggregation={"type": "most_frequent", "property": "channelType", "minFrequency": "N"}
    ),
    "trait options.backfillDurationDays": _trait_accepts(options={"backfillDurationDays": "N"}),
    "any other number": lambda value: guards.value_problems({"x": value}, "p") == [],
}


def documented_ranges() -> dict[str, str]:
    """Key → range, from the table of ranges in docs/bad-input.md."""
    text = DOC.read_text().split("## Numbers and their ranges", 1)[1].split("| case |", 1)[0]
    ranges = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] not in ("key",) and not set(cells[0]) <= {"-"}:
            ranges[cells[0].replace("`", "")] = cells[1]
    return ranges


def test_every_documented_range_is_the_range_the_code_checks() -> None:
    ranges = documented_ranges()
    assert sorted(ranges) == sorted(RANGE_CHECKS)
    for key, text in ranges.items():
        accepts = RANGE_CHECKS[key]
        if match := re.fullmatch(r"above (\S+), at most (\S+)", text):
            low, high = (float(n) for n in match.groups())
            assert not accepts(low) and accepts(low + 0.5), key
        else:
            match = re.fullmatch(r"(-?\d+) to (\d+)", text)
            assert match is not None, f"{key}: unreadable range {text!r}"
            low, high = (int(n) for n in match.groups())
            assert accepts(low) and not accepts(low - 1), key
        assert accepts(high) and not accepts(high + 1), key


# ----------------------------------------------------------------------------- one SQL check for both layers

DOLLAR_QUOTED = "SELECT $$a;b$$ AS X, ID, NAME, PHONE, BILLING_COUNTRY, INDUSTRY FROM salesforce.accounts"
QUERIES = [
    DOLLAR_QUOTED,
    "SELECT ID FROM salesforce.accounts -- the accounts",
    "SELECT ID -- the id\nFROM salesforce.accounts",
    "SELECT ID FROM salesforce.accounts /* -- not a line comment */",
    "SELECT ID FROM salesforce.accounts; DELETE FROM salesforce.accounts",
    "SELECT ID FROM salesforce.accounts // a snowflake comment",
    "SELECT 'a;b' AS ID FROM t;",
    "DELETE FROM salesforce.accounts",
]


@pytest.mark.parametrize("warehouse", ["snowflake", "bigquery", "postgres", "redshift"])
@pytest.mark.parametrize("query", QUERIES)
def test_the_program_and_the_provider_judge_every_query_alike(query: str, warehouse: str) -> None:
    definitions = {"model": {"query": query, "identifierColumn": "ID"}, "mapping": {"traits": {}}}
    program = _model_query_problems(Definitions.model_validate(definitions), warehouse, "definitions.yaml")
    provider = ReverseEtlModelProvider().check(
        {},
        {
            "source_id": "src",
            "name": "m",
            "query": query,
            "query_identifier_column": "ID",
            "warehouse_type": warehouse,
        },
    )
    program_refuses = [p.message for p in program if "does not select" not in p.message]
    assert bool(program_refuses) == bool(provider.failures), (program_refuses, provider.failures)
    if program_refuses:
        assert provider.failures[0].reason.endswith(program_refuses[0])


def test_a_dollar_quoted_semicolon_deploys_in_snowflake(
    server: ProviderServer, emulator: Any, tmp_path: Path
) -> None:
    """Snowflake reads ``$$a;b$$`` as one string, so the query is one SELECT and Segment's CTE around it holds:
    both checks accept it, and the model is created."""
    stack = base_stack(emulator, "dev")
    stack.define("model.query", DOLLAR_QUOTED)
    path = tmp_path / "definitions.yaml"
    path.write_text(yaml.safe_dump(stack.definitions))
    stack.set(f"{NS}:definitionsFile", str(path))
    engine = ProgramEngine(server, stack="dev", config=stack.config, secret_keys=stack.secret_keys)
    result = engine.up(MAIN)
    assert result.failures == []
    models = [r for r in emulator.requests if r.operation_id == "createReverseEtlModel"]
    assert len(models) == 1 and models[0].body["query"] == DOLLAR_QUOTED


# ----------------------------------------------------------------------------- the doctor reads the same rules


@pytest.mark.parametrize(
    "schedule_config",
    [
        {"strategy": "SPECIFIC_DAYS", "config": {"days": [float("inf")], "hours": [9], "timezone": "UTC"}},
        {"strategy": "CRON", "config": {"spec": "0 * * * *", "timezone": "America"}},
        {"strategy": "CRON", "config": {"spec": "0 * * * *", "timezone": "A" * 300}},
    ],
    ids=["infinite day", "tz folder", "300-character zone"],
)
def test_the_doctor_reads_a_stack_file_with_a_broken_schedule_without_a_traceback(
    schedule_config: dict[str, Any], emulator: Any, tmp_path: Path
) -> None:
    document = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())
    document["config"][f"{NS}:schedule"] = schedule_config
    stack_file = tmp_path / "Pulumi.dev.yaml"
    stack_file.write_text(yaml.safe_dump(document))
    out, err = io.StringIO(), io.StringIO()
    emulator.clear_requests()

    argv = ["--stack", "dev", "--config-file", str(stack_file), "--endpoint", emulator.url]
    code = doctor_main(
        argv, env={"SEGMENT_API_TOKEN": emulator.token, **SESSION_PACING_ENV}, out=out, err=err
    )

    text = out.getvalue() + err.getvalue()
    assert code == 2, text
    assert (f"{NS}:schedule" in text and "IANA time zone" in text) or "whole numbers 0-6" in text, text
    assert "Traceback" not in text and "OverflowError" not in text and "IsADirectoryError" not in text
    assert [r for r in emulator.requests if r.method in MUTATING] == []
