"""``make emulator``: the persistent local emulator the README points the tools at. It serves on the port it
names, and what was made before a restart is still there after it."""

from __future__ import annotations

import os
import re
import selectors
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from segment_provider.api import ClientSettings, SegmentClient
from tests.conftest import SESSION_PACING_ENV
from tests.emulator.conftest import SNOWFLAKE_RETL
from tests.tools.user_errors import REPO

LISTENING = re.compile(r"^segment-emulator listening on (http://127\.0\.0\.1:\d+)$")
START_TIMEOUT = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MakeEmulator:
    """``make emulator`` in its own process group (make and the emulator it runs stop together)."""

    def __init__(self, port: int, state: Path) -> None:
        self.process = subprocess.Popen(
            ["make", "--no-print-directory", "emulator", f"EMULATOR_PORT={port}", f"EMULATOR_STATE={state}"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.printed: list[str] = []

    def url(self) -> str:
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while selector.select(timeout=START_TIMEOUT):
                line = self.process.stdout.readline()
                if not line:
                    break
                self.printed.append(line.rstrip("\n"))
                if found := LISTENING.match(self.printed[-1]):
                    return found.group(1)
        self.stop()
        raise AssertionError("make emulator never said it was listening:\n" + "\n".join(self.printed))

    def stop(self) -> int:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        self.process.communicate(timeout=30)
        return self.process.returncode


def client(url: str) -> SegmentClient:
    return SegmentClient(ClientSettings.resolve(token="emulator-token", endpoint=url, env=SESSION_PACING_ENV))


@pytest.fixture
def port() -> int:
    return free_port()


def test_make_emulator_serves_on_its_port_and_keeps_its_state_across_a_restart(
    port: int, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    first = MakeEmulator(port, state)
    try:
        url = first.url()
        assert url == f"http://127.0.0.1:{port}"
        assert any(f"--endpoint {url}" in line for line in first.printed), first.printed
        assert any("SEGMENT_API_TOKEN=emulator-token" in line for line in first.printed), first.printed
        made = client(url).create_source(
            slug="kept_across_restarts", metadata_id=SNOWFLAKE_RETL, enabled=True
        )
    finally:
        first.stop()
    assert state.is_file()

    second = MakeEmulator(port, state)
    try:
        kept = client(second.url()).get_source(made.id)
    finally:
        second.stop()

    assert kept.slug == "kept_across_restarts"
