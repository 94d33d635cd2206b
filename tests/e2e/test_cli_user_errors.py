"""Three mistakes a new user makes, under the real ``pulumi up``: each ends in one clean block that names the file,
the key and the fix, and no Python traceback (issue 16)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import NS, CliStack

BLOCK = "invalid stack configuration (nothing was created):"


def typo_in_a_top_level_key(stack: CliStack) -> None:
    path = stack.project / "Pulumi.dev.yaml"
    path.write_text(path.read_text().replace(f"{NS}:warehouse:", f"{NS}:warehous:"))


def bad_indentation_in_definitions(stack: CliStack) -> None:
    path = stack.project / "definitions.yaml"
    path.write_text(path.read_text().replace("\n  trigger: ", "\n   trigger: ", 1))


def unknown_schedule_strategy(stack: CliStack) -> None:
    stack.set("dev", "schedule.strategy", "WEEKLY")


MISTAKES = [
    (
        typo_in_a_top_level_key,
        ["in Pulumi.dev.yaml:", f"- {NS}:warehous: unknown key: did you mean {NS}:warehouse? Rename it"],
    ),
    (
        bad_indentation_in_definitions,
        ["in definitions.yaml:", "- definitions.yaml: is not valid YAML", "line "],
    ),
    (unknown_schedule_strategy, ["in Pulumi.dev.yaml:", f"- {NS}:schedule", "PERIODIC"]),
]


@pytest.mark.parametrize(("mistake", "expected"), MISTAKES, ids=[m.__name__ for m, _ in MISTAKES])
def test_a_config_mistake_under_pulumi_up_is_one_clean_block_naming_file_key_and_fix(
    cli_stack: CliStack, mistake: object, expected: list[str]
) -> None:
    mistake(cli_stack)  # type: ignore[operator]
    done = cli_stack.pulumi("up", "--stack", "dev", "--yes", check=False)
    printed = done.stdout + done.stderr
    assert done.returncode != 0
    assert "Traceback" not in printed
    assert BLOCK in printed
    block = printed[printed.index(BLOCK) :]
    for text in expected:
        assert text in block, f"{text!r} is not in:\n{block}"
    assert cli_stack.resources() == [] or all(
        r["type"] == "pulumi:pulumi:Stack" for r in cli_stack.resources()
    )
