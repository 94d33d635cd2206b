"""A hand-built workspace, exported, then run through the program: adopted unchanged, then managed normally."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from flex_program.config import NAMESPACE
from segment_emulator import Emulator
from segment_provider.api.models import ReverseEtlSchedule
from tests.export.helpers import (
    MAIN,
    REPO,
    changes,
    mutating,
    run_export,
    secret_commands,
    stack_values,
    with_secrets,
)
from tests.export.workspace import (
    APP_MAPPING_SETTINGS,
    RAW_QUERY,
    RETL_PRIVATE_KEY,
    SPACE,
    WAREHOUSE_PRIVATE_KEY,
    HandBuilt,
    build_by_hand,
    client_for,
    snowflake_settings,
)
from tests.harness import ProgramEngine, ProviderServer

DYNAMIC = "pulumi-python:dynamic/segment:"


@pytest.fixture(scope="module")
def server() -> Iterator[ProviderServer]:
    with ProviderServer(cwd=REPO) as running:
        yield running


@pytest.fixture
def flex_emulator(emulator: Emulator) -> Emulator:
    emulator.seed_flex_events(SPACE)
    return emulator


def supplied_secrets(emulator: Emulator, **extra: str) -> dict[str, str]:
    """What the user types for each secret the export asked for (by full key, ``.nested`` for objects)."""
    return {
        "segment:token": emulator.token,
        f"{NAMESPACE}:warehouseCredentials.private_key": WAREHOUSE_PRIVATE_KEY,
        f"{NAMESPACE}:reverseEtlCredentials.private_key": RETL_PRIVATE_KEY,
        **extra,
    }


def engine_from_export(
    server: ProviderServer, emulator: Emulator, out_dir: Path, stdout: str, **extra: str
) -> ProgramEngine:
    values = stack_values(out_dir / "Pulumi.dev.yaml")
    config, secret_keys = with_secrets(values, secret_commands(stdout), supplied_secrets(emulator, **extra))
    return ProgramEngine(server, stack="dev", config=config, secret_keys=secret_keys)


def export_and_adopt(
    server: ProviderServer, emulator: Emulator, out_dir: Path, **extra: str
) -> tuple[ProgramEngine, Any, str]:
    emulator.clear_requests()
    run = run_export(emulator, out_dir)
    assert run.code == 0, run.err
    assert {r.method for r in emulator.requests} == {"GET"}, "the export must only read"
    engine = engine_from_export(server, emulator, out_dir, run.out, **extra)
    emulator.clear_requests()
    return engine, engine.up(MAIN), run.out


def assert_adopted(engine: ProgramEngine, built: HandBuilt, emulator: Emulator) -> None:
    ids = {record.name: record.id for record in engine.state if record.type.startswith(DYNAMIC)}
    space_id = emulator.space(SPACE)["id"]
    assert ids["salesforce-source"] == built.salesforce_ids[0]
    assert ids["warehouse"] == built.warehouse_id
    assert ids["salesforce-to-warehouse"] == f"{built.warehouse_id}:{built.salesforce_ids[0]}"
    assert ids["reverse-etl-source"] == built.retl_source_id
    assert ids["model"] == built.model_id
    assert ids["profiles-destination"] == built.destination_id
    assert ids["send-identify"] == f"{built.destination_id}:{built.mapping_id}"
    trait_ids = {ids[name] for name in ids if name.startswith("trait-")}
    assert trait_ids == {f"{space_id}:{trait_id}" for trait_id in built.trait_ids.values()}


def test_exported_stack_adopts_every_object_without_a_change_then_stays_unchanged(
    server: ProviderServer, flex_emulator: Emulator, tmp_path: Path
) -> None:
    built = build_by_hand(flex_emulator)
    engine, first, _ = export_and_adopt(server, flex_emulator, tmp_path)

    assert first.failures == []
    assert mutating(flex_emulator) == [], "adoption must not change Segment"
    dynamic = {step.name: step.op for step in first.steps if step.type.startswith(DYNAMIC)}
    assert len(dynamic) == 9 + len(built.trait_ids)
    assert set(dynamic.values()) == {"create"}  # created in the state, adopted in Segment
    assert_adopted(engine, built, flex_emulator)

    flex_emulator.clear_requests()
    engine.expect_no_changes(MAIN)
    again = engine.up(MAIN)
    assert changes(again) == {}
    assert mutating(flex_emulator) == []


def test_the_exported_ids_adopt_the_exported_objects_though_others_share_their_names(
    server: ProviderServer, flex_emulator: Emulator, tmp_path: Path
) -> None:
    built = build_by_hand(flex_emulator)
    run = run_export(flex_emulator, tmp_path)
    assert run.code == 0, run.err
    exported = json.loads(stack_values(tmp_path / "Pulumi.dev.yaml")[f"{NAMESPACE}:adoptIds"])
    assert exported["warehouse"] == built.warehouse_id and exported["model"] == built.model_id
    assert len([name for name in exported if name.startswith("trait-")]) == len(built.trait_ids)
    # Made in the app after the export: a second warehouse and a second mapping under the same names.
    client = client_for(flex_emulator)
    warehouse = client.get_warehouse(built.warehouse_id)
    client.create_warehouse(
        metadata_id=warehouse.metadata.id,
        name=str(warehouse.settings["name"]),
        settings=snowflake_settings("SEGMENT_EVENTS", "SEGMENT_USER", WAREHOUSE_PRIVATE_KEY),
        enabled=True,
        disconnect_all_sources=True,
    )
    mapping = client.get_subscription(built.destination_id, built.mapping_id)
    client.create_subscription(
        built.destination_id,
        name=mapping.name,
        action_id=mapping.action_id,
        trigger=mapping.trigger,
        enabled=False,
        settings={},
        model_id=None,
    )

    engine = engine_from_export(server, flex_emulator, tmp_path, run.out)
    flex_emulator.clear_requests()
    first = engine.up(MAIN)

    assert first.failures == []
    assert mutating(flex_emulator) == [], "the exported objects are adopted as they are"
    assert_adopted(engine, built, flex_emulator)


def test_one_changed_trait_in_the_exported_definitions_is_exactly_one_update(
    server: ProviderServer, flex_emulator: Emulator, tmp_path: Path
) -> None:
    built = build_by_hand(flex_emulator)
    engine, _, _ = export_and_adopt(server, flex_emulator, tmp_path)
    definitions_file = tmp_path / "definitions.dev.yaml"
    definitions = yaml.safe_load(definitions_file.read_text())
    (trait,) = [t for t in definitions["traits"]["custom"] if t["name"] == "Inbound calls last 30 days"]
    trait["window"] = {"within": {"days": 60}}
    definitions_file.write_text(yaml.safe_dump(definitions, sort_keys=False))

    flex_emulator.clear_requests()
    result = engine.up(MAIN)

    assert changes(result) == {"trait-inbound_calls_last_30_days": "update"}
    assert mutating(flex_emulator) == ["PATCH updateComputedTraitForSpace"]
    space_id = flex_emulator.space(SPACE)["id"]
    stored = client_for(flex_emulator).get_computed_trait(
        space_id, built.trait_ids["Inbound calls last 30 days"]
    )
    assert stored.definition is not None and "within(60 days)" in stored.definition.query


def test_a_query_outside_the_builder_is_adopted_and_kept_verbatim(
    server: ProviderServer, flex_emulator: Emulator, tmp_path: Path
) -> None:
    built = build_by_hand(flex_emulator)
    engine, _, _ = export_and_adopt(server, flex_emulator, tmp_path)

    assert mutating(flex_emulator) == []
    record = engine.state.get("trait-preferred_channel_contacts")
    assert record.inputs["definition"]["query"] == RAW_QUERY
    space_id = flex_emulator.space(SPACE)["id"]
    stored = client_for(flex_emulator).get_computed_trait(
        space_id, built.trait_ids["Preferred channel contacts"]
    )
    assert stored.definition is not None and stored.definition.query == RAW_QUERY


def test_a_write_key_the_program_cannot_discover_is_asked_for_as_a_secret_and_never_written(
    server: ProviderServer, flex_emulator: Emulator, tmp_path: Path
) -> None:
    built = build_by_hand(flex_emulator)
    # The token cannot see the space's Profiles source (Segment shows write keys to Source Admins only), so
    # neither the export nor the program can find the key the mapping sends with.
    personas = flex_emulator.personas_source(SPACE)
    with flex_emulator.store_lock:
        flex_emulator.store.sources[personas["id"]].update(slug="hidden_profiles_source", name="Hidden")
    engine, first, stdout = export_and_adopt(
        server, flex_emulator, tmp_path, **{f"{NAMESPACE}:engageSpaceWriteKey": built.engage_key}
    )

    assert any("--secret engageSpaceWriteKey" in command for command in secret_commands(stdout))
    for written in tmp_path.iterdir():
        assert built.engage_key not in written.read_text(), written.name
    assert built.engage_key not in stdout
    assert first.failures == []
    assert mutating(flex_emulator) == []
    flex_emulator.clear_requests()
    engine.expect_no_changes(MAIN)


APP_BUILT_EVERYTHING_OFF = frozenset({"salesforce", "warehouse", "retl", "model", "destination", "mapping"})


def test_objects_disabled_in_the_app_are_exported_disabled_and_adopted_without_a_call(
    server: ProviderServer, flex_emulator: Emulator, tmp_path: Path
) -> None:
    built = build_by_hand(flex_emulator, disabled=APP_BUILT_EVERYTHING_OFF)
    engine, first, stdout = export_and_adopt(server, flex_emulator, tmp_path)

    config = yaml.safe_load((tmp_path / "Pulumi.dev.yaml").read_text())["config"]
    for key in ("salesforce", "warehouse", "reverseEtl", "profiles"):
        assert config[f"{NAMESPACE}:{key}"]["enabled"] is False, key
    definitions = yaml.safe_load((tmp_path / "definitions.dev.yaml").read_text())
    assert definitions["model"]["enabled"] is False
    assert definitions["mapping"]["enabled"] is False
    assert "Not representable" not in stdout
    assert first.failures == []
    assert mutating(flex_emulator) == [], "an adopted disabled object stays disabled"
    client = client_for(flex_emulator)
    assert not client.get_reverse_etl_model(built.model_id).enabled
    assert not client.get_destination(built.destination_id).enabled
    assert not client.get_subscription(built.destination_id, built.mapping_id).enabled
    assert not any(client.get_source(i).enabled for i in (built.salesforce_ids[0], built.retl_source_id))
    assert not client.get_warehouse(built.warehouse_id).enabled
    flex_emulator.clear_requests()
    engine.expect_no_changes(MAIN)
    assert changes(engine.up(MAIN)) == {}
    assert mutating(flex_emulator) == []


def test_the_app_shaped_setup_is_adopted_unchanged_and_a_new_mapped_trait_keeps_what_the_app_set(
    server: ProviderServer, flex_emulator: Emulator, tmp_path: Path
) -> None:
    built = build_by_hand(flex_emulator, disabled=frozenset({"model"}))
    client = client_for(flex_emulator)
    mapping = client.get_subscription(built.destination_id, built.mapping_id)
    extra_setting = {"@path": "$.properties.ANONYMOUS_ID"}
    client.update_subscription(
        built.destination_id, built.mapping_id, settings={**mapping.settings, "anonymous_id": extra_setting}
    )

    engine, first, stdout = export_and_adopt(server, flex_emulator, tmp_path)

    assert first.failures == []
    assert mutating(flex_emulator) == [], "adopting the app's setup changes nothing"
    assert "its settings anonymous_id, consent, message_id stay as they are" in stdout
    assert "Not representable" not in stdout
    flex_emulator.clear_requests()
    engine.expect_no_changes(MAIN)
    assert mutating(flex_emulator) == []

    definitions_file = tmp_path / "definitions.dev.yaml"
    definitions = yaml.safe_load(definitions_file.read_text())
    definitions["mapping"]["traits"]["account_id"] = "ID"
    definitions_file.write_text(yaml.safe_dump(definitions, sort_keys=False))
    flex_emulator.clear_requests()
    result = engine.up(MAIN)

    assert changes(result) == {"send-identify": "update"}
    assert mutating(flex_emulator) == ["PATCH updateSubscriptionForDestination"]
    after = client.get_subscription(built.destination_id, built.mapping_id).settings
    assert {k: after.get(k) for k in APP_MAPPING_SETTINGS} == APP_MAPPING_SETTINGS
    assert after["anonymous_id"] == extra_setting
    assert after["traits"]["account_id"] == {"@path": "$.properties.ID"}
    assert after["engage_space"] == built.engage_key
    assert not client.get_reverse_etl_model(built.model_id).enabled


def adoption_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("adopting ")]


def test_a_difference_the_config_asks_for_is_listed_by_the_preview_and_is_all_that_up_changes(
    server: ProviderServer, flex_emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    build_by_hand(flex_emulator, disabled=frozenset({"model"}))
    run = run_export(flex_emulator, tmp_path)
    engine = engine_from_export(server, flex_emulator, tmp_path, run.out)
    with caplog.at_level(logging.WARNING):
        engine.preview(MAIN)
    assert adoption_warnings(caplog) == [], "the export describes what exists: nothing to change"

    definitions_file = tmp_path / "definitions.dev.yaml"
    definitions = yaml.safe_load(definitions_file.read_text())
    definitions["model"]["enabled"] = True
    definitions["mapping"]["trigger"] = "added"
    definitions_file.write_text(yaml.safe_dump(definitions, sort_keys=False))
    caplog.clear()
    flex_emulator.clear_requests()
    with caplog.at_level(logging.WARNING):
        engine.preview(MAIN)

    assert mutating(flex_emulator) == []
    assert adoption_warnings(caplog) == [
        "adopting model 'Salesforce accounts' changes its enabled: Segment has False, the config asks for True",
        "adopting mapping 'Send Identify' changes its trigger: Segment has 'event = \"new\" or event = "
        '"updated"\', the config asks for \'event = "new"\'',
    ]
    engine.up(MAIN)
    assert sorted(mutating(flex_emulator)) == [
        "PATCH updateReverseEtlModel",
        "PATCH updateSubscriptionForDestination",
    ]


def test_a_schedule_and_trigger_read_back_in_another_spelling_are_no_change(
    server: ProviderServer, flex_emulator: Emulator, tmp_path: Path
) -> None:
    built = build_by_hand(flex_emulator)
    engine, _, _ = export_and_adopt(server, flex_emulator, tmp_path)
    # Segment answers with other spellings of the same interval and trigger: no drift, no change.
    with flex_emulator.store_lock:
        stored = flex_emulator.store.subscriptions[built.mapping_id]
        stored["reverseETLSchedule"] = ReverseEtlSchedule(
            strategy="PERIODIC", config={"interval": "0h15m"}
        ).to_api()
        stored["trigger"] = 'event="new"  or  event="updated"'

    flex_emulator.clear_requests()
    refreshed = engine.refresh()
    assert refreshed.drift == []
    engine.expect_no_changes(MAIN)
    assert mutating(flex_emulator) == []


def test_a_schedule_really_changed_in_segment_is_drift_and_restored(
    server: ProviderServer, flex_emulator: Emulator, tmp_path: Path
) -> None:
    built = build_by_hand(flex_emulator)
    engine, _, _ = export_and_adopt(server, flex_emulator, tmp_path)
    with flex_emulator.store_lock:
        stored = flex_emulator.store.subscriptions[built.mapping_id]
        stored["reverseETLSchedule"] = ReverseEtlSchedule(
            strategy="PERIODIC", config={"interval": "30m"}
        ).to_api()
    refreshed = engine.refresh()
    assert [drift.name for drift in refreshed.drift] == ["send-identify"]
    flex_emulator.clear_requests()
    assert changes(engine.up(MAIN)) == {"send-identify": "update"}
    assert mutating(flex_emulator) == ["PATCH updateSubscriptionForDestination"]


def test_unlabelled_sources_are_adopted_with_their_environment_label_and_the_preview_says_so(
    server: ProviderServer, flex_emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Built in the app without Segment's environment labels: the one change the program itself asks for.
    build_by_hand(flex_emulator, environment=None)
    run = run_export(flex_emulator, tmp_path)
    engine = engine_from_export(server, flex_emulator, tmp_path, run.out)
    flex_emulator.clear_requests()
    with caplog.at_level(logging.WARNING):
        engine.preview(MAIN)
    assert mutating(flex_emulator) == []
    warnings = adoption_warnings(caplog)
    assert len(warnings) == 2 and all("changes its environment: Segment has None" in w for w in warnings), (
        warnings
    )

    engine.up(MAIN)
    assert mutating(flex_emulator) == ["POST addLabelsToSource", "POST addLabelsToSource"]
    with flex_emulator.store_lock:
        labelled = [s for s in flex_emulator.store.sources.values() if not s["slug"].startswith("personas_")]
    assert [[(x["key"], x["value"]) for x in s["labels"]] for s in labelled] == [[("environment", "dev")]] * 2
    flex_emulator.clear_requests()
    engine.up(MAIN)
    assert mutating(flex_emulator) == []
