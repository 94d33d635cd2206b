"""The export cannot be injected: every Segment-side string, however hostile, reads back as exactly itself.

Each hostile text goes into every string field Segment returns (names, descriptions, settings keys and values,
mapping trait keys, the trigger, queries). The written files must load back to exactly the data the export
meant to write, no key may appear that it did not write, and no line break, control or invisible character
may reach a file or the terminal raw.
"""

from __future__ import annotations

import shlex
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from flex_program.config import NAMESPACE, load_yaml
from flex_program.safe_yaml import comment
from flex_tools import export
from segment_emulator import Emulator
from segment_provider.api.models import TraitDefinition
from tests.export.helpers import run_export
from tests.export.workspace import SPACE, build_by_hand, client_for

HOSTILE = {
    "newline": "Accounts\nflex-unified-profiles:allowUnprotectedProd: true",
    "crlf-comment": "Accounts\r\n# segment:endpoint: http://attacker.example",
    "hash": "Accounts # segment:endpoint: http://attacker.example",
    "colon": "segment:endpoint: http://attacker.example",
    "quotes": 'it\'s "quoted" `twice` \'\' ""',
    "document": "---\nsegment:endpoint: http://attacker.example\n...",
    "tag": "!!python/object/apply:os.system ['id']",
    "anchor": "&a [*a, *a] <<: *a",
    "u2028": "Accounts\u2028segment:endpoint: http://attacker.example\u2029",
    "bidi": "Accounts \u202egnp.exe\u202c \u2066x\u2069 \u200b",
    "control": "Accounts \x1b[31m red \x00 \x85 \t",
    "resolvable": "1e3",
    "boolean": "yes",
    "empty-ish": " ",
}


def _hidden(text: str) -> list[str]:
    """Characters no written line may hold raw: line breaks (but the file's own), controls, format, spaces."""
    return [
        ch
        for ch in text
        if ch != "\n"
        and (unicodedata.category(ch)[0] == "C" or (unicodedata.category(ch)[0] == "Z" and ch != " "))
    ]


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def build_hostile(emulator: Emulator, text: str) -> None:
    """The usual hand-built setup, with ``text`` in every string field Segment returns for it."""
    built = build_by_hand(emulator)
    client = client_for(emulator)
    client.update_source(built.salesforce_ids[0], name=text)
    retl = client.get_source(built.retl_source_id)
    client.update_source(retl.id, name=text, settings={**(retl.settings or {}), text: text, "note": text})
    warehouse = client.get_warehouse(built.warehouse_id)
    client.update_warehouse(
        warehouse.id, name=text, settings={**warehouse.settings, text: text, "note": text}
    )
    client.update_destination(built.destination_id, name=text)
    client.update_reverse_etl_model(
        built.model_id,
        name=text,
        description=text,
        query="SELECT ID, NAME, PHONE, BILLING_COUNTRY FROM salesforce.accounts WHERE NAME <> "
        + _sql_literal(text),
    )
    mapping = client.get_subscription(built.destination_id, built.mapping_id)
    settings: dict[str, Any] = dict(mapping.settings)
    # Mapped under another key than the computed trait's: the program refuses a key that both set.
    mapped = f"{text} (mapped)"
    settings["traits"] = {
        **settings["traits"],
        mapped: {"@path": "$.properties.NAME"},
        "odd": {"@path": text},
    }
    settings[text] = text
    client.update_subscription(
        built.destination_id,
        built.mapping_id,
        name=text,
        trigger=f'event = "new" or event = {_sql_literal(text)}',
        settings=settings,
    )
    space_id = emulator.space(SPACE)["id"]
    client.create_computed_trait(
        space_id,
        name=text,
        description=text,
        definition=TraitDefinition(type="USERS", query=f"event({_sql_literal(text)}).count()"),
    )
    client.create_computed_trait(
        space_id,
        name="Hostile raw query",
        description=text,
        definition=TraitDefinition(
            type="USERS", query=f"event('X').where(property('p') = trait({_sql_literal(text)})).count()"
        ),
    )


NAMES_REFUSED = {"newline", "crlf-comment", "document", "u2028", "bidi", "control", "empty-ish"}
"""Texts the program refuses as an object name (a hidden character, or blank): their export cannot be valid."""


@pytest.mark.parametrize("case", sorted(NAMES_REFUSED))
def test_a_workspace_with_a_name_the_program_refuses_is_not_exported(
    emulator: Emulator, tmp_path: Path, case: str
) -> None:
    build_hostile(emulator, HOSTILE[case])
    exported = export.export_workspace(client_for(emulator), space_slug=SPACE, environment="dev")
    with pytest.raises(export.ExportError) as refused:
        export.check_export(exported, "dev")
    message = str(refused.value)
    assert f"{NAMESPACE}:salesforce.name:" in message and "nothing was written" in message
    assert "invisible or control character" in message or "must not be empty" in message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("case", sorted(set(HOSTILE) - NAMES_REFUSED))
def test_every_written_file_loads_back_as_exactly_what_was_exported(
    emulator: Emulator, tmp_path: Path, case: str
) -> None:
    text = HOSTILE[case]
    build_hostile(emulator, text)
    exported = export.export_workspace(client_for(emulator), space_slug=SPACE, environment="dev")
    assert exported.config[f"{NAMESPACE}:salesforce"]["name"] == text, "the hostile text reached the export"
    assert exported.definitions["model"]["name"] == text
    export.check_export(exported, "dev")
    written = export.write_export(exported, "dev", tmp_path, project_dir=tmp_path)

    stack_text = written.stack_file.read_text()
    definitions_text = written.definitions_file.read_text()
    config = {**exported.config, f"{NAMESPACE}:definitionsFile": "definitions.dev.yaml"}
    yaml_12 = YAML(typ="safe", pure=True)  # a YAML 1.2 reader, as Pulumi reads stack files
    for reader in (load_yaml, yaml_12.load):
        assert reader(stack_text) == {"config": config}
        assert reader(definitions_text) == exported.definitions
    for name, content in (("stack file", stack_text), ("definitions", definitions_text)):
        assert _hidden(content) == [], f"the {name} holds a raw line break, control or invisible character"

    # The command a user runs writes the same files and prints nothing raw either.
    run = run_export(emulator, tmp_path / "cli")
    assert run.code == export.EXIT_WRITTEN, run.err
    assert (
        (tmp_path / "cli" / "Pulumi.dev.yaml").read_text().split("config:\n", 1)[1].startswith("  segment:")
    )
    assert _hidden(run.out) == [] and _hidden(run.err) == []


def test_hostile_comments_stay_one_line_each() -> None:
    for text in HOSTILE.values():
        line = comment(text)
        assert line.startswith("# ") or line == "#"
        assert _hidden(line) == []
        assert load_yaml(f"{line}\nkey: value\n") == {"key": "value"}


def test_a_hostile_nested_secret_key_becomes_a_quoted_shell_word() -> None:
    secret = export.SecretSetting(f"{NAMESPACE}:warehouseCredentials", "x", nested="k'; rm -rf ~ #")
    words = shlex.split(secret.command("dev"))
    assert words[words.index("--path") + 1] == 'warehouseCredentials["k\'; rm -rf ~ #"]'
    assert secret.command("dev").endswith(export.PLACEHOLDER) and "rm" not in words
