"""The GitHub workflows in .github/: linted (GitHub's schema, zizmor), shaped as docs/ci.md describes them, and
running exactly the commands README.md documents.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
ACTIONS = REPO / ".github" / "actions"
ZIZMOR_CONFIG = Path(__file__).with_name("zizmor.yml")
README = REPO / "README.md"
CI_SECTION = "## Continuous integration and promotion"
# The programs whose invocations the README documents; anything else in a `run:` block is shell plumbing.
DOCUMENTED_PROGRAMS = ("make", "pulumi", "python", "pip", ".ci/run")
PULUMI_ACTION = "pulumi/actions"
LINT_TIMEOUT = 120


def tool(name: str) -> str:
    path = Path(sys.executable).with_name(name)
    if not path.exists():
        pytest.fail(
            f"{name} is not installed next to {sys.executable}: run `make venv` (requirements-dev.txt)"
        )
    return str(path)


def lint(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=LINT_TIMEOUT)


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


def action_files() -> list[Path]:
    return sorted(ACTIONS.glob("*/action.yml"))


@cache
def workflow(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as the boolean true.
    if True in document:
        document["on"] = document.pop(True)
    return dict(document)


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps") or [])


def uses(step: dict[str, Any]) -> tuple[str, str]:
    action, _, ref = str(step.get("uses", "")).partition("@")
    return action, ref


def matrix_values(job: dict[str, Any]) -> list[dict[str, str]]:
    matrix = (job.get("strategy") or {}).get("matrix") or {}
    combos: list[dict[str, str]] = [{}]
    for key, values in matrix.items():
        combos = [{**combo, key: str(value)} for combo in combos for value in values]
    return combos


def expand(text: str, matrix: dict[str, str]) -> str:
    return re.sub(r"\$\{\{\s*matrix\.(\w+)\s*\}\}", lambda m: matrix[m.group(1)], text)


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


def pulumi_action_commands(step: dict[str, Any], matrix: dict[str, str]) -> Iterator[str]:
    """The CLI command a pulumi/actions step runs (none when it only installs the CLI)."""
    inputs = {k: expand(str(v), matrix) for k, v in (step.get("with") or {}).items()}
    if "command" not in inputs:
        return
    flags = [f"--{flag}" for flag in ("diff", "refresh", "expect-no-changes") if inputs.get(flag) == "True"]
    yield " ".join(["pulumi", inputs["command"], *flags, "--stack", inputs["stack-name"]])


def workflow_commands() -> dict[str, set[str]]:
    """Documented-program commands each workflow runs, by workflow file name."""
    found: dict[str, set[str]] = {}
    for path in workflow_files():
        commands: set[str] = set()
        for job in workflow(path.name)["jobs"].values():
            for matrix in matrix_values(job):
                for step in steps(job):
                    if uses(step)[0] == PULUMI_ACTION:
                        commands.update(pulumi_action_commands(step, matrix))
                    elif "run" in step:
                        commands.update(expand(c, matrix) for c in shell_commands(step["run"]))
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


# Linters -------------------------------------------------------------------------------------------------


def test_workflows_and_actions_follow_githubs_schemas() -> None:
    assert workflow_files() and action_files()
    checks = [
        ("vendor.github-workflows", workflow_files()),
        ("vendor.github-actions", action_files()),
    ]
    for schema, files in checks:
        done = lint(tool("check-jsonschema"), "--builtin-schema", schema, *map(str, files))
        assert done.returncode == 0, (
            f"check-jsonschema ({schema}) found problems:\n{done.stdout}{done.stderr}"
        )


def test_zizmor_finds_nothing_in_the_workflows_and_actions() -> None:
    done = lint(
        tool("zizmor"),
        "--offline",
        "--config",
        str(ZIZMOR_CONFIG),
        "--no-progress",
        "--color",
        "never",
        ".github",
    )
    assert done.returncode == 0, f"zizmor found problems:\n{done.stdout}{done.stderr}"
    audited = done.stdout + done.stderr
    for path in [*workflow_files(), *action_files()]:
        assert str(path.relative_to(REPO)) in audited, f"zizmor did not audit {path.relative_to(REPO)}"


def test_the_linters_do_report_bad_workflows(tmp_path: Path) -> None:
    """Guards the two tests above against a linter invocation that passes whatever the input."""
    invalid = tmp_path / "invalid" / ".github" / "workflows" / "invalid.yml"
    invalid.parent.mkdir(parents=True)
    invalid.write_text("on: push\njobs:\n  greet:\n    steps:\n      - run: echo hi\n")  # no runs-on
    schema = lint(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(invalid))
    assert schema.returncode != 0, schema.stdout

    injectable = tmp_path / "injectable" / ".github" / "workflows" / "injectable.yml"
    injectable.parent.mkdir(parents=True)
    injectable.write_text(
        "on: pull_request_target\n"
        "permissions: {}\n"
        "jobs:\n"
        "  greet:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    zizmor = lint(
        tool("zizmor"),
        "--offline",
        "--config",
        str(ZIZMOR_CONFIG),
        "--no-progress",
        str(injectable.parents[2]),
    )
    assert zizmor.returncode != 0, zizmor.stdout + zizmor.stderr
    assert "template-injection" in zizmor.stdout and "dangerous-triggers" in zizmor.stdout


# The form of `uses:` -------------------------------------------------------------------------------------
# GitHub's workflow schema types `uses` as any string and zizmor audits security, not validity, so neither
# catches a step GitHub refuses at run time. GitHub accepts three forms for a step's action:
# `./path` (an action in the checked-out repository), `owner/repo[/path]@ref`, and `docker://image`.

LOCAL_ACTION = re.compile(r"\./(?:[\w.-]+/)*[\w.-]+")
REMOTE_ACTION = re.compile(r"[\w.-]+/[\w.-]+(?:/[\w.-]+)*@[\w./-]+")
DOCKER_ACTION = re.compile(r"docker://\S+")


def uses_problem(value: str, checked_out: bool) -> str | None:
    """Why GitHub would refuse a step's `uses:` (None when it is a form GitHub runs)."""
    if LOCAL_ACTION.fullmatch(value):
        directory = REPO / value
        if not any((directory / name).is_file() for name in ("action.yml", "action.yaml")):
            return f"{value}: no action.yml in {directory.relative_to(REPO)}"
        if not checked_out:
            return f"{value}: a local action needs an actions/checkout step before it"
        return None
    if REMOTE_ACTION.fullmatch(value) or DOCKER_ACTION.fullmatch(value):
        return None
    return f"{value}: not ./path, owner/repo[/path]@ref or docker://image"


def uses_problems(job: dict[str, Any]) -> Iterator[str]:
    checked_out = False
    for step in steps(job):
        if "uses" in step:
            problem = uses_problem(str(step["uses"]), checked_out)
            if problem:
                yield problem
            checked_out = checked_out or uses(step)[0] == "actions/checkout"


def test_every_uses_is_a_form_github_runs() -> None:
    jobs = [(path.name, job) for path in workflow_files() for job in workflow(path.name)["jobs"].values()]
    composite = [(path.name, yaml.safe_load(path.read_text())["runs"]) for path in action_files()]
    problems = [f"{name}: {p}" for name, job in jobs for p in uses_problems(job)]
    # A composite action runs inside the caller's checkout.
    problems += [
        f"{name}: {p}"
        for name, runs in composite
        for p in uses_problems({"steps": [{"uses": "actions/checkout@v6"}, *runs["steps"]]})
    ]
    assert problems == []
    assert any(uses(step)[0].startswith("./") for _, job in jobs for step in steps(job))


@pytest.mark.parametrize(
    ("value", "checked_out", "problem"),
    [
        ("$/.github/actions/stack-secrets", True, "not ./path"),
        ("actions/checkout", True, "not ./path"),
        (".github/actions/stack-secrets", True, "not ./path"),
        ("./.github/actions/stack-secret", True, "no action.yml"),
        ("./.github/actions/stack-secrets", False, "needs an actions/checkout step"),
        ("./.github/actions/stack-secrets", True, None),
        ("pulumi/actions@v7", False, None),
        ("owner/repo/sub/dir@0123abc", False, None),
        ("docker://alpine:3", False, None),
    ],
)
def test_the_uses_check_refuses_what_github_refuses(
    value: str, checked_out: bool, problem: str | None
) -> None:
    found = uses_problem(value, checked_out)
    assert (found is None) if problem is None else (found is not None and problem in found), found


# What each workflow does ---------------------------------------------------------------------------------


def test_every_pulumi_action_is_the_official_one_pinned_to_a_major_version() -> None:
    pinned = [
        (path.name, uses(step))
        for path in workflow_files()
        for job in workflow(path.name)["jobs"].values()
        for step in steps(job)
        if uses(step)[0].startswith("pulumi/")
    ]
    assert pinned
    for name, (action, ref) in pinned:
        assert action == PULUMI_ACTION and re.fullmatch(r"v\d+", ref), (name, action, ref)


def test_only_the_preview_may_write_to_pull_requests_and_nothing_else_writes() -> None:
    for path in workflow_files():
        document = workflow(path.name)
        assert "permissions" in document, f"{path.name}: set top-level permissions (least privilege)"
        scopes = [document["permissions"]] + [job.get("permissions", {}) for job in document["jobs"].values()]
        for scope in scopes:
            writes = {k for k, v in (scope or {}).items() if v == "write"}
            allowed = {"pull-requests"} if path.name == "preview.yml" else set()
            assert writes <= allowed, (path.name, writes)


def test_preview_runs_on_pull_requests_for_dev_and_prod_with_the_read_only_token() -> None:
    document = workflow("preview.yml")
    assert set(document["on"]) == {"pull_request"}
    (job,) = document["jobs"].values()
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert [m["stack"] for m in matrix_values(job)] == ["dev", "prod"]
    assert workflow_commands()["preview.yml"] >= {
        "pulumi preview --diff --stack dev",
        "pulumi preview --diff --stack prod",
    }
    (preview,) = [s for s in steps(job) if (s.get("with") or {}).get("command") == "preview"]
    assert preview["with"]["comment-on-pr"] is True
    text = (WORKFLOWS / "preview.yml").read_text()
    assert "secrets.SEGMENT_READ_TOKEN" in text and "WRITE_TOKEN" not in text


def test_deploy_dev_runs_up_on_dev_after_every_push_to_main_one_at_a_time() -> None:
    document = workflow("deploy-dev.yml")
    assert document["on"] == {"push": {"branches": ["main"]}}
    (job,) = document["jobs"].values()
    assert workflow_commands()["deploy-dev.yml"] >= {"pulumi up --stack dev"}
    assert job["concurrency"] == {"group": "pulumi-stack-dev", "cancel-in-progress": False}


def test_promote_is_manual_bound_to_production_and_runs_the_promote_command() -> None:
    document = workflow("promote.yml")
    assert set(document["on"]) == {"workflow_dispatch"}
    (job,) = document["jobs"].values()
    assert job["environment"] == "production"
    assert job["concurrency"] == {"group": "pulumi-stack-prod", "cancel-in-progress": False}
    assert (
        "python -m segment_provider.promote --from-stack dev --to-stack prod --yes"
        in workflow_commands()["promote.yml"]
    )


def test_ci_runs_the_repositorys_own_ci_script() -> None:
    document = workflow("ci.yml")
    assert {"push", "pull_request"} <= set(document["on"])
    assert workflow_commands()["ci.yml"] == {".ci/run"}
    assert ci_run_commands() == {"make pulumi", "make test", "make check"}


def test_every_workflow_uses_one_python_with_the_pip_cache() -> None:
    # The pickled dynamic providers in the state are tied to the Python version that wrote them.
    versions = set()
    for path in workflow_files():
        for job in workflow(path.name)["jobs"].values():
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


# The stack-secrets action's script, run as GitHub runs it, with a `pulumi` that records its calls -------


@pytest.fixture
def stack_checkout(tmp_path: Path) -> Path:
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "Pulumi.dev.yaml").write_text("config: {}\n")
    for command in (["init", "-q"], ["add", "Pulumi.dev.yaml"]):
        subprocess.run(["git", *command], cwd=checkout, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "stack file"],
        cwd=checkout,
        check=True,
    )
    recorder = tmp_path / "bin" / "pulumi"
    recorder.parent.mkdir()
    # Records its arguments and standard input, and changes the stack file as `pulumi config set` does.
    recorder.write_text(
        '#!/usr/bin/env bash\nprintf "%s\\n" "$*" >> "$PULUMI_CALLS"\nprintf "[%s]\\n" "$(cat)" >> "$PULUMI_CALLS"\n'
        'echo "  changed: $*" >> Pulumi.dev.yaml\n'
    )
    recorder.chmod(0o755)
    return checkout


def run_stack_secrets(checkout: Path, **inputs: str) -> subprocess.CompletedProcess[str]:
    (step,) = yaml.safe_load((ACTIONS / "stack-secrets" / "action.yml").read_text())["runs"]["steps"]
    script = checkout.parent / "stack-secrets.sh"
    script.write_text(step["run"])
    names = {"SEGMENT_TOKEN": "segment-token", "WAREHOUSE_CREDENTIALS": "warehouse-credentials"}
    names |= {"REVERSE_ETL_CREDENTIALS": "reverse-etl-credentials", "PROFILE_API_TOKEN": "profile-api-token"}
    env = {
        "PATH": f"{checkout.parent / 'bin'}:/usr/bin:/bin",
        "PULUMI_CALLS": str(checkout.parent / "calls.log"),
        "STACK": "dev",
        **{variable: inputs.get(name, "") for variable, name in names.items()},
    }
    # GitHub runs a composite step's `shell: bash` as `bash --noprofile --norc -eo pipefail {0}`.
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=LINT_TIMEOUT,
    )


SECRETS = {
    "segment-token": "sgp_token",
    "warehouse-credentials": '{"private_key": "-----BEGIN PRIVATE KEY-----\\nAAA\\n-----END PRIVATE KEY-----"}',
    "reverse-etl-credentials": '{"private_key": "retl"}',
}


def test_stack_secrets_pipes_each_secret_to_pulumi_and_keeps_git_status_clean(stack_checkout: Path) -> None:
    done = run_stack_secrets(stack_checkout, **SECRETS, **{"profile-api-token": "profile-token"})
    assert done.returncode == 0, done.stdout + done.stderr
    calls = (stack_checkout.parent / "calls.log").read_text()
    assert calls.splitlines() == [
        "config set --secret --stack dev segment:token",
        "[sgp_token]",
        "config set --secret --stack dev warehouseCredentials",
        f"[{SECRETS['warehouse-credentials']}]",
        "config set --secret --stack dev reverseEtlCredentials",
        f"[{SECRETS['reverse-etl-credentials']}]",
        "config set --secret --stack dev profileApiToken",
        "[profile-token]",
    ]
    assert "changed" in (stack_checkout / "Pulumi.dev.yaml").read_text()
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=stack_checkout, capture_output=True, text=True
    )
    assert status.stdout == ""


def test_stack_secrets_stops_on_a_missing_secret_naming_its_input(stack_checkout: Path) -> None:
    done = run_stack_secrets(stack_checkout, **{**SECRETS, "reverse-etl-credentials": ""})
    assert done.returncode != 0
    assert "input reverse-etl-credentials is empty for stack dev" in done.stdout
    assert not (stack_checkout.parent / "calls.log").exists()


def test_stack_secrets_stops_when_the_stack_file_is_not_committed(stack_checkout: Path) -> None:
    subprocess.run(["git", "rm", "-q", "--cached", "Pulumi.dev.yaml"], cwd=stack_checkout, check=True)
    done = run_stack_secrets(stack_checkout, **SECRETS)
    assert done.returncode != 0
    assert "Pulumi.dev.yaml is not committed" in done.stdout


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
