"""A scratch copy of this project on a throwaway file backend. The demo deploys from one, and the bench and the
real-CLI tests run ``pulumi`` in one, so none of them reads or writes your stack files, secrets or backend."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

REPO = Path(__file__).resolve().parent.parent

LEFT_OUT = (
    ".venv",
    ".git",
    ".github",
    "tests",
    "benchmarks",
    "__pycache__",
    ".*cache",
    ".demo",
    ".emulator-state*",
    "exports",
    "*.p8",
    "*.pem",
    "*.key",
)
"""What a scratch copy leaves out: the environment, history, caches, the demo's own scratch folder, the emulator's
saved state, exported files and any key file you keep in the checkout."""


@dataclass(frozen=True)
class ScratchProject:
    project: Path
    """The copy: ``pulumi`` runs here (its ``.venv`` is the environment running this Python)."""
    backend: Path
    env: dict[str, str]
    """The environment for ``pulumi`` in the copy: your Pulumi login, passphrase and Segment settings left out."""


def throwaway_env(backend: Path, passphrase: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment with no ``PULUMI_*`` or ``SEGMENT_*`` setting of yours (``PULUMI_HOME`` aside,
    where plugins live), on ``backend`` with ``passphrase``, without plugin downloads or update checks, bytecode
    written."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "SEGMENT_"))}
    # The copy is thrown away with its bytecode: without this, a machine that sets PYTHONDONTWRITEBYTECODE (CI
    # images often do) compiles the program again in each of a command's three Python processes, which a user's
    # checkout does once.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if "PULUMI_HOME" in os.environ:
        env["PULUMI_HOME"] = os.environ["PULUMI_HOME"]
    env.update(
        {
            "PULUMI_BACKEND_URL": backend.as_uri(),
            "PULUMI_CONFIG_PASSPHRASE": passphrase,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            **(extra or {}),
        }
    )
    return env


def copy_project(
    destination: Path, *, keep: Iterable[str] = (), leave_out: Iterable[str] = (), link_venv: bool = True
) -> Path:
    """This project's files in ``destination`` (``LEFT_OUT`` less ``keep``, and ``leave_out`` too); with
    ``link_venv``, its ``.venv`` is the environment running this Python (``Pulumi.yaml`` runs the program from
    ``./.venv``)."""
    kept = set(keep)
    patterns = [p for p in LEFT_OUT if p not in kept] + list(leave_out)
    shutil.copytree(REPO, destination, ignore=shutil.ignore_patterns(*patterns))
    if link_venv:
        (destination / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    return destination


def scratch_project(
    home: Path,
    *,
    passphrase: str,
    keep: Iterable[str] = (),
    leave_out: Iterable[str] = (),
    extra_env: Mapping[str, str] | None = None,
) -> ScratchProject:
    """``home/project``, a copy of this project, and ``home/backend``, an empty file backend for it."""
    project = copy_project(home / "project", keep=keep, leave_out=leave_out)
    backend = home / "backend"
    backend.mkdir()
    return ScratchProject(project, backend, throwaway_env(backend, passphrase, extra_env))


def file_backend_folder(env: Mapping[str, str]) -> Path | None:
    """The folder of the local backend ``PULUMI_BACKEND_URL`` names (a ``file://`` URL), or None for another."""
    url = urlsplit(env.get("PULUMI_BACKEND_URL", ""))
    return Path(unquote(url.path)) if url.scheme == "file" else None


def file_backend_state(env: Mapping[str, str], project: Path, stack: str) -> dict[str, Any] | None:
    """What ``pulumi stack export --stack <stack>`` prints (``{"version": …, "deployment": …}``, secrets still
    encrypted), read from the checkpoint the CLI keeps in a local folder backend (``PULUMI_BACKEND_URL`` a
    ``file://`` URL) instead of starting the CLI, which costs half a second of CPU. None when the backend is
    another kind, or the stack has no whole checkpoint there (none, one that fails the MD5 the backend keeps
    beside it, or one that does not parse): ask the CLI then."""
    backend = file_backend_folder(env)
    if backend is None:
        return None
    name = yaml.safe_load((project / "Pulumi.yaml").read_text(encoding="utf-8"))["name"]
    stacks = backend / ".pulumi" / "stacks" / str(name)
    for path in (stacks / f"{stack}.json", stacks / f"{stack}.json.gz"):
        if not path.exists():
            continue
        content = path.read_bytes()
        attributes = path.with_name(path.name + ".attrs")
        try:
            # The backend keeps each file's MD5 beside it and refuses a file that does not match, or whose
            # attributes are not whole (a write cut short by a kill): only the CLI may say what it makes of that.
            if attributes.exists():
                expected = json.loads(attributes.read_bytes())["md5"]
                if expected != base64.b64encode(hashlib.md5(content).digest()).decode():
                    return None
            saved = json.loads(gzip.decompress(content) if path.suffix == ".gz" else content)
            return {"version": saved["version"], "deployment": saved["checkpoint"].get("latest") or {}}
        except (ValueError, KeyError, TypeError, OSError):
            return None
    return None


def config_set_all(plaintext: Mapping[str, str], secret: Mapping[str, str]) -> list[str]:
    """The arguments of one ``pulumi config set-all`` that sets every key given (each ``pulumi config set`` is a
    CLI start and a passphrase derivation): for scratch stacks, whose secrets are stand-ins, since the values
    are on the command line."""
    return [
        *(flag for key, value in plaintext.items() for flag in ("--plaintext", f"{key}={value}")),
        *(flag for key, value in secret.items() for flag in ("--secret", f"{key}={value}")),
    ]
