"""A misspelt event under the real ``pulumi`` CLI: `up` names the event the space has seen ("did you mean …?")
and says to correct the definitions, `manualSteps` lists it, and the doctor's "Flex events" row says the same."""

from __future__ import annotations

from typing import Any

from segment_emulator import Emulator
from tests.e2e.conftest import CliStack

MISSPELT = "Flex - Engagment Initiated"
MEANT = "Flex - Engagement Initiated"


def test_up_and_the_doctor_name_the_event_a_misspelt_trait_meant(
    cli_stack: CliStack, flex_emulator: Emulator
) -> None:
    def add_misspelt_trait(document: dict[str, Any]) -> None:
        document["traits"]["custom"] = [
            {"name": "Inbound calls 30 days", "event": MISSPELT, "aggregation": {"type": "count"}}
        ]

    cli_stack.edit_definitions(add_misspelt_trait)
    up = cli_stack.up()

    said = " ".join((up.stdout + up.stderr).split())
    assert (
        f"computed trait inbound_calls_30_days waits: event '{MISSPELT}' is not one the space has seen: did you "
        f"mean '{MEANT}'? Correct the event name in definitions.yaml" in said
    ), said
    assert "Connect the space to Flex and complete one interaction" not in said
    steps = {step["step"]: step for step in cli_stack.outputs()["manualSteps"]}
    assert steps["Complete one Flex interaction so Flex events reach the space"]["status"] == "done"
    assert f"did you mean '{MEANT}'?" in steps["Correct the event names the space has never seen"]["how"]

    doctor = cli_stack.python("flex_tools.doctor", "--stack", "dev")
    table = " ".join(doctor.stdout.split())
    assert doctor.returncode == 1, doctor.stderr
    assert f"did you mean '{MEANT}'?" in table and "correct the event name of inbound_calls_30_days" in table
