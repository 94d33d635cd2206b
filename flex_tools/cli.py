"""What the command-line tools share: their exit codes, one clean block per user error, and ``--debug``.

``flex-doctor``, ``flex-export``, ``flex-promote``, ``flex-demo`` and ``segment-emulator`` answer a mistake of
their user — invalid arguments or config, a file they cannot read, an API they cannot reach or that refuses the
token — with one block: the tool's name, the file and key when there is one, and the fix. No Python traceback,
unless ``--debug`` asks for it. A bug (any other exception) keeps its traceback.
"""

from __future__ import annotations

import argparse
import re
import traceback
from pathlib import Path
from typing import TextIO

import yaml

from flex_program.config import ConfigError
from segment_provider.api import SegmentClient
from segment_provider.api.errors import (
    TOKEN_ENV,
    AuthenticationError,
    NotFoundError,
    SegmentError,
    TransportError,
)

EXIT_OK = 0
EXIT_NOT_DONE = 1
"""The tool ran and the answer is "no": gaps left (doctor), promotion stopped, export refused, a step failed."""
EXIT_CANNOT_RUN = 2
"""The tool could not do its work: invalid config or arguments, an unreadable file, an unreachable API."""

EXIT_CODES_HELP = (
    f"{EXIT_CANNOT_RUN} when it cannot run (invalid arguments or config, an unreadable file, an API that cannot be "
    "reached or refuses the token); --debug adds the Python traceback to an error."
)
"""The end of every tool's ``--help`` epilog, after what 0 and 1 mean for that tool."""


class CannotRun(Exception):
    """The tool cannot do its work; the message says what to do instead (exit ``EXIT_CANNOT_RUN``)."""


USER_ERRORS: tuple[type[BaseException], ...] = (ConfigError, SegmentError, yaml.YAMLError, CannotRun)
"""Errors whose message says what to do; the tools add their own (``ExportError``, …)."""


PROJECT_FILE = "Pulumi.yaml"
STACK_NAME = re.compile(r"[A-Za-z0-9_.-]+")
"""A stack name as Pulumi allows it; matched whole (``fullmatch``: ``$`` would let a trailing newline through)."""
QUALIFIED_STACK_NAME = re.compile(r"(?:[A-Za-z0-9_.-]+/){0,2}[A-Za-z0-9_.-]+")
"""``dev``, ``project/dev`` or ``org/project/dev``, as ``pulumi --stack`` takes it on a shared backend."""


def stack_name(text: str) -> str:
    """``--stack`` of a tool that hands the name to Pulumi: a stack name, qualified or not, or argparse's
    one-line usage error."""
    if not QUALIFIED_STACK_NAME.fullmatch(text) or any(part.strip(".") == "" for part in text.split("/")):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a stack name (letters, digits, '_', '.', '-', optionally qualified as "
            "org/project/stack; e.g. dev or prod)"
        )
    return text


def plain_stack_name(text: str) -> str:
    """``--stack`` of a tool that names a file after the stack (``Pulumi.<stack>.yaml``): no qualifier."""
    if not STACK_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a stack name as a stack file is named (letters, digits, '_', '.', '-'; e.g. dev "
            "or prod; the org/project/ qualifier is not part of the file name)"
        )
    return text


def add_project_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--project-dir",
        type=Path,
        help=f"the Pulumi project's folder (where {PROJECT_FILE} is); default: the nearest folder holding "
        f"{PROJECT_FILE}, from the current directory upward, as Pulumi finds it",
    )


def find_project(given: Path | None, start: Path | None = None) -> Path:
    """The project a tool works on, resolved: ``--project-dir`` when given, else the nearest folder holding
    ``Pulumi.yaml`` from ``start`` (the current directory) upward, as the ``pulumi`` CLI finds its project.
    Never the folder the package is installed in: a user runs the tools from their own project."""
    if given is not None:
        folder = given.resolve()
        if not (folder / PROJECT_FILE).is_file():
            raise CannotRun(
                f"--project-dir {given}: there is no {PROJECT_FILE} in {folder}. Give the folder of your Pulumi "
                f"project (where {PROJECT_FILE} is), or leave --project-dir out and run the tool from it"
            )
        return folder
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    raise CannotRun(
        f"no {PROJECT_FILE} in {here} or any folder above it: run the tool from your Pulumi project's folder "
        f"(where {PROJECT_FILE} is, as for `pulumi up`), or give --project-dir"
    )


def pulumi_error(error: BaseException) -> str:
    """The CLI's own ``error: …`` lines out of an Automation API ``CommandError``, whose text also holds the
    command's code, stdout and stderr."""
    lines = [line.strip().removeprefix("stderr:").strip() for line in str(error).splitlines()]
    said = [line.removeprefix("error:").strip() for line in lines if line.startswith("error:")]
    if said:
        return "; ".join(said)
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--debug", action="store_true", help="print the Python traceback of an error as well as its message"
    )


def report(tool: str, error: BaseException, *, debug: bool, err: TextIO) -> None:
    """``tool: message`` on ``err``; with ``debug``, the traceback before it."""
    if debug:
        traceback.print_exception(error, file=err)
    print(f"{tool}: {error}", file=err)


def reach(client: SegmentClient, *, token_from: str = f"segment:token (or {TOKEN_ENV})") -> None:
    """One request, no retries, before a tool's real work: an API that cannot be reached, or that refuses the
    token, stops the tool with one line (instead of every call waiting out its retries and saying the same).
    ``token_from`` says where this tool takes the token from, for the fix of a refused one."""
    probe = SegmentClient(client.settings.model_copy(update={"max_retries": 0, "pacing_time_scale": 0}))
    url = client.settings.base_url
    try:
        probe.get_workspace()
    except TransportError:
        raise CannotRun(
            f"cannot reach Segment's Public API at {url}: nothing answers there. Check the address "
            "(--endpoint, segment:endpoint or SEGMENT_API_URL; segment:region) and the network"
        ) from None
    except AuthenticationError:
        raise CannotRun(
            f"Segment's Public API at {url} refused the token (HTTP 401): set a valid Public API token in "
            f"{token_from}"
        ) from None
    except NotFoundError:
        # Segment answers 404 for any path it does not serve, so a base URL with a path (…/v1) would otherwise
        # make every later call say "the object does not exist".
        raise CannotRun(
            f"{url} answered 404 for the workspace: it is not the base URL of Segment's Public API. Give the "
            "address without a path (e.g. https://api.segmentapis.com, not …/v1)"
        ) from None
