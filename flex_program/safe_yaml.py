"""YAML the export writes: data only from the emitter, comments only as sanitized whole lines.

Everything Segment returns (names, keys, triggers, settings, queries) is untrusted text. It reaches a written
file in exactly two ways:

* as data, through one :func:`dump` of the whole document. Every string that any YAML reader could take for
  something else is quoted: PyYAML quotes what YAML 1.1 (the program's own reader) resolves, and the extra
  resolvers below add what YAML 1.2 (Pulumi's reader of stack files) resolves, such as ``1e3`` and ``0o17``.
  A string holding a line break, a control character or an invisible format character (bidi overrides, zero
  width joiners, U+2028) is written double-quoted with that character escaped, so the file shows what the
  value is and no reader disagrees about where it ends;
* in a comment line, through :func:`comment`, which escapes the same characters: nothing can end the comment
  or make the line look like something else.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import yaml

from segment_provider.rules import is_hidden as _hidden

WIDTH = 110


def escaped(text: str) -> str:
    """``text`` with every hidden character written as ``\\uXXXX`` (or ``\\UXXXXXXXX``): one visible line."""
    return "".join(
        (f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}") if _hidden(ch) else ch
        for ch in text
    )


def comment(text: str) -> str:
    """One YAML comment line of ``text`` (fixed text, or Segment's text escaped by :func:`escaped`)."""
    return f"# {escaped(text)}".rstrip()


class ExportDumper(yaml.SafeDumper):
    """The safe dumper, quoting what YAML 1.2 readers resolve too, and escaping hidden characters."""

    @contextlib.contextmanager
    def _ascii_if_hidden(self, text: str) -> Iterator[None]:
        # Without allow_unicode PyYAML double-quotes the scalar and escapes every character outside ASCII.
        saved: bool = getattr(self, "allow_unicode")  # noqa: B009 (untyped in PyYAML)
        if any(_hidden(ch) for ch in text):
            self.allow_unicode = False
        try:
            yield
        finally:
            self.allow_unicode = saved

    def analyze_scalar(self, scalar: str) -> Any:
        with self._ascii_if_hidden(scalar):
            return super().analyze_scalar(scalar)

    def write_double_quoted(self, text: str, split: bool = True) -> None:
        with self._ascii_if_hidden(text):
            super().write_double_quoted(text, split)


# YAML 1.2 core schema numbers that YAML 1.1 reads as strings (so PyYAML alone would leave them unquoted).
ExportDumper.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$"),
    list("-+.0123456789"),
)
ExportDumper.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^0o[0-7]+$"), ["0"])


def dump(data: Any) -> str:
    """``data`` as one YAML document, keys in the given order."""
    return yaml.dump(data, Dumper=ExportDumper, sort_keys=False, allow_unicode=True, width=WIDTH)
