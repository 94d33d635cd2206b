"""`make demo`: run the dev stack against a local Segment emulator in two acts, as a first week really goes.

1. The first ``pulumi up``: every Segment object is created, but the computed traits wait, because the space
   has not seen a Flex event yet (the output says which traits and why).
2. A simulated Flex interaction (the emulator's space receives the Flex events), then the second ``pulumi up``,
   which creates the traits.

With the real ``pulumi`` CLI on PATH the program runs under ``pulumi up`` in a scratch project under
``.demo/``: a copy of the program whose ``Pulumi.dev.yaml`` holds your settings less your secrets and
encryption salt, with the demo's own secrets, passphrase and file backend, so your stack files, secrets and
backend are untouched and a typo in your ``Pulumi.dev.yaml`` stops it with Pulumi's error. Without the CLI, the
program runs through the SDK-level engine stand-in the tests use (``tests/harness``, in a clone only), and the
output says so. Each up's steps are listed in the data path's order whatever order they ran in, so the output
is the same on every run. When a step fails, what Pulumi said is printed, whatever the output mode. The
emulator stands in for Segment only: Snowflake management stays off.

Exit status: 0 when both acts ran, 1 when a ``pulumi`` step failed, 2 when the demo cannot run (invalid
configuration, no CLI with ``--engine cli``, an emulator that does not answer). ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Protocol

import yaml

from flex_tools.cli import EXIT_CANNOT_RUN, EXIT_NOT_DONE, EXIT_OK, USER_ERRORS, add_debug_flag, report
from flex_tools.scratch import REPO, scratch_project
from segment_emulator.seeds import WORKSPACE_SLUG
from segment_provider.api import connections

TOKEN = "emulator-token"
PROFILE_TOKEN_KEY = "flex-unified-profiles:profileApiToken"
DEMO_SECRETS = {
    "segment:token": TOKEN,
    "flex-unified-profiles:warehouseCredentials": json.dumps({"private_key": "demo-destination-private-key"}),
    "flex-unified-profiles:reverseEtlCredentials": json.dumps({"private_key": "demo-retl-private-key"}),
}
SPACE_SLUG = "unified-profiles-dev"
LOOPBACK_HOSTS = ("127.0.0.1", *connections.LOOPBACK_NAMES, "::1")
"""What the demo adds to NO_PROXY: every name and address of this machine it reaches."""


class DemoError(Exception):
    """A step of the demo failed; the message says which and what Pulumi printed."""


class CannotRun(Exception):
    """The demo cannot start (the stack file, the emulator); the message says what to do."""


CANNOT_RUN: tuple[type[BaseException], ...] = (CannotRun, *USER_ERRORS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def emulator() -> Iterator[str]:
    """A fresh emulator of this process (a space that has seen no Flex event yet); its URL."""
    command = [sys.executable, "-m", "segment_emulator", "--port", str(free_port()), "--token", TOKEN]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if "http://" not in line:
            raise CannotRun(f"the emulator did not start (it printed {line!r}); run `segment-emulator`")
        print("▸ a local Segment emulator (segment_emulator) stands in for Segment")
        yield line[line.index("http://") :]
    finally:
        process.terminate()
        process.wait(timeout=10)


class Control:
    """The emulator's control endpoints (``/__emulator/…``): what happens in the Segment app, simulated."""

    def __init__(self, url: str, token: str = TOKEN, *, given: bool = False) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.given = given
        """The user named this emulator (``--endpoint``); else the demo started it."""

    def call(self, method: str, action: str, body: Mapping[str, Any] | None = None) -> Any:
        data = json.dumps(body or {}).encode() if method == "POST" else None
        request = urllib.request.Request(f"{self.url}/__emulator/{action}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return json.loads(answer.read() or b"{}")
        except (urllib.error.URLError, OSError, ValueError) as error:
            advice = (
                "start one with `make emulator`, or leave out --endpoint to let the demo start its own"
                if self.given
                else "run the demo again; with --debug for the details"
            )
            raise CannotRun(
                f"the emulator at {self.url} does not answer {method} /__emulator/{action} ({error}); {advice}"
            ) from None

    def profile_api_token(self) -> str:
        return str(self.call("GET", "profile-api-tokens")["tokens"][SPACE_SLUG])


def is_secret(value: Any) -> bool:
    """A value Pulumi stored encrypted (``{secure: …}``), or an object holding one."""
    if isinstance(value, dict):
        return "secure" in value or any(is_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(is_secret(v) for v in value)
    return False


def user_settings(stack: str = "dev") -> dict[str, Any]:
    """The settings of the project's ``Pulumi.<stack>.yaml`` as written, less its secrets: the demo brings its
    own, and the user's are encrypted with a passphrase or backend the demo does not have."""
    path = REPO / f"Pulumi.{stack}.yaml"
    try:
        raw = (yaml.safe_load(path.read_text()) or {}).get("config") or {}
    except yaml.YAMLError as error:
        from flex_program.config import yaml_problem

        raise CannotRun(
            f"{path.name} is not valid YAML: {yaml_problem(error)}; fix it and run again"
        ) from None
    return {key: value for key, value in raw.items() if not is_secret(value)}


def stack_config(url: str, stack: str = "dev", token: str = TOKEN) -> dict[str, str]:
    """A stack file as the engine hands it to the program (structured values as JSON), pointed at ``url``."""
    config = {
        k: json.dumps(v) if isinstance(v, dict | list) else str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in user_settings(stack).items()
    }
    config["segment:endpoint"] = url
    config.update({**DEMO_SECRETS, "segment:token": token})
    return config


class Engine(Protocol):
    def up(self) -> dict[str, Any]: ...


class StandIn:
    """The SDK-level engine stand-in of the tests, one stack kept between the two acts."""

    def __init__(self, config: Mapping[str, str], secrets: Mapping[str, str], exits: ExitStack) -> None:
        sys.path.insert(0, str(REPO))
        try:
            from tests.harness import ProgramEngine, ProviderServer
        except ModuleNotFoundError:
            raise CannotRun(
                "without the `pulumi` CLI the demo runs on the engine stand-in of the tests (tests/harness), which "
                "an installed package does not hold: install Pulumi (https://www.pulumi.com/docs/install/) and run "
                "flex-demo again, or run `make demo` in a clone of the repository"
            ) from None

        server = exits.enter_context(ProviderServer(cwd=REPO))
        self.engine = ProgramEngine(
            server, stack="dev", config={**config, **secrets}, secret_keys=secrets.keys(), parallel=1
        )

    def up(self) -> dict[str, Any]:
        import pulumi

        from tests.harness import DeploymentFailed

        print("▸ pulumi up --stack dev (the engine stand-in)\n")
        try:
            result = self.engine.up(REPO / "__main__.py")
        except pulumi.RunError as error:
            raise DemoError(f"the program stopped:\n{error}") from None
        except DeploymentFailed as error:
            raise DemoError(str(error)) from None
        print_steps((step.op, step.type, step.name) for step in result.steps)
        return {k: "[secret]" if k in result.secret_outputs else v for k, v in result.outputs.items()}


class Cli:
    """``pulumi up --stack dev`` as a user runs it, in a scratch project under ``.demo/`` that the demo owns: a
    copy of the program whose ``Pulumi.dev.yaml`` holds the settings of yours less its secrets and encryption
    salt (so a typo in yours stops the demo with Pulumi's error, as it would stop your ``up``), the demo's own
    secrets, passphrase and file backend. Your stack files, secrets and backend are neither read for secrets
    nor written. Its steps come from ``pulumi up --json`` (or, with ``live``, Pulumi's own output goes straight
    to the terminal); when a step fails, what Pulumi said is printed either way."""

    def __init__(self, url: str, secrets: Mapping[str, str], exits: ExitStack, *, live: bool = False) -> None:
        self.live = live
        scratch_home = REPO / ".demo"
        scratch_home.mkdir(exist_ok=True)
        scratch = Path(exits.enter_context(tempfile.TemporaryDirectory(prefix="run-", dir=scratch_home)))
        # The user's stack files are not copied: the demo writes its own, less secrets and encryption salt.
        copy = scratch_project(scratch, passphrase="demo", leave_out=["Pulumi.*.yaml"])
        self.project, self.env = copy.project, copy.env
        (self.project / "Pulumi.dev.yaml").write_text(
            yaml.safe_dump({"config": user_settings("dev")}, sort_keys=False)
        )
        self.pulumi("stack", "init", "dev")
        self.pulumi("config", "set", "--stack", "dev", "segment:endpoint", url)
        for key, value in secrets.items():
            # On standard input, so no secret is on a command line.
            self.pulumi("config", "set", "--secret", "--stack", "dev", key, stdin=value)

    def pulumi(self, *args: str, stdin: str | None = None, show: bool = False) -> str:
        done = subprocess.run(
            ["pulumi", *args, "--non-interactive"],
            cwd=self.project,
            env=self.env,
            input=stdin,
            stdout=None if show else subprocess.PIPE,
            stderr=None if show else subprocess.PIPE,
            text=True,
        )
        if done.returncode != 0:
            printed = "" if show else f"\n{done.stdout}{done.stderr}".rstrip()
            raise DemoError(f"`pulumi {' '.join(args)}` exited {done.returncode}{printed}")
        return done.stdout or ""

    def up(self) -> dict[str, Any]:
        print("▸ pulumi up --stack dev --yes --parallel 1\n", flush=True)
        if self.live:
            self.pulumi("up", "--stack", "dev", "--yes", "--parallel", "1", show=True)
        else:
            # Pulumi's live lines come in the order its workers finish, with timings; its JSON events give the
            # same steps, printed here in a fixed order so that two runs compare line by line.
            done = subprocess.run(
                ["pulumi", "up", "--stack", "dev", "--yes", "--parallel", "1", "--json", "--non-interactive"],
                cwd=self.project,
                env=self.env,
                capture_output=True,
                text=True,
            )
            events = engine_events(done.stdout)
            messages = diagnostics(events)
            if done.returncode != 0:
                said = "\n".join([*messages, *failure_lines(done.stdout, done.stderr, messages)])
                raise DemoError(f"`pulumi up --stack dev` exited {done.returncode}\n{said}")
            print_steps(steps_in(events))
            print(f"\nResources: {changes_in(events)}")
            for message in messages:
                print(f"  {message}")
        outputs = dict(json.loads(self.pulumi("stack", "output", "--json", "--stack", "dev")))
        return {k: "[secret]" if k == "profileApiToken" and v else v for k, v in outputs.items()}


STEP_ORDER = (
    "UnifySpace",
    "Source",
    "Warehouse",
    "WarehouseConnection",
    "ReverseEtlModel",
    "Destination",
    "DestinationSubscription",
    "DestinationActivation",
    "ComputedTrait",
)
"""The kinds in the order the data path builds them; the demo lists an up's steps in this order, then by name."""


def print_steps(steps: Iterable[tuple[str, str, str]]) -> None:
    """``op kind name`` for each (op, resource type, name), in :data:`STEP_ORDER`, whatever order they ran in."""
    rows = [(op, kind.rsplit(":", 1)[-1], name) for op, kind, name in steps]
    rank = {kind: index for index, kind in enumerate(STEP_ORDER)}
    for op, kind, name in sorted(rows, key=lambda row: (rank.get(row[1], len(rank)), row[1], row[2])):
        print(f"  {op:<8} {kind:<24} {name}")


def engine_events(printed: str) -> list[dict[str, Any]]:
    """The engine events of ``pulumi up --json``: one JSON object a line, after the preview's JSON document."""
    return [json.loads(line) for line in printed.splitlines() if line.startswith('{"sequence"')]


def steps_in(events: Iterable[Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    """The (op, type, name) of every resource the up changed; the stack, providers and unchanged ones left out."""
    steps = []
    for event in events:
        metadata = event.get("resOutputsEvent", {}).get("metadata", {})
        kind = str(metadata.get("type", ""))
        if (
            not kind
            or metadata.get("op") == "same"
            or kind.startswith(("pulumi:pulumi:", "pulumi:providers:"))
        ):
            continue
        steps.append((str(metadata["op"]), kind, str(metadata["urn"]).rsplit("::", 1)[-1]))
    return steps


def changes_in(events: Iterable[Mapping[str, Any]]) -> str:
    """Pulumi's own count of the up's changes (``11 created``), from its summary event."""
    past = {
        "create": "created",
        "update": "updated",
        "delete": "deleted",
        "replace": "replaced",
        "same": "unchanged",
    }
    for event in events:
        if changes := event.get("summaryEvent", {}).get("resourceChanges"):
            return ", ".join(f"{count} {past.get(op, op)}" for op, count in sorted(changes.items()))
    return "none"


def diagnostics(events: Iterable[Mapping[str, Any]]) -> list[str]:
    """The warnings and errors the program and the providers gave, each once, in the order they came."""
    said: list[str] = []
    for event in events:
        diagnostic = event.get("diagnosticEvent", {})
        if (severity := diagnostic.get("severity")) in ("warning", "error"):
            text = str(diagnostic.get("message", "")).strip().removeprefix(f"{severity}: ")
            if (message := f"{severity}: {text}") not in said:
                said.append(message)
    return said


def failure_lines(stdout: str, stderr: str, said: list[str]) -> list[str]:
    """What Pulumi said about a failed ``up`` besides its engine events: the diagnostics of the preview
    document that ``up --json`` prints first, then its standard error, each line once."""
    lines: list[str] = []
    preview = "\n".join(line for line in stdout.splitlines() if not line.startswith('{"sequence"')).strip()
    try:
        document = json.loads(preview) if preview.startswith("{") else {}
    except ValueError:
        document = {}
    lines += diagnostics({"diagnosticEvent": diagnostic} for diagnostic in document.get("diagnostics") or [])
    lines += [line for line in stderr.strip().splitlines() if line.strip()]
    return [line for index, line in enumerate(lines) if line not in said and line not in lines[:index]]


def print_waiting(outputs: Mapping[str, Any]) -> None:
    waiting = outputs.get("waitingTraits") or {}
    print(f"\nComputed traits created: {len(outputs.get('computedTraits') or {})}; waiting: {len(waiting)}")
    for trait_id, reason in sorted(waiting.items()):
        print(f"  {trait_id}: {reason}")


def print_outputs(outputs: Mapping[str, Any]) -> None:
    steps = outputs.get("manualSteps") or []
    print("\nOutputs")
    for key, value in sorted(outputs.items()):
        if key == "profileApiToken":
            print(f"  {key}: {value} (masked; `pulumi stack output {key} --show-secrets` shows it)")
        elif key != "manualSteps":
            print(f"  {key}: {json.dumps(value, indent=None, default=str, sort_keys=True)}")
    print("\nManual steps (what Segment's API cannot do)")
    for number, step in enumerate(steps, 1):
        print(f"  {number}. [{step['status']:>5}] {step['step']}\n           {step['how']}")


def print_doctor(config: Mapping[str, str], secrets: Mapping[str, str], url: str) -> None:
    """What ``flex-doctor --stack dev`` says after the second ``up``."""
    from flex_tools.checks import run_checks
    from flex_tools.doctor import (
        StackConfigValues,
        clients_for,
        load_program,
        render_table,
        summary,
        with_overrides,
    )

    values = with_overrides(
        StackConfigValues({**config, **secrets}, frozenset(secrets)), endpoint=url, profile_api_endpoint=url
    )
    program = load_program(values, "dev", REPO)
    checks = run_checks(program, *clients_for(program, os.environ))
    print("\nDoctor (flex-doctor --stack dev): what is left\n")
    print(render_table(checks))
    print(f"\n{summary(checks)}")
    print(
        "\nThe gaps are what a person does in the Segment app and what Segment computes over days: no `pulumi up`\n"
        f"closes them. The app links point into the emulator's make-believe workspace '{WORKSPACE_SLUG}', so here\n"
        "they lead nowhere; on your workspace they open each object."
    )


NEXT_STEP = """
Next: your own workspace. README "Using it on your workspace": choose a backend (`pulumi login --local`),
`pulumi stack init dev`, your space slug in Pulumi.dev.yaml, the secrets on standard input, `pulumi up --stack dev`.
Or try the doctor, the export and the promotion on a local emulator first: README "Trying the tools on a local
emulator" (`make emulator`)."""


def act(title: str) -> None:
    print(f"\n{'=' * 100}\n{title}\n{'=' * 100}\n", flush=True)


def run_demo(url: str, engine_kind: str, why: str, *, live: bool = False) -> None:
    control = Control(url)
    # The Profile API token is generated by hand in the app; the demo stores the emulator's as a secret.
    secrets = {**DEMO_SECRETS, PROFILE_TOKEN_KEY: control.profile_api_token()}
    config = stack_config(url)
    with ExitStack() as exits:
        engine: Engine
        if engine_kind == "cli":
            pulumi_path = shutil.which("pulumi")
            version = subprocess.run(
                [pulumi_path or "pulumi", "version"], capture_output=True, text=True
            ).stdout.strip()
            print(f"▸ engine: the real `pulumi` CLI {version} with a throwaway local file backend")
            engine = Cli(url, secrets, exits, live=live)
        else:
            print(f"▸ engine: the SDK-level engine stand-in (tests/harness) — {why}")
            engine = StandIn(config, secrets, exits)
        act(
            "Act 1 — the first `pulumi up`: every Segment object is created; the computed traits wait, because "
            "the space has seen no Flex event yet"
        )
        print_waiting(engine.up())
        act(
            "Act 2 — a Flex interaction (simulated: the emulator's space receives the Flex events), then the "
            "second `pulumi up`, which creates the traits"
        )
        control.call("POST", "seed-flex-events", {"spaceSlug": SPACE_SLUG})
        print("▸ simulated: one call handled in Flex; the space has now seen the Flex events\n")
        outputs = engine.up()
        print_waiting(outputs)
        print_outputs(outputs)
    print_doctor(config, secrets, url)
    print(NEXT_STEP)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="flex-demo",
        description=(__doc__ or "").splitlines()[0],
        epilog="Exit status: 0 when both acts ran, 1 when a pulumi step failed, 2 when the demo cannot run.",
    )
    parser.add_argument(
        "--engine",
        choices=("auto", "cli", "stand-in"),
        default="auto",
        help="the real `pulumi` CLI, the SDK-level stand-in, or (auto) the CLI when it is on PATH",
    )
    parser.add_argument(
        "--endpoint",
        metavar="URL",
        help="use this running emulator (`make emulator`) instead of starting one; the demo resets it first",
    )
    parser.add_argument(
        "--pulumi-output",
        action="store_true",
        help="show Pulumi's live output of each up instead of its steps in a fixed order (its lines come in the "
        "order its workers finish, with timings, so two runs differ)",
    )
    add_debug_flag(parser)
    return parser.parse_args(argv)


def reach_this_machine_without_proxies(environ: MutableMapping[str, str]) -> None:
    """Adds this machine's names to ``NO_PROXY`` and ``no_proxy``, for the demo and all it starts. The emulator,
    Pulumi's engine and the language host all listen on loopback, and gRPC (the SDK's channel to the engine) sends
    even loopback through an ``http_proxy``, which cannot reach it. Names already there are kept."""
    for variable in ("NO_PROXY", "no_proxy"):
        names = [name.strip() for name in environ.get(variable, "").split(",") if name.strip()]
        environ[variable] = ",".join(names + [name for name in LOOPBACK_HOSTS if name not in names])


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    if not (REPO / "__main__.py").is_file() or not (REPO / "Pulumi.yaml").is_file():
        # A plain `pip install` holds the packages only: not the program's entry point or its stack files, which
        # the demo deploys.
        print(
            f"demo: the demo deploys the repository's own program, so it runs from a clone of it (`make demo` there); "
            f"this install ({REPO}) holds the packages only",
            file=sys.stderr,
        )
        return EXIT_CANNOT_RUN
    use_cli = args.engine == "cli" or (args.engine == "auto" and shutil.which("pulumi") is not None)
    if use_cli and shutil.which("pulumi") is None:
        print(
            "demo: --engine cli needs `pulumi` on PATH (run `make pulumi`, or install Pulumi)",
            file=sys.stderr,
        )
        return EXIT_CANNOT_RUN
    why = "as asked" if args.engine == "stand-in" else "the `pulumi` CLI is not on PATH (`make pulumi`)"
    reach_this_machine_without_proxies(os.environ)
    try:
        with ExitStack() as exits:
            if args.endpoint:
                url = args.endpoint.rstrip("/")
                Control(url, given=True).call("POST", "reset")
                print(
                    f"▸ the emulator at {url}, reset to its seeds (its state file keeps what the demo makes)"
                )
            else:
                url = exits.enter_context(emulator())
            run_demo(url, "cli" if use_cli else "stand-in", why, live=args.pulumi_output)
    except DemoError as error:
        report("\ndemo", error, debug=args.debug, err=sys.stderr)
        return EXIT_NOT_DONE
    except CANNOT_RUN as error:
        report("demo", error, debug=args.debug, err=sys.stderr)
        return EXIT_CANNOT_RUN
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
