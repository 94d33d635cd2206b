"""What the tools' error tests share: a port that drops every connection (counting them), and running a console
script as a user does."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = Path(sys.executable).parent
TRACEBACK = "Traceback (most recent call last)"
USER_PROJECT_FILES = ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "definitions.yaml")


def user_project(where: Path) -> Path:
    """A user's own project folder, away from this checkout: a copy of its Pulumi.yaml, stack files and
    definitions.yaml, which is all a user of the installed package has."""
    where.mkdir(parents=True, exist_ok=True)
    for name in USER_PROJECT_FILES:
        shutil.copy(REPO / name, where / name)
    return where


@contextmanager
def closing_port() -> Iterator[tuple[str, Callable[[], int]]]:
    """A URL whose server accepts each connection and closes it unanswered, and how many connections it took."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = 0
    stopping = threading.Event()

    def serve() -> None:
        nonlocal accepted
        while not stopping.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            if stopping.is_set():
                connection.close()
                return
            accepted += 1
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        yield url, lambda: accepted
    finally:
        stopping.set()
        with socket.create_connection(listener.getsockname(), timeout=5):
            pass
        thread.join(timeout=10)
        listener.close()


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


def run_script(
    script: str, *args: str, env: Mapping[str, str] | None = None, cwd: Path = REPO, timeout: float = 120
) -> Ran:
    """``script`` (a console script of this package, as ``pip install -e .`` made it) with ``args``; the
    environment is this one without any Segment token, plus ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SEGMENT_API", "SEGMENT_TOKEN"))}
    done = subprocess.run(
        [str(SCRIPTS / script), *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Ran(done.returncode, done.stdout, done.stderr)
