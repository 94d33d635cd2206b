"""A Pulumi language host for Python programs, for machines that build the `pulumi` CLI from source.

Pulumi's own host, `pulumi-language-python`, is a Go module that is never tagged, so a machine that can reach
only the Go module proxy cannot build it at a known release. This host speaks the same `LanguageRuntime`
gRPC protocol and answers what Pulumi's host answers for a Python program with the `pip` toolchain:

* `Run`: the program runs exactly as under Pulumi's host, through the SDK's `pulumi-language-python-exec`
  script (installed beside this file by `tools/pulumi-cli/build.sh`), with the stack config in `PULUMI_CONFIG`
  and the secret keys in `PULUMI_CONFIG_SECRET_KEYS`, under the interpreter of the `virtualenv` runtime option
  (relative to the project folder), after `mypy` or `pyright` when the `typechecker` option names one;
* `InstallDependencies` (`pulumi install`): creates that virtualenv and installs `requirements.txt` into it;
* `About`, `GetProgramDependencies`, `GetRequiredPackages` (the plugins of the installed Pulumi packages, read
  from their `pulumi-plugin.json`), `RuntimeOptionsPrompts`, `GetPluginInfo`, `Cancel`.

Two things it does beyond Pulumi's host: it answers only the engine that started it (the caller's socket must
belong to that process; docs/security.md), and it dies with the engine: once the engine is gone (its parent
changes, or the stdin pipe the engine holds reads end-of-file) it kills the program's process group and exits,
so a killed CLI leaves no program behind.

Users who install Pulumi with its usual installers get Pulumi's own host and never run this file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import stat
import subprocess
import sys
import threading
import time
from concurrent import futures
from pathlib import Path
from typing import Any

# The exec script exits 32 after it has shown the user an actionable message; the engine then "bails"
# (prints no second error).
EXIT_AFTER_USER_MESSAGE = 32
EXEC_SCRIPT = Path(__file__).with_name("pulumi-language-python-exec")
TOOLCHAINS = ("pip",)
TYPECHECKERS = ("mypy", "pyright")
ENGINE_POLL_SECONDS = 0.2
# Packages Pulumi's host knows to have no plugin.
PACKAGES_WITHOUT_PLUGINS = ("pulumi-policy", "pulumi-esc-sdk")
ENVIRONMENT_FIX = "run `make venv` (or `pulumi install`) in the project folder"
PRE_RELEASES = {"a": "alpha", "b": "beta", "rc": "rc"}


def load_protocol() -> tuple[Any, Any, Any]:
    """Pulumi's generated gRPC modules, without running `pulumi/__init__.py`, which imports the whole SDK."""
    import importlib.util
    import types

    spec = importlib.util.find_spec("pulumi")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("No module named 'pulumi'")
    root = Path(next(iter(spec.submodule_search_locations)))
    for name, folder in (
        ("pulumi", root),
        ("pulumi.runtime", root / "runtime"),
        ("pulumi.runtime.proto", root / "runtime" / "proto"),
    ):
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [str(folder)]
            sys.modules[name] = package
    from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

    return language_pb2, language_pb2_grpc, plugin_pb2


def project_virtualenv_python() -> Path | None:
    """The interpreter of the `virtualenv` option of the `Pulumi.yaml` in the folder the engine starts the host
    in (read without a YAML library: this runs when the interpreter has none)."""
    try:
        text = Path("Pulumi.yaml").read_text()
    except OSError:
        return None
    match = re.search(r"^\s+virtualenv:\s*[\"']?([^\"'#\s]+)", text, re.MULTILINE)
    python = Path(match.group(1)) / "bin" / "python" if match else None
    return python.absolute() if python is not None and python.is_file() else None


try:
    import grpc
    from google.protobuf import empty_pb2, json_format

    language_pb2, language_pb2_grpc, plugin_pb2 = load_protocol()
except ImportError as missing:
    # Started with an interpreter that lacks the Pulumi SDK: run under the project's virtualenv when it has one.
    venv_python = project_virtualenv_python()
    if venv_python is not None and Path(sys.executable).absolute() != venv_python:
        os.execv(venv_python, [str(venv_python), "-u", __file__, *sys.argv[1:]])
    print(
        f"error: the Python environment of this project is not installed ({missing}); {ENVIRONMENT_FIX}",
        file=sys.stderr,
    )
    sys.exit(1)


class HostError(Exception):
    """A problem the user can fix, said in one message."""


class PythonOptions:
    """The runtime options of `Pulumi.yaml`, checked as Pulumi's host checks them."""

    def __init__(self, info: Any) -> None:
        options = json_format.MessageToDict(info.options) if info.HasField("options") else {}
        self.root = Path(info.root_directory or info.program_directory or ".")
        self.program_directory = Path(info.program_directory or self.root)
        for key in ("virtualenv", "toolchain", "typechecker"):
            if key in options and not isinstance(options[key], str):
                raise HostError(f"the '{key}' runtime option in Pulumi.yaml must be a string")
        self.virtualenv_option: str = options.get("virtualenv", "")
        self.toolchain: str = options.get("toolchain", "pip")
        self.typechecker: str = options.get("typechecker", "")
        if self.toolchain not in TOOLCHAINS:
            raise HostError(
                f"the 'toolchain' runtime option in Pulumi.yaml is {self.toolchain!r}; this project's language "
                "host supports only 'pip' (install Pulumi with its usual installer for poetry or uv)"
            )
        if self.typechecker and self.typechecker not in TYPECHECKERS:
            raise HostError(f"unsupported typechecker option: {self.typechecker}")

    @property
    def virtualenv(self) -> Path | None:
        if not self.virtualenv_option:
            return None
        venv = Path(self.virtualenv_option)
        return venv if venv.is_absolute() else self.root / venv

    def python(self) -> str:
        venv = self.virtualenv
        if venv is None:
            return os.environ.get("PULUMI_PYTHON_CMD") or "python3"
        return str(venv / "bin" / "python")

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        venv = self.virtualenv
        if venv is not None:
            env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
            env["VIRTUAL_ENV"] = str(venv)
            env.pop("PYTHONHOME", None)
        return env

    def check_virtualenv(self) -> None:
        venv = self.virtualenv
        if venv is None or (venv / "bin" / "python").is_file():
            return
        state = "is not a virtual environment" if venv.exists() else "does not exist"
        raise HostError(
            f"the 'virtualenv' option in Pulumi.yaml is {self.virtualenv_option!r}, but {venv} {state}; "
            f"{ENVIRONMENT_FIX}"
        )

    def facts(self, *, packages: bool) -> dict[str, Any]:
        """:func:`environment_facts` of the program's interpreter."""
        venv = self.virtualenv
        if venv is not None and venv.resolve() == Path(sys.prefix).resolve():
            return environment_facts(packages)
        import inspect

        script = (
            "from __future__ import annotations\nimport json\n"
            f"{inspect.getsource(environment_facts)}\nprint(json.dumps(environment_facts({packages!r})))"
        )
        done = self.run("-c", script)
        if done.returncode != 0:
            raise HostError(f"{self.python()} could not be run: {done.stderr.strip()}")
        return dict(json.loads(done.stdout))

    def run(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.python(), *args], env=self.environment(), capture_output=True, text=True, **kwargs
        )


def exec_arguments(request: Any, engine_address: str) -> list[str]:
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


def environment_facts(packages: bool) -> dict[str, Any]:
    """The interpreter, its version and pip's version; with ``packages``, each installed distribution with the
    pulumi-plugin.json of its package (reading every distribution's metadata is the slow part, and `About`
    needs none of it). Runs in the program's interpreter: in this process when the program's environment is
    this one, else as a script (so it imports only the standard library)."""
    import importlib.metadata
    import importlib.util
    import json
    import os
    import sys

    try:
        pip = importlib.metadata.version("pip")
    except importlib.metadata.PackageNotFoundError:
        pip = ""
    facts: dict[str, Any] = {"executable": sys.executable, "version": sys.version.split()[0], "pip": pip}
    if not packages:
        return facts
    found = []
    for dist in importlib.metadata.distributions():
        # Read once: each of `dist.name`, `dist.version` reads and parses the whole file again.
        metadata = dist.metadata
        name = (metadata["Name"] or "").lower().replace("_", "-")
        plugin = None
        try:
            spec = importlib.util.find_spec(name.replace("-", "_"))
            for folder in (spec.submodule_search_locations or []) if spec else []:
                path = os.path.join(folder, "pulumi-plugin.json")
                if os.path.isfile(path):
                    with open(path) as file:
                        plugin = json.load(file)
                    break
        except Exception:
            plugin = None
        found.append({"name": name, "version": metadata["Version"], "plugin": plugin})
    facts["packages"] = found
    return facts


def plugin_version(package_version: str) -> str | None:
    """A PEP 440 package version as the plugin's semver, as Pulumi's host converts it (None: cannot tell)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)*)(?:(a|b|rc)(\d+))?(?:\.post(\d+))?(?:\.dev(\d+))?", package_version)
    if match is None:
        return None
    release, pre, pre_number, post, dev = match.groups()
    parts = release.split(".")
    version = ".".join(parts + ["0"] * (3 - len(parts)))
    if pre:
        version += f"-{PRE_RELEASES[pre]}.{pre_number}"
    build = (f"post{post}" if post else "") + (f"dev{dev}" if dev else "")
    if build:
        version += f"+{build}"
    return version


def required_packages(installed: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The resource plugins of the installed Pulumi packages, as Pulumi's host reports them."""
    packages = []
    for package in installed:
        name, plugin = package["name"], package.get("plugin")
        if name in PACKAGES_WITHOUT_PLUGINS or (plugin is None and not name.startswith("pulumi-")):
            continue
        plugin = plugin or {}
        if plugin and not plugin.get("resource"):
            continue
        version = plugin.get("version") or plugin_version(package["version"])
        if not version:
            continue
        packages.append(
            {
                "name": plugin.get("name") or name.removeprefix("pulumi-"),
                "version": version if version.startswith("v") else f"v{version}",
                "server": plugin.get("server", ""),
            }
        )
    return packages


class EngineWatch:
    """Notices that the engine which started this host is gone, and runs ``on_gone`` once."""

    def __init__(self, on_gone: Any) -> None:
        self.engine_pid = os.getppid()
        self.on_gone = on_gone
        self.fired = threading.Lock()

    def start(self) -> None:
        threading.Thread(target=self._poll_parent, name="engine-parent", daemon=True).start()
        # The engine gives each plugin a stdin pipe and keeps its other end: end-of-file means it is gone.
        if stat.S_ISFIFO(os.fstat(0).st_mode):
            threading.Thread(target=self._read_stdin, name="engine-stdin", daemon=True).start()

    def _poll_parent(self) -> None:
        while os.getppid() == self.engine_pid:
            time.sleep(ENGINE_POLL_SECONDS)
        self._gone()

    def _read_stdin(self) -> None:
        while os.read(0, 4096):
            pass
        self._gone()

    def _gone(self) -> None:
        if self.fired.acquire(blocking=False):
            self.on_gone()


def socket_inode(peer_port: int, server_port: int) -> str | None:
    """The inode of the loopback TCP socket ``peer_port`` -> ``server_port``, from /proc/net/tcp{,6}."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if local_port == peer_port and remote_port == server_port:
                return fields[9]
    return None


def process_owns_socket(pid: int, inode: str) -> bool:
    wanted = f"socket:[{inode}]"
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for descriptor in descriptors:
        try:
            if os.readlink(f"/proc/{pid}/fd/{descriptor}") == wanted:
                return True
        except OSError:
            continue
    return False


class EngineOnly:
    """Admits a caller only when its socket belongs to the engine process (Linux: /proc; elsewhere: loopback)."""

    def __init__(self, engine_pid: int) -> None:
        self.engine_pid = engine_pid
        self.server_port = 0
        self.admitted: set[str] = set()
        self.lock = threading.Lock()
        self.can_check = Path("/proc/net/tcp").exists()

    def admits(self, peer: str) -> bool:
        with self.lock:
            if peer in self.admitted:
                return True
        match = re.fullmatch(r"ipv[46]:(?:127\.0\.0\.1|\[::1\]|\[::ffff:127\.0\.0\.1\]):(\d+)", peer)
        if match is None:
            return False
        if not self.can_check:
            return True
        inode = socket_inode(int(match.group(1)), self.server_port)
        if inode is None or not process_owns_socket(self.engine_pid, inode):
            return False
        with self.lock:
            self.admitted.add(peer)
        return True


def guarded(servicer: Any, gate: EngineOnly) -> Any:
    """Every RPC of ``servicer`` refuses callers the gate does not admit."""

    def wrap(method: Any) -> Any:
        def call(request: Any, context: Any) -> Any:
            if not gate.admits(context.peer()):
                context.abort(grpc.StatusCode.PERMISSION_DENIED, "this language host answers only its engine")
            return method(request, context)

        return call

    for name in dir(language_pb2_grpc.LanguageRuntimeServicer):
        if not name.startswith("_"):
            setattr(servicer, name, wrap(getattr(servicer, name)))
    return servicer


class PythonLanguageHost(language_pb2_grpc.LanguageRuntimeServicer):
    def __init__(self, engine_address: str) -> None:
        self.engine_address = engine_address
        self.running: set[subprocess.Popen[bytes]] = set()
        self.lock = threading.Lock()
        self.stopping = False

    def _options(self, info: Any, context: Any) -> PythonOptions:
        try:
            return PythonOptions(info)
        except HostError as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
            raise

    def GetPluginInfo(self, request, context):
        from importlib import metadata

        return plugin_pb2.PluginInfo(version=metadata.version("pulumi"))

    def GetRequiredPlugins(self, request, context):
        # As Pulumi's host: the engine asks GetRequiredPackages instead.
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "method GetRequiredPlugins not implemented")

    def GetRequiredPackages(self, request, context):
        options = self._options(request.info, context)
        try:
            options.check_virtualenv()
        except HostError as error:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(error))
        try:
            facts = options.facts(packages=True)
        except HostError as error:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(error))
        return language_pb2.GetRequiredPackagesResponse(
            packages=[
                plugin_pb2.PackageDependency(kind="resource", **package)
                for package in required_packages(facts["packages"])
            ]
        )

    def GetProgramDependencies(self, request, context):
        options = self._options(request.info, context)
        args = ["-m", "pip", "list", "--format", "json"]
        if not request.transitiveDependencies:
            args.append("--not-required")
        done = options.run(*args)
        if done.returncode != 0:
            context.abort(grpc.StatusCode.INTERNAL, f"failed to get python dependencies: {done.stderr}")
        return language_pb2.GetProgramDependenciesResponse(
            dependencies=[
                language_pb2.DependencyInfo(name=p["name"].lower().replace("_", "-"), version=p["version"])
                for p in json.loads(done.stdout)
            ]
        )

    def About(self, request, context):
        # Before `info` was sent, Pulumi's host described the default python.
        info = (
            request.info if request.HasField("info") else language_pb2.ProgramInfo(root_directory=os.getcwd())
        )
        options = self._options(info, context)
        try:
            facts = options.facts(packages=False)
        except HostError as error:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(error))
        return language_pb2.AboutResponse(
            executable=facts["executable"],
            version=facts["version"],
            metadata={
                "toolchain": options.toolchain,
                "toolchainVersion": facts["pip"],
                "typechecker": options.typechecker or "none",
            },
        )

    def RuntimeOptionsPrompts(self, request, context):
        return language_pb2.RuntimeOptionsResponse()

    def InstallDependencies(self, request, context):
        options = self._options(request.info, context)
        venv = options.virtualenv
        base_python = os.environ.get("PULUMI_PYTHON_CMD") or "python3"
        directory = str(options.program_directory)
        steps: list[tuple[str, list[str]]] = []
        if venv is not None:
            steps.append(("Creating virtual environment", [base_python, "-m", "venv", str(venv)]))
        python = options.python()
        steps.append(
            (
                "Updating pip, setuptools, and wheel in virtual environment",
                [python, "-m", "pip", "install", "--upgrade", "pip", "setuptools", "wheel"],
            )
        )
        if (options.program_directory / "requirements.txt").is_file():
            steps.append(
                (
                    "Installing dependencies in virtual environment",
                    [python, "-m", "pip", "install", "-r", "requirements.txt"],
                )
            )
        yield language_pb2.InstallDependenciesResponse(stdout=b"Installing dependencies...\n\n")
        for title, command in steps:
            yield language_pb2.InstallDependenciesResponse(stdout=f"{title}...\n".encode())
            process = subprocess.Popen(
                command,
                cwd=directory,
                env=options.environment(),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            assert process.stdout is not None
            for line in process.stdout:
                yield language_pb2.InstallDependenciesResponse(stdout=line)
            if process.wait() != 0:
                context.abort(
                    grpc.StatusCode.INTERNAL,
                    f"{title.lower()} failed: `{' '.join(command)}` exited {process.returncode}",
                )
        yield language_pb2.InstallDependenciesResponse(stdout=b"Finished installing dependencies\n\n")

    def _typecheck(self, options: PythonOptions) -> str | None:
        """Runs the `typechecker` option's checker on the program, as Pulumi's host does; its failure, or None."""
        checker = options.typechecker
        if not checker:
            return None
        if options.run("-c", f"import {checker}").returncode != 0:
            return (
                f"The typechecker option is set to {checker}, but {checker} is not installed. Please add an entry "
                f"for {checker} to requirements.txt and run `{options.virtualenv_option or 'python3'}/bin/pip "
                "install -r requirements.txt`"
            )
        args = ["-m", checker]
        if checker == "mypy" and options.virtualenv is not None:
            args += ["--exclude", os.path.relpath(options.virtualenv, options.program_directory)]
        done = options.run(*args, str(options.program_directory), cwd=options.program_directory)
        sys.stdout.write(done.stdout)
        sys.stderr.write(done.stderr)
        if done.returncode != 0:
            return f"{checker} failed: exit status {done.returncode}\n{done.stdout}{done.stderr}"
        return None

    def Run(self, request, context):
        try:
            options = PythonOptions(request.info)
            options.check_virtualenv()
        except HostError as error:
            return language_pb2.RunResponse(error=str(error))
        failure = self._typecheck(options)
        if failure:
            return language_pb2.RunResponse(error=failure)
        env = options.environment()
        env["PULUMI_CONFIG"] = json.dumps(dict(request.config))
        env["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(list(request.configSecretKeys))
        command = [options.python(), "-u", str(EXEC_SCRIPT), *exec_arguments(request, self.engine_address)]
        with self.lock:
            if self.stopping:
                return language_pb2.RunResponse(error="the language host is shutting down")
            # A group of its own: the engine's SIGINT to this host's group, when it closes its plugins, is not
            # the program's (Pulumi's host ends the program on Cancel, as below).
            process = subprocess.Popen(command, env=env, cwd=request.pwd or None, process_group=0)
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
        if code < 0:
            return language_pb2.RunResponse(error=f"program ended by signal {signal.Signals(-code).name}")
        return language_pb2.RunResponse(error=f"program exited with non-zero exit code: {code}")

    def end_programs(self, signum: int) -> None:
        """Sends ``signum`` to the process group of every running program; no program starts after this."""
        with self.lock:
            self.stopping = True
            for process in self.running:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signum)

    def Cancel(self, request, context):
        # Pulumi's host interrupts the program; SIGTERM ends it as quietly as the SDK's own exit.
        self.end_programs(signal.SIGTERM)
        return empty_pb2.Empty()


def quick_exit(code: int) -> None:
    """Exit without the interpreter's teardown of every module (the engine waits for it)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str]) -> int:
    # The engine passes its own flags (`-v=9`, `--logtostderr`, `--tracing …`) before its address, always last.
    positional = [arg for arg in argv if not arg.startswith("-")]
    if not positional:
        print("usage: pulumi-language-python [flags] ENGINE_ADDRESS", file=sys.stderr)
        return 2
    host = PythonLanguageHost(positional[-1])
    gate = EngineOnly(os.getppid())
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(guarded(host, gate), server)
    gate.server_port = server.add_insecure_port("127.0.0.1:0")
    server.start()

    def engine_gone() -> None:
        host.end_programs(signal.SIGKILL)
        quick_exit(1)

    def engine_closes(*_: Any) -> None:
        # The engine stops its plugins with SIGINT (then SIGKILL): a program still running ends, quietly.
        host.end_programs(signal.SIGTERM)
        server.stop(grace=None)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, engine_closes)
    EngineWatch(engine_gone).start()
    # The engine reads the port from the first line of stdout.
    print(gate.server_port, flush=True)
    server.wait_for_termination()
    quick_exit(0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
