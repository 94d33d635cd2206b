"""The dev and prod stacks under the real ``pulumi`` CLI, against the emulator: every lifecycle the README
promises, with the emulator's request log checked after every step."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from flex_program.provider_start import START_REQUEST
from flex_program.unified_profiles import COMPONENT_TYPE
from segment_emulator import Emulator, catalog
from segment_provider.api import ClientSettings, SegmentClient
from tests.conftest import SESSION_PACING_ENV
from tests.e2e.conftest import (
    NOTHING,
    NS,
    SPACES,
    CliStack,
    expected_objects,
    mutating,
    object_ids,
    program_resource_names,
    segment_objects,
    stack_file,
)
from tests.engine_stories import NEW_SALESFORCE_SLUG, REPLACING_THE_SALESFORCE_SOURCE, SPECIFIC_DAYS_SCHEDULE
from tests.lifecycles import SCHEDULES
from tests.program.ready_stack import SAMPLE_USER, finish_the_manual_steps

RENAMED = "Renamed in the Segment app"
SALESFORCE_METADATA_ID = next(item["id"] for item in catalog.SOURCES if item["slug"] == "salesforce")
CUSTOM_TRAIT = {
    "name": "Inbound calls last 30 days",
    "event": "Flex - Engagement Initiated",
    "aggregation": {"type": "count"},
    "window": {"within": {"days": 30}},
    "options": {"includeHistoricalData": True, "backfillDurationDays": 90},
}


def client(emulator: Emulator) -> SegmentClient:
    return SegmentClient(
        ClientSettings.resolve(token=emulator.token, endpoint=emulator.url, env=SESSION_PACING_ENV)
    )


def engine_log(stderr: str) -> list[str]:
    """The messages of the engine's log (``-v=N --logtostderr``: one JSON object a line), in order."""
    messages = []
    for line in stderr.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("msg"), str):
            messages.append(entry["msg"])
    return messages


def assert_provider_asked_for_before_the_objects(stderr: str, *, program_runs: int) -> None:
    """The engine's log (``-v=5 --logtostderr``) of a command that ran the program ``program_runs`` times: each
    run asked for the provider (``flex_program/provider_start.py``) before it registered its component, which
    comes after the preflight's reads and just before the first Segment object (whose own line the engine writes
    only once it has the object's provider, so it cannot tell who asked); one provider for the request and the
    objects."""
    log = engine_log(stderr)
    components = [
        i
        for i, m in enumerate(log)
        if m.startswith(f"ResourceMonitor.RegisterResource received: t={COMPONENT_TYPE},")
    ]
    asked = [
        i
        for i, m in enumerate(log)
        if m.startswith("handling default provider request for package pulumi-python")
    ]
    started = [m for m in log if m.startswith("registered default provider for package pulumi-python")]
    requests = [m for m in log if m.startswith(f"ResourceMonitor.Invoke received: tok={START_REQUEST}")]
    assert len(components) == program_runs, "\n".join(log)
    for previous, component in zip([-1, *components], components, strict=False):
        assert any(previous < i < component for i in asked), "the provider was asked for only by the objects"
    assert len(started) == len(requests) == program_runs, f"one provider a run: {started}"


def edit_stack_file(stack: CliStack, name: str, edit: Any) -> None:
    """Edits the scratch project's stack file the way a user edits theirs (it also holds the encrypted secrets)."""
    path = stack.project / f"Pulumi.{name}.yaml"
    document = yaml.safe_load(path.read_text())
    edit(document["config"])
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def test_a_preview_of_an_empty_stack_lists_every_resource_and_changes_nothing(
    cli_stack: CliStack, flex_emulator: Emulator
) -> None:
    preview = cli_stack.pulumi("preview", "--diff", "--stack", "dev")
    assert mutating(flex_emulator) == [], "a preview must not change Segment"
    assert segment_objects(flex_emulator) == NOTHING

    cli_stack.deploy()
    # The tests read a stack's state from the file backend's checkpoint: it is what `pulumi stack export` prints.
    printed = json.loads(cli_stack.pulumi("stack", "export", "--stack", "dev").stdout)
    assert cli_stack.exported() == printed and printed["deployment"]["resources"]
    deployed = program_resource_names(cli_stack.resources())
    previewed = set(
        re.findall(
            r"\+ (?!pulumi:pulumi:Stack)\S+: \(create\)\s+\[urn=urn:pulumi:dev::[^\]]*::([^\]:]+)\]",
            preview.stdout,
        )
    )
    assert previewed == deployed, preview.stdout
    assert len(deployed) >= 13, (
        "space, 2 sources, warehouse, connection, model, destination(s), mapping, 6 traits"
    )


def test_up_from_empty_then_a_preview_expects_no_changes_and_a_second_up_calls_nothing(
    cli_stack: CliStack, flex_emulator: Emulator
) -> None:
    cli_stack.up()
    assert segment_objects(flex_emulator) == expected_objects()
    outputs = cli_stack.outputs()
    assert outputs["spaceId"] == flex_emulator.space(SPACES["dev"])["id"]
    assert sorted(t["key"] for t in outputs["computedTraits"].values()) == expected_objects()["traits"]
    assert outputs["waitingTraits"] == {}
    assert outputs["profileApiToken"] == "[secret]", "a secret output stays a secret"

    flex_emulator.clear_requests()
    # --debug: the SDK's debug lines, which the program sends from a thread of its own, all still arrive.
    # -v=5 --logtostderr: the engine's own log, of when it started the provider (flex_program/provider_start.py).
    preview = cli_stack.pulumi(
        "preview", "--stack", "dev", "--expect-no-changes", "--debug", "-v=5", "--logtostderr"
    )
    assert mutating(flex_emulator) == []
    registered = set(
        re.findall(r"debug: resource registration successful: ty=\S+, urn=(urn:[^\s,]+)", preview.stdout)
    )
    registrable = {r["urn"] for r in cli_stack.resources() if not r["type"].startswith("pulumi:providers:")}
    assert registered == registrable, preview.stdout

    assert_provider_asked_for_before_the_objects(preview.stderr, program_runs=1)
    assert START_REQUEST not in preview.stdout and "not implemented" not in preview.stdout, preview.stdout

    flex_emulator.clear_requests()
    again = cli_stack.up("dev", "-v=5", "--logtostderr")
    # Its preview asks as the program starts, its update once the configuration is checked: both before the
    # objects.
    assert_provider_asked_for_before_the_objects(again.stderr, program_runs=2)
    assert mutating(flex_emulator) == [], "a second up makes no mutating call"
    assert not re.search(r"\d+ (to )?(create|update|replace|delete)", again.stdout), again.stdout
    assert segment_objects(flex_emulator) == expected_objects()


def test_a_trait_change_and_a_schedule_change_make_exactly_the_expected_calls(
    cli_stack: CliStack, flex_emulator: Emulator
) -> None:
    cli_stack.edit_definitions(lambda d: d["traits"]["custom"].append(dict(CUSTOM_TRAIT)))
    cli_stack.deploy()
    before = object_ids(flex_emulator)
    (created,) = [
        t for t in flex_emulator.store.computed_traits.values() if t["name"] == CUSTOM_TRAIT["name"]
    ]
    assert created["options"]["backfillDurationDays"] == 90

    def longer_window(d: dict[str, Any]) -> None:
        d["traits"]["custom"][0]["window"] = {"within": {"days": 60}}

    cli_stack.edit_definitions(longer_window)
    wanted = "4h" if stack_file()["schedule"]["config"]["interval"] != "4h" else "6h"
    cli_stack.set("dev", "schedule.config.interval", wanted)
    flex_emulator.clear_requests()
    cli_stack.up()

    assert sorted(mutating(flex_emulator)) == [
        "PATCH updateComputedTraitForSpace",
        "PATCH updateSubscriptionForDestination",
    ]
    assert object_ids(flex_emulator) == before
    (mapping,) = flex_emulator.store.subscriptions.values()
    assert mapping["reverseETLSchedule"]["config"]["interval"] == wanted
    changed = flex_emulator.store.computed_traits[created["id"]]
    assert "60" in changed["definition"]["query"]
    cli_stack.pulumi("preview", "--stack", "dev", "--expect-no-changes")


def test_a_specific_days_schedule_goes_to_segment_as_integers_end_to_end(
    cli_stack: CliStack, flex_emulator: Emulator
) -> None:
    edit_stack_file(
        cli_stack, "dev", lambda config: config.update({f"{NS}:schedule": SPECIFIC_DAYS_SCHEDULE})
    )
    cli_stack.deploy()
    (mapping,) = flex_emulator.store.subscriptions.values()
    sent = mapping["reverseETLSchedule"]
    assert sent["strategy"] == "SPECIFIC_DAYS"
    assert sent["config"]["days"] == [1, 3, 5] and all(type(d) is int for d in sent["config"]["days"])
    assert sent["config"]["hours"] == [6, 18] and all(type(h) is int for h in sent["config"]["hours"])

    flex_emulator.clear_requests()
    cli_stack.pulumi("preview", "--stack", "dev", "--expect-no-changes")
    cli_stack.up()
    assert mutating(flex_emulator) == []


@pytest.mark.parametrize("strategy", ["PERIODIC", "CRON", "DBT_CLOUD", "MANUAL"])
def test_every_other_schedule_strategy_deploys_end_to_end(
    strategy: str, cli_stack: CliStack, flex_emulator: Emulator
) -> None:
    # PERIODIC is 12m: Segment takes an interval over 10m (its app offers 15m and up).
    schedule = SCHEDULES[strategy]
    edit_stack_file(cli_stack, "dev", lambda config: config.update({f"{NS}:schedule": schedule}))
    cli_stack.deploy()
    (mapping,) = flex_emulator.store.subscriptions.values()
    assert mapping["reverseETLSchedule"] == {"strategy": strategy, "config": schedule.get("config")}

    flex_emulator.clear_requests()
    cli_stack.pulumi("preview", "--stack", "dev", "--expect-no-changes")
    cli_stack.up()
    assert mutating(flex_emulator) == []


def test_a_change_made_in_segment_shows_on_refresh_and_up_restores_it(
    cli_stack: CliStack, flex_emulator: Emulator
) -> None:
    cli_stack.deploy()
    configured_name = stack_file()["salesforce"]["name"]
    salesforce = flex_emulator.store.source_by_slug(stack_file()["salesforce"]["sourceSlug"])
    assert salesforce is not None
    client(flex_emulator).update_source(salesforce["id"], name=RENAMED)

    flex_emulator.clear_requests()
    refresh = cli_stack.pulumi("refresh", "--stack", "dev", "--yes")
    assert "salesforce-source" in refresh.stdout
    assert cli_stack.resource_outputs("salesforce-source")["name"] == RENAMED
    assert mutating(flex_emulator) == [], "a refresh only reads"

    drifted = cli_stack.pulumi("preview", "--stack", "dev", "--expect-no-changes", check=False)
    assert drifted.returncode != 0, "after the refresh the program and the state differ: expected a change"

    flex_emulator.clear_requests()
    cli_stack.up()
    assert mutating(flex_emulator) == ["PATCH updateSource"]
    assert flex_emulator.store.sources[salesforce["id"]]["name"] == configured_name
    assert cli_stack.resource_outputs("salesforce-source")["name"] == configured_name


def test_adopt_takes_over_a_source_built_by_hand_without_creating_another(
    cli_stack: CliStack, flex_emulator: Emulator
) -> None:
    config = stack_file()["salesforce"]
    hand_built = client(flex_emulator).create_source(
        slug=config["sourceSlug"],
        name=config["name"],
        metadata_id=SALESFORCE_METADATA_ID,
        enabled=True,
        settings={"salesforce-environment": config["environment"]},
    )
    cli_stack.set("dev", "salesforce.adopt", "true")
    flex_emulator.clear_requests()
    cli_stack.up()

    created_sources = [r for r in flex_emulator.requests if r.operation_id == "createSource"]
    assert len(created_sources) == 1, "only the Reverse ETL source is created; the Salesforce one is adopted"
    assert cli_stack.resource("salesforce-source")["id"] == hand_built.id
    assert segment_objects(flex_emulator) == expected_objects()
    cli_stack.pulumi("preview", "--stack", "dev", "--expect-no-changes")


def test_destroy_of_dev_removes_everything_dependents_first_and_keeps_the_space(
    cli_stack: CliStack, flex_emulator: Emulator
) -> None:
    cli_stack.deploy()
    space_id = flex_emulator.space(SPACES["dev"])["id"]
    personas_source = flex_emulator.personas_source(SPACES["dev"])
    flex_emulator.clear_requests()

    cli_stack.pulumi("destroy", "--stack", "dev", "--yes")
    calls = mutating(flex_emulator)
    # The activation's delete switches the destination off before the destination itself goes.
    assert [call for call in calls if not call.startswith("DELETE ")] == ["PATCH updateDestination"], calls
    assert calls.index("PATCH updateDestination") < calls.index("DELETE deleteDestination")
    deletes = [call.removeprefix("DELETE ") for call in calls if call.startswith("DELETE ")]
    assert segment_objects(flex_emulator) == NOTHING
    assert flex_emulator.space(SPACES["dev"])["id"] == space_id
    assert flex_emulator.personas_source(SPACES["dev"])["id"] == personas_source["id"]
    assert not cli_stack.resources()
    assert deletes.count("removeComputedTraitFromSpace") == len(expected_objects()["traits"])
    order = {call: deletes.index(call) for call in deletes}
    # A dependent goes before what it depends on: the mapping before its destination, the model before its
    # source, the warehouse's connection before the warehouse.
    assert order["removeSubscriptionFromDestination"] < order["deleteDestination"]
    assert order["deleteReverseEtlModel"] < max(i for i, c in enumerate(deletes) if c == "deleteSource")
    assert order["removeSourceConnectionFromWarehouse"] < order["deleteWarehouse"]


def test_destroy_of_prod_is_refused_by_protect(cli_project: CliStack, flex_emulator: Emulator) -> None:
    cli_project.init("prod", flex_emulator)
    cli_project.deploy("prod")
    before = segment_objects(flex_emulator)
    assert before == expected_objects("prod")
    flex_emulator.clear_requests()

    refused = cli_project.pulumi("destroy", "--stack", "prod", "--yes", check=False)
    assert refused.returncode != 0
    assert "protect" in refused.stdout + refused.stderr
    assert mutating(flex_emulator) == []
    assert segment_objects(flex_emulator) == before


def test_the_doctor_reads_the_deployed_stack_through_the_automation_api(
    cli_stack: CliStack, flex_emulator: Emulator
) -> None:
    cli_stack.set("dev", "verify.sampleUserId", SAMPLE_USER)
    cli_stack.deploy()
    flex_emulator.clear_requests()

    fresh = cli_stack.python("flex_tools.doctor", "--stack", "dev")
    assert fresh.returncode == 1, fresh.stdout + fresh.stderr
    assert "Salesforce" in fresh.stdout and "Traceback" not in fresh.stderr

    finish_the_manual_steps(flex_emulator)
    flex_emulator.clear_requests()
    ready = cli_stack.python("flex_tools.doctor", "--stack", "dev")
    assert ready.returncode == 0, ready.stdout + ready.stderr
    assert mutating(flex_emulator) == [], "the doctor only reads"


def test_promote_verifies_dev_and_deploys_the_same_commit_to_prod(
    cli_stack: CliStack, flex_emulator: Emulator
) -> None:
    cli_stack.init("prod", flex_emulator)
    cli_stack.set("dev", "verify.sampleUserId", SAMPLE_USER)
    cli_stack.deploy()
    finish_the_manual_steps(flex_emulator)
    head = cli_stack.commit()
    flex_emulator.clear_requests()

    promoted = cli_stack.python("flex_tools.promote", "--from-stack", "dev", "--to-stack", "prod", "--yes")

    assert promoted.returncode == 0, f"promote failed\n{promoted.stdout}\n{promoted.stderr}"
    assert "✘" not in promoted.stdout
    assert cli_stack.pulumi("stack", "tag", "get", "verified-commit", "--stack", "dev").stdout.strip() == head
    assert segment_objects(flex_emulator, SPACES["prod"])["traits"] == expected_objects("prod")["traits"]
    cli_stack.pulumi("preview", "--stack", "prod", "--expect-no-changes")


def test_a_config_error_is_one_clean_error_without_a_python_traceback(
    cli_stack: CliStack, flex_emulator: Emulator
) -> None:
    cli_stack.set("dev", "schedule.strategy", "WEEKLY")
    failed = cli_stack.pulumi("up", "--stack", "dev", "--yes", check=False)
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "schedule.strategy" in output, output
    assert "Traceback" not in output, output
    assert flex_emulator.requests == [] or mutating(flex_emulator) == [], "refused before any API call"
    assert segment_objects(flex_emulator) == NOTHING


def test_a_new_source_slug_replaces_the_source_deleting_the_old_one_first(
    cli_stack: CliStack, flex_emulator: Emulator
) -> None:
    cli_stack.deploy()
    old = flex_emulator.store.source_by_slug(stack_file()["salesforce"]["sourceSlug"])
    assert old is not None
    cli_stack.set("dev", "salesforce.sourceSlug", NEW_SALESFORCE_SLUG)
    flex_emulator.clear_requests()
    cli_stack.up()
    assert mutating(flex_emulator) == REPLACING_THE_SALESFORCE_SOURCE
    assert flex_emulator.store.sources.get(old["id"]) is None
    assert flex_emulator.store.source_by_slug(NEW_SALESFORCE_SLUG) is not None
    cli_stack.pulumi("preview", "--stack", "dev", "--expect-no-changes")


def test_an_error_raised_in_a_provider_shows_its_message_without_a_python_traceback(
    cli_stack: CliStack, flex_emulator: Emulator
) -> None:
    cli_stack.set("dev", "salesforce.adopt", "true")  # nothing was built by hand: nothing to adopt
    failed = cli_stack.pulumi("up", "--stack", "dev", "--yes", check=False)
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "was marked adopt: true but does not exist in Segment" in output, output
    assert "Traceback" not in output, output
    assert flex_emulator.store.source_by_slug(stack_file()["salesforce"]["sourceSlug"]) is None
