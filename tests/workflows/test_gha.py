"""The pieces the other workflow tests stand on: the expression evaluator (gha.py) and the local runner
(runner.py), each against what GitHub does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.workflows.gha import (
    ExpressionError,
    evaluate,
    interpolate,
    load,
    secrets_read,
    whole_secrets_context,
)
from tests.workflows.runner import Event, JobRun, Runner, StepFailed

CONTEXTS: dict[str, Any] = {
    "github": {
        "repository": "Acme/Flex",
        "event": {"pull_request": {"head": {"repo": {"full_name": "acme/flex"}}}},
    },
    "secrets": {"DEV_TOKEN": "d", "EMPTY": ""},
    "matrix": {"stack": "prod"},
}


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        # GitHub compares strings ignoring case.
        ("github.event.pull_request.head.repo.full_name == github.repository", True),
        # `||` and `&&` give one of their operands, not a boolean; a missing secret or property is null.
        ("secrets.MISSING || 'fallback'", "fallback"),
        ("secrets.EMPTY || secrets.DEV_TOKEN", "d"),
        ("matrix.stack == 'dev' && secrets.DEV_TOKEN", False),
        ("(matrix.stack == 'prod' && secrets.DEV_TOKEN) || ''", "d"),
        ("!secrets.MISSING", True),
        ("github.event.push.ref", None),
        ("'it''s'", "it's"),
    ],
)
def test_expressions_evaluate_as_github_evaluates_them(expression: str, value: Any) -> None:
    assert evaluate(expression, CONTEXTS) == value


@pytest.mark.parametrize("expression", ["toJSON(secrets)", "secrets['DEV_TOKEN']", "vars.X", "1 <"])
def test_expressions_outside_the_covered_language_are_refused(expression: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(expression, CONTEXTS)


def test_interpolation_fills_every_expression_and_null_is_empty() -> None:
    assert interpolate("group-${{ matrix.stack }}-${{ secrets.MISSING }}", CONTEXTS) == "group-prod-"
    assert interpolate(True, CONTEXTS) == "true"


def test_every_way_of_reading_secrets_is_seen() -> None:
    document = load(
        "on: push\n"
        "env: {A: '${{ secrets.TOP }}'}\n"
        "jobs:\n"
        "  x:\n"
        "    if: secrets.IN_IF != ''\n"
        "    steps: [{run: 'echo ${{ secrets.IN_RUN }}', with: {k: '${{ toJSON(secrets) }}'}}]\n"
        "  y: {uses: ./.github/workflows/r.yml, secrets: inherit}\n"
    )
    assert secrets_read(document) == {"TOP", "IN_IF", "IN_RUN"}
    assert whole_secrets_context(document) == ["toJSON(secrets)", "secrets: inherit"]


def test_the_runner_refuses_an_action_it_has_no_stand_in_for(tmp_path: Path) -> None:
    runner = Runner(tmp_path, Event("push"), [])
    with pytest.raises(StepFailed, match="no local stand-in for `uses: someone/else@v1`"):
        runner.run_step({"uses": "someone/else@v1"}, {}, None, JobRun(ran=True))


def test_the_runner_refuses_an_input_the_action_does_not_declare(tmp_path: Path) -> None:
    runner = Runner(tmp_path, Event("push"), [])
    with pytest.raises(StepFailed, match="no such inputs"):
        runner.run_action(
            ".github/actions/stack-secrets", {"stack": "dev", "token": "x"}, {}, JobRun(ran=True)
        )


def test_the_runner_runs_a_step_with_githubs_shell_and_environment(tmp_path: Path) -> None:
    runner = Runner(tmp_path, Event("push", secrets={"S": "v"}), [])
    done = JobRun(ran=True)
    step = {
        "name": "probe",
        "shell": "bash",
        "env": {"S": "${{ secrets.S }}"},
        "run": 'echo "$S $CI" | tr a-z A-Z',
    }
    runner.run_step(step, {}, None, done)
    assert done.step("probe").stdout == "V TRUE\n"
    with pytest.raises(StepFailed):  # `-o pipefail`: a failure inside a pipeline fails the step
        runner.run_step({"name": "fails", "shell": "bash", "run": "false | cat"}, {}, None, done)
