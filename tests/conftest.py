"""Fixtures for the whole suite: one Segment emulator per session, reset for every test; Segment's contract;
and the recording check that every exchange of the session matched the contract.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from segment_emulator import Emulator
from tests.contract.recorder import contract_path, load_contract, missing_contract_reason, session_recorder

# Rate-limit windows last 60 s x 0.01 = 0.6 s, so a test that hits a limit waits under a second; manual
# syncs finish after 0.1 s. The default limit is high enough that ordinary tests never meet it.
SESSION_TIME_SCALE = 0.01
SESSION_DEFAULT_RATE_LIMIT = 10_000
# The client paces itself to Segment's per-minute limits (segment_provider/api/pacing.py): against windows of 0.6 s
# it must pace on the same scale, here and in the provider servers the tests start (they inherit the environment).
SESSION_PACING_ENV = {"SEGMENT_API_PACING": str(SESSION_TIME_SCALE)}
"""Give this to commands that get an environment of their own, so they pace on the emulator's scale too."""
for _key, _value in SESSION_PACING_ENV.items():
    os.environ.setdefault(_key, _value)


PULUMI_CLI_PROGRAMS = ("pulumi", "pulumi-language-python", "pulumi-resource-pulumi-python")
"""What a real-engine test needs on PATH: the CLI, the Python language host, the dynamic-provider launcher."""


def missing_pulumi_cli() -> str | None:
    """Why the real engine cannot run here (``make pulumi`` builds it), or None when it can."""
    missing = [program for program in PULUMI_CLI_PROGRAMS if shutil.which(program) is None]
    if not missing:
        return None
    return f"not on PATH: {', '.join(missing)} (run `make pulumi`, or run the tests with `make test`)"


def require_pulumi_cli() -> None:
    """Skips a real-engine test when the CLI is absent, saying why; with ``REQUIRE_PULUMI_CLI=1`` (CI) fails it,
    so that a run can never be green with the real engine untested."""
    reason = missing_pulumi_cli()
    if reason is None:
        return
    if os.environ.get("REQUIRE_PULUMI_CLI") == "1":
        pytest.fail(f"REQUIRE_PULUMI_CLI=1 but the real engine cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def running_session_emulator(**settings: Any) -> Iterator[Emulator]:
    """A started emulator on the session's time scale and rate limit, its exchanges checked against the
    contract; ``settings`` (a token, say) go to :class:`Emulator`."""
    emulator = Emulator(
        time_scale=SESSION_TIME_SCALE,
        default_rate_limit=SESSION_DEFAULT_RATE_LIMIT,
        on_exchange=session_recorder().record,
        **settings,
    )
    with emulator:
        yield emulator


@pytest.fixture(scope="session")
def session_emulator() -> Iterator[Emulator]:
    """The emulator shared by the session. Prefer ``emulator``, which starts each test from the seeds."""
    yield from running_session_emulator()


@pytest.fixture
def emulator(session_emulator: Emulator) -> Iterator[Emulator]:
    """The session's emulator, reset to its seeds: state, faults, rate-limit windows and request log."""
    session_emulator.reset()
    yield session_emulator


@pytest.fixture(scope="session")
def contract() -> dict[str, Any]:
    """Segment's Public API contract; skips the test when ../shared is not beside the checkout."""
    path = contract_path()
    document = load_contract(path)
    if document is None:
        pytest.skip(missing_contract_reason(path))
    return document


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked with a ``runs_last`` attribute (the session-wide contract check) run after all others."""
    last = [item for item in items if getattr(getattr(item, "function", None), "runs_last", False)]
    items[:] = [item for item in items if item not in last] + last


WORKER_VIOLATIONS = "contract_violations"
"""The key under which each pytest-xdist worker (``make test`` runs the suite on several) hands its emulator's
unreported contract violations to the main process, which reports them all and fails the run."""
_violations_from_workers: list[str] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Exchanges no test reported on (the final check was not selected, ran on another worker, or came later)
    # still fail the run.
    unreported = session_recorder().unreported()
    worker_output = getattr(session.config, "workeroutput", None)
    if worker_output is not None:
        worker_output[WORKER_VIOLATIONS] = unreported
        return
    if (unreported or _violations_from_workers) and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    _violations_from_workers.extend(getattr(node, "workeroutput", {}).get(WORKER_VIOLATIONS) or [])


def pytest_terminal_summary(terminalreporter: Any) -> None:
    violations = session_recorder().unreported() + _violations_from_workers
    if violations:
        terminalreporter.section("Segment contract violations seen by the emulator", sep="=", red=True)
        for violation in violations:
            terminalreporter.line(violation)
