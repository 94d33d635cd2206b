"""Least privilege: the program asks Segment and Snowflake for nothing beyond what docs/security.md lists.

The tables of docs/security.md are the data: which Segment operation each command uses and the role it needs,
which roles each command's token needs, and the Snowflake grants. The tests run the real program through the
engine stand-in against the emulator and compare what it did with those tables:

* ``pulumi preview`` sends only GET requests, and only operations documented for preview;
* ``up`` (create, change, remove, adopt), ``refresh`` and ``destroy`` send only operations documented for them;
* the table lists exactly the operations the API client knows, each with its method;
* each command's roles cover the role of every operation it uses, and read-only commands hold no write role;
* with ``snowflake.manage: true`` the grants the stack registers are exactly the documented ones.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from flex_tools.demo import DEMO_SECRETS, stack_config
from segment_provider.api.operations import OPERATIONS
from tests.harness import ProgramEngine, ProviderServer
from tests.program.test_snowflake import DESTINATION_KEY, RETL_KEY

REPO = Path(__file__).resolve().parents[2]
MAIN = REPO / "__main__.py"
DOC = REPO / "docs" / "security.md"
NS = "flex-unified-profiles"
READ_ONLY_COMMANDS = ("preview", "refresh", "doctor", "export")
COMMANDS = {
    "`pulumi preview`": "preview",
    "`pulumi up`": "up",
    "`pulumi destroy`": "destroy",
    "`pulumi refresh`": "refresh",
    "`flex-doctor`": "doctor",
    "`flex-export`": "export",
}
ANY_TOKEN = "any token"
GRANT = "snowflake:index/grantPrivilegesToAccountRole:GrantPrivilegesToAccountRole"
ROLE_GRANT = "snowflake:index/grantAccountRole:GrantAccountRole"


# ----------------------------------------------------------------------------- the documented data


def markdown_table(heading: str) -> list[list[str]]:
    """The body rows of the first table after ``heading``, each cell stripped of backticks and ❓ marks."""
    lines = DOC.read_text().splitlines()
    start = lines.index(heading)
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if line.startswith("|"):
            cells = [cell.replace("`", "").replace("❓", "").strip() for cell in line.strip("|").split("|")]
            rows.append(cells)
        elif rows:
            break
    _header, separator, *body = rows
    assert set("".join(separator)) <= {"-", ":"}, f"no table under {heading!r}"
    return body


@dataclass(frozen=True)
class DocumentedOperation:
    method: str
    used_by: frozenset[str]
    roles: frozenset[str]
    """Every role the operation needs ("A + B"), or empty for any token."""


def documented_operations() -> dict[str, DocumentedOperation]:
    table = markdown_table("### Every Segment operation, who uses it, and the role it needs")
    operations = {}
    for operation, method, used_by, role in table:
        roles = frozenset() if role == ANY_TOKEN else frozenset(r.strip() for r in role.split("+"))
        commands = frozenset() if used_by == "none" else frozenset(c.strip() for c in used_by.split(","))
        operations[operation] = DocumentedOperation(method, commands, roles)
    return operations


def documented_command_roles() -> dict[str, frozenset[str]]:
    table = markdown_table("## The Segment Public API token")
    return {
        COMMANDS[f"`{command}`"]: frozenset(r.strip() for r in roles.split(";")) for command, roles in table
    }


def documented_grants() -> set[tuple[str, str, str]]:
    return {
        (normalize_privileges(privileges), target, grantee)
        for privileges, target, grantee in markdown_table("### What the stack grants Segment's two users")
    }


def normalize_privileges(text: str) -> str:
    return text if text.startswith("role ") else ", ".join(sorted(p.strip() for p in text.split(",")))


def covers(held: str, needed: str) -> bool:
    """An Admin role includes the Read-only role of the same area (Segment's roles are additive)."""
    area = re.sub(r" (Admin|Read-only)$", "", needed)
    return held == needed or (needed.endswith("Read-only") and held == f"{area} Admin")


# ----------------------------------------------------------------------------- running the program


@pytest.fixture(scope="module")
def server() -> Iterator[ProviderServer]:
    with ProviderServer(cwd=REPO) as running:
        yield running


@pytest.fixture
def flex_emulator(emulator: Any) -> Any:
    emulator.seed_flex_events("unified-profiles-dev")
    return emulator


def engine_for(server: ProviderServer, emulator: Any, **config: Any) -> ProgramEngine:
    values = stack_config(emulator.url, "dev", emulator.token)
    values.update({k: json.dumps(v) if isinstance(v, dict | list) else str(v) for k, v in config.items()})
    return ProgramEngine(server, stack="dev", config=values, secret_keys=set(DEMO_SECRETS))


def seen(emulator: Any) -> set[tuple[str, str]]:
    """(method, operation id) of every request since the last clear; every request must be a known operation."""
    requests = list(emulator.requests)
    unknown = [f"{r.method} {r.path}" for r in requests if r.operation_id is None]
    assert unknown == [], f"requests that are no Segment operation: {unknown}"
    emulator.clear_requests()
    return {(r.method, r.operation_id) for r in requests}


def changed_definitions(tmp_path: Path) -> str:
    """definitions.yaml with the model's query, one trait changed and one trait removed."""
    data = yaml.safe_load((REPO / "definitions.yaml").read_text())
    data["model"]["columns"] = [*data["model"]["columns"], "TYPE"]
    data["traits"]["guide"]["total_outbounds"] = False
    data["traits"]["custom"] = [
        {"name": "Voice inbounds", "event": "Flex - Engagement Initiated", "aggregation": {"type": "count"}}
    ]
    path = tmp_path / "definitions.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def assert_documented_for(command: str, operations: set[tuple[str, str]]) -> None:
    documented = documented_operations()
    missing = sorted(
        f"{m} {op}" for m, op in operations if command not in documented.get(op, NOTHING).used_by
    )
    assert missing == [], f"docs/security.md does not list these operations under {command}: {missing}"


NOTHING = DocumentedOperation("", frozenset(), frozenset())


# ----------------------------------------------------------------------------- the doc against the code


def test_the_doc_lists_exactly_the_operations_the_client_knows_with_their_methods() -> None:
    documented = documented_operations()
    assert sorted(documented) == sorted(OPERATIONS)
    wrong = {
        op: (d.method, OPERATIONS[op].method)
        for op, d in documented.items()
        if d.method != OPERATIONS[op].method
    }
    assert wrong == {}


def test_read_only_commands_use_only_get_operations_and_read_roles() -> None:
    documented = documented_operations()
    for command in READ_ONLY_COMMANDS:
        writes = [op for op, d in documented.items() if command in d.used_by and d.method != "GET"]
        assert writes == [], f"{command} is documented as read-only but uses {writes}"
        write_roles = [role for role in documented_command_roles()[command] if not role.endswith("Read-only")]
        assert write_roles == [], f"the {command} token is documented with write roles {write_roles}"


def test_each_commands_roles_cover_every_operation_it_uses() -> None:
    command_roles = documented_command_roles()
    assert set(command_roles) == set(COMMANDS.values())
    for op, documented in documented_operations().items():
        assert documented.method == "GET" or all(r.endswith("Admin") for r in documented.roles), op
        for command in documented.used_by:
            uncovered = [
                needed
                for needed in documented.roles
                if not any(covers(h, needed) for h in command_roles[command])
            ]
            assert uncovered == [], (
                f"{command} uses {op}, which needs {uncovered}, not in its documented roles"
            )


# ----------------------------------------------------------------------------- the program against the doc


def test_preview_only_reads_fresh_and_with_changes_pending(
    server: ProviderServer, flex_emulator: Any, tmp_path: Path
) -> None:
    engine = engine_for(server, flex_emulator)
    flex_emulator.clear_requests()
    engine.preview(MAIN)
    fresh = seen(flex_emulator)

    engine.up(MAIN)
    flex_emulator.clear_requests()
    engine.config[f"{NS}:definitionsFile"] = changed_definitions(tmp_path)
    engine.config[f"{NS}:schedule"] = json.dumps({"strategy": "PERIODIC", "config": {"interval": "4h"}})
    planned = engine.preview(MAIN)
    pending = seen(flex_emulator)

    assert planned.has_changes, "the second preview must have changes to plan, or it proves little"
    for operations in (fresh, pending):
        assert {method for method, _ in operations} == {"GET"}
        assert_documented_for("preview", operations)


def test_up_refresh_and_destroy_use_only_documented_operations(
    server: ProviderServer, flex_emulator: Any, tmp_path: Path
) -> None:
    engine = engine_for(server, flex_emulator)
    flex_emulator.clear_requests()
    engine.up(MAIN)
    created = seen(flex_emulator)

    engine.config[f"{NS}:definitionsFile"] = changed_definitions(tmp_path)
    engine.config[f"{NS}:schedule"] = json.dumps({"strategy": "PERIODIC", "config": {"interval": "4h"}})
    engine.config[f"{NS}:warehouse"] = json.dumps(
        {**json.loads(engine.config[f"{NS}:warehouse"]), "name": "Flex Dev Snowflake 2"}
    )
    changed = engine.up(MAIN)
    updated = seen(flex_emulator)
    assert {"update", "delete", "create"} <= set(changed.changes.values())

    # A second stack that takes the same objects over (`adopt: true`) looks each one up first.
    adopter = ProgramEngine(
        server, stack="dev", config={**engine.config, f"{NS}:adopt": "true"}, secret_keys=engine.secret_keys
    )
    adopter.up(MAIN)
    adopted = seen(flex_emulator)

    engine.refresh()
    refreshed = seen(flex_emulator)
    engine.destroy()
    destroyed = seen(flex_emulator)

    for operations in (created, updated, adopted):
        assert_documented_for("up", operations)
    assert_documented_for("refresh", refreshed)
    assert {method for method, _ in refreshed} == {"GET"}
    assert_documented_for("destroy", destroyed)
    assert {"DELETE"} <= {method for method, _ in destroyed}
    # Each step really exercised its kind of operation, so the checks above are not vacuous.
    assert {"POST"} <= {m for m, _ in created} and {"PATCH", "DELETE"} <= {m for m, _ in updated}
    assert any(op.startswith("list") for _, op in adopted)


# ----------------------------------------------------------------------------- Snowflake


def grant_of(inputs: dict[str, Any], type_: str) -> tuple[str, str, str]:
    """(privileges, on, to) of one registered grant, written as docs/security.md writes them."""
    if type_ == ROLE_GRANT:
        grantee = f"user {inputs['userName']}" if "userName" in inputs else f"role {inputs['parentRoleName']}"
        return f"role {inputs['roleName']}", "—", grantee
    assert not inputs.get("allPrivileges") and not inputs.get("withGrantOption"), inputs
    assert "onAccount" not in inputs, "a grant on the account"
    target = ""
    if account_object := inputs.get("onAccountObject"):
        target = f"{account_object['objectType'].lower()} {account_object['objectName']}"
    elif schema := inputs.get("onSchema"):
        if "allSchemasInDatabase" in schema:
            target = f"all schemas in database {schema['allSchemasInDatabase']}"
        elif "futureSchemasInDatabase" in schema:
            target = f"future schemas in database {schema['futureSchemasInDatabase']}"
        else:
            target = f"schema {schema['schemaName']}"
    elif schema_object := inputs.get("onSchemaObject"):
        for scope in ("all", "future"):
            if bulk := schema_object.get(scope):
                where = (
                    f"database {bulk['inDatabase']}" if "inDatabase" in bulk else f"schema {bulk['inSchema']}"
                )
                target = f"{scope} {bulk['objectTypePlural'].lower()} in {where}"
        if not target:
            target = f"{schema_object['objectType'].lower()} {schema_object['objectName']}"
    assert target, f"a grant on something docs/security.md cannot describe: {sorted(inputs)}"
    return normalize_privileges(", ".join(inputs["privileges"])), target, f"role {inputs['accountRoleName']}"


def test_the_snowflake_grants_are_exactly_the_documented_ones(
    server: ProviderServer, flex_emulator: Any
) -> None:
    spec = {"account": "myorg-myaccount", "destinationPublicKey": DESTINATION_KEY, "retlPublicKey": RETL_KEY}
    engine = engine_for(server, flex_emulator, **{f"{NS}:snowflake": {"manage": True, "spec": spec}})
    engine.up(MAIN)
    registered = [r for r in engine.registrations if r.type in (GRANT, ROLE_GRANT)]
    grants = [grant_of(r.inputs, r.type) for r in registered]

    assert len(grants) == len(set(grants)), "a grant is declared twice"
    assert set(grants) == documented_grants()
    users = [
        r for r in engine.registrations if r.type.startswith("snowflake:index/") and "user" in r.type.lower()
    ]
    assert {r.type for r in users} == {"snowflake:index/serviceUser:ServiceUser"}, (
        "only key-pair service users"
    )
    assert all("password" not in r.inputs for r in users)
