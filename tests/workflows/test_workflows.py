"""The GitHub workflows in .github/: shaped as docs/ci.md describes them, and running exactly the commands
README.md documents. The linters are in test_lint.py, who can read which secret in test_trust.py, and the steps
run on this machine in test_run_steps.py.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.workflows.gha import (
    REPO,
    action_files,
    jobs,
    load,
    secrets_read,
    steps,
    triggers,
    uses,
    workflow,
    workflow_files,
)

README = REPO / "README.md"
CI_SECTION = "## Continuous integration and promotion"
# The programs whose invocations the README documents; anything else in a `run:` block is shell plumbing.
DOCUMENTED_PROGRAMS = (
    "make",
    "pulumi",
    "python",
    "pip",
    ".ci/run",
    "flex-promote",
    "flex-doctor",
    "flex-export",
)
PULUMI_ACTION = "pulumi/actions"


def shell_commands(script: str) -> Iterator[str]:
    """Simple commands of a `run:` script, whitespace-normalised (continuations joined, comments dropped)."""
    for line in script.replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        for part in re.split(r"&&|\|\||;|\|", line):
            words = shlex.split(part, comments=True)
            if words:
                yield " ".join(words)


def pulumi_action_commands(step: dict[str, Any]) -> Iterator[str]:
    """The CLI command a pulumi/actions step runs (none when it only installs the CLI)."""
    inputs = {k: str(v) for k, v in (step.get("with") or {}).items()}
    if "command" not in inputs:
        return
    flags = [f"--{flag}" for flag in ("diff", "refresh", "expect-no-changes") if inputs.get(flag) == "True"]
    yield " ".join(["pulumi", inputs["command"], *flags, "--stack", inputs["stack-name"]])


def workflow_commands() -> dict[str, set[str]]:
    """Documented-program commands each workflow runs, by workflow file name."""
    found: dict[str, set[str]] = {}
    for path in workflow_files():
        commands: set[str] = set()
        for job in jobs(workflow(path.name)).values():
            for step in steps(job):
                if uses(step)[0] == PULUMI_ACTION:
                    commands.update(pulumi_action_commands(step))
                elif "run" in step:
                    commands.update(shell_commands(step["run"]))
        found[path.name] = {c for c in commands if c.split()[0] in DOCUMENTED_PROGRAMS}
    return found


def ci_run_commands() -> set[str]:
    script = (REPO / ".ci" / "run").read_text()
    return {c for c in shell_commands(script) if c.split()[0] in DOCUMENTED_PROGRAMS}


def code_in(markdown: str) -> set[str]:
    """Inline code spans and the lines of fenced code blocks, whitespace-normalised."""
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", markdown, flags=re.M | re.S)
    lines = {" ".join(line.split("#")[0].split()) for block in fenced for line in block.splitlines()}
    without_fences = re.sub(r"^```.*?^```", "", markdown, flags=re.M | re.S)
    spans = {" ".join(span.split()) for span in re.findall(r"`([^`\n]+)`", without_fences)}
    return {code for code in lines | spans if code}


def readme_ci_section() -> str:
    text = README.read_text()
    start = text.find(CI_SECTION)
    assert start >= 0, f"README.md has no '{CI_SECTION}' section"
    end = text.find("\n## ", start + len(CI_SECTION))
    return text[start : end if end >= 0 else None]


# What each workflow does ---------------------------------------------------------------------------------


def test_every_pulumi_action_is_the_official_one() -> None:
    found = [
        (path.name, uses(step)[0])
        for path in workflow_files()
        for job in jobs(workflow(path.name)).values()
        for step in steps(job)
        if uses(step)[0].startswith("pulumi/")
    ]
    assert found
    assert {action for _, action in found} == {PULUMI_ACTION}, found


FULL_SHA = re.compile(r"[0-9a-f]{40}")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<value>\S+)(?P<comment>.*)$", re.M)
RELEASE_COMMENT = re.compile(r"\s+# v\d+\.\d+\.\d+")


def unpinned_uses(text: str) -> list[str]:
    """Each `uses:` of another repository's action not pinned to a full commit SHA with its release tag in a
    comment (`owner/repo@<40 hex> # v1.2.3`). A tag or branch can be moved to other code; a commit cannot."""
    problems = []
    for found in USES_LINE.finditer(text):
        value, comment = found.group("value"), found.group("comment")
        if value.startswith(("./", "$/", "docker://")):
            continue
        _, _, ref = value.partition("@")
        if not FULL_SHA.fullmatch(ref) or not RELEASE_COMMENT.fullmatch(comment):
            problems.append(found.group(0).strip())
    return problems


def test_every_third_party_action_is_pinned_by_commit_sha_with_its_tag() -> None:
    files = [*workflow_files(), *action_files()]
    assert sum(len(USES_LINE.findall(path.read_text())) for path in files) > 10
    assert {path.name: unpinned_uses(path.read_text()) for path in files} == {path.name: [] for path in files}


@pytest.mark.parametrize(
    "line",
    [
        "      - uses: actions/checkout@v6",
        "        uses: pulumi/actions@v7.0.0 # v7.0.0",
        "      - uses: actions/checkout@d23441a48e516b6c34aea4fa41551a30e30af803",
        "      - uses: actions/checkout@d23441a48e516b6c34aea4fa41551a30e30af80 # v6.1.0",
        "      - uses: actions/checkout@main # v6.1.0",
        "      - uses: actions/checkout@d23441a48e516b6c34aea4fa41551a30e30af803 # v6",
    ],
)
def test_the_pin_check_refuses_tags_branches_short_shas_and_missing_tags(line: str) -> None:
    assert unpinned_uses(line) == [line.strip()]


def test_the_pin_check_takes_a_full_sha_with_its_tag_and_local_actions() -> None:
    text = (
        "      - uses: actions/checkout@d23441a48e516b6c34aea4fa41551a30e30af803 # v6.1.0\n"
        "        uses: ./.github/actions/stack-secrets\n"
    )
    assert unpinned_uses(text) == []


def job_level_secrets(document: dict[str, Any]) -> dict[str, set[str]]:
    """Secrets in a job's (or the workflow's) `env:`: every step of the job, third-party actions included, would
    see them. A secret belongs in the `env:` or `with:` of the steps that need it."""
    shared = secrets_read(document.get("env"))
    return {name: shared | secrets_read(job.get("env")) for name, job in jobs(document).items()}


def test_no_workflow_or_job_env_holds_a_secret() -> None:
    found = {path.name: job_level_secrets(workflow(path.name)) for path in workflow_files()}
    assert {name: {job: read for job, read in by_job.items() if read} for name, by_job in found.items()} == {
        name: {} for name in found
    }


def test_the_job_env_check_sees_a_secret_at_either_level() -> None:
    document = load(
        "on: push\n"
        "env: {TOKEN: '${{ secrets.WORKFLOW_WIDE }}'}\n"
        "jobs:\n"
        "  a: {runs-on: x, env: {PULUMI_ACCESS_TOKEN: '${{ secrets.PROD_PULUMI_WRITE_TOKEN }}'}, steps: []}\n"
    )
    assert job_level_secrets(document) == {"a": {"WORKFLOW_WIDE", "PROD_PULUMI_WRITE_TOKEN"}}


def test_promote_gives_the_prod_write_token_and_devs_passphrase_only_to_the_steps_that_use_the_backend() -> (
    None
):
    promote = jobs(workflow("promote.yml"))["promote"]
    holders = {
        str(step.get("name") or step.get("uses")): secrets_read(step.get("env"))
        for step in steps(promote)
        if secrets_read(step.get("env"))
    }
    assert holders == {
        "Dev stack secrets from repository secrets": {
            "PROD_PULUMI_WRITE_TOKEN",
            "DEV_PULUMI_CONFIG_PASSPHRASE",
        },
        "Prod stack secrets from the production environment": {"PROD_PULUMI_WRITE_TOKEN"},
        "Promote dev to prod": {"PROD_PULUMI_WRITE_TOKEN", "DEV_PULUMI_CONFIG_PASSPHRASE"},
    }
    third_party = [step for step in steps(promote) if uses(step)[0] and not uses(step)[0].startswith("./")]
    assert third_party and all(not secrets_read(step) for step in third_party)


def test_only_the_preview_may_write_to_pull_requests_and_nothing_else_writes() -> None:
    for path in workflow_files():
        document = workflow(path.name)
        assert "permissions" in document, f"{path.name}: set top-level permissions (least privilege)"
        scopes = [document["permissions"]] + [job.get("permissions", {}) for job in jobs(document).values()]
        for scope in scopes:
            writes = {k for k, v in (scope or {}).items() if v == "write"}
            allowed = {"pull-requests"} if path.name == "preview.yml" else set()
            assert writes <= allowed, (path.name, writes)


def only_job(name: str) -> dict[str, Any]:
    (job,) = jobs(workflow(name)).values()
    return job


def test_preview_runs_dev_only_on_pull_requests_with_the_read_only_token() -> None:
    assert set(triggers(workflow("preview.yml"))) == {"pull_request"}
    job = only_job("preview.yml")
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert "strategy" not in job, "one stack, dev: a pull request never previews prod"
    assert workflow_commands()["preview.yml"] >= {"pulumi preview --diff --stack dev"}
    (preview,) = [s for s in steps(job) if (s.get("with") or {}).get("command") == "preview"]
    assert preview["with"]["comment-on-pr"] is True
    text = (REPO / ".github" / "workflows" / "preview.yml").read_text()
    assert "secrets.DEV_SEGMENT_READ_TOKEN" in text and "WRITE_TOKEN" not in text and "PROD_" not in text


def test_preview_prod_runs_after_every_push_to_main_in_its_environment_with_the_read_only_token() -> None:
    assert triggers(workflow("preview-prod.yml")) == {"push": {"branches": ["main"]}}
    job = only_job("preview-prod.yml")
    assert job["environment"] == "production-preview"
    assert job["permissions"] == {"contents": "read"}
    assert workflow_commands()["preview-prod.yml"] >= {"pulumi preview --diff --stack prod"}
    text = (REPO / ".github" / "workflows" / "preview-prod.yml").read_text()
    assert "secrets.PROD_SEGMENT_READ_TOKEN" in text and "WRITE_TOKEN" not in text


def test_deploy_dev_runs_up_on_dev_after_every_push_to_main_one_at_a_time() -> None:
    assert triggers(workflow("deploy-dev.yml")) == {"push": {"branches": ["main"]}}
    job = only_job("deploy-dev.yml")
    assert workflow_commands()["deploy-dev.yml"] >= {"pulumi up --stack dev"}
    assert job["concurrency"] == {"group": "pulumi-stack-dev", "cancel-in-progress": False}


def test_promote_is_manual_bound_to_production_and_runs_the_promote_command() -> None:
    assert set(triggers(workflow("promote.yml"))) == {"workflow_dispatch"}
    job = only_job("promote.yml")
    assert job["environment"] == "production"
    assert job["concurrency"] == {"group": "pulumi-stack-prod", "cancel-in-progress": False}
    assert "flex-promote --from-stack dev --to-stack prod --yes" in workflow_commands()["promote.yml"]


def test_ci_runs_the_repositorys_own_ci_script() -> None:
    assert {"push", "pull_request"} <= set(triggers(workflow("ci.yml")))
    assert workflow_commands()["ci.yml"] == {".ci/run"}
    assert ci_run_commands() == {"make pulumi", "make test", "make check"}


def test_every_workflow_uses_one_python_with_the_pip_cache() -> None:
    # The pickled dynamic providers in the state are tied to the Python version that wrote them.
    versions = set()
    for path in workflow_files():
        for job in jobs(workflow(path.name)).values():
            (setup,) = [s for s in steps(job) if uses(s)[0] == "actions/setup-python"]
            versions.add(setup["with"]["python-version"])
            assert setup["with"]["cache"] == "pip", path.name
    assert len(versions) == 1, versions


def secret_like_values(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """(path, value) of every string value whose key names a token, passphrase, credential or key."""
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{where}.{key}"
            if isinstance(value, str) and re.search(
                r"token|passphrase|credentials|private.?key", str(key), re.I
            ):
                yield path, value
            yield from secret_like_values(value, path)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from secret_like_values(item, f"{where}[{index}]")


def test_secret_values_come_only_from_secrets_or_action_inputs() -> None:
    found = [
        (path.name, *entry)
        for path in [*workflow_files(), *action_files()]
        for entry in secret_like_values(yaml.safe_load(path.read_text()))
    ]
    assert len(found) >= 10
    for name, where, value in found:
        assert re.fullmatch(r"\$\{\{.*\b(secrets|inputs)\.[\w-]+.*\}\}", value.strip(), re.S), (
            name,
            where,
            value,
        )


# The README documents what the workflows run ---------------------------------------------------------------


def test_every_command_the_workflows_run_is_documented_in_the_readme() -> None:
    documented = code_in(README.read_text())
    run = set().union(*workflow_commands().values(), ci_run_commands())
    assert {"pip install -r requirements.txt", ".ci/run", "make test"} <= run
    assert sorted(run - documented) == [], "commands the workflows run that README.md does not show"


def test_the_readme_ci_section_shows_only_commands_the_workflows_run() -> None:
    section = readme_ci_section()
    assert "docs/ci.md" in section
    shown = {code for code in code_in(section) if code.split()[0] in DOCUMENTED_PROGRAMS}
    run = set().union(*workflow_commands().values(), ci_run_commands())
    assert shown, "the README's CI section shows no command"
    assert sorted(shown - run) == [], "commands in the README's CI section that no workflow runs"


# Secrets go to `pulumi config set --secret` on standard input ----------------------------------------------------

CI_DOC = REPO / "docs" / "ci.md"
# Options of `pulumi config set` that take a value; every other word after the options is the key or the value.
VALUED_OPTIONS = {"--stack", "-s", "--cwd", "-C", "--config-file", "--type"}


def secret_values_on_command_lines(commands: Iterator[str] | set[str]) -> list[str]:
    """The `pulumi config set --secret` commands that carry the value as an argument. With only the key, the CLI
    reads the value from standard input, or prompts for it without echo on a terminal; an argument stays in the
    shell's history and in the process list."""
    found = []
    for command in commands:
        try:
            words = shlex.split(command)
        except ValueError:  # prose in backticks, not a command
            continue
        if words[:3] != ["pulumi", "config", "set"] or "--secret" not in words:
            continue
        positional, skip = [], False
        for word in words[3:]:
            if word in ("<", ">", "<<<"):
                break
            if skip:
                skip = False
            elif word in VALUED_OPTIONS:
                skip = True
            elif not word.startswith("-"):
                positional.append(word)
        if len(positional) > 1:  # the key and a value (a bare mention names neither)
            found.append(command)
    return found


def run_scripts() -> Iterator[str]:
    """Every `run:` script of the workflows and the composite actions."""
    for path in workflow_files():
        yield from (s["run"] for job in jobs(workflow(path.name)).values() for s in steps(job) if "run" in s)
    for path in action_files():
        yield from (s["run"] for s in yaml.safe_load(path.read_text())["runs"]["steps"] if "run" in s)


def test_the_workflows_the_action_and_docs_ci_pass_secrets_on_standard_input() -> None:
    commands = {c for script in run_scripts() for c in shell_commands(script)} | code_in(CI_DOC.read_text())
    assert any(c.startswith("pulumi config set --secret") for c in commands)
    assert secret_values_on_command_lines(commands) == []


def test_the_stdin_check_refuses_a_secret_given_as_an_argument() -> None:
    # The first two are the forms README.md's setup steps used.
    on_the_command_line = [
        "pulumi config set --secret segment:token <token>",
        "pulumi config set --secret --path warehouseCredentials.private_key $(cat segment_user.p8)",
        "pulumi config set --stack prod --secret profileApiToken tok",
    ]
    assert sorted(secret_values_on_command_lines(on_the_command_line)) == sorted(on_the_command_line)
    on_standard_input = [
        "pulumi config set --secret --stack dev segment:token",
        "pulumi config set --secret --path warehouseCredentials.private_key < segment_user.p8",
        "pulumi config set segment:endpoint http://127.0.0.1:1",
    ]
    assert secret_values_on_command_lines(on_standard_input) == []
