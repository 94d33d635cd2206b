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

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from flex_tools.demo import DEMO_SECRETS, stack_config
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
    if json.dumps(stack.definitions, sort_keys=True) != original:
        path = tmp_path / "definitions.yaml"
        path.write_text(yaml.safe_dump(stack.definitions, allow_unicode=True))
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


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_fails_naming_the_key_and_the_fix_and_creates_nothing(
    case: Case, server: ProviderServer, emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("SEGMENT_API_TOKEN", "SEGMENT_API_REGION", "SEGMENT_API_URL"):
        monkeypatch.delenv(variable, raising=False)
    message, engine = run_case(case, server, emulator, tmp_path)

    # Paths in messages start at the checkout; the doc writes {project} for it.
    detail = failure_detail(message.replace(str(REPO), "{project}"), case.key)
    assert detail is not None, f"no line names {case.key!r}:\n{message}"
    assert case.fix.lower() in detail.lower(), f"the fix {case.fix!r} is not in: {detail}"
    for value in case.secrets:
        assert value not in message, "the message repeats a secret"

    assert [f"{r.method} {r.operation_id}" for r in emulator.requests if r.method in MUTATING] == []
    if not case.reads_api:
        assert [f"{r.method} {r.path}" for r in emulator.requests] == [], "found without asking Segment"
    assert len(engine.state) == 0, "nothing may be registered when the input is bad"

    documented = documented_cases().get(case.id)
    assert documented is not None, f"docs/bad-input.md has no row for {case.id!r}"
    assert documented[0] == case.key
    assert detail.startswith(documented[1]), (
        f"docs/bad-input.md says {documented[1]!r}, the message is {detail!r}"
    )


def test_the_table_has_at_least_thirty_distinct_cases() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) >= 30
    assert len(set(ids)) == len(ids)


def test_docs_list_exactly_the_cases_of_the_table() -> None:
    assert sorted(documented_cases()) == sorted(case.id for case in CASES)


def test_a_good_stack_passes_the_same_run(server: ProviderServer, emulator: Any, tmp_path: Path) -> None:
    """The baseline every case breaks must itself deploy, or the cases would prove nothing."""
    stack = base_stack(emulator, "dev")
    engine = ProgramEngine(server, stack="dev", config=stack.config, secret_keys=stack.secret_keys)
    result = engine.up(MAIN)
    assert result.failures == [] and len(engine.state) > 0
