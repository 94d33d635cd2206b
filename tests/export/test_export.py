"""The export itself: what it reads, what it writes, what it refuses, and that no secret reaches a file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from flex_program.config import NAMESPACE, ConfigError, load_program_config
from flex_program.traits import RawTrait, TraitSpec, parse_trait_config, try_from_query
from flex_tools import export
from flex_tools.cli import EXIT_CANNOT_RUN
from segment_emulator import Emulator
from tests.export.helpers import REPO, requested_secret, run_export, secret_commands, stack_values
from tests.export.workspace import (
    APP_TRAITS,
    RAW_QUERY,
    RETL_PRIVATE_KEY,
    SPACE,
    WAREHOUSE_PRIVATE_KEY,
    HandTrait,
    build_by_hand,
    client_for,
)


def written_text(out_dir: Path) -> str:
    return "\n".join(path.read_text() for path in sorted(out_dir.iterdir()))


def test_the_export_only_reads_and_writes_the_stack_and_its_definitions(
    emulator: Emulator, tmp_path: Path
) -> None:
    build_by_hand(emulator)
    emulator.clear_requests()
    run = run_export(emulator, tmp_path)

    assert run.code == 0, run.err
    assert emulator.requests, "the export read nothing"
    assert {r.method for r in emulator.requests} == {"GET"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Pulumi.dev.yaml", "definitions.dev.yaml"]
    config = yaml.safe_load((tmp_path / "Pulumi.dev.yaml").read_text())["config"]
    assert config[f"{NAMESPACE}:adopt"] is True
    assert config[f"{NAMESPACE}:salesforce"] == {
        "sourceSlug": "salesforce_crm",
        "name": "Salesforce CRM",
        "environment": "production",
        "enabled": True,
    }
    assert config[f"{NAMESPACE}:warehouse"]["name"] == "Acme Snowflake"
    assert "private_key" not in config[f"{NAMESPACE}:warehouse"]["settings"]
    assert config[f"{NAMESPACE}:schedule"] == {"strategy": "PERIODIC", "config": {"interval": "15m"}}
    assert config[f"{NAMESPACE}:definitionsFile"] == "definitions.dev.yaml"
    definitions = yaml.safe_load((tmp_path / "definitions.dev.yaml").read_text())
    assert definitions["mapping"] == {
        "name": "Send Identify",
        "enabled": True,
        "trigger": "added_or_updated",
        "userIdColumn": "ID",
        "traits": {"name": "NAME", "phone": "PHONE", "billing_country": "BILLING_COUNTRY"},
    }
    assert definitions["model"]["table"] == "salesforce.accounts"


def test_the_written_files_load_as_the_program_loads_them(emulator: Emulator, tmp_path: Path) -> None:
    build_by_hand(emulator)
    run = run_export(emulator, tmp_path)
    values = stack_values(tmp_path / "Pulumi.dev.yaml")
    secrets = {requested_secret(command)[0] for command in secret_commands(run.out)}
    values.update({key: '{"private_key": "x"}' if "Credentials" in key else "x" for key in secrets})

    program = load_program_config(values.get, secrets.__contains__, "dev", REPO)

    assert program.stack.adopt is True
    assert {spec.name for spec in program.traits.values()} == {
        "Total inbounds",
        "Inbound calls last 30 days",
        "Last known service agent",
        "Sentiment in last interaction",
        "Preferred channel contacts",
    }
    assert program.traits["sentiment_in_last_interaction"].enabled is False
    assert isinstance(program.traits["total_inbounds"], TraitSpec)  # builder form, though spaced differently


def test_a_query_the_builder_cannot_express_is_written_verbatim_as_a_raw_query(
    emulator: Emulator, tmp_path: Path
) -> None:
    assert try_from_query(RAW_QUERY) is None  # the premise: outside the builder's grammar
    build_by_hand(emulator)
    run_export(emulator, tmp_path)
    definitions = yaml.safe_load((tmp_path / "definitions.dev.yaml").read_text())

    (raw,) = [t for t in definitions["traits"]["custom"] if "query" in t]
    assert raw == {
        "name": "Preferred channel contacts",
        "description": "Contacts on the customer's preferred channel",
        "query": RAW_QUERY,
    }
    assert all("event" in t for t in definitions["traits"]["custom"] if t is not raw)
    spec = parse_trait_config("t", raw)
    assert isinstance(spec, RawTrait) and spec.to_definition()["query"] == RAW_QUERY


def test_no_secret_reaches_the_written_files_or_the_output(emulator: Emulator, tmp_path: Path) -> None:
    build_by_hand(emulator)
    client = client_for(emulator)
    write_keys = [key for source in client.list_sources() for key in source.write_keys]
    run = run_export(emulator, tmp_path)
    assert run.code == 0, run.err

    text = written_text(tmp_path) + run.out + run.err
    for secret in (WAREHOUSE_PRIVATE_KEY, RETL_PRIVATE_KEY, emulator.token, *write_keys):
        assert secret not in text
    assert "SENTINEL" not in text
    assert "•" not in text, "a masked value (which ends in the secret's last characters) was written"
    commands = secret_commands(run.out)
    assert commands == secret_commands((tmp_path / "Pulumi.dev.yaml").read_text())
    assert {requested_secret(c) for c in commands} == {
        ("segment:token", None),
        (f"{NAMESPACE}:warehouseCredentials", "private_key"),
        (f"{NAMESPACE}:reverseEtlCredentials", "private_key"),
    }
    assert run.out.rstrip().splitlines()[-1].startswith("Then: pulumi preview --stack dev")
    assert "--stack dev --secret --path 'warehouseCredentials.private_key' < your-secret-file" in run.out


def test_the_summary_counts_each_kind(emulator: Emulator, tmp_path: Path) -> None:
    build_by_hand(emulator)
    run = run_export(emulator, tmp_path)

    rows = {
        line.split("|")[0].strip(): [cell.strip() for cell in line.split("|")[1:]]
        for line in run.out.splitlines()
        if line.count("|") == 4
    }
    assert rows["object kind"] == ["found", "exported", "needs a secret", "not representable"]
    assert rows["Computed traits"] == ["5", "5", "-", "-"]
    assert rows["Warehouse destination"] == ["1", "1", "warehouseCredentials.private_key", "-"]
    assert rows["Send Identify mapping"] == ["1", "1", "-", "-"]
    assert "4 in builder form, 1 kept as raw queries" in run.out


def test_a_space_that_does_not_exist_is_named_with_the_spaces_found(
    emulator: Emulator, tmp_path: Path
) -> None:
    build_by_hand(emulator)
    run = run_export(emulator, tmp_path, "--space", "no-such-space")

    assert run.code == export.EXIT_REFUSED
    assert "no Unify space with slug 'no-such-space'" in run.err
    assert "unified-profiles-dev" in run.err and "unified-profiles-prod" in run.err
    assert list(tmp_path.iterdir()) == []


def test_two_salesforce_sources_are_refused_until_one_is_chosen(emulator: Emulator, tmp_path: Path) -> None:
    build_by_hand(emulator, salesforce_slugs=("salesforce_crm", "salesforce_sandbox"))
    refused = run_export(emulator, tmp_path)

    assert refused.code == export.EXIT_REFUSED
    assert "2 Salesforce sources" in refused.err
    assert "salesforce_crm" in refused.err and "salesforce_sandbox" in refused.err
    assert "--salesforce-source SLUG" in refused.err
    assert list(tmp_path.iterdir()) == []

    unknown = run_export(emulator, tmp_path, "--salesforce-source", "salesforce_typo")
    assert unknown.code == export.EXIT_REFUSED and "salesforce_crm" in unknown.err

    chosen = run_export(emulator, tmp_path, "--salesforce-source", "salesforce_crm")
    assert chosen.code == 0, chosen.err
    config = yaml.safe_load((tmp_path / "Pulumi.dev.yaml").read_text())["config"]
    assert config[f"{NAMESPACE}:salesforce"]["sourceSlug"] == "salesforce_crm"
    assert "1 other Salesforce source(s) left out" in chosen.out


def test_an_existing_stack_file_is_kept_unless_forced(emulator: Emulator, tmp_path: Path) -> None:
    build_by_hand(emulator)
    existing = tmp_path / "Pulumi.dev.yaml"
    existing.write_text("config: {}\n")
    emulator.clear_requests()

    refused = run_export(emulator, tmp_path)
    assert refused.code == export.EXIT_REFUSED and "--force" in refused.err
    assert existing.read_text() == "config: {}\n"
    assert not (tmp_path / "definitions.dev.yaml").exists()

    forced = run_export(emulator, tmp_path, "--force")
    assert forced.code == 0, forced.err
    assert "flex-unified-profiles:adopt: true" in existing.read_text()


def test_the_shared_definitions_file_is_never_written(emulator: Emulator, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO / "definitions.yaml", project / "definitions.yaml")
    before = (project / "definitions.yaml").read_bytes()
    build_by_hand(emulator)

    run = run_export(emulator, project, project_dir=project)

    assert run.code == 0, run.err
    assert (project / "definitions.yaml").read_bytes() == before
    config = yaml.safe_load((project / "Pulumi.dev.yaml").read_text())["config"]
    assert config[f"{NAMESPACE}:definitionsFile"] == "definitions.dev.yaml"  # relative to the project


def test_a_setup_the_config_cannot_express_is_refused_with_the_key(
    emulator: Emulator, tmp_path: Path
) -> None:
    built = build_by_hand(emulator)
    client_for(emulator).update_reverse_etl_model(
        built.model_id,
        query='SELECT "account id", NAME FROM salesforce.accounts',
        query_identifier_column="account id",
    )
    run = run_export(emulator, tmp_path)

    assert run.code == export.EXIT_REFUSED
    assert "model.identifierColumn" in run.err
    assert list(tmp_path.iterdir()) == []


def test_the_token_comes_only_from_the_environment(emulator: Emulator, tmp_path: Path) -> None:
    run = run_export(emulator, tmp_path, env={})
    assert run.code == EXIT_CANNOT_RUN and "SEGMENT_API_TOKEN" in run.err
    with pytest.raises(SystemExit):
        export.parse_arguments(["--space", SPACE, "--stack", "dev", "--token", emulator.token])


def test_a_stack_that_is_neither_dev_nor_prod_needs_an_environment(
    emulator: Emulator, tmp_path: Path
) -> None:
    with pytest.raises(SystemExit):
        export.parse_arguments(["--space", SPACE, "--stack", "staging"])
    build_by_hand(emulator)
    run = run_export(emulator, tmp_path, "--stack", "staging", "--environment", "prod")
    assert run.code == 0, run.err
    config = yaml.safe_load((tmp_path / "Pulumi.staging.yaml").read_text())["config"]
    assert config[f"{NAMESPACE}:environment"] == "prod"
    assert config[f"{NAMESPACE}:definitionsFile"].endswith("definitions.staging.yaml")


def test_a_trait_the_config_cannot_hold_is_left_out_and_reported(emulator: Emulator, tmp_path: Path) -> None:
    traits = (*APP_TRAITS, HandTrait("Calls\tper day", "event('Flex - Engagement Initiated').count()"))
    build_by_hand(emulator, traits=traits)
    run = run_export(emulator, tmp_path)

    assert run.code == 0, run.err
    # Printed with the tab escaped: Segment's text never reaches the terminal raw.
    assert (
        "trait 'Calls\\u0009per day': name: trait name contains the invisible or control character U+0009"
        in run.out
    )
    rows = {line.split("|")[0].strip(): line for line in run.out.splitlines() if line.count("|") == 4}
    assert [cell.strip() for cell in rows["Computed traits"].split("|")[1:]] == ["6", "5", "-", "1"]
    definitions = yaml.safe_load((tmp_path / "definitions.dev.yaml").read_text())
    assert len(definitions["traits"]["custom"]) == len(APP_TRAITS)


def test_the_module_runs_as_a_command_with_the_token_from_the_environment(
    emulator: Emulator, tmp_path: Path
) -> None:
    build_by_hand(emulator)
    # The command's project is this repository: it writes only inside it, here into a folder removed afterwards.
    with tempfile.TemporaryDirectory(prefix=".export-test-", dir=REPO) as inside:
        out = Path(inside)
        command = [sys.executable, "-m", "flex_tools.export", "--space", SPACE, "--stack", "dev"]
        command += ["--endpoint", emulator.url, "--out", str(out)]
        env = {**os.environ, "SEGMENT_TOKEN": emulator.token}
        env.pop("SEGMENT_API_TOKEN", None)
        done = subprocess.run(
            command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
        )

        assert done.returncode == 0, done.stderr
        assert "Computed traits" in done.stdout
        assert (out / "Pulumi.dev.yaml").exists()
        assert emulator.token not in done.stdout + done.stderr
        config = yaml.safe_load((out / "Pulumi.dev.yaml").read_text())["config"]
        assert config[f"{NAMESPACE}:definitionsFile"] == f"{out.name}/definitions.dev.yaml"


def test_an_output_folder_outside_the_project_is_refused_and_nothing_is_written(
    emulator: Emulator, tmp_path: Path
) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    build_by_hand(emulator)

    run = run_export(emulator, elsewhere, project_dir=project)

    assert run.code == export.EXIT_REFUSED
    assert run.err.count("\n") == 1, run.err  # one line, no traceback
    assert "--out" in run.err and "definitionsFile" in run.err and str(project) in run.err
    assert not elsewhere.exists() and list(project.iterdir()) == []


@pytest.mark.parametrize(("raw", "adopt"), [(None, False), ("true", True), ("false", False)])
def test_adopt_is_a_stack_key_off_by_default(raw: str | None, adopt: bool) -> None:
    values = stack_values(REPO / "Pulumi.dev.yaml")
    if raw is not None:
        values[f"{NAMESPACE}:adopt"] = raw
    program = load_program_config(values.get, lambda key: False, "dev", REPO)
    assert program.stack.adopt is adopt


def test_an_invalid_adopt_value_names_its_key() -> None:
    values = {**stack_values(REPO / "Pulumi.dev.yaml"), f"{NAMESPACE}:adopt": "sometimes"}
    with pytest.raises(ConfigError) as error:
        load_program_config(values.get, lambda key: False, "dev", REPO)
    assert [p.key for p in error.value.problems] == [f"{NAMESPACE}:adopt"]


def test_a_warehouse_segment_shows_no_name_for_is_exported_under_its_catalog_name(
    emulator: Emulator, tmp_path: Path
) -> None:
    build_by_hand(emulator)
    with emulator.store_lock:
        emulator.store.echo_warehouse_names = False
    try:
        run = run_export(emulator, tmp_path)
    finally:
        with emulator.store_lock:
            emulator.store.echo_warehouse_names = True

    assert run.code == 0, run.err
    config = yaml.safe_load((tmp_path / "Pulumi.dev.yaml").read_text())["config"]
    assert config[f"{NAMESPACE}:warehouse"]["name"] == "Snowflake warehouse"
    assert "shows no name" in run.out + run.err


def test_output_paths_refuse_a_folder_outside_the_project(tmp_path: Path) -> None:
    project = tmp_path / "project"
    inside = export.output_paths(project / "exports", "dev", project)
    assert inside.definitions_file == project / "exports" / "definitions.dev.yaml"
    with pytest.raises(export.ExportError, match="definitionsFile"):
        export.output_paths(tmp_path / "elsewhere", "dev", project)
