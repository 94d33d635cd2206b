"""What the command-line tools share: their exit codes, one clean block per user error, and ``--debug``.

A tool that uses it (``flex-doctor`` and ``flex-demo`` so far) answers
a mistake of its user — invalid config, a file it cannot read, an API it cannot reach or that refuses the token —
with one block: the tool's name, the file and key when there is one, and the fix. No Python traceback, unless
``--debug`` asks for it. A bug (any other exception) keeps its traceback.
"""

from __future__ import annotations

import argparse
import traceback
from typing import TextIO

import yaml

from flex_program.config import ConfigError
from segment_provider.api.errors import SegmentError

EXIT_OK = 0
EXIT_NOT_DONE = 1
"""The tool ran and the answer is "no": gaps left (doctor), promotion stopped, export refused, a step failed."""
EXIT_CANNOT_RUN = 2
"""The tool could not do its work: invalid config or arguments, an unreadable file, an unreachable API."""

USER_ERRORS: tuple[type[BaseException], ...] = (ConfigError, SegmentError, yaml.YAMLError)
"""Errors whose message says what to do; the tools add their own (``DoctorError``, ``ExportError``, …)."""


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--debug", action="store_true", help="print the Python traceback of an error as well as its message"
    )


def report(tool: str, error: BaseException, *, debug: bool, err: TextIO) -> None:
    """``tool: message`` on ``err``; with ``debug``, the traceback before it."""
    if debug:
        traceback.print_exception(error, file=err)
    print(f"{tool}: {error}", file=err)
