"""docs/reliability.md stays true to the fault tests: its table has one column per resource kind, every test it
names exists, and every test in tests/faults/ (this file aside) is named in it."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.faults.conftest import KINDS
from tests.harness import REPO_ROOT

DOC = REPO_ROOT / "docs" / "reliability.md"
FAULTS = Path(__file__).resolve().parent
# `tests/faults/test_x.py::test_name` or `…::test_name[case]`, in backticks.
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)(\[[^\]`]*\])?`")
FOOTNOTE = re.compile(r"\[\^([\w-]+)\](:?)")


def table() -> tuple[list[str], list[list[str]]]:
    """The fault table: its header and its rows, as lists of stripped cells."""
    lines = DOC.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("| fault |")), None)
    assert start is not None, f"{DOC} has no table whose first column is 'fault'"
    rows: list[list[str]] = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    header, _separator, *body = rows
    return header, body


def referenced(cell: str) -> list[tuple[str, str, str]]:
    """(file, function, "[case]" or "") for every test a cell names."""
    return [(path, name, case or "") for path, name, case in REFERENCE.findall(cell)]


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    }


@pytest.fixture(scope="module")
def collected() -> set[str]:
    """The node ids pytest collects in tests/faults (parametrised cases included)."""
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests/faults"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return {line.strip() for line in run.stdout.splitlines() if "::" in line}


def test_the_table_has_one_column_per_kind_and_a_filled_cell_in_each() -> None:
    header, rows = table()
    assert header[0] == "fault" and header[-1] == "proved by"
    assert sorted(header[1:-1]) == sorted(KINDS), (
        "the kind columns must be exactly the stack's resource kinds"
    )
    assert len(header[1:-1]) == len(set(header[1:-1]))
    for row in rows:
        assert len(row) == len(header), f"row '{row[0]}' has {len(row)} cells, not {len(header)}"
        assert all(row), f"row '{row[0]}' has an empty cell"
        proofs = referenced(row[-1])
        assert proofs, f"row '{row[0]}' names no test"
        rest = REFERENCE.sub("", row[-1]).replace("<br>", "").strip()
        assert rest == "", f"row '{row[0]}': the last column holds only test names, not {rest!r}"
        assert all(path.startswith("tests/faults/") for path, _, _ in proofs), row[0]


def test_every_test_the_table_names_is_collected(collected: set[str]) -> None:
    _, rows = table()
    for row in rows:
        for path, name, case in referenced(row[-1]):
            node = f"{path}::{name}"
            if case:
                assert node + case in collected, (
                    f"'{row[0]}' names {node}{case}, which pytest does not collect"
                )
            else:
                assert any(n == node or n.startswith(node + "[") for n in collected), (
                    f"'{row[0]}' names {node}, which pytest does not collect"
                )


def test_every_fault_test_is_named_in_the_table() -> None:
    _, rows = table()
    named = {(path, name) for row in rows for path, name, _ in referenced(row[-1])}
    this_file = Path(__file__).resolve()
    files = sorted(p for p in FAULTS.glob("test_*.py") if p.resolve() != this_file)
    assert len(files) >= 7, files
    missing = sorted(
        f"{path}::{name}"
        for file in files
        for path in [file.relative_to(REPO_ROOT).as_posix()]
        for name in defined_tests(file)
        if (path, name) not in named
    )
    assert missing == [], "add these fault tests to the table in docs/reliability.md"


def test_every_test_the_page_mentions_exists_and_every_footnote_is_defined() -> None:
    text = DOC.read_text()
    for path, name, _ in referenced(text):
        assert (REPO_ROOT / path).is_file(), f"docs/reliability.md names {path}, which does not exist"
        assert name in defined_tests(REPO_ROOT / path), (
            f"docs/reliability.md names {path}::{name}: no such test"
        )
    used = {label for label, colon in FOOTNOTE.findall(text) if not colon}
    defined = {label for label, colon in FOOTNOTE.findall(text) if colon}
    assert used == defined, (
        f"footnotes used but not defined: {used - defined}; defined but unused: {defined - used}"
    )
