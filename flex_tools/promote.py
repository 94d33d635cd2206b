"""Promote a verified dev stack to prod: ``flex-promote --from-stack dev --to-stack prod``.

1. **Verify dev.** The working tree is clean; dev has no pending changes after a refresh (every Segment object of the
   stack was read back through the API and matches the program); the stack's read-only checks pass (the mapping's
   last Reverse ETL sync succeeded, computed traits are live, the Profile API answers for the sample user).
2. **Record** the verified git commit and the dev config digest as dev stack tags.
3. **Deploy prod** from that same commit only: the tree must still be clean at the verified commit and both stacks
   must read the same shared definitions; the prod preview is shown, then ``pulumi up`` runs after confirmation
   (``--yes`` in CI).

Every step prints what it checked and the result. A failed check stops the promotion with the reason and the next
action; nothing is deployed to prod unless every earlier step passed.

The Pulumi side goes through :class:`StackOps` — the Automation API in real use (needs the ``pulumi`` CLI, 3.211 or
newer for stack tags on self-managed backends), the SDK-level engine stand-in in tests.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from flex_program.config import ConfigError, Program
from flex_program.preflight import PreflightError, find_space
from flex_tools.checks import Check, run_checks
from flex_tools.cli import (
    EXIT_CANNOT_RUN,
    EXIT_CODES_HELP,
    EXIT_NOT_DONE,
    EXIT_OK,
    USER_ERRORS,
    add_debug_flag,
    add_project_dir,
    find_project,
    pulumi_error,
    reach,
    report,
    stack_name,
)
from flex_tools.doctor import StackConfigValues, automation_config_values, clients_for, load_program
from segment_provider.api.errors import SegmentError

TAG_COMMIT = "verified-commit"
TAG_DIGEST = "verified-config-digest"
SECRET_PLACEHOLDER = "[secret]"
EXIT_PROMOTED = EXIT_OK
EXIT_STOPPED = EXIT_NOT_DONE


class PromotionStopped(Exception):
    """A check failed (``code`` 1), or the promotion cannot run at all (``code`` 2: invalid config, no CLI, an
    unknown stack); the message says why and what to do next."""

    def __init__(self, message: str, code: int = EXIT_STOPPED) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class PlanSummary:
    """What a preview (or an update) would change: counts by operation, and the engine's printed diff."""

    changes: Mapping[str, int]
    text: str = ""

    @property
    def pending(self) -> dict[str, int]:
        return {op: n for op, n in self.changes.items() if op not in ("same", "read", "refresh") and n}


class StackOps(Protocol):
    """The Pulumi operations promotion needs, for one project directory."""

    def config(self, stack: str) -> StackConfigValues: ...

    def refresh(self, stack: str) -> PlanSummary: ...

    def preview(self, stack: str) -> PlanSummary: ...

    def up(self, stack: str) -> PlanSummary: ...

    def set_tags(self, stack: str, tags: Mapping[str, str]) -> None: ...

    def outputs(self, stack: str) -> Mapping[str, Any]:
        """The stack's outputs as last deployed (empty before its first ``up``)."""
        ...


class Git(Protocol):
    def head(self) -> str: ...

    def dirty_paths(self) -> list[str]: ...


class LocalGit:
    def __init__(self, repo: Path) -> None:
        self.repo = repo

    def _git(self, *args: str) -> str:
        try:
            done = subprocess.run(
                ["git", *args], cwd=self.repo, check=True, capture_output=True, text=True, timeout=60
            )
        except (OSError, subprocess.CalledProcessError) as error:
            raise PromotionStopped(
                f"git {' '.join(args)} failed in {self.repo}: promotion deploys a committed state, so run it "
                "from a git checkout of this project",
                EXIT_CANNOT_RUN,
            ) from error
        return done.stdout

    def head(self) -> str:
        return self._git("rev-parse", "HEAD").strip()

    def dirty_paths(self) -> list[str]:
        return [line[3:] for line in self._git("status", "--porcelain").splitlines() if line.strip()]


class AutomationStackOps:
    """Pulumi's Automation API over the project directory; every operation streams the engine's output."""

    def __init__(self, project_dir: Path, out: TextIO = sys.stdout) -> None:
        try:
            from pulumi import automation
        except ImportError as error:  # pragma: no cover - pulumi is a hard dependency
            raise PromotionStopped(
                "the pulumi package is missing: run `pip install -r requirements.txt`"
            ) from error
        self._auto = automation
        self.project_dir = project_dir
        self.out = out
        self._selected: dict[str, Any] = {}

    def _stack(self, name: str) -> Any:
        # Selecting runs the CLI; each Stack object passes its own name to every later command.
        if name in self._selected:
            return self._selected[name]
        try:
            selected = self._selected[name] = self._auto.select_stack(
                stack_name=name, work_dir=str(self.project_dir)
            )
            return selected
        except FileNotFoundError as error:
            raise PromotionStopped(
                "the `pulumi` CLI is not on PATH: install it (https://www.pulumi.com/docs/install/) and log in to "
                "your state backend",
                EXIT_CANNOT_RUN,
            ) from error
        except self._auto.errors.CommandError as error:
            raise PromotionStopped(
                f"cannot select stack '{name}': {pulumi_error(error)}; check `pulumi stack ls` and your backend login",
                EXIT_CANNOT_RUN,
            ) from error

    def _print(self, line: str) -> None:
        self.out.write(f"    {line}\n")

    def config(self, stack: str) -> StackConfigValues:
        selected = self._stack(stack)
        try:
            return automation_config_values(selected.get_all_config())
        except self._auto.errors.CommandError as error:  # e.g. a YAML error in the stack file
            raise PromotionStopped(
                f"pulumi cannot read the config of stack '{stack}': {pulumi_error(error)}; fix Pulumi.{stack}.yaml",
                EXIT_CANNOT_RUN,
            ) from error

    def _summary(self, result: Any) -> PlanSummary:
        summary = (
            getattr(result, "change_summary", None) or getattr(result.summary, "resource_changes", None) or {}
        )
        return PlanSummary(
            changes={str(getattr(k, "value", k)): int(v) for k, v in summary.items()}, text=result.stdout
        )

    def _run(self, operation: str, stack: str, **options: Any) -> PlanSummary:
        try:
            return self._summary(getattr(self._stack(stack), operation)(on_output=self._print, **options))
        except self._auto.errors.CommandError:
            # The engine's own output (the program's one clean block included) was streamed above.
            raise PromotionStopped(
                f"`pulumi {operation} --stack {stack}` failed (its output is above)",
            ) from None

    def refresh(self, stack: str) -> PlanSummary:
        return self._run("refresh", stack)

    def preview(self, stack: str) -> PlanSummary:
        return self._run("preview", stack, diff=True)

    def up(self, stack: str) -> PlanSummary:
        return self._run("up", stack)

    def set_tags(self, stack: str, tags: Mapping[str, str]) -> None:
        selected = self._stack(stack)
        for key, value in tags.items():
            selected.set_tag(key, value)

    def outputs(self, stack: str) -> Mapping[str, Any]:
        return {key: output.value for key, output in self._stack(stack).outputs().items()}


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def config_digest(config: StackConfigValues, definitions_text: str) -> str:
    """A digest of what the stack deploys: plain config values, secret key names, and the shared definitions.

    Secret values are left out so the digest (kept as a stack tag) reveals nothing about them.
    """
    canonical = {
        "config": {
            key: SECRET_PLACEHOLDER if config.is_secret(key) else value
            for key, value in sorted(config.values.items())
        },
        "definitions": definitions_text,
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


@dataclass
class Promotion:
    """One dev → prod promotion; :meth:`run` performs the steps in order and stops at the first failure."""

    ops: StackOps
    git: Git
    load: Callable[[str, StackConfigValues], Program]
    """Validates one stack's config (raises ConfigError)."""
    check: Callable[[Program], Sequence[Check]]
    """The read-only stack checks (Segment objects, last sync, traits, Profile API)."""
    project_dir: Path
    source: str = "dev"
    target: str = "prod"
    probe: Callable[[Program], None] | None = None
    """One request to the stack's Segment API before any Pulumi operation on it (raises CannotRun)."""
    space_id: Callable[[Program], str] | None = None
    """The live id of the space a stack's config names (read from Segment); ``None`` skips the live checks."""
    confirm: Callable[[str], bool] | None = None
    """Asks before the prod update; ``None`` means --yes."""
    out: TextIO = sys.stdout
    log: list[tuple[str, bool, str]] = field(default_factory=list)
    source_program: Program | None = None

    def say(self, step: str, ok: bool, detail: str) -> None:
        self.log.append((step, ok, detail))
        self.out.write(f"{'✔' if ok else '✘'} {step}: {detail}\n")

    def stop(self, step: str, detail: str, next_action: str, code: int = EXIT_STOPPED) -> PromotionStopped:
        self.say(step, False, detail)
        return PromotionStopped(f"{step}: {detail}. Next: {next_action}", code)

    def clean_commit(self, step: str) -> str:
        dirty = self.git.dirty_paths()
        if dirty:
            shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
            raise self.stop(
                step,
                f"the working tree has uncommitted changes ({shown})",
                "commit or stash them; promotion deploys only a committed state that was verified on "
                f"{self.source}",
            )
        commit = self.git.head()
        self.say(step, True, f"working tree clean at commit {commit[:12]}")
        return commit

    def load_stack(self, stack: str) -> tuple[Program, StackConfigValues]:
        config = self.ops.config(stack)
        try:
            program = self.load(stack, config)
        except ConfigError as error:
            raise self.stop(
                f"{stack} config",
                str(error).splitlines()[0] + "".join(f"; {p.key}: {p.message}" for p in error.problems),
                f"fix Pulumi.{stack}.yaml, then run the promotion again",
                EXIT_CANNOT_RUN,
            ) from None
        if self.probe is not None:
            self.probe(program)
        return program, config

    def definitions_text(self, program: Program) -> str:
        path = self.project_dir / program.stack.definitions_file
        return path.read_text()

    def verify_source(self) -> tuple[str, str]:
        stack = self.source
        commit = self.clean_commit("git")
        program, config = self.load_stack(stack)
        self.say(f"{stack} config", True, f"valid ({len(program.traits)} computed traits)")

        refreshed = self.ops.refresh(stack)
        changed = refreshed.pending
        # A refresh also takes in what Segment changes by itself (a trait going live, the Salesforce instance URL
        # after OAuth); only the preview that follows tells drift the program would undo from such news.
        self.say(
            f"{stack} refresh",
            True,
            "every object read back through the API"
            + (f"; Segment reported news for some ({describe(changed)})" if changed else "; nothing changed"),
        )

        plan = self.ops.preview(stack)
        if plan.pending:
            cause = (
                "Segment objects changed outside Pulumi or the code moved on"
                if changed
                else "the code or config moved on since the last update"
            )
            raise self.stop(
                f"{stack} preview",
                f"the stack has pending changes ({describe(plan.pending)}): {cause}",
                f"review them with `pulumi preview --stack {stack} --diff`, run `pulumi up --stack {stack}` (it "
                "restores what was changed in the app), check it, then promote again",
            )
        self.say(f"{stack} preview", True, "no changes: the deployed dev stack is exactly this commit")

        failed = []
        for check in self.check(program):
            self.say(f"{stack} check · {check.name}", check.passed, f"{check.state}: {check.detail}")
            if not check.passed:
                failed.append(check)
        if failed:
            first = failed[0]
            raise PromotionStopped(
                f"{stack} checks: {len(failed)} failed (first: {first.name}: {first.detail}). Next: "
                f"{first.next_action or 'see `flex-doctor --stack ' + stack + '`'}"
            )

        self.source_program = program
        definitions = self.definitions_text(program)
        digest = config_digest(config, definitions)
        self.ops.set_tags(stack, {TAG_COMMIT: commit, TAG_DIGEST: digest})
        self.say(
            "record", True, f"tagged stack {stack}: {TAG_COMMIT}={commit[:12]} {TAG_DIGEST}={digest[:12]}"
        )
        return commit, definitions

    def deploy_target(self, commit: str, source_definitions: str) -> PlanSummary | None:
        stack = self.target
        if self.git.dirty_paths() or self.git.head() != commit:
            raise self.stop(
                "git",
                f"the checkout moved away from the verified commit {commit[:12]}",
                "check out the verified commit with a clean tree and promote again",
            )
        program, _ = self.load_stack(stack)
        self.check_target_space(program)
        if self.definitions_text(program) != source_definitions:
            raise self.stop(
                "shared definitions",
                f"{stack} reads {program.stack.definitions_file}, whose content differs from what {self.source} "
                "was verified with",
                f"point both stacks at the same definitions file (definitionsFile), verify {self.source} again",
            )
        self.say(
            "shared definitions", True, f"{stack} reads the same definitions {self.source} was verified with"
        )

        plan = self.ops.preview(stack)
        self.say(f"{stack} preview", True, describe(plan.pending) if plan.pending else "no changes")
        if not plan.pending:
            self.say(f"{stack} up", True, "nothing to deploy; prod already matches the verified commit")
            return plan
        if self.confirm is not None and not self.confirm(f"Deploy these changes to {stack}?"):
            raise self.stop(f"{stack} up", "not confirmed", "run again and answer yes, or pass --yes in CI")
        result = self.ops.up(stack)
        self.say(
            f"{stack} up", True, f"deployed commit {commit[:12]} ({describe(result.pending) or 'no changes'})"
        )
        return result

    def check_target_space(self, target: Program) -> None:
        """Promote deploys where it should: the prod environment, on prod's own space (not the source stack's),
        the very space the target stack was deployed on. Each failed check stops before any change."""
        stack, source = self.target, self.source_program
        if source is None:  # pragma: no cover - deploy_target runs after verify_source
            raise PromotionStopped(f"{self.source} was not verified")
        if target.stack.environment != "prod":
            raise self.stop(
                "target environment",
                f"stack {stack} is the {target.stack.environment} environment, not prod",
                f"promote to the prod stack (--to-stack prod); promotion only deploys a verified {self.source} to prod",
            )
        self.say("target environment", True, f"{stack} is the prod environment")
        theirs, ours = space_key(target), space_key(source)
        if theirs == ours:
            raise self.stop(
                "target space",
                f"{stack} names the same space as {self.source} ({theirs})",
                f"give {stack} its own space in Pulumi.{stack}.yaml (flex-unified-profiles:space)",
            )
        if self.space_id is None:
            self.say("target space", True, f"{stack} names its own space ({theirs})")
            return
        target_id, source_id = self.space_id(target), self.space_id(source)
        if target_id == source_id:
            raise self.stop(
                "target space",
                f"{stack}'s space ({theirs}) is the same Segment space as {self.source}'s (id {source_id})",
                f"point {stack} at the prod space in Pulumi.{stack}.yaml (flex-unified-profiles:space)",
            )
        deployed = self.ops.outputs(stack).get("spaceId")
        if deployed is not None and deployed != target_id:
            raise self.stop(
                "target space",
                f"{stack} was deployed on space {deployed}, but its config names {theirs} (id {target_id})",
                f"check flex-unified-profiles:space in Pulumi.{stack}.yaml: it must name the space {stack} runs on",
            )
        self.say("target space", True, f"{stack} has its own space {theirs} (id {target_id})")

    def run(self) -> PlanSummary | None:
        commit, definitions = self.verify_source()
        return self.deploy_target(commit, definitions)


def space_key(program: Program) -> str:
    space = program.stack.space
    return f"slug {space.slug}" if space.slug else f"name {space.name}"


def describe(changes: Mapping[str, int]) -> str:
    return ", ".join(f"{n} to {op}" for op, n in sorted(changes.items()))


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="flex-promote",
        description="Verify the dev stack, record what was verified, then deploy that same commit to prod.",
        epilog=f"Exit status: {EXIT_PROMOTED} when prod runs the verified commit, {EXIT_STOPPED} when a check "
        f"stopped the promotion (dirty tree, pending changes, a failed check, not confirmed), {EXIT_CODES_HELP} "
        "No pulumi CLI or an unknown stack is a cannot-run too.",
    )
    parser.add_argument(
        "--from-stack", default="dev", type=stack_name, help="the verified stack (default: dev)"
    )
    parser.add_argument(
        "--to-stack", default="prod", type=stack_name, help="the stack to deploy (default: prod)"
    )
    parser.add_argument(
        "--yes", action="store_true", help="deploy without asking (for CI, behind a reviewed gate)"
    )
    add_project_dir(parser)
    add_debug_flag(parser)
    arguments = parser.parse_args(argv)
    if arguments.from_stack == arguments.to_stack:
        parser.error(
            "--from-stack and --to-stack name the same stack; promotion goes from one stack to another"
        )
    return arguments


def ask(question: str, read: Callable[[str], str] = input) -> bool:
    try:
        return read(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


def main(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] = os.environ,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    ops: StackOps | None = None,
    git: Git | None = None,
    confirm: Callable[[str], bool] = ask,
) -> int:
    arguments = parse_arguments(argv)

    def check(program: Program) -> Sequence[Check]:
        return run_checks(program, *clients_for(program, env))

    def space_id(program: Program) -> str:
        client, _ = clients_for(program, env)
        try:
            return find_space(client, program.stack.space.slug, program.stack.space.name).id
        except (PreflightError, SegmentError) as error:
            raise PromotionStopped(f"target space: {first_line(error)}") from None

    def probe(program: Program) -> None:
        reach(clients_for(program, env)[0])

    try:
        project_dir = find_project(arguments.project_dir)
        promotion = Promotion(
            ops=ops or AutomationStackOps(project_dir, out),
            git=git or LocalGit(project_dir),
            load=lambda stack, config: load_program(config, stack, project_dir),
            check=check,
            probe=probe,
            space_id=space_id,
            project_dir=project_dir,
            source=arguments.from_stack,
            target=arguments.to_stack,
            confirm=None if arguments.yes else confirm,
            out=out,
        )
        promotion.run()
    except PromotionStopped as error:
        print(file=err)
        report("promotion stopped", error, debug=arguments.debug, err=err)
        return error.code
    except USER_ERRORS as error:
        print(file=err)
        report("promotion stopped", error, debug=arguments.debug, err=err)
        return EXIT_CANNOT_RUN
    print(f"\npromoted {arguments.from_stack} → {arguments.to_stack}", file=out)
    return EXIT_PROMOTED


if __name__ == "__main__":
    raise SystemExit(main())
