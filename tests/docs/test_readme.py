"""The README is a test: its workspace steps, "Trying the tools on a local emulator" and the promotion walkthrough
run as written, from the README text itself, with the real ``pulumi`` CLI, in a fresh copy of the project (a git
checkout, as a clone is), on a fresh file backend, against the emulator, with real PEM key pairs made by
``openssl genpkey``. A command that fails fails the test, and so does any output that holds a secret: a key, any
line of it, or a token.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from flex_tools.scratch import copy_project
from segment_emulator import Emulator
from segment_emulator.emulator import DEFAULT_TOKEN as EMULATOR_TOKEN
from tests.conftest import SESSION_PACING_ENV, require_pulumi_cli, running_session_emulator
from tests.docs.readme_blocks import readme_script

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]

REPO = Path(__file__).resolve().parents[2]
SPACE_SLUG = "unified-profiles-dev"
SEGMENT_TOKEN = "readme-sentinel-segment-token-4e7a1c"
PROFILE_API_TOKEN = "ReadmeSentinelProfileToken0a1b2c3d4e5f6a7b8"  # 44 base62 characters, like Segment's
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "README reader",
    "GIT_AUTHOR_EMAIL": "reader@example.invalid",
    "GIT_COMMITTER_NAME": "README reader",
    "GIT_COMMITTER_EMAIL": "reader@example.invalid",
}


def make_key(path: Path) -> str:
    """A real RSA private key in PKCS#8 PEM, as docs/snowflake.md makes one; its text."""
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(path)],
        check=True,
        capture_output=True,
    )
    return path.read_text()


def secret_pieces(secrets: list[str]) -> list[str]:
    """Every secret, and every line of a multi-line one (a key's base64 lines), as text that must not appear."""
    pieces = []
    for secret in secrets:
        pieces.append(secret.strip())
        pieces += [line for line in secret.splitlines() if len(line) >= 16 and "-----" not in line]
    return pieces


def shared_requirements(venv: Path) -> None:
    """A new virtualenv for the copy that sees the packages of the environment running these tests (pip, and uv's
    Python package, which finds its binary there). The README's own `make venv` (or `make emulator`, which runs
    it first) then installs the requirements in it with uv, which counts only the virtualenv's own packages (so
    from uv's cache, in seconds), and this copy of the package, with its console scripts."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = sysconfig.get_paths()["purelib"]
    [site_packages] = venv.glob("lib/python*/site-packages")
    (site_packages / "shared-test-requirements.pth").write_text(purelib + "\n")


@dataclass
class Reader:
    """A fresh copy of the project, as a git checkout, and the shell environment of someone following the
    README: no Pulumi login, no backend, nothing in SEGMENT_*; the values the README shows as variables set."""

    project: Path
    env: dict[str, str]
    secrets: list[str] = field(default_factory=list)
    printed: list[str] = field(default_factory=list)

    def run(self, section: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["bash", "-c", readme_script(section)],
            cwd=cwd or self.project,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=1500,
        )
        self.printed += [done.stdout, done.stderr]
        self.assert_no_secret_printed()
        assert done.returncode == 0, self.masked(
            f"README section {section!r} stopped, exit {done.returncode}\n--- stdout\n{done.stdout}\n"
            f"--- stderr\n{done.stderr}"
        )
        return done

    def masked(self, text: str) -> str:
        """``text`` with every secret piece replaced, so that a failing test does not print a key into CI's log."""
        for piece in sorted(secret_pieces(self.secrets), key=len, reverse=True):
            text = text.replace(piece, "[secret]")
        return text

    def assert_no_secret_printed(self) -> None:
        printed = "\n".join(self.printed)
        leaked = [
            index
            for index, secret in enumerate(self.secrets)
            if any(piece in printed for piece in secret_pieces([secret]))
        ]
        assert leaked == [], (
            f"the README's commands printed secret(s) {leaked} (a key, one of its lines, or a token):\n"
            + self.masked(printed)[-4000:]
        )

    def git(self, *args: str, cwd: Path | None = None) -> str:
        done = subprocess.run(
            ["git", *args], cwd=cwd or self.project, env=self.env, capture_output=True, text=True, check=True
        )
        return done.stdout


@pytest.fixture
def reader(tmp_path: Path) -> Reader:
    require_pulumi_cli()
    project = tmp_path / "flex-unified-profiles"
    # The whole checkout as a user clones it (workflows, tests, bench), without this one's environment.
    copy_project(project, keep=[".github", "tests", "benchmarks"], link_venv=False)
    shared_requirements(project / ".venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEGMENT_", "PULUMI_"))}
    env.update(
        {
            **GIT_IDENTITY,
            **SESSION_PACING_ENV,
            # Where `pulumi login` records the backend: this test's, not yours.
            "PULUMI_HOME": str(tmp_path / "pulumi-home"),
            "PULUMI_CONFIG_PASSPHRASE": "readme-test-passphrase",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        }
    )
    reader = Reader(project=project, env=env)
    reader.git("init", "-q")
    reader.git("add", "-A")
    reader.git("commit", "-qm", "a fresh clone")
    return reader


@pytest.fixture
def workspace_emulator() -> Iterator[Emulator]:
    """Segment, for the workspace steps: the seeded dev space, the test's token, a Profile API token."""
    for emulator in running_session_emulator(token=SEGMENT_TOKEN):
        emulator.set_profile_api_token(PROFILE_API_TOKEN, SPACE_SLUG)
        yield emulator


def warehouse_private_keys(emulator: Emulator) -> list[str]:
    with emulator.store_lock:
        return sorted(str(w["settings"].get("private_key")) for w in emulator.store.warehouses.values())


def test_the_workspace_steps_run_as_written_with_real_keys(
    reader: Reader, workspace_emulator: Emulator, tmp_path: Path
) -> None:
    committed = (reader.project / "Pulumi.dev.yaml").read_text()
    keys = [make_key(reader.project / name) for name in ("segment_user.p8", "segment_retl_user.p8")]
    reader.secrets += [*keys, SEGMENT_TOKEN, PROFILE_API_TOKEN]
    reader.env.update(
        {
            "STATE_DIR": str(tmp_path / "pulumi-state"),
            "SPACE_SLUG": SPACE_SLUG,
            "SEGMENT_API_TOKEN": SEGMENT_TOKEN,
            "PROFILE_API_TOKEN": PROFILE_API_TOKEN,
            # README: "Any other API URL (a proxy, the emulator): … SEGMENT_API_URL".
            "SEGMENT_API_URL": workspace_emulator.url,
            "SEGMENT_PROFILE_API_URL": workspace_emulator.url,
        }
    )

    done = reader.run("workspace")

    reader.assert_no_secret_printed()
    assert "Unify space" in done.stdout and "'unified-profiles-dev' found" in done.stdout, (
        "the doctor's table"
    )
    assert (tmp_path / "pulumi-state" / ".pulumi").is_dir(), "the state is in the backend the README chose"
    # Pulumi stores a key read from standard input less its final newline; that is what reaches Segment.
    assert warehouse_private_keys(workspace_emulator) == [keys[0].removesuffix("\n")]
    assert keys[0].endswith("-----END PRIVATE KEY-----\n")
    # The first minute leaves no surprise diff: Pulumi kept every committed line and added only the
    # encryption salt and the secrets, encrypted.
    written = (reader.project / "Pulumi.dev.yaml").read_text()
    assert [line for line in committed.splitlines() if line not in written.splitlines()] == [], (
        f"Pulumi rewrote committed lines of Pulumi.dev.yaml:\n{written}"
    )
    stack = yaml.safe_load(written)
    assert set(stack) == {"config", "encryptionsalt"}
    added = {key for key, value in stack["config"].items() if key not in yaml.safe_load(committed)["config"]}
    assert added == {
        "segment:token",
        "flex-unified-profiles:warehouseCredentials",
        "flex-unified-profiles:reverseEtlCredentials",
        "flex-unified-profiles:profileApiToken",
    }
    assert keys[0].splitlines()[1] not in written, "the key is stored encrypted"
    # The key files in the checkout are neither committed nor uncommitted changes.
    assert reader.git("status", "--porcelain", "--", "segment_user.p8", "segment_retl_user.p8") == ""

    # README "The two commands": `make demo` still runs after the user's own secrets and passphrase, and
    # leaves their stack file as it was.
    demo = subprocess.run(
        ["make", "--no-print-directory", "demo"],
        cwd=reader.project,
        env=reader.env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    reader.printed += [demo.stdout, demo.stderr]
    assert demo.returncode == 0, reader.masked(demo.stdout + demo.stderr)
    reader.assert_no_secret_printed()
    assert (reader.project / "Pulumi.dev.yaml").read_text() == written


@dataclass
class MakeEmulator:
    """``make emulator`` as the README starts it, on a free port (EMULATOR_PORT) and a scratch state file."""

    url: str
    process: subprocess.Popen[str]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def make_emulator(reader: Reader, tmp_path: Path) -> Iterator[MakeEmulator]:
    port = free_port()
    env = {**reader.env, "EMULATOR_PORT": str(port), "EMULATOR_STATE": str(tmp_path / "emulator-state.json")}
    log = tmp_path / "make-emulator.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            ["bash", "-c", readme_script("emulator-server")],
            cwd=reader.project,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if f"listening on {url}" in log.read_text() or process.poll() is not None:
                break
            time.sleep(0.1)
        assert f"listening on {url}" in log.read_text(), f"`make emulator` did not start:\n{log.read_text()}"
        yield MakeEmulator(url, process)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def profile_api_token(url: str) -> str:
    # The control endpoints take the emulator's token, as the README's own curl sends it.
    request = urllib.request.Request(
        f"{url}/__emulator/profile-api-tokens", headers={"Authorization": f"Bearer {EMULATOR_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return str(json.load(answer)["tokens"][SPACE_SLUG])


def test_trying_the_tools_on_a_local_emulator_runs_as_written(
    reader: Reader, make_emulator: MakeEmulator
) -> None:
    reader.env["EMULATOR"] = make_emulator.url

    done = reader.run("emulator")

    reader.secrets += [
        profile_api_token(make_emulator.url),
        "demo-destination-private-key",
        "demo-retl-private-key",
    ]
    reader.assert_no_secret_printed()
    assert "Act 2 —" in done.stdout and "Next: your own workspace." in done.stdout
    assert (reader.project / "exports" / "Pulumi.dev.yaml").is_file(), (
        "the export wrote its files in the project"
    )
    assert reader.git("status", "--porcelain") == "", "the demo and the export leave the checkout clean"


def test_the_promotion_walkthrough_runs_as_written_and_stops_at_the_first_manual_step(
    reader: Reader, make_emulator: MakeEmulator, tmp_path: Path
) -> None:
    reader.env["EMULATOR"] = make_emulator.url

    done = reader.run("promotion")

    clone = tmp_path / "flex-try"
    keys = [path.read_text() for path in sorted(clone.glob("*.p8"))]
    assert len(keys) == 2 and all("PRIVATE KEY-----" in key for key in keys), (
        "the walkthrough's real key pairs"
    )
    reader.secrets += [*keys, profile_api_token(make_emulator.url)]
    reader.assert_no_secret_printed()
    printed = done.stdout + done.stderr
    assert "uncommitted" not in printed, "the key files in the clone are ignored, not uncommitted changes"
    assert "Salesforce source" in printed and "not authorised" in printed, printed[-3000:]
