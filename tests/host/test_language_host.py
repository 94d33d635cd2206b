"""The project's own language host (tools/pulumi-cli/host, built by `make pulumi` as `pulumi-language-python`),
started as the engine starts it: its address on stdout, a stdin pipe held by its parent. These tests are that
parent, and call it over gRPC as the engine does; the same host under the real CLI is tested in
tests/e2e/test_cli_language_host.py."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import language_pb2, language_pb2_grpc

from tests.conftest import require_pulumi_cli

REPO = Path(__file__).resolve().parents[2]


def host_binary() -> str:
    require_pulumi_cli()
    found = shutil.which("pulumi-language-python")
    assert found is not None
    return found


@pytest.fixture
def host() -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = subprocess.Popen(
        [host_binary(), "127.0.0.1:1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert process.stdout is not None
    port = process.stdout.readline().strip()
    assert port.isdigit(), process.stderr.read() if process.stderr else ""
    yield process, f"127.0.0.1:{port}"
    process.kill()
    process.wait()


def stub(address: str) -> language_pb2_grpc.LanguageRuntimeStub:
    return language_pb2_grpc.LanguageRuntimeStub(grpc.insecure_channel(address))


def program_info(**options: str) -> language_pb2.ProgramInfo:
    runtime_options = struct_pb2.Struct()
    runtime_options.update({"toolchain": "pip", "virtualenv": ".venv", **options})
    return language_pb2.ProgramInfo(
        root_directory=str(REPO), program_directory=str(REPO), entry_point=".", options=runtime_options
    )


def test_its_engine_is_answered_and_a_stranger_is_refused(host: tuple[subprocess.Popen[str], str]) -> None:
    _, address = host
    assert stub(address).GetPluginInfo(empty_pb2.Empty(), timeout=10).version == metadata.version("pulumi")

    stranger = textwrap.dedent(
        f"""
        import grpc, sys
        from google.protobuf import empty_pb2
        from pulumi.runtime.proto import language_pb2_grpc
        stub = language_pb2_grpc.LanguageRuntimeStub(grpc.insecure_channel({address!r}))
        for call in (stub.GetPluginInfo, stub.Cancel):
            try:
                call(empty_pb2.Empty(), timeout=10)
            except grpc.RpcError as error:
                print(error.code().name, error.details())
            else:
                print("ANSWERED")
        """
    )
    done = subprocess.run([sys.executable, "-c", stranger], capture_output=True, text=True, timeout=60)
    assert done.stdout.splitlines() == ["PERMISSION_DENIED this language host answers only its engine"] * 2


def test_required_packages_are_the_plugins_of_installed_pulumi_packages(
    host: tuple[subprocess.Popen[str], str],
) -> None:
    _, address = host
    answer = stub(address).GetRequiredPackages(language_pb2.GetRequiredPackagesRequest(info=program_info()))
    plugin_json = json.loads(
        (Path(importlib.util.find_spec("pulumi_snowflake").origin).parent / "pulumi-plugin.json").read_text()  # type: ignore[arg-type, union-attr]
    )
    assert [(p.name, p.version, p.kind) for p in answer.packages] == [
        ("snowflake", f"v{plugin_json['version'].removeprefix('v')}", "resource")
    ]


def test_about_names_the_virtualenvs_python_and_pip(host: tuple[subprocess.Popen[str], str]) -> None:
    _, address = host
    about = stub(address).About(language_pb2.AboutRequest(info=program_info()), timeout=60)
    assert Path(about.executable).resolve() == (REPO / ".venv" / "bin" / "python").resolve()
    assert about.version == ".".join(map(str, sys.version_info[:3]))
    assert about.metadata["toolchain"] == "pip"
    assert about.metadata["toolchainVersion"] == metadata.version("pip")
    assert about.metadata["typechecker"] == "none"


def test_about_a_virtualenv_names_its_own_python_and_pip(
    host: tuple[subprocess.Popen[str], str], tmp_path: Path
) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "other")], check=True)
    info = program_info(virtualenv=str(tmp_path / "other"))
    _, address = host
    about = stub(address).About(language_pb2.AboutRequest(info=info), timeout=60)
    assert about.executable == str(tmp_path / "other" / "bin" / "python")
    assert about.metadata["toolchainVersion"] == ""  # no pip in it
    packages = stub(address).GetRequiredPackages(
        language_pb2.GetRequiredPackagesRequest(info=info), timeout=60
    )
    assert list(packages.packages) == []


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (
            {"toolchain": "poetry"},
            "the 'toolchain' runtime option in Pulumi.yaml is 'poetry'; this project's",
        ),
        ({"typechecker": "pytype"}, "unsupported typechecker option: pytype"),
    ],
)
def test_options_it_cannot_honour_are_refused_by_name(
    host: tuple[subprocess.Popen[str], str], option: dict[str, str], message: str
) -> None:
    _, address = host
    with pytest.raises(grpc.RpcError) as refused:
        stub(address).About(language_pb2.AboutRequest(info=program_info(**option)), timeout=60)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details().startswith(message)


def test_a_missing_virtualenv_is_named_with_the_fix(host: tuple[subprocess.Popen[str], str]) -> None:
    _, address = host
    with pytest.raises(grpc.RpcError) as refused:
        stub(address).GetRequiredPackages(
            language_pb2.GetRequiredPackagesRequest(info=program_info(virtualenv="no-such-venv")), timeout=60
        )
    assert refused.value.details() == (
        f"the 'virtualenv' option in Pulumi.yaml is 'no-such-venv', but {REPO / 'no-such-venv'} does not exist; "
        "run `make venv` (or `pulumi install`) in the project folder"
    )


def test_the_host_exits_when_its_engine_is_gone(host: tuple[subprocess.Popen[str], str]) -> None:
    process, _ = host
    assert process.stdin is not None
    process.stdin.close()  # what the kernel does to the engine's end when the engine is killed
    assert process.wait(timeout=5) == 1


def fake_virtualenv(root: Path, packages: dict[str, str]) -> Path:
    """A virtualenv's files as the host reads them: its interpreter, and a dist-info per package."""
    venv = root / "fake-venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    for name, version in packages.items():
        info = venv / "lib" / "python3.11" / "site-packages" / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nbody\n")
    return venv


def test_package_versions_become_plugin_versions_as_pulumis_host_makes_them(
    host: tuple[subprocess.Popen[str], str], tmp_path: Path
) -> None:
    versions = {
        "2.22.0": "v2.22.0",
        "1.0": "v1.0.0",
        "1.2.3a4": "v1.2.3-alpha.4",
        "1.2.3rc4": "v1.2.3-rc.4",
        "1.2.3.post4": "v1.2.3+post4",
        "1.2.3.post4.dev5": "v1.2.3+post4dev5",
        "not-a-version": None,
    }
    packages = {f"pulumi-p{i}": version for i, version in enumerate(versions)}
    venv = fake_virtualenv(tmp_path, {**packages, "pulumi-policy": "1.0.0", "requests": "2.0.0"})
    _, address = host
    answer = stub(address).GetRequiredPackages(
        language_pb2.GetRequiredPackagesRequest(info=program_info(virtualenv=str(venv))), timeout=60
    )
    expected = {f"p{i}": plugin for i, plugin in enumerate(versions.values()) if plugin}
    assert {p.name: p.version for p in answer.packages} == expected


def run_request(program: Path, **options: str) -> language_pb2.RunRequest:
    info = program_info(**options)
    info.root_directory = info.program_directory = str(program)
    return language_pb2.RunRequest(info=info, pwd=str(program), project="p", stack="s")


def test_the_typechecker_option_runs_mypy_on_the_program_and_a_failure_stops_the_run(
    host: tuple[subprocess.Popen[str], str], tmp_path: Path
) -> None:
    _, address = host
    (tmp_path / "__main__.py").write_text('count: int = "three"\n')
    failed = stub(address).Run(run_request(tmp_path, virtualenv=sys.prefix, typechecker="mypy"), timeout=120)
    assert failed.error.startswith("mypy failed: exit status 1"), failed.error
    assert "Incompatible types in assignment" in failed.error

    (tmp_path / "__main__.py").write_text("count: int = 3\n")
    checked = stub(address).Run(run_request(tmp_path, virtualenv=sys.prefix, typechecker="mypy"), timeout=120)
    # Past the check, the program runs (and, with no engine to talk to, fails on its own).
    assert not checked.error.startswith("mypy failed"), checked.error
