"""``flex-doctor --stack dev``: is this stack's Segment setup working, and what is left?

Loads the stack's config, runs the read-only checks of :mod:`flex_tools.checks` and prints a table
(check, state, detail, next action). Nothing is changed in Segment.

Where the config comes from:

* by default, Pulumi's Automation API (``LocalWorkspace`` → ``select_stack`` → ``get_all_config``), which runs
  the ``pulumi`` CLI to read the stack and decrypt its secrets;
* with ``--config-file Pulumi.dev.yaml``, that file, with the secrets from the environment:
  ``SEGMENT_API_TOKEN`` (the Public API token; ``SEGMENT_TOKEN`` is read too) and ``SEGMENT_PROFILE_API_TOKEN``. Secrets are never taken from the
  command line, where shell history and process lists would keep them.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

import yaml

from flex_program.config import (
    NAMESPACE,
    Program,
    load_program_config,
    load_yaml,
    stack_file_name,
    unread_namespace_warnings,
    yaml_problem,
)
from flex_tools.checks import STORE_PROFILE_TOKEN, Check, all_passed, run_checks
from flex_tools.cli import (
    EXIT_CANNOT_RUN,
    EXIT_CODES_HELP,
    EXIT_NOT_DONE,
    EXIT_OK,
    USER_ERRORS,
    CannotRun,
    add_debug_flag,
    add_project_dir,
    find_project,
    pulumi_error,
    reach,
    report,
    stack_name,
)
from flex_tools.interrupted import (
    StackTraces,
    StackUnreadable,
    interruption_checks,
    read_traces,
    recovery_commands,
    run_pulumi,
    torn_state_files,
)
from segment_provider.api import ClientSettings, ProfileApiClient, ProfileApiSettings, SegmentClient
from segment_provider.api.errors import TOKEN_ENV as API_TOKEN_ENV
from segment_provider.api.profiles import PROFILE_TOKEN_ENV

TOKEN_ENV = API_TOKEN_ENV
"""One name for the Public API token everywhere (the client's ``SEGMENT_API_TOKEN``)."""
TOKEN_ENV_ALIAS = "SEGMENT_TOKEN"
"""The name older docs gave; still read when ``SEGMENT_API_TOKEN`` is unset."""
SECRETS_FROM_ENV = {
    "segment:token": (TOKEN_ENV, TOKEN_ENV_ALIAS),
    f"{NAMESPACE}:profileApiToken": (PROFILE_TOKEN_ENV,),
}
EXIT_READY = EXIT_OK
EXIT_GAPS = EXIT_NOT_DONE
COLUMNS = (("check", 36), ("state", 6), ("detail", 52), ("next action", 58))


class DoctorError(CannotRun):
    """The doctor cannot run (no config, no CLI, unknown stack); the message says what to do instead."""


@dataclass(frozen=True)
class StackConfigValues:
    """A stack's config as the engine hands it to programs: full keys, structured values as JSON text."""

    values: Mapping[str, Any]
    secret_keys: frozenset[str] = field(default_factory=frozenset)

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def is_secret(self, key: str) -> bool:
        return key in self.secret_keys


class ConfigSource(Protocol):
    def load(self, stack: str) -> StackConfigValues: ...


class SelectStack(Protocol):
    def __call__(self, *, stack_name: str, work_dir: str) -> Any: ...


class AutomationConfig:
    """The stack's config through Pulumi's Automation API (needs the ``pulumi`` CLI on PATH)."""

    def __init__(
        self,
        project_dir: Path,
        *,
        select_stack: SelectStack | None = None,
        which: Callable[[str], str | None] = shutil.which,
    ) -> None:
        self.project_dir = project_dir
        self._select_stack = select_stack
        self._which = which

    def load(self, stack: str) -> StackConfigValues:
        if self._which("pulumi") is None:
            raise DoctorError(
                "the `pulumi` CLI is not on PATH, and the Automation API needs it to read the stack's config and "
                "decrypt its secrets. Install it (https://www.pulumi.com/docs/install/), or run "
                f"`flex-doctor --stack {stack} --config-file Pulumi.{stack}.yaml` with the "
                f"secrets in {TOKEN_ENV} and {PROFILE_TOKEN_ENV}."
            )
        select = self._select_stack or _automation_select_stack()
        try:
            selected = select(stack_name=stack, work_dir=str(self.project_dir))
            config = selected.get_all_config()
        except Exception as error:  # the Automation API raises CommandError and friends with the CLI's text
            stack_file = self.project_dir / stack_file_name(stack)
            torn = self._torn_state_files(stack) if "failed to load checkpoint" in str(error) else []
            if torn:
                raise DoctorError(
                    f"Pulumi cannot load stack '{stack}': a run killed while it wrote the stack's state left "
                    f"{', '.join(torn)} empty. Remove it (`rm {' '.join(torn)}`; Pulumi writes it again), then run "
                    "the doctor again: it then shows the lock and pending operations the run left, and the commands "
                    "that clear them"
                ) from None
            if unreadable_yaml(stack_file):
                raise DoctorError(
                    f"Pulumi cannot read the stack file {stack_file}: {pulumi_error(error)}. Fix the YAML there "
                    "and run the doctor again"
                ) from None
            raise DoctorError(
                f"Pulumi could not read stack '{stack}' in {self.project_dir}: {pulumi_error(error)}. Check the "
                "stack name (`pulumi stack ls`) and that you are logged in to its backend (`pulumi login`)."
            ) from None
        return automation_config_values(config)

    def _torn_state_files(self, stack: str) -> list[str]:
        """The empty state files a killed state write left in a file backend (none found: an empty list)."""
        whoami = run_pulumi(self.project_dir, os.environ)(["whoami", "--json"])
        if whoami.returncode != 0:
            return []
        try:
            url = str(json.loads(whoami.stdout or "{}").get("url") or "")
        except ValueError:
            return []
        return torn_state_files(url, _project_name(self.project_dir), stack)


def unreadable_yaml(path: Path) -> bool:
    """Whether ``path`` exists and is no YAML a reader can parse (so its YAML, not the backend, is the problem)."""
    try:
        load_yaml(path.read_text(encoding="utf-8"))
    except OSError:
        return False
    except yaml.YAMLError:
        return True
    return False


def automation_config_values(config: Mapping[str, Any]) -> StackConfigValues:
    """``Stack.get_all_config()``'s answer (key → ``ConfigValue``) as the program reads it."""
    return StackConfigValues(
        values={key: value.value for key, value in config.items()},
        secret_keys=frozenset(key for key, value in config.items() if value.secret),
    )


def _automation_select_stack() -> SelectStack:
    from pulumi import automation

    def select(*, stack_name: str, work_dir: str) -> Any:
        return automation.select_stack(stack_name=stack_name, work_dir=work_dir)

    return select


class FileConfig:
    """A stack file read directly, the secrets taken from the environment instead of its ``secure:`` values."""

    def __init__(self, path: Path, env: Mapping[str, str] = os.environ, project: str = NAMESPACE) -> None:
        self.path = path
        self.env = env
        self.project = project
        self.encrypted_keys: list[str] = []
        """Keys whose values are ciphertext in the file (left out: only the CLI can decrypt them)."""

    def load(self, stack: str) -> StackConfigValues:
        try:
            document = load_yaml(self.path.read_text(encoding="utf-8")) or {}
        except OSError as error:
            raise DoctorError(f"cannot read the stack file {self.path}: {error.strerror}") from None
        except yaml.YAMLError as error:
            raise DoctorError(f"cannot read the stack file {self.path}: {yaml_problem(error)}") from None
        raw = document.get("config") if isinstance(document, Mapping) else None
        if not isinstance(raw, Mapping):
            raise DoctorError(f"{self.path} has no `config:` mapping; give a Pulumi.<stack>.yaml file")
        values: dict[str, Any] = {}
        self.encrypted_keys = []
        for key, value in raw.items():
            full = key if ":" in str(key) else f"{self.project}:{key}"
            if _holds_ciphertext(value):
                self.encrypted_keys.append(full)
                continue
            if full in SECRETS_FROM_ENV:
                raise DoctorError(
                    f"{self.path}: {full} is in plain text. Remove it from the file (a secret belongs in the stack "
                    f"file only encrypted, by `pulumi config set --secret {key} …`); the doctor takes it from "
                    f"{SECRETS_FROM_ENV[full][0]}"
                )
            values[full] = _engine_form(value)
        secret_keys = set()
        for key, variables in SECRETS_FROM_ENV.items():
            secret = next((v for name in variables if (v := self.env.get(name, "").strip())), "")
            if secret:
                values[key] = secret
                secret_keys.add(key)
        return StackConfigValues(values, frozenset(secret_keys))


def _holds_ciphertext(value: Any) -> bool:
    if isinstance(value, Mapping):
        return "secure" in value or any(_holds_ciphertext(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_ciphertext(v) for v in value)
    return False


def _engine_form(value: Any) -> str:
    """Config values as Pulumi hands them to programs: objects and lists as JSON, booleans in lower case."""
    if isinstance(value, Mapping | list):
        return json.dumps(value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def with_overrides(
    config: StackConfigValues, *, endpoint: str | None, profile_api_endpoint: str | None
) -> StackConfigValues:
    """``--endpoint`` and ``--profile-api-endpoint`` over the stack's own settings (for the emulator)."""
    values = dict(config.values)
    if endpoint:
        values["segment:endpoint"] = endpoint
    if profile_api_endpoint:
        key = f"{NAMESPACE}:profileApi"
        current = values.get(key)
        profile_api = json.loads(current) if isinstance(current, str) and current.startswith("{") else {}
        values[key] = json.dumps({**profile_api, "endpoint": profile_api_endpoint})
    return StackConfigValues(values, config.secret_keys)


def load_program(
    config: StackConfigValues, stack: str, project_dir: Path, *, stack_file: str | None = None
) -> Program:
    return load_program_config(
        config.get, config.is_secret, stack, project_dir, keys=config.values, stack_file=stack_file
    )


def clients_for(program: Program, env: Mapping[str, str]) -> tuple[SegmentClient, ProfileApiClient | None]:
    stack = program.stack
    token = stack.segment_token.get_secret_value() if stack.segment_token else None
    client = SegmentClient(
        ClientSettings.resolve(token=token, region=stack.region, endpoint=stack.endpoint, env=env)
    )
    if stack.profile_api_token is None:
        return client, None
    settings = ProfileApiSettings.resolve(
        token=stack.profile_api_token.get_secret_value(),
        region=stack.region,
        endpoint=stack.profile_api.endpoint,
        env={},
    )
    return client, ProfileApiClient(settings)


# ------------------------------------------------------------------------------------------------ output


def render_table(checks: Sequence[Check]) -> str:
    """The checks as a plain-text table, long cells wrapped."""
    header = [title.upper() for title, _ in COLUMNS]
    rows = [[c.name, c.state, c.detail, c.next_action or "-"] for c in checks]
    widths = [
        min(width, max(len(header[i]), *(len(row[i]) for row in rows))) if rows else len(header[i])
        for i, (_, width) in enumerate(COLUMNS)
    ]
    lines = [_line(header, widths), _line(["-" * w for w in widths], widths)]
    for row in rows:
        cells = [
            textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [""]
            for text, width in zip(row, widths, strict=True)
        ]
        for depth in range(max(len(cell) for cell in cells)):
            lines.append(_line([cell[depth] if depth < len(cell) else "" for cell in cells], widths))
    return "\n".join(lines)


def _line(cells: Iterable[str], widths: Sequence[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()


def summary(checks: Sequence[Check]) -> str:
    counts = {state: sum(1 for c in checks if c.state == state) for state in ("ok", "manual", "gap", "error")}
    verdict = (
        "ready: every check is ok (manual reminders do not count against it)"
        if all_passed(checks)
        else "not ready: work through the next actions of the gap and error rows, then run the doctor again"
    )
    return f"{counts['ok']} ok, {counts['manual']} manual, {counts['gap']} gap, {counts['error']} error — {verdict}"


# ------------------------------------------------------------------------------------------------- the CLI


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="flex-doctor",
        description="Read-only checks of one stack's Segment setup for Flex Unified Profiles: what works, what "
        "is left, and the next action for each gap.",
        epilog=f"Exit status: {EXIT_READY} when every check is ok (rows in state 'manual' are reminders the API "
        f"cannot check and do not fail the run), {EXIT_GAPS} when any check is a gap or an error, "
        f"{EXIT_CODES_HELP} Without the pulumi CLI, or for a stack Pulumi cannot read, it cannot run either. "
        f"With --config-file the secrets come from {TOKEN_ENV} (or its old name {TOKEN_ENV_ALIAS}) and "
        f"{PROFILE_TOKEN_ENV}, never from arguments.",
    )
    parser.add_argument(
        "--stack", required=True, type=stack_name, help="the stack to check, e.g. dev or prod"
    )
    parser.add_argument(
        "--config-file",
        type=Path,
        help="read this stack file (e.g. Pulumi.dev.yaml) instead of asking Pulumi's Automation API; "
        f"secrets from {TOKEN_ENV} and {PROFILE_TOKEN_ENV}",
    )
    add_project_dir(parser)
    parser.add_argument(
        "--endpoint", help="Segment Public API base URL instead of the stack's (e.g. the emulator)"
    )
    parser.add_argument(
        "--profile-api-endpoint", help="Profile API base URL instead of the region's (e.g. the emulator)"
    )
    add_debug_flag(parser)
    return parser.parse_args(argv)


def main(
    argv: Sequence[str] | None = None,
    *,
    env: Mapping[str, str] = os.environ,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    automation: ConfigSource | None = None,
    traces: Callable[[str], StackTraces] | None = None,
) -> int:
    """``traces`` reads what interrupted runs left in the stack (default: through the pulumi CLI, when the config
    comes from it too; with --config-file, or an injected ``automation``, the state is not read)."""
    arguments = parse_arguments(argv)
    from_file = arguments.config_file is not None
    stack_file = arguments.config_file.name if from_file else stack_file_name(arguments.stack)
    try:
        project_dir = find_project(arguments.project_dir)
        source: ConfigSource = (
            FileConfig(arguments.config_file, env)
            if from_file
            else automation or AutomationConfig(project_dir)
        )
        config = with_overrides(
            source.load(arguments.stack),
            endpoint=arguments.endpoint,
            profile_api_endpoint=arguments.profile_api_endpoint,
        )
        for warning in unread_namespace_warnings(config.values, stack_file):
            print(f"doctor: warning: {warning}", file=err)
        if from_file and not config.get("segment:token"):
            raise DoctorError(
                f"no Segment Public API token: with --config-file the doctor reads it from {TOKEN_ENV} "
                f"(`export {TOKEN_ENV}=<token>`; its old name {TOKEN_ENV_ALIAS} is read too)"
            )
        program = load_program(config, arguments.stack, project_dir, stack_file=stack_file)
        client, profiles = clients_for(program, env)
        reach(client, token_from=TOKEN_ENV if from_file else f"segment:token (or {TOKEN_ENV})")
    except USER_ERRORS as error:
        report("doctor", error, debug=arguments.debug, err=err)
        return EXIT_CANNOT_RUN
    if isinstance(source, FileConfig) and source.encrypted_keys:
        print(
            f"note: {', '.join(source.encrypted_keys)} are encrypted in {source.path}; only the pulumi CLI can read "
            f"them, so they are left out (the tokens come from {TOKEN_ENV} and {PROFILE_TOKEN_ENV})\n",
            file=out,
        )
    store_profile_token = (
        f"`export {PROFILE_TOKEN_ENV}=<token>` and run the doctor again" if from_file else STORE_PROFILE_TOKEN
    )
    if traces is None and automation is None and not from_file:
        run = run_pulumi(project_dir, env)
        traces = functools.partial(read_traces, project=_project_name(project_dir), run=run, env=env)
    found, trace_rows = _stack_traces(traces, arguments.stack)
    checks = trace_rows + run_checks(
        program,
        client,
        profiles,
        store_profile_token=store_profile_token,
        owned_ids=found.owned_ids if found else frozenset(),
    )
    print(
        f"Stack '{arguments.stack}' (space {program.stack.space.slug or program.stack.space.name})\n",
        file=out,
    )
    print(render_table(checks), file=out)
    commands = recovery_commands(found, arguments.stack) if found else []
    if commands:
        print("\nAn interrupted run left this stack locked or half-recorded. Run, in this order:", file=out)
        for command in commands:
            print(f"  {command}", file=out)
    print(f"\n{summary(checks)}", file=out)
    return EXIT_READY if all_passed(checks) else EXIT_GAPS


def _project_name(project_dir: Path) -> str:
    """The Pulumi project's name (its lock files are filed under it), from Pulumi.yaml."""
    try:
        document = load_yaml((project_dir / "Pulumi.yaml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return NAMESPACE
    name = document.get("name") if isinstance(document, Mapping) else None
    return str(name) if name else NAMESPACE


def _stack_traces(
    traces: Callable[[str], StackTraces] | None, stack: str
) -> tuple[StackTraces | None, list[Check]]:
    if traces is None:
        return None, []
    try:
        found = traces(stack)
    except (StackUnreadable, OSError, ValueError) as error:
        return None, [
            Check(
                "Interrupted runs",
                "error",
                f"the stack's state or backend could not be read: {error}",
                "check `pulumi stack export --stack " + stack + "` works, then run the doctor again",
            )
        ]
    return found, interruption_checks(found, stack)


if __name__ == "__main__":
    raise SystemExit(main())
