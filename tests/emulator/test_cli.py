"""``python -m segment_emulator``: one line when ready, then it serves until SIGTERM."""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
READY = re.compile(r"^segment-emulator listening on (http://127\.0\.0\.1:\d+)$")
START_TIMEOUT = 30


class Running:
    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url

    def get(self, path: str, token: str = "emulator-token") -> requests.Response:
        return requests.get(self.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def stop(self) -> tuple[int, str]:
        """SIGTERM; the exit code and whatever else it printed on stdout."""
        self.process.terminate()
        rest, _ = self.process.communicate(timeout=10)
        return self.process.returncode, rest


def launch(*arguments: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "segment_emulator", "--port", "0", *arguments],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def first_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout=START_TIMEOUT):
            process.kill()
            raise AssertionError(f"no line within {START_TIMEOUT}s")
    return process.stdout.readline().rstrip("\n")


Starter = Callable[..., Running]


@pytest.fixture
def start() -> Iterator[Starter]:
    started: list[subprocess.Popen[str]] = []

    def run(*arguments: str, env: dict[str, str] | None = None) -> Running:
        process = launch(*arguments, env=env)
        started.append(process)
        line = first_line(process)
        ready = READY.match(line)
        assert ready, line
        return Running(process, ready.group(1))

    yield run
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_it_prints_one_line_serves_and_stops_cleanly(start: Starter) -> None:
    emulator = start()

    assert emulator.get("/").json()["data"]["workspace"]["slug"] == "flex-emulator"
    assert emulator.get("/", token="wrong").status_code == 401
    assert emulator.stop() == (0, "")


def test_the_token_comes_from_the_flag_or_the_environment(start: Starter) -> None:
    flagged = start("--token", "from-flag")
    from_env = start(env={"SEGMENT_EMULATOR_TOKEN": "from-env"})

    assert flagged.get("/", token="from-flag").status_code == 200
    assert from_env.get("/", token="from-env").status_code == 200
    assert from_env.get("/").status_code == 401


def test_flags_reach_the_emulator(start: Starter, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    emulator = start("--seed-flex-events", "--no-rate-limits", "--state", str(state))

    spaces = emulator.get("/spaces").json()["data"]["spaces"]
    events = emulator.get(f"/spaces/{spaces[0]['id']}/events")

    assert "Flex - Engagement Initiated" in {e["name"] for e in events.json()["data"]["events"]}
    assert not any(name.startswith("X-RateLimit") for name in events.headers)
    emulator.stop()
    assert state.is_file()


def run_once(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "segment_emulator", *arguments],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
    )


def test_an_unusable_state_file_is_one_block_exit_2_and_debug_adds_the_traceback(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text("{broken")

    done = run_once("--port", "0", "--state", str(state))
    debug = run_once("--port", "0", "--state", str(state), "--debug")

    assert done.returncode == debug.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("segment-emulator: ")
    assert str(state) in done.stderr and "--state FILE" in done.stderr
    assert "Traceback" not in done.stderr
    assert "Traceback (most recent call last)" in debug.stderr and debug.stderr.endswith(done.stderr)


def test_a_taken_port_names_it_and_the_fix(start: Starter) -> None:
    running = start()
    port = running.url.rsplit(":", 1)[1]

    done = run_once("--port", port)

    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and f"127.0.0.1:{port}" in done.stderr and "--port" in done.stderr
    assert "Traceback" not in done.stderr


def test_help_states_the_exit_codes() -> None:
    done = run_once("--help")

    text = " ".join(done.stdout.split())
    assert done.returncode == 0
    assert (
        "Exit status: 0 after a clean stop" in text and "2 when it cannot run" in text and "--debug" in text
    )


def test_an_address_beyond_loopback_needs_allow_remote_and_then_warns() -> None:
    refused = run_once("--port", "0", "--host", "0.0.0.0")
    process = launch("--host", "0.0.0.0", "--allow-remote")
    try:
        ready = first_line(process)
    finally:
        process.terminate()
        _, warning = process.communicate(timeout=10)

    assert refused.returncode == 2 and refused.stdout == "" and "Traceback" not in refused.stderr
    assert (
        refused.stderr.count("\n") == 1 and "0.0.0.0" in refused.stderr and "--allow-remote" in refused.stderr
    )
    assert ready.startswith("segment-emulator listening on http://0.0.0.0:")
    assert warning.startswith("segment-emulator: warning: listening on 0.0.0.0, beyond this machine")


def test_the_settings_patch_mode_comes_from_the_flag_or_the_environment(start: Starter) -> None:
    merging = start("--settings-patch", "merge")
    from_env = start(env={"SEGMENT_EMULATOR_SETTINGS_PATCH": "merge"})
    body = {"slug": "s", "enabled": True, "metadataId": "BQp3zGUgjV", "settings": {"a": 1, "b": 2}}
    headers = {"Authorization": "Bearer emulator-token"}

    for running in (merging, from_env):
        created = requests.post(running.url + "/sources", json=body, headers=headers, timeout=10).json()
        path = f"/sources/{created['data']['source']['id']}"
        requests.patch(running.url + path, json={"settings": {"a": 3}}, headers=headers, timeout=10)
        assert running.get(path).json()["data"]["source"]["settings"] == {"a": 3, "b": 2}


def test_a_settings_patch_mode_from_the_environment_is_checked_and_named() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "segment_emulator", "--port", "0"],
        cwd=REPO,
        env={**os.environ, "SEGMENT_EMULATOR_SETTINGS_PATCH": "bogus"},
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
    )

    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "$SEGMENT_EMULATOR_SETTINGS_PATCH is 'bogus': it must be one of replace, merge" in done.stderr
