"""`make demo`: run the dev stack against a local Segment emulator and print what users would see.

With the real ``pulumi`` CLI on PATH the program runs under ``pulumi up`` (a throwaway local file backend and
passphrase, in a scratch copy of the project so your stack files are untouched). Without it, the program runs
through the SDK-level engine stand-in the tests use (``tests/harness``), and the output says so.
Snowflake management is off: the emulator stands in for Segment only.
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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
TOKEN = "emulator-token"
DEMO_SECRETS = {
    "segment:token": TOKEN,
    "flex-unified-profiles:warehouseCredentials": json.dumps({"private_key": "demo-destination-private-key"}),
    "flex-unified-profiles:reverseEtlCredentials": json.dumps({"private_key": "demo-retl-private-key"}),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def emulator(seed_flex_events: bool) -> Iterator[str]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "segment_emulator",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--token",
        TOKEN,
    ]
    if seed_flex_events:
        command.append("--seed-flex-events")
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if "http://" not in line:
            raise SystemExit(
                f"the emulator did not start (it printed {line!r}); run `python -m segment_emulator`"
            )
        print(f"▸ {line}")
        yield line[line.index("http://") :]
    finally:
        process.terminate()
        process.wait(timeout=10)


def stack_config(url: str, stack: str = "dev", token: str = TOKEN) -> dict[str, str]:
    """A stack file as the engine hands it to the program (structured values as JSON), pointed at ``url``."""
    raw = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())["config"]
    config = {
        k: json.dumps(v) if isinstance(v, dict | list) else str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in raw.items()
    }
    config["segment:endpoint"] = url
    config.update({**DEMO_SECRETS, "segment:token": token})
    return config


def run_with_harness(config: Mapping[str, str], why: str) -> dict[str, Any]:
    print(f"▸ engine: the SDK-level engine stand-in (tests/harness) — {why}")
    sys.path.insert(0, str(REPO))
    from tests.harness import ProgramEngine, ProviderServer

    with ProviderServer(cwd=REPO) as server:
        engine = ProgramEngine(server, stack="dev", config=config, secret_keys=DEMO_SECRETS.keys())
        result = engine.up(REPO / "__main__.py")
        for step in result.steps:
            print(f"  {step.op:<8} {step.type.rsplit(':', 1)[-1]:<24} {step.name}")
        return {k: "[secret]" if k in result.secret_outputs else v for k, v in result.outputs.items()}


class DemoError(Exception):
    """A step of the demo failed; the message says which and what Pulumi printed."""


def run_with_cli(url: str) -> dict[str, Any]:
    """``pulumi up --stack dev`` with the committed stack file, as a user runs it, in a scratch copy of the
    project on a throwaway file backend; Pulumi's own output goes straight to the terminal."""
    pulumi_path = shutil.which("pulumi")
    version = subprocess.run(
        [pulumi_path or "pulumi", "version"], capture_output=True, text=True
    ).stdout.strip()
    print(f"▸ engine: the real `pulumi` CLI {version} ({pulumi_path}) with a throwaway local file backend")
    with tempfile.TemporaryDirectory(prefix="flex-demo-") as scratch:
        project = Path(scratch) / "project"
        shutil.copytree(
            REPO, project, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", ".*cache", ".demo")
        )
        (project / ".venv").symlink_to(REPO / ".venv")
        backend = Path(scratch) / "backend"
        backend.mkdir()
        env = {
            **os.environ,
            "PULUMI_BACKEND_URL": backend.as_uri(),
            "PULUMI_CONFIG_PASSPHRASE": "demo",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        }

        def pulumi(*args: str, stdin: str | None = None, show: bool = False) -> str:
            done = subprocess.run(
                ["pulumi", *args, "--non-interactive"],
                cwd=project,
                env=env,
                input=stdin,
                stdout=None if show else subprocess.PIPE,
                stderr=None if show else subprocess.PIPE,
                text=True,
            )
            if done.returncode != 0:
                printed = "" if show else f"\n{done.stdout}{done.stderr}"
                raise DemoError(f"`pulumi {' '.join(args)}` exited {done.returncode}{printed}")
            return done.stdout or ""

        pulumi("stack", "init", "dev")
        pulumi("config", "set", "--stack", "dev", "segment:endpoint", url)
        for key, value in DEMO_SECRETS.items():
            # On standard input, so no secret is on a command line.
            pulumi("config", "set", "--secret", "--stack", "dev", key, stdin=value)
        print("▸ pulumi up --stack dev --yes\n", flush=True)
        pulumi("up", "--stack", "dev", "--yes", show=True)
        return dict(json.loads(pulumi("stack", "output", "--json", "--stack", "dev")))


def print_outputs(outputs: Mapping[str, Any]) -> None:
    steps = outputs.get("manualSteps") or []
    print("\nOutputs")
    for key, value in outputs.items():
        if key != "manualSteps":
            print(f"  {key}: {json.dumps(value, indent=None, default=str)}")
    print("\nManual steps (what Segment's API cannot do)")
    for number, step in enumerate(steps, 1):
        print(f"  {number}. [{step['status']:>5}] {step['step']}\n           {step['how']}")


def print_doctor(config: Mapping[str, str]) -> None:
    """What ``python -m segment_provider.doctor --stack dev`` says right after the first ``up``."""
    from segment_provider.checks import run_checks
    from segment_provider.doctor import StackConfigValues, clients_for, load_program, render_table, summary

    values = StackConfigValues(config, frozenset(DEMO_SECRETS))
    program = load_program(values, "dev", REPO)
    checks = run_checks(program, *clients_for(program, os.environ))
    print("\nDoctor (python -m segment_provider.doctor --stack dev): what is left after the first up\n")
    print(render_table(checks))
    print(f"\n{summary(checks)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--without-flex-events", action="store_true", help="show the traits waiting for Flex events"
    )
    parser.add_argument(
        "--engine",
        choices=("auto", "cli", "stand-in"),
        default="auto",
        help="the real `pulumi` CLI, the SDK-level stand-in, or (auto) the CLI when it is on PATH",
    )
    args = parser.parse_args(argv)
    use_cli = args.engine == "cli" or (args.engine == "auto" and shutil.which("pulumi") is not None)
    if use_cli and shutil.which("pulumi") is None:
        print(
            "demo: --engine cli needs `pulumi` on PATH (run `make pulumi`, or install Pulumi)",
            file=sys.stderr,
        )
        return 2
    with emulator(seed_flex_events=not args.without_flex_events) as url:
        config = stack_config(url)
        try:
            if use_cli:
                outputs = run_with_cli(url)
            else:
                why = (
                    "as asked"
                    if args.engine == "stand-in"
                    else "the `pulumi` CLI is not on PATH (`make pulumi`)"
                )
                outputs = run_with_harness(config, why)
        except DemoError as error:
            print(f"\ndemo: {error}", file=sys.stderr)
            return 1
        print_outputs(outputs)
        print_doctor(config)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
