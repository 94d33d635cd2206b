"""Adoption under the real ``pulumi`` CLI: a setup built the way the Segment app builds it is exported, adopted
with zero mutating calls, previews with no changes, and a later mapping change keeps what the app set."""

from __future__ import annotations

from typing import Any

from segment_emulator import Emulator
from tests.e2e.conftest import CliStack, mutating
from tests.export.helpers import run_export, run_printed_copy
from tests.export.workspace import APP_MAPPING_SETTINGS, build_by_hand, client_for


def test_an_app_built_setup_is_adopted_with_no_call_and_a_new_mapped_trait_is_one_patch_keeping_the_rest(
    cli_project: CliStack, flex_emulator: Emulator
) -> None:
    # Send Identify with consent and message_id, @path mappings on $.properties.ID, the trigger
    # `event = "new" or event = "updated"`, PERIODIC 15m, and a model the user disabled.
    built = build_by_hand(flex_emulator, disabled=frozenset({"model"}))
    flex_emulator.clear_requests()
    exported = run_export(flex_emulator, cli_project.project / "exports", project_dir=cli_project.project)
    assert exported.code == 0, exported.err
    assert {r.method for r in flex_emulator.requests} == {"GET"}
    # Written beside the project's own stack files, the export says how to put its stack file where Pulumi reads it.
    assert len(run_printed_copy(exported, cli_project.project)) == 1
    cli_project.init("dev", flex_emulator)

    flex_emulator.clear_requests()
    cli_project.up()
    assert mutating(flex_emulator) == [], "adopting the app's setup changes nothing"
    client = client_for(flex_emulator)
    assert client.get_reverse_etl_model(built.model_id).enabled is False, "the disabled model stays disabled"

    flex_emulator.clear_requests()
    cli_project.pulumi("preview", "--stack", "dev", "--expect-no-changes")
    cli_project.up()
    assert mutating(flex_emulator) == []

    def one_more_trait(document: dict[str, Any]) -> None:
        document["mapping"]["traits"]["account_id"] = "ID"

    cli_project.edit_definitions_file("exports/definitions.dev.yaml", one_more_trait)
    flex_emulator.clear_requests()
    cli_project.up()

    assert mutating(flex_emulator) == ["PATCH updateSubscriptionForDestination"]
    settings = client.get_subscription(built.destination_id, built.mapping_id).settings
    assert {key: settings.get(key) for key in APP_MAPPING_SETTINGS} == APP_MAPPING_SETTINGS
    assert settings["traits"]["account_id"] == {"@path": "$.properties.ID"}
    assert settings["user_id"] == {"@path": "$.properties.ID"}
    assert settings["engage_space"] == built.engage_key
