"""Every exchange the emulator served in this session matched Segment's contract.

This test runs after all others (see ``runs_last`` in tests/conftest.py), so it covers the client, resource
and program tests too. Violations recorded after it still fail the run, listed in the terminal summary.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.contract.recorder import session_recorder

pytestmark = pytest.mark.contract


def test_every_exchange_of_the_session_matched_the_contract(contract: dict[str, Any]) -> None:
    recorder = session_recorder()
    if recorder.checked == 0:
        pytest.skip("the emulator served no Segment request in this session")

    violations = recorder.unreported()
    recorder.mark_reported()

    assert violations == [], (
        f"{len(violations)} of {recorder.checked} exchanges broke the contract:\n"
        + "\n".join(violations[:50])
    )


test_every_exchange_of_the_session_matched_the_contract.runs_last = True  # type: ignore[attr-defined]
