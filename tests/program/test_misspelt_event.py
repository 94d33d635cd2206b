"""What `up` says when the space is not as the definitions expect: a trait on an event the space has never seen,
whose name is close to one it has seen, is a typo, not a wait for Flex (`up`'s outputs waitingTraits and
manualSteps, and the doctor, name the event meant), while a space that has seen no Flex event at all still gets
"connect the space to Flex"; and an API address nothing answers at is named."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from segment_emulator import Emulator
from tests.harness import DeploymentFailed, ProgramEngine, ProviderServer
from tests.program.test_doctor import run_doctor, stack_file, table_states
from tests.program.test_program import MAIN, REPO, engine_for

MISSPELT = "Flex - Engagment Initiated"
MEANT = "Flex - Engagement Initiated"
TRAIT = "inbound_calls_30_days"
FLEX_STEP = "Complete one Flex interaction so Flex events reach the space"
TYPO_STEP = "Correct the event names the space has never seen"


def definitions_with_typo(folder: Path) -> Path:
    document = yaml.safe_load((REPO / "definitions.yaml").read_text())
    document["traits"]["custom"] = [
        {
            "name": "Inbound calls 30 days",
            "event": MISSPELT,
            "aggregation": {"type": "count"},
            "window": {"within": {"days": 30}},
        }
    ]
    path = folder / "definitions.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def server() -> Iterator[ProviderServer]:
    with ProviderServer(cwd=REPO) as running:
        yield running


def up_with_typo(server: ProviderServer, emulator: Emulator, tmp_path: Path) -> Any:
    engine: ProgramEngine = engine_for(
        server, emulator, **{"flex-unified-profiles:definitionsFile": str(definitions_with_typo(tmp_path))}
    )
    return engine.up(MAIN)


def doctor_with_typo(emulator: Emulator, tmp_path: Path) -> tuple[str, str]:
    """The 'Flex events' row's detail and next action, as the doctor prints them."""
    config = stack_file(tmp_path, definitionsFile=str(definitions_with_typo(tmp_path)))
    code, out, err = run_doctor(emulator, config)
    assert code == 1, err
    assert table_states(out)["Flex events"] == "gap", out
    return out, " ".join(out.split())


def test_a_misspelt_event_is_named_with_the_event_the_space_has_seen(
    server: ProviderServer, emulator: Emulator, tmp_path: Path
) -> None:
    emulator.seed_flex_events("unified-profiles-dev")
    result = up_with_typo(server, emulator, tmp_path)

    reason = result.outputs["waitingTraits"][TRAIT]
    assert reason == f"event '{MISSPELT}' is not one the space has seen: did you mean '{MEANT}'?"
    assert "not seen in the space yet" not in reason
    assert set(result.outputs["computedTraits"]) >= {"total_inbounds", "total_outbounds"}
    steps = {step["step"]: step for step in result.outputs["manualSteps"]}
    assert steps[FLEX_STEP]["status"] == "done", "the space has seen Flex events: nothing to wait for"
    assert steps[TYPO_STEP]["status"] == "todo"
    assert f"did you mean '{MEANT}'? Fix them in " in steps[TYPO_STEP]["how"] and steps[TYPO_STEP][
        "how"
    ].endswith("definitions.yaml, then run `pulumi up` again")

    _, text = doctor_with_typo(emulator, tmp_path)
    assert f"did you mean '{MEANT}'?" in text
    assert f"correct the event name of {TRAIT}" in text
    assert "connect the space to Flex" not in text


def test_a_space_that_has_seen_no_flex_event_still_says_connect_it_to_flex(
    server: ProviderServer, emulator: Emulator, tmp_path: Path
) -> None:
    result = up_with_typo(server, emulator, tmp_path)

    reason = result.outputs["waitingTraits"][TRAIT]
    assert reason == f"event '{MISSPELT}' not seen in the space yet"
    steps = {step["step"]: step for step in result.outputs["manualSteps"]}
    assert steps[FLEX_STEP]["status"] == "todo" and TRAIT in steps[FLEX_STEP]["how"]
    assert TYPO_STEP not in steps

    _, text = doctor_with_typo(emulator, tmp_path)
    assert "connect the space to Flex in the Twilio Console" in text
    assert "did you mean" not in text and "correct the event name" not in text


def test_another_flex_event_the_space_has_not_seen_yet_is_a_wait_not_a_typo(
    server: ProviderServer, emulator: Emulator, tmp_path: Path
) -> None:
    # The space has seen 'Flex - Engagement Initiated' only; 'Flex - Engagement Completed' is a real event still to
    # come, not a typo of the one seen.
    emulator.seed_flex_events("unified-profiles-dev")
    space_id = emulator.space("unified-profiles-dev")["id"]
    with emulator.store_lock:
        del emulator.store.events[space_id]["Flex - Engagement Completed"]
    engine = engine_for(server, emulator)
    result = engine.up(MAIN)

    waiting = result.outputs["waitingTraits"]
    assert waiting and all("not seen in the space yet" in reason for reason in waiting.values()), waiting
    assert not any("did you mean" in reason for reason in waiting.values())


def test_an_api_nothing_answers_at_is_named_by_the_program(
    server: ProviderServer, emulator: Emulator
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    engine = engine_for(server, emulator, **{"segment:endpoint": url, "segment:maxRetries": 0})

    with pytest.raises((DeploymentFailed, pulumi.RunError)) as failed:
        engine.up(MAIN)
    assert f"at {url} could not be reached" in str(failed.value)
