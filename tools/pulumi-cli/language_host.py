"""A minimal Pulumi language host for Python programs, for machines that build the `pulumi` CLI from source.

Pulumi's own host, `pulumi-language-python`, is a Go module that is never tagged, so a machine that can reach
only the Go module proxy cannot build it at a known release. This host speaks the same `LanguageRuntime`
gRPC protocol for the calls `pulumi preview/up/refresh/destroy/import` make, and runs the program exactly as
Pulumi's host does: through the SDK's `pulumi-language-python-exec` script (installed beside it by
`tools/pulumi-cli/build.sh`), with the stack config in `PULUMI_CONFIG` and the secret keys in
`PULUMI_CONFIG_SECRET_KEYS`, under the interpreter of the `virtualenv` runtime option of `Pulumi.yaml`.

Users who install Pulumi with its usual installers get Pulumi's own host and never run this file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from concurrent import futures
from importlib import metadata
from pathlib import Path

import grpc
from google.protobuf import empty_pb2, json_format
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

# The exec script exits 32 after it has shown the user an actionable message; the engine then "bails"
# (prints no second error).
EXIT_AFTER_USER_MESSAGE = 32
EXEC_SCRIPT = Path(__file__).with_name("pulumi-language-python-exec")


def program_python(info: language_pb2.ProgramInfo) -> tuple[str, dict[str, str]]:
    """The interpreter that runs the program, and the environment for it, per the `virtualenv` runtime option."""
    env = dict(os.environ)
    options = json_format.MessageToDict(info.options) if info.HasField("options") else {}
    virtualenv = options.get("virtualenv")
    if not virtualenv:
        return sys.executable, env
    venv = Path(virtualenv)
    if not venv.is_absolute():
        venv = Path(info.root_directory or ".") / venv
    python = venv / "bin" / "python"
    if not python.exists():
        raise FileNotFoundError(
            f"the 'virtualenv' option in Pulumi.yaml is {virtualenv!r}, but {python} does not exist; "
            "create it with `make venv`"
        )
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    env.pop("PYTHONHOME", None)
    return str(python), env


def exec_arguments(request: language_pb2.RunRequest, engine_address: str) -> list[str]:
    """The exec script's command line, built from the run request the way Pulumi's host builds it."""
    flags = {
        "monitor": request.monitor_address,
        "engine": engine_address,
        "project": request.project,
        "root_directory": request.info.root_directory,
        "stack": request.stack,
        "pwd": request.pwd,
        "dry_run": "true" if request.dryRun else "false",
        "parallel": str(request.parallel),
        "organization": request.organization,
    }
    args: list[str] = []
    for name, value in flags.items():
        if value:
            args += [f"--{name}", value]
    return [*args, request.info.entry_point or ".", *request.args]


class PythonLanguageHost(language_pb2_grpc.LanguageRuntimeServicer):
    def __init__(self, engine_address: str) -> None:
        self.engine_address = engine_address
        self.running: set[subprocess.Popen[bytes]] = set()
        self.lock = threading.Lock()

    def GetPluginInfo(self, request, context):
        return plugin_pb2.PluginInfo(version=metadata.version("pulumi"))

    def GetRequiredPlugins(self, request, context):
        # The engine loads each resource plugin when the program first registers one of its resources.
        return language_pb2.GetRequiredPluginsResponse()

    def GetRequiredPackages(self, request, context):
        return language_pb2.GetRequiredPackagesResponse()

    def Run(self, request, context):
        try:
            python, env = program_python(request.info)
        except FileNotFoundError as error:
            return language_pb2.RunResponse(error=str(error))
        env["PULUMI_CONFIG"] = json.dumps(dict(request.config))
        env["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(list(request.configSecretKeys))
        command = [python, "-u", str(EXEC_SCRIPT), *exec_arguments(request, self.engine_address)]
        process = subprocess.Popen(command, env=env, cwd=request.pwd or None)
        with self.lock:
            self.running.add(process)
        try:
            code = process.wait()
        finally:
            with self.lock:
                self.running.discard(process)
        if code == 0:
            return language_pb2.RunResponse()
        if code == EXIT_AFTER_USER_MESSAGE:
            return language_pb2.RunResponse(bail=True)
        return language_pb2.RunResponse(error=f"program exited with non-zero exit code: {code}")

    def Cancel(self, request, context):
        with self.lock:
            for process in self.running:
                process.send_signal(signal.SIGINT)
        return empty_pb2.Empty()


def main(argv: list[str]) -> int:
    # The engine passes its own flags (`-v=9`, `--logtostderr`, `--tracing …`) before its address, always last.
    positional = [arg for arg in argv if not arg.startswith("-")]
    if not positional:
        print("usage: pulumi-language-python [flags] ENGINE_ADDRESS", file=sys.stderr)
        return 2
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(PythonLanguageHost(positional[-1]), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    # The engine stops its plugins with SIGINT (then SIGKILL): end quietly, not with a KeyboardInterrupt.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: server.stop(grace=None))
    # The engine reads the port from the first line of stdout.
    print(port, flush=True)
    server.wait_for_termination()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
