"""``python -m flex_tools.promote`` against the emulator, with the Pulumi side played by the engine stand-in
(one engine per stack, as the Automation API would drive the CLI) and git by a stand-in checkout.

Each test starts from a dev stack that is deployed and ready (the doctor's checks pass) and an empty prod space.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
from pulumi import automation as auto

from flex_tools import promote
from flex_tools.cli import EXIT_CANNOT_RUN
from flex_tools.doctor import StackConfigValues
from flex_tools.promote import (
    EXIT_PROMOTED,
    EXIT_STOPPED,
    TAG_COMMIT,
    TAG_DIGEST,
    PlanSummary,
    config_digest,
)
from segment_emulator import Emulator
from tests.harness import REPO_ROOT, ProgramEngine, ProviderServer, RunResult
from tests.program.ready_stack import MAIN, NS, deploy, finish_the_manual_steps, stack_engine
from tests.tools.user_errors import TRACEBACK, closing_port

COMMIT = "3f2c9a1e5b7d4c6a8e0f1b2c3d4e5f6a7b8c9d0e"
MUTATING = ("POST", "PATCH", "PUT", "DELETE")


@pytest.fixture(scope="module")
def dev_server() -> Iterator[ProviderServer]:
    with ProviderServer(cwd=REPO_ROOT) as running:
        yield running


@pytest.fixture(scope="module")
def prod_server() -> Iterator[ProviderServer]:
    with ProviderServer(cwd=REPO_ROOT) as running:
        yield running


def summary_of(result: RunResult) -> PlanSummary:
    return PlanSummary(
        changes=Counter(step.op for step in result.steps),
        text="\n".join(f"{step.op} {step.name}" for step in result.steps if step.op != "same"),
    )


@dataclass
class HarnessStackOps:
    """:class:`promote.StackOps` over engine stand-ins; records every call so tests see what ran."""

    engines: dict[str, ProgramEngine]
    calls: list[tuple[str, str]] = field(default_factory=list)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)

    def config(self, stack: str) -> StackConfigValues:
        self.calls.append(("config", stack))
        engine = self.engines[stack]
        return StackConfigValues(dict(engine.config), engine.secret_keys)

    def refresh(self, stack: str) -> PlanSummary:
        self.calls.append(("refresh", stack))
        return summary_of(self.engines[stack].refresh())

    def preview(self, stack: str) -> PlanSummary:
        self.calls.append(("preview", stack))
        return summary_of(self.engines[stack].preview(MAIN))

    def up(self, stack: str) -> PlanSummary:
        self.calls.append(("up", stack))
        return summary_of(self.engines[stack].up(MAIN))

    def set_tags(self, stack: str, tags: Mapping[str, str]) -> None:
        self.calls.append(("set_tags", stack))
        self.tags.setdefault(stack, {}).update(tags)

    def outputs(self, stack: str) -> Mapping[str, object]:
        self.calls.append(("outputs", stack))
        return dict(self.engines[stack].state.outputs or {})


@dataclass
class StandInGit:
    commit: str = COMMIT
    dirty: list[str] = field(default_factory=list)

    def head(self) -> str:
        return self.commit

    def dirty_paths(self) -> list[str]:
        return list(self.dirty)


@dataclass
class Setup:
    emulator: Emulator
    ops: HarnessStackOps
    git: StandInGit
    dev: ProgramEngine
    prod: ProgramEngine

    def promote(self, *args: str, answer: bool = True) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        questions: list[str] = []

        def confirm(question: str) -> bool:
            questions.append(question)
            return answer

        code = promote.main(
            ["--from-stack", "dev", "--to-stack", "prod", *args],
            out=out,
            err=err,
            ops=self.ops,
            git=self.git,
            confirm=confirm,
        )
        return code, out.getvalue() + "".join(f"? {q}\n" for q in questions), err.getvalue()

    def prod_traits(self) -> list[str]:
        store = self.emulator.store
        with self.emulator.store_lock:
            prod_space = next(s for s in store.spaces.values() if s["slug"] == "unified-profiles-prod")
            return sorted(
                t["key"] for t in store.computed_traits.values() if t["spaceId"] == prod_space["id"]
            )

    def prod_space_objects(self) -> int:
        """Segment objects the program made for prod: its sources (named flex_prod_…) and the prod space's traits."""
        with self.emulator.store_lock:
            sources = [s for s in self.emulator.store.sources.values() if s["slug"].startswith("flex_prod_")]
        return len(sources) + len(self.prod_traits())

    def mutations(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.emulator.requests if r.method in MUTATING]


@pytest.fixture
def setup(dev_server: ProviderServer, prod_server: ProviderServer, emulator: Emulator) -> Setup:
    dev = deploy(dev_server, emulator)
    finish_the_manual_steps(emulator)
    prod = stack_engine(prod_server, emulator, "prod")
    emulator.clear_requests()
    return Setup(emulator, HarnessStackOps({"dev": dev, "prod": prod}), StandInGit(), dev, prod)


def test_a_verified_dev_stack_is_promoted_and_prod_ends_like_dev(setup: Setup) -> None:
    code, output, err = setup.promote()

    assert (code, err) == (EXIT_PROMOTED, ""), output + err
    assert [call for call in setup.ops.calls if call[0] != "config"] == [
        ("refresh", "dev"),
        ("preview", "dev"),
        ("set_tags", "dev"),
        ("outputs", "prod"),
        ("preview", "prod"),
        ("up", "prod"),
    ]
    assert "✔ target space: prod has its own space slug unified-profiles-prod" in output
    tags = setup.ops.tags["dev"]
    assert tags[TAG_COMMIT] == COMMIT
    dev_config = setup.ops.config("dev")
    assert tags[TAG_DIGEST] == config_digest(dev_config, (REPO_ROOT / "definitions.yaml").read_text())
    assert "? Deploy these changes to prod?" in output
    for line in (
        "✔ git: working tree clean",
        "✔ dev refresh",
        "✔ dev preview: no changes",
        "✔ record: tagged",
    ):
        assert line in output
    assert "✘" not in output
    assert len(setup.prod_traits()) == 6
    assert setup.prod_space_objects() == 6 + 2  # the traits, the Salesforce and Reverse ETL sources
    # prod now matches its program; a second promotion verifies again and has nothing to deploy
    setup.prod.expect_no_changes(MAIN)
    code, output, _ = setup.promote("--yes")
    assert code == EXIT_PROMOTED
    assert "nothing to deploy" in output
    assert "? Deploy" not in output


def test_dev_checks_are_printed_one_by_one_before_anything_is_recorded(setup: Setup) -> None:
    _, output, _ = setup.promote("--yes")

    check_lines = [line for line in output.splitlines() if line.startswith("✔ dev check · ")]
    names = {line.split(" · ", 1)[1].split(":", 1)[0] for line in check_lines}
    assert {"Unify space", "Last Reverse ETL sync", "Profile API"} <= names
    assert output.index("dev check · Profile API") < output.index("record: tagged")


def test_a_dirty_working_tree_stops_before_any_pulumi_operation(setup: Setup) -> None:
    setup.git.dirty = ["definitions.yaml"]

    code, _, err = setup.promote("--yes")

    assert code == EXIT_STOPPED
    assert "uncommitted changes (definitions.yaml)" in err and "Next: commit or stash them" in err
    assert setup.ops.calls == []
    assert setup.mutations() == []


def test_drift_in_dev_stops_the_promotion_with_the_fix(setup: Setup) -> None:
    with setup.emulator.store_lock:
        trait = next(iter(setup.emulator.store.computed_traits.values()))
        trait["name"] = "renamed in the app"

    code, _, err = setup.promote("--yes")

    assert code == EXIT_STOPPED
    assert "dev preview: the stack has pending changes (1 to update): Segment objects changed outside" in err
    assert "run `pulumi up --stack dev`" in err
    assert ("preview", "prod") not in setup.ops.calls and "dev" not in setup.ops.tags
    assert setup.prod_space_objects() == 0


def test_pending_changes_in_dev_stop_the_promotion(setup: Setup) -> None:
    setup.dev.config[f"{NS}:schedule"] = json.dumps({"strategy": "PERIODIC", "config": {"interval": "2h"}})

    code, _, err = setup.promote("--yes")

    assert code == EXIT_STOPPED
    assert "dev preview: the stack has pending changes (1 to update)" in err
    assert "run `pulumi up --stack dev`" in err
    assert "dev" not in setup.ops.tags and setup.prod_space_objects() == 0


def test_a_failed_check_stops_with_the_checks_next_action(setup: Setup) -> None:
    setup.emulator.set_profile_api_token("rotated-in-the-app")

    code, output, err = setup.promote("--yes")

    assert code == EXIT_STOPPED
    assert "✘ dev check · Profile API" in output
    assert "dev checks: 1 failed (first: Profile API" in err and "Next: " in err
    assert "dev" not in setup.ops.tags and setup.prod_space_objects() == 0


def test_prod_reading_other_definitions_is_refused(setup: Setup, tmp_path: Path) -> None:
    other = tmp_path / "definitions.prod.yaml"
    other.write_text((REPO_ROOT / "definitions.yaml").read_text() + "\n# edited for prod only\n")
    setup.prod.config[f"{NS}:definitionsFile"] = str(other)

    code, _, err = setup.promote("--yes")

    assert code == EXIT_STOPPED
    assert "shared definitions: prod reads" in err and "differs from what dev was verified with" in err
    assert ("preview", "prod") not in setup.ops.calls
    assert setup.prod_space_objects() == 0


def test_a_checkout_that_moved_after_verification_is_refused(setup: Setup) -> None:
    heads = iter([COMMIT, "0" * 40])
    setup.git.head = lambda: next(heads)  # type: ignore[method-assign]

    code, _, err = setup.promote("--yes")

    assert code == EXIT_STOPPED
    assert "moved away from the verified commit" in err
    assert setup.prod_space_objects() == 0


def test_an_unconfirmed_prod_update_changes_nothing(setup: Setup) -> None:
    code, output, err = setup.promote(answer=False)

    assert code == EXIT_STOPPED
    assert "? Deploy these changes to prod?" in output
    assert "prod up: not confirmed" in err
    assert ("up", "prod") not in setup.ops.calls
    assert setup.prod_space_objects() == 0


def test_invalid_prod_config_is_named_before_the_prod_preview(setup: Setup) -> None:
    setup.prod.config[f"{NS}:environment"] = "staging"

    code, _, err = setup.promote("--yes")

    assert code == EXIT_CANNOT_RUN
    assert f"{NS}:environment" in err and "fix Pulumi.prod.yaml" in err
    assert ("preview", "prod") not in setup.ops.calls


def stopped_before_prod_changes(setup: Setup, check: str, *args: str, code: int = EXIT_STOPPED) -> str:
    exited, output, err = setup.promote("--yes", *args)
    assert exited == code, output + err
    assert f"promotion stopped: {check}:" in err, err
    assert ("preview", "prod") not in setup.ops.calls and ("up", "prod") not in setup.ops.calls
    assert setup.prod_space_objects() == 0
    return err


def test_a_target_that_is_not_the_prod_environment_is_refused(setup: Setup) -> None:
    # A stack whose name says neither dev nor prod, configured as dev, on its own objects.
    staging = setup.prod
    staging.config[f"{NS}:environment"] = "dev"
    for key, part, value in (
        ("space", "slug", "unified-profiles-staging"),
        ("salesforce", "sourceSlug", "flex_staging_salesforce"),
        ("reverseEtl", "sourceSlug", "flex_staging_reverse_etl"),
        ("salesforce", "name", "Flex Staging Salesforce"),
        ("reverseEtl", "name", "Flex Staging Reverse ETL"),
        ("warehouse", "name", "Flex Staging Snowflake"),
    ):
        staging.config[f"{NS}:{key}"] = json.dumps({**json.loads(staging.config[f"{NS}:{key}"]), part: value})
    setup.ops.engines["staging"] = staging

    err = stopped_before_prod_changes(setup, "target environment", "--to-stack", "staging")
    assert "stack staging is the dev environment, not prod" in err


def test_a_target_naming_the_source_stacks_space_is_refused(setup: Setup) -> None:
    setup.prod.config[f"{NS}:space"] = json.dumps({"slug": "unified-profiles-dev"})

    # Refused twice over: the config check (Pulumi.dev.yaml names that space) comes first.
    err = stopped_before_prod_changes(setup, "prod config", code=EXIT_CANNOT_RUN)
    assert "'unified-profiles-dev' is also the space slug of stack 'dev'" in err


def test_a_target_naming_the_source_space_by_name_is_refused_by_its_live_id(setup: Setup) -> None:
    setup.prod.config[f"{NS}:space"] = json.dumps({"name": "Unified Profiles Dev"})

    err = stopped_before_prod_changes(setup, "target space")
    assert "is the same Segment space as dev's" in err


def test_a_target_deployed_on_another_space_than_its_config_names_is_refused(setup: Setup) -> None:
    setup.prod.state.outputs = {"spaceId": "spc_somewhere_else"}

    err = stopped_before_prod_changes(setup, "target space")
    assert "was deployed on space spc_somewhere_else" in err


def test_the_digest_follows_plain_values_and_definitions_but_not_secret_values() -> None:
    config = StackConfigValues({"a:plain": "1", "a:token": "s3cret"}, frozenset({"a:token"}))
    digest = config_digest(config, "defs")

    rotated = StackConfigValues({"a:plain": "1", "a:token": "other"}, frozenset({"a:token"}))
    assert config_digest(rotated, "defs") == digest
    assert (
        config_digest(StackConfigValues({"a:plain": "2", "a:token": "s3cret"}, config.secret_keys), "defs")
        != digest
    )
    assert config_digest(config, "defs changed") != digest


def test_the_same_stack_on_both_sides_is_refused() -> None:
    with pytest.raises(SystemExit):
        promote.parse_arguments(["--from-stack", "dev", "--to-stack", "dev"])


class RecordingStack:
    """What ``automation.select_stack`` returns, reduced to the calls promotion makes, with the SDK's result types."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, object]]] = []
        self.tags: dict[str, str] = {}

    def get_all_config(self) -> dict[str, auto.ConfigValue]:
        return {"segment:token": auto.ConfigValue("t0ken", secret=True), "a:plain": auto.ConfigValue("1")}

    def _summary(self, kind: str, changes: dict[str, int]) -> auto.UpdateSummary:
        return auto.UpdateSummary(
            kind=kind,
            start_time=datetime.now(),
            message="",
            environment={},
            config={},
            result="succeeded",
            resource_changes={auto.OpType(op): n for op, n in changes.items()},
        )

    def refresh(self, **options: object) -> auto.RefreshResult:
        self.calls.append(("refresh", options))
        return auto.RefreshResult("refreshed", "", self._summary("refresh", {"same": 12, "update": 1}))

    def preview(self, **options: object) -> auto.PreviewResult:
        self.calls.append(("preview", options))
        return auto.PreviewResult("previewed", "", {auto.OpType.SAME: 10, auto.OpType.UPDATE: 2})

    def up(self, **options: object) -> auto.UpResult:
        self.calls.append(("up", options))
        return auto.UpResult("updated", "", self._summary("update", {"same": 10, "update": 2}), outputs={})

    def set_tag(self, key: str, value: str) -> None:
        self.tags[key] = value


def test_the_automation_api_results_become_plan_summaries(monkeypatch: pytest.MonkeyPatch) -> None:
    stack = RecordingStack()
    selected: list[tuple[str, str]] = []

    def select_stack(*, stack_name: str, work_dir: str) -> RecordingStack:
        selected.append((stack_name, work_dir))
        return stack

    monkeypatch.setattr(auto, "select_stack", select_stack)
    ops = promote.AutomationStackOps(REPO_ROOT, io.StringIO())

    config = ops.config("dev")
    assert config.values == {"segment:token": "t0ken", "a:plain": "1"}
    assert config.secret_keys == {"segment:token"}
    assert ops.refresh("dev").pending == {"update": 1}
    assert ops.preview("dev").pending == {"update": 2}
    assert ops.up("prod").pending == {"update": 2}
    ops.set_tags("dev", {TAG_COMMIT: COMMIT})
    assert stack.tags == {TAG_COMMIT: COMMIT}
    assert ("preview", True) in [(name, options.get("diff")) for name, options in stack.calls]
    # each stack is selected once (a CLI run), then its Stack object is reused
    assert selected == [("dev", str(REPO_ROOT)), ("prod", str(REPO_ROOT))]


def test_a_missing_cli_stops_with_the_install_step(monkeypatch: pytest.MonkeyPatch) -> None:
    def select_stack(*, stack_name: str, work_dir: str) -> RecordingStack:
        raise FileNotFoundError("pulumi")

    monkeypatch.setattr(auto, "select_stack", select_stack)
    ops = promote.AutomationStackOps(REPO_ROOT, io.StringIO())

    with pytest.raises(promote.PromotionStopped, match="`pulumi` CLI is not on PATH: install it"):
        ops.config("dev")


def test_an_unreachable_api_stops_before_any_pulumi_operation_with_one_line(setup: Setup) -> None:
    with closing_port() as (url, connections):
        setup.dev.config["segment:endpoint"] = url
        code, _, err = setup.promote("--yes")
        attempts = connections()

    assert code == EXIT_CANNOT_RUN
    assert err.strip().count("\n") == 0 and url in err and "cannot reach" in err and TRACEBACK not in err
    assert attempts == 1, "one request, no retries"
    assert [op for op, _ in setup.ops.calls] == ["config"]


def test_a_refused_token_is_one_line_and_debug_adds_the_traceback(setup: Setup) -> None:
    setup.dev.config["segment:token"] = "not-the-token"

    code, _, err = setup.promote("--yes")
    debug_code, _, debug_err = setup.promote("--yes", "--debug")

    assert code == debug_code == EXIT_CANNOT_RUN
    assert err.strip().count("\n") == 0 and "refused the token (HTTP 401)" in err and TRACEBACK not in err
    assert TRACEBACK in debug_err and debug_err.endswith(err.lstrip("\n"))
    assert "not-the-token" not in err + debug_err
    assert setup.mutations() == []


def test_help_states_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        promote.main(["--help"])

    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "Exit status: 0 when prod runs the verified commit, 1 when a check stopped" in text
    assert "2 when it cannot run" in text and "--debug" in text
