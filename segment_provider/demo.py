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


def run_with_harness(config: Mapping[str, str]) -> dict[str, Any]:
    print("▸ engine: the SDK-level engine stand-in (tests/harness) — the `pulumi` CLI is not on PATH")
    sys.path.insert(0, str(REPO))
    from tests.harness import ProgramEngine, ProviderServer

    with ProviderServer(cwd=REPO) as server:
        engine = ProgramEngine(server, stack="dev", config=config, secret_keys=DEMO_SECRETS.keys())
        result = engine.up(REPO / "__main__.py")
        for step in result.steps:
            print(f"  {step.op:<8} {step.type.rsplit(':', 1)[-1]:<24} {step.name}")
        return {k: "[secret]" if k in result.secret_outputs else v for k, v in result.outputs.items()}


def run_with_cli(config: Mapping[str, str]) -> dict[str, Any]:
    print("▸ engine: the real `pulumi` CLI with a throwaway local backend")
    with tempfile.TemporaryDirectory(prefix="flex-demo-") as scratch:
        project = Path(scratch) / "project"
        shutil.copytree(
            REPO, project, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", ".*cache")
        )
        (project / ".venv").symlink_to(REPO / ".venv")
        (project / "Pulumi.dev.yaml").unlink()
        env = {**os.environ, "PULUMI_BACKEND_URL": f"file://{scratch}", "PULUMI_CONFIG_PASSPHRASE": "demo"}

        def pulumi(*args: str) -> str:
            done = subprocess.run(
                ["pulumi", *args], cwd=project, env=env, check=True, capture_output=True, text=True
            )
            return done.stdout

        pulumi("stack", "init", "dev")
        for key, value in config.items():
            secret = ["--secret"] if key in DEMO_SECRETS else []
            pulumi("config", "set", *secret, key, value)
        print(pulumi("up", "--yes", "--stack", "dev", "--skip-preview"))
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
    args = parser.parse_args(argv)
    with emulator(seed_flex_events=not args.without_flex_events) as url:
        config = stack_config(url)
        outputs = run_with_cli(config) if shutil.which("pulumi") else run_with_harness(config)
        print_outputs(outputs)
        print_doctor(config)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
