"""The shell blocks of README.md and docs/ that a test runs: each follows a ``<!-- readme-test: <section> -->``
line (``<!-- docs-test: <section> -->`` in docs/).

A block is run as the README shows it, in one ``bash`` per section, stopping at the first command that fails.
The values a reader fills in are shell variables (``$SPACE_SLUG``, ``$EMULATOR``): the test sets them. A command
whose comment says ``exit 1`` (the doctor with gaps left, a promotion the doctor stops) may exit 0 or 1, as the
README says; any other status fails the section.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
MARKER = re.compile(
    r"<!-- (?:readme|docs)-test: (?P<section>[\w-]+) -->\n(?P<indent> *)```sh\n(?P<code>.*?)\n *```",
    re.DOTALL,
)
MAY_EXIT_1 = re.compile(r"^(?P<command>.*?\S)(?P<comment>\s+#.*\bexit 1\b.*)$")


def readme_blocks(section: str, text: str | None = None) -> list[str]:
    """The code of every block marked for ``section``, in README order, unindented."""
    found = [
        textwrap.dedent(match["code"])
        for match in MARKER.finditer(README.read_text() if text is None else text)
        if match["section"] == section
    ]
    assert found, f"README.md has no <!-- readme-test: {section} --> block"
    return found


def readme_script(section: str, text: str | None = None) -> str:
    """One bash script of the section's blocks: stop at the first failure (a pipe fails when any part does)."""
    lines = ["set -eo pipefail"]
    for block in readme_blocks(section, text):
        for line in block.splitlines():
            if found := MAY_EXIT_1.match(line):
                line = f"{found['command']} || [ $? -eq 1 ]{found['comment']}"
            lines.append(line)
    return "\n".join(lines) + "\n"
