"""The SDK's own dynamic provider server, started and spoken to the way the Pulumi engine does it.

What the engine does, and this reproduces:

* starts ``<virtualenv>/bin/python -u -m pulumi.dynamic <engine address>`` (the CLI's
  ``pulumi-resource-pulumi-python`` shim) with the program directory as working directory, so provider modules
  at the project root (``segment_provider``, ``tests``) are importable by reference, and ``PULUMI_PROJECT``
  set;
* reads the port from the first line the server prints, then speaks gRPC ``ResourceProvider`` to it;
* ``GetPluginInfo`` → ``Handshake`` (the Python server leaves it unimplemented) → ``Configure`` with the whole
  stack config, namespaced (``segment:token``), secret values wrapped as secrets.

What it does not: the engine starts one provider process per deployment operation; a ``ProviderServer`` lives
until it is closed. The server builds each distinct provider blob once and calls its ``configure()`` then, so
sending different config after providers were used restarts the process first
(:meth:`ProviderServer.configure`), and :meth:`ProviderServer.restart` gives a fresh process on demand (empty
provider caches).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import grpc
from google.protobuf import empty_pb2
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from tests.harness import wire
from tests.harness.errors import HarnessError, ProviderError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PROJECT = "flex-unified-profiles"
RESOURCE_METHODS = frozenset({"Check", "Diff", "Create", "Read", "Update", "Delete"})


class _StreamCollector:
    """Drains one pipe of the server on a thread, so a chatty provider never blocks on a full pipe."""

    def __init__(self, stream: IO[bytes], first_line: threading.Event | None = None) -> None:
        self._stream = stream
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._first_line = first_line
        self.first: str | None = None
        self._thread = threading.Thread(target=self._drain, name="provider-server-pipe", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        for raw in iter(self._stream.readline, b""):
            line = raw.decode("utf-8", errors="replace")
            if self._first_line is not None and self.first is None:
                self.first = line
                self._first_line.set()
                continue
            with self._lock:
                self._lines.append(line)
        if self._first_line is not None:
            self._first_line.set()

    @property
    def text(self) -> str:
        with self._lock:
            return "".join(self._lines)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


class ProviderServer:
    """``python -m pulumi.dynamic`` in a subprocess plus a gRPC stub to it. Use as a context manager.

    ``env`` is added to (and overrides) the current environment; ``PULUMI_PROJECT`` is always ``project``.
    """

    def __init__(
        self,
        cwd: Path | str = REPO_ROOT,
        env: Mapping[str, str] | None = None,
        project: str = DEFAULT_PROJECT,
        *,
        python: str | None = None,
        startup_timeout: float = 30.0,
        call_timeout: float = 120.0,
    ) -> None:
        self.cwd = Path(cwd)
        self.project = project
        self.python = python or _virtualenv_python(self.cwd)
        self.startup_timeout = startup_timeout
        self.call_timeout = call_timeout
        self._extra_env = dict(env or {})
        self._process: subprocess.Popen[bytes] | None = None
        self._channel: grpc.Channel | None = None
        self._stub: provider_pb2_grpc.ResourceProviderStub | None = None
        self._stdout: _StreamCollector | None = None
        self._stderr: _StreamCollector | None = None
        self._earlier_stderr: list[str] = []
        self._config: tuple[dict[str, str], frozenset[str]] | None = None
        self._providers_loaded = False
        self._state_lock = threading.Lock()
        self.plugin_version = ""

    def __repr__(self) -> str:
        pid = self._process.pid if self._process else None
        return f"ProviderServer(project={self.project!r}, cwd={str(self.cwd)!r}, pid={pid})"

    # lifecycle

    def __enter__(self) -> ProviderServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        if self._process is not None:
            raise HarnessError("provider server already running")
        try:
            self._launch()
            self._connect()
            self._greet()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Close the channel and end the process and its pipes; safe to call at any time."""
        if self._channel is not None:
            self._channel.close()
        process = self._process
        if process is not None:
            _terminate(process)
        for collector in (self._stdout, self._stderr):
            if collector is not None:
                collector.join(timeout=5)
        if self._stderr is not None:
            self._earlier_stderr.append(self._stderr.text)
        for pipe in (process.stdout, process.stderr) if process else ():
            if pipe is not None:
                pipe.close()
        self._process = None
        self._channel = None
        self._stub = None
        self._stdout = None
        self._stderr = None
        self._providers_loaded = False

    def restart(self) -> None:
        """A fresh provider process (as the engine starts per operation), configured as the last one was."""
        config = self._config
        self.stop()
        self.start()
        if config is not None:
            self._send_configure(*config)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def stderr(self) -> str:
        """Everything the server (and the providers in it) wrote to stderr, across restarts."""
        current = self._stderr.text if self._stderr else ""
        return "".join(self._earlier_stderr) + current

    @property
    def stdout(self) -> str:
        """What providers printed to stdout after the port line."""
        return self._stdout.text if self._stdout else ""

    @property
    def stub(self) -> provider_pb2_grpc.ResourceProviderStub:
        if self._stub is None:
            raise HarnessError("provider server is not running")
        return self._stub

    # engine calls

    def configure(self, config: Mapping[str, str], secret_keys: Iterable[str] = ()) -> None:
        """Send the stack config as the engine does: namespaced keys, string values, secrets wrapped.

        The server configures each provider once, when it first unpickles it; if providers were already loaded
        under different config, the process is restarted first so the new config really reaches them.
        """
        wanted = (dict(config), frozenset(secret_keys))
        unknown_secrets = wanted[1] - wanted[0].keys()
        if unknown_secrets:
            raise HarnessError(f"secret keys not in config: {sorted(unknown_secrets)}")
        with self._state_lock:
            must_restart = self._providers_loaded and self._config != wanted
        if must_restart:
            self._config = wanted
            self.restart()
            return
        self._send_configure(*wanted)

    def call(self, method: str, request: Any, *, urn: str = "") -> Any:
        """One RPC; gRPC errors become :class:`ProviderError` with the provider's traceback as details."""
        if method in RESOURCE_METHODS:
            with self._state_lock:
                self._providers_loaded = True
        rpc = getattr(self.stub, method)
        try:
            return rpc(request, timeout=self.call_timeout)
        except grpc.RpcError as error:
            code = error.code().name if hasattr(error, "code") else "UNKNOWN"
            details = error.details() if hasattr(error, "details") else str(error)
            raise ProviderError(method, urn, code, details or "") from None

    # internals

    def _launch(self) -> None:
        env = {**os.environ, **self._extra_env, "PULUMI_PROJECT": self.project}
        env.setdefault("PYTHONUNBUFFERED", "1")
        self._process = subprocess.Popen(
            # The engine address argument is required but unused by the Python server.
            [self.python, "-u", "-m", "pulumi.dynamic", "127.0.0.1:1"],
            cwd=self.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self._process.stdout is not None and self._process.stderr is not None
        got_port = threading.Event()
        self._stdout = _StreamCollector(self._process.stdout, first_line=got_port)
        self._stderr = _StreamCollector(self._process.stderr)
        if not got_port.wait(self.startup_timeout) or not (self._stdout.first or "").strip().isdigit():
            self._stderr.join(timeout=2)
            raise HarnessError(
                f"provider server did not print its port within {self.startup_timeout}s; "
                f"stderr:\n{self._stderr.text}"
            )

    def _connect(self) -> None:
        assert self._stdout is not None and self._stdout.first is not None
        address = f"127.0.0.1:{int(self._stdout.first.strip())}"
        self._channel = grpc.insecure_channel(address)
        grpc.channel_ready_future(self._channel).result(timeout=self.startup_timeout)
        self._stub = provider_pb2_grpc.ResourceProviderStub(self._channel)

    def _greet(self) -> None:
        info = self.call("GetPluginInfo", empty_pb2.Empty())
        self.plugin_version = info.version
        try:
            self.call(
                "Handshake",
                provider_pb2.ProviderHandshakeRequest(
                    engine_address="127.0.0.1:1",
                    root_directory=str(self.cwd),
                    program_directory=str(self.cwd),
                ),
            )
        except ProviderError as error:
            if error.code != "UNIMPLEMENTED":
                raise

    def _send_configure(self, config: dict[str, str], secret_keys: frozenset[str]) -> None:
        args = {key: wire.secret(value) if key in secret_keys else value for key, value in config.items()}
        request = provider_pb2.ConfigureRequest(
            variables=config,
            args=wire.to_struct(args),
            acceptSecrets=True,
            acceptResources=True,
        )
        self.call("Configure", request)
        self._config = (config, secret_keys)


def _virtualenv_python(cwd: Path) -> str:
    """The shim runs the project's virtualenv interpreter (``runtime.options.virtualenv: .venv``)."""
    candidate = cwd / ".venv" / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
