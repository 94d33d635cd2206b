"""Who can read which secret: no job that unreviewed code can start reads a prod secret.

Anyone who can push a branch can run code with every *repository* secret: their branch's own workflow files run
on `push` and `workflow_dispatch`, and a `pull_request` run checks their code out. So the workflow files are no
barrier, and these tests do not pretend they are. The barrier GitHub enforces is an environment's deployment
branch rule: a job bound to an environment that only `main` may use never starts from another branch, and only
such a job receives that environment's secrets (docs/ci.md, "Who can read which secret").

From that, one rule, checked for every job: a job that is not bound to one of the main-only environments may read
only dev's secrets (`DEV_*`, and GitHub's own token), and not even dev's write tokens (`DEV_*_WRITE_TOKEN`). Every other secret, so every `PROD_*` one and any secret without a stack in its name, counts as
prod's, and docs/ci.md tells users to store those only in those environments. The checker is shown workflows that
break the rule, the matrix preview this repository used to ship among them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from tests.workflows.gha import (
    REPO,
    action_files,
    environment_name,
    jobs,
    load,
    secrets_read,
    triggers,
    whole_secrets_context,
    workflow,
    workflow_files,
)

CI_DOC = REPO / "docs" / "ci.md"
TRUST_SECTION = "## Who can read which secret"
# docs/ci.md has users restrict both to the `main` branch (Settings → Environments → Deployment branches).
MAIN_ONLY_ENVIRONMENTS = ("development", "production", "production-preview")
# Dev's secrets, except its write tokens: one writes dev's state, which holds the providers pickled, so whoever holds
# it decides what the next `up` and promotion run; the other is a Segment token, and Segment lets only a Source
# Admin on all sources create a source (docs/security.md), so even dev's can change prod's sources.
REACHABLE_SECRET = re.compile(r"DEV_(?![A-Z0-9_]*_WRITE_TOKEN$)[A-Z0-9_]+|GITHUB_TOKEN")
# Events whose runs use the base repository's secrets for code or context a pull request controls.
FORBIDDEN_TRIGGERS = ("pull_request_target", "workflow_run")


def is_main_only(job: Mapping[str, Any]) -> bool:
    return environment_name(job) in MAIN_ONLY_ENVIRONMENTS


def job_secrets(document: Mapping[str, Any], job: Mapping[str, Any]) -> set[str]:
    # Workflow-level env and defaults reach every job.
    return secrets_read(job) | secrets_read(document.get("env")) | secrets_read(document.get("defaults"))


def trust_problems(document: Mapping[str, Any]) -> Iterator[str]:
    """Each way a workflow lets code that no reviewer has approved read a prod secret."""
    on = triggers(document)
    for event in FORBIDDEN_TRIGGERS:
        if event in on:
            yield f"on: {event} runs with the repository's secrets for code or context a pull request controls"
    for whole in whole_secrets_context(document):
        yield f"`{whole}` hands over every secret, so no check can tell which ones a job reads"
    for job_id, job in jobs(document).items():
        if is_main_only(job):
            # Belt and braces: the environment already refuses other branches.
            # A schedule, like a dispatch from the Actions tab, runs the default branch's workflow.
            if set(on) - {"push", "workflow_dispatch", "schedule"} or (on.get("push") or {}).get(
                "branches"
            ) not in (
                None,
                ["main"],
            ):
                yield f"job {job_id} runs in {environment_name(job)} on {sorted(on)}: only pushes to main and dispatches"
            continue
        for name in sorted(job_secrets(document, job)):
            if not REACHABLE_SECRET.fullmatch(name):
                yield (
                    f"job {job_id} reads secrets.{name} but is not bound to a main-only environment "
                    f"({', '.join(MAIN_ONLY_ENVIRONMENTS)}), so any branch could run it"
                )


def test_no_job_that_unreviewed_code_can_start_reads_a_prod_secret() -> None:
    problems = [f"{path.name}: {p}" for path in workflow_files() for p in trust_problems(workflow(path.name))]
    assert problems == []


def jobs_reading(secret: re.Pattern[str]) -> set[tuple[str, str | None]]:
    """(workflow, environment) of every job that reads a secret whose name matches."""
    return {
        (path.name, environment_name(job))
        for path in workflow_files()
        for job in jobs(workflow(path.name)).values()
        if any(secret.fullmatch(name) for name in job_secrets(workflow(path.name), job))
    }


def test_prod_secrets_and_write_tokens_are_read_by_the_main_only_jobs() -> None:
    """The rule above is not vacuous: the jobs that read prod's secrets and the write tokens exist, bound to the
    main-only environments."""
    assert jobs_reading(re.compile(r"PROD_\w+")) == {
        ("preview-prod.yml", "production-preview"),
        ("drift.yml", "production-preview"),
        ("promote.yml", "production"),
    }
    assert jobs_reading(re.compile(r"\w+_WRITE_TOKEN")) == {
        ("deploy-dev.yml", "development"),
        ("promote.yml", "production"),
    }


def test_the_composite_action_reads_no_secret_of_its_own() -> None:
    # A composite action gets only what its caller passes; one that named a secret would hide it from the check.
    for path in action_files():
        assert secrets_read(load(path.read_text())) == set(), path


STEP_READS = """
on: push
jobs:
  up:
    runs-on: ubuntu-latest
    steps:
      - run: echo "$T"
        env:
          T: ${{ secrets.%s }}
"""
BAD_WORKFLOWS = {
    "the matrix preview this repository shipped until issue 18": """
on: pull_request
jobs:
  preview:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        stack: [dev, prod]
    env:
      PULUMI_CONFIG_PASSPHRASE: ${{ secrets.PULUMI_CONFIG_PASSPHRASE }}
    steps:
      - uses: ./.github/actions/stack-secrets
        with:
          warehouse-credentials: >-
            ${{ (matrix.stack == 'prod' && secrets.PROD_WAREHOUSE_CREDENTIALS)
            || (matrix.stack == 'dev' && secrets.DEV_WAREHOUSE_CREDENTIALS) || '' }}
""",
    "dev's state write token outside the development environment": """
on: pull_request
jobs:
  preview:
    runs-on: ubuntu-latest
    env:
      PULUMI_ACCESS_TOKEN: ${{ secrets.DEV_PULUMI_WRITE_TOKEN }}
    steps: [{run: "true"}]
""",
    "dev's Segment write token outside the development environment": STEP_READS % "DEV_SEGMENT_WRITE_TOKEN",
    "a prod secret in a job on push to any branch": STEP_READS % "PROD_SEGMENT_WRITE_TOKEN",
    "a prod secret in workflow-level env": """
on: workflow_dispatch
env:
  TOKEN: ${{ secrets.PROD_PULUMI_ACCESS_TOKEN }}
jobs:
  promote:
    runs-on: ubuntu-latest
    environment: production
    steps: [{run: "true"}]
  other:
    runs-on: ubuntu-latest
    steps: [{run: "true"}]
""",
    "a prod environment reached from a pull request": """
on: pull_request
jobs:
  preview:
    runs-on: ubuntu-latest
    environment: production-preview
    steps: [{run: "true"}]
""",
    "the whole secrets context": """
on: pull_request
jobs:
  dump:
    runs-on: ubuntu-latest
    steps:
      - run: echo "$ALL"
        env:
          ALL: ${{ toJSON(secrets) }}
""",
    "secrets inherited by a reusable workflow": """
on: pull_request
jobs:
  call:
    uses: ./.github/workflows/other.yml
    secrets: inherit
""",
    "pull_request_target": """
on: pull_request_target
jobs:
  label:
    runs-on: ubuntu-latest
    steps: [{run: "true"}]
""",
}


@pytest.mark.parametrize("text", BAD_WORKFLOWS.values(), ids=BAD_WORKFLOWS.keys())
def test_the_check_refuses_workflows_that_hand_prod_secrets_to_unreviewed_code(text: str) -> None:
    assert list(trust_problems(load(text))) != []


# docs/ci.md states the trust model in one table, kept exact here ------------------------------------------------


def trust_table() -> dict[str, dict[str, str]]:
    """The rows of docs/ci.md's trust table, by workflow file, as {column: cell}."""
    text = CI_DOC.read_text()
    section = text[text.index(TRUST_SECTION) :].splitlines()[1:]
    first = next(i for i, line in enumerate(section) if line.startswith("|"))
    lines = []
    for line in section[first:]:
        if not line.startswith("|"):
            break
        lines.append(line)
    header, _, *rows = lines
    columns = [cell.strip() for cell in header.strip("|").split("|")]
    table = {}
    for row in rows:
        cells = dict(zip(columns, (cell.strip() for cell in row.strip("|").split("|")), strict=True))
        table[cells["workflow"].strip("`")] = cells
    return table


def code_spans(cell: str) -> set[str]:
    return set(re.findall(r"`([^`]+)`", cell))


def test_docs_ci_states_for_every_workflow_its_triggers_environment_and_secrets() -> None:
    table = trust_table()
    assert set(table) == {path.name for path in workflow_files()}
    for path in workflow_files():
        document = workflow(path.name)
        row = table[path.name]
        assert code_spans(row["trigger"]) >= set(triggers(document)), (path.name, row["trigger"])
        environments = {environment_name(job) or "none" for job in jobs(document).values()}
        assert (code_spans(row["environment"]) or {row["environment"]}) == environments, (path.name, row)
        read = set().union(*(job_secrets(document, job) for job in jobs(document).values()))
        assert code_spans(row["secrets"]) == read, (path.name, row["secrets"])
        reachable = not all(is_main_only(job) for job in jobs(document).values())
        assert row["unreviewed code can start it"] == ("yes" if reachable else "no"), path.name
