"""tools/pulumi-cli/build.sh (`make pulumi`) and tools/actionlint/build.sh, run for real with a stand-in `go`.

The stand-in records the environment of every `go` command and writes a small `pulumi` when asked to build one,
so these tests check what the scripts do (checksum settings, the lock, the rename, which `pulumi` the Makefile
finds) without a several-minute build or the network. The real build runs in `make pulumi` and CI.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.workflows.gha import REPO

PULUMI_BUILD = REPO / "tools" / "pulumi-cli" / "build.sh"
ACTIONLINT_BUILD = REPO / "tools" / "actionlint" / "build.sh"
PULUMI_VERSION = "3.276.0"
WAIT_LIMIT = 120
"""Seconds a test waits for a step of a script before it gives up (a guard, not a measure)."""

FAKE_GO = r"""#!/bin/bash
# Stand-in for `go`: logs each call's Go settings as one JSON line, then does the least the scripts need.
python3 - "$@" >>"$FAKE_GO_LOG" <<'PY'
import json, os, sys
names = ["GOENV", "GOPROXY", "GOSUMDB", "GOFLAGS", "GONOSUMDB", "GONOSUMCHECK", "GOPRIVATE", "GONOPROXY",
         "GOINSECURE"]
print(json.dumps({"args": sys.argv[1:], "env": {n: os.environ[n] for n in names if n in os.environ}}))
PY
case "$1 $2" in
  "mod init") echo "module $3" >go.mod ;;
  "mod download") printf '{"Dir": "%s"}\n' "$FAKE_SDK" ;;
  build*|install*)
    out=""
    while [[ $# -gt 0 ]]; do [[ "$1" == "-o" ]] && out="$2"; shift; done
    [[ -z "$out" ]] && out="$GOBIN/actionlint"
    printf '#!/bin/sh\n' >"$out"
    chmod 0755 "$out"  # as go build leaves its output
    touch "$FAKE_GO_STARTED"
    while [[ -n "$FAKE_GO_RELEASE" && ! -e "$FAKE_GO_RELEASE" ]]; do sleep 0.05; done
    printf 'echo v%s\n' "$FAKE_VERSION" >>"$out"
    ;;
esac
exit 0
"""


class Sandbox:
    """A PATH with the stand-in `go` and the system's tools only, and a cache folder of its own."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tools = root / "tools-bin"
        self.tools.mkdir()
        (self.tools / "go").write_text(FAKE_GO)
        (self.tools / "go").chmod(0o755)
        sdk = root / "sdk"
        for name in ("python/cmd/pulumi-language-python-exec", "python/dist/pulumi-resource-pulumi-python"):
            (sdk / name).parent.mkdir(parents=True, exist_ok=True)
            (sdk / name).write_text("#!/bin/sh\n")
        self.cache = root / "cache"
        self.log = root / "go-calls.jsonl"
        self.started = root / "build-started"
        self.release = root / "build-release"
        self.env = {
            "PATH": f"{self.tools}:/usr/bin:/bin",
            "HOME": str(root),
            "FLEX_PULUMI_CACHE": str(self.cache),
            "FAKE_GO_LOG": str(self.log),
            "FAKE_SDK": str(sdk),
            "FAKE_GO_STARTED": str(self.started),
            "FAKE_GO_RELEASE": "",
            "FAKE_VERSION": PULUMI_VERSION,
        }

    @property
    def bin_dir(self) -> Path:
        return self.cache / f"pulumi-v{PULUMI_VERSION}" / "bin"

    def go_calls(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []

    def builds(self) -> int:
        """The builds of what the script is for (make pulumi also builds the language host, `go build … .` in
        tools/pulumi-cli/host, which is not counted)."""
        return sum(
            1
            for call in self.go_calls()
            if call["args"][0] in ("build", "install") and call["args"][-1] != "."  # type: ignore[index]
        )

    def run(self, script: Path, *arguments: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(script), *arguments],
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=WAIT_LIMIT,
            cwd=REPO,
        )

    def start(self, script: Path, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [str(script)],
            env={**self.env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=REPO,
        )

    def installed_pulumi(self, version: str) -> Path:
        """A `pulumi` installed the usual way, with its Python language host, in a folder of its own."""
        folder = self.root / f"installed-{version}"
        folder.mkdir()
        for name, text in (
            ("pulumi", f"#!/bin/sh\necho v{version}\n"),
            ("pulumi-language-python", "#!/bin/sh\n"),
        ):
            (folder / name).write_text(text)
            (folder / name).chmod(0o755)
        return folder


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    yield Sandbox(tmp_path)


HOSTILE_GO_ENV = {
    "GOPROXY": "http://proxy.attacker.example,direct",
    "GOSUMDB": "off",
    "GOFLAGS": "-mod=mod -insecure",
    "GONOSUMDB": "*",
    "GONOSUMCHECK": "1",
    "GOPRIVATE": "*",
    "GONOPROXY": "*",
    "GOINSECURE": "*",
}
CHECKED = {
    "GOENV": "off",
    "GOPROXY": "https://proxy.golang.org",
    "GOSUMDB": "sum.golang.org",
    "GOFLAGS": "-mod=readonly",
}


@pytest.mark.parametrize("script", [PULUMI_BUILD, ACTIONLINT_BUILD], ids=["pulumi", "actionlint"])
def test_every_go_command_runs_with_checksums_on_whatever_the_caller_set(
    sandbox: Sandbox, script: Path
) -> None:
    done = sandbox.run(script, **HOSTILE_GO_ENV)

    assert done.returncode == 0, done.stdout + done.stderr
    calls = sandbox.go_calls()
    assert sandbox.builds() == 1
    assert calls and all(call["env"] == CHECKED for call in calls), calls


def test_a_second_make_pulumi_waits_for_the_first_and_no_one_sees_a_partial_binary(sandbox: Sandbox) -> None:
    release = {"FAKE_GO_RELEASE": str(sandbox.release)}
    first = sandbox.start(PULUMI_BUILD, **release)
    _wait_for(sandbox.started.exists, first)
    second = sandbox.start(PULUMI_BUILD, **release)
    assert second.stdout is not None
    waiting = second.stdout.readline()

    assert not (sandbox.bin_dir / "pulumi").exists()  # the build writes a temporary name
    sandbox.release.touch()
    first_out, _ = first.communicate(timeout=WAIT_LIMIT)
    second_out, _ = second.communicate(timeout=WAIT_LIMIT)

    assert waiting.startswith("make pulumi: another make pulumi is building into"), waiting
    assert (first.returncode, second.returncode) == (0, 0), first_out + second_out
    assert sandbox.builds() == 1
    assert f"pulumi v{PULUMI_VERSION} already built" in second_out
    assert sorted(p.name for p in sandbox.bin_dir.iterdir() if p.name.startswith(".")) == []
    done = subprocess.run([sandbox.bin_dir / "pulumi", "version"], capture_output=True, text=True, check=True)
    assert done.stdout == f"v{PULUMI_VERSION}\n"


def test_path_puts_the_cache_first_only_when_no_supported_pulumi_is_installed(sandbox: Sandbox) -> None:
    supported = sandbox.installed_pulumi("3.280.0")
    too_old = sandbox.installed_pulumi("3.100.0")
    base = sandbox.env["PATH"]

    with_supported = sandbox.run(PULUMI_BUILD, "--path", PATH=f"{supported}:{base}").stdout.strip()
    with_too_old = sandbox.run(PULUMI_BUILD, "--path", PATH=f"{too_old}:{base}").stdout.strip()
    with_none = sandbox.run(PULUMI_BUILD, "--path").stdout.strip()

    assert with_supported == f"{supported}:{base}"
    assert with_too_old == f"{sandbox.bin_dir}:{too_old}:{base}"
    assert with_none == f"{sandbox.bin_dir}:{base}"


@pytest.mark.parametrize("installed", [True, False], ids=["user's pulumi", "none installed"])
def test_the_makefile_finds_the_users_pulumi_before_a_filled_cache(sandbox: Sandbox, installed: bool) -> None:
    assert sandbox.run(PULUMI_BUILD).returncode == 0  # the cache now holds a built CLI
    user = sandbox.installed_pulumi("3.280.0")
    path = f"{user}:{sandbox.env['PATH']}" if installed else sandbox.env["PATH"]

    done = subprocess.run(
        [
            "make",
            "-s",
            "--no-print-directory",
            "--eval",
            'which-pulumi: ; @echo "$$(command -v pulumi)"',
            "which-pulumi",
        ],
        cwd=REPO,
        env={**sandbox.env, "PATH": path},
        capture_output=True,
        text=True,
        timeout=WAIT_LIMIT,
    )

    expected = user / "pulumi" if installed else sandbox.bin_dir / "pulumi"
    assert done.stdout.strip() == str(expected), done.stderr


def _wait_for(condition: object, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + WAIT_LIMIT
    while not condition():  # type: ignore[operator]
        if process.poll() is not None or time.monotonic() > deadline:
            out, _ = process.communicate()
            raise AssertionError(f"the build never started its go build:\n{out}")
        time.sleep(0.05)


def test_the_sandbox_has_no_real_go_or_pulumi(sandbox: Sandbox) -> None:
    found = subprocess.run(
        ["bash", "-c", "command -v go; command -v pulumi || true"],
        env=sandbox.env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.stdout.strip() == str(sandbox.tools / "go")
    assert os.access(sandbox.tools / "go", os.X_OK)
