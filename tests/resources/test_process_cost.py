"""What the program and provider processes spare themselves: the collector's passes at exit, and sqlglot for a
query the state holds as checked. Each case runs in a fresh interpreter, as the engine starts these processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.harness import REPO_ROOT

MODEL = {
    "source_id": "src",
    "name": "Salesforce accounts",
    "query": "SELECT ID, NAME FROM salesforce.accounts",
    "query_identifier_column": "ID",
    "warehouse_type": "snowflake",
}
TRAILING_SEMICOLON = "SELECT 'a;b' AS ID FROM t;"


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def check_in_fresh_process(olds: dict[str, object], news: dict[str, object]) -> list[str]:
    """The failures of a model's check, and whether sqlglot was loaded to reach them (last line)."""
    done = run_python(
        f"""
        import sys
        from segment_provider.resources.reverse_etl_model import ReverseEtlModelProvider
        result = ReverseEtlModelProvider().check({olds!r}, {news!r})
        for failure in result.failures:
            print(failure.property, failure.reason)
        print("sqlglot loaded" if "sqlglot" in sys.modules else "sqlglot not loaded")
        """
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_a_query_checked_last_time_is_not_parsed_again() -> None:
    renamed = {**MODEL, "name": "Accounts"}
    assert check_in_fresh_process(MODEL, renamed) == ["sqlglot not loaded"]


def test_a_new_or_changed_query_is_parsed_and_a_bad_one_refused() -> None:
    assert check_in_fresh_process({}, MODEL) == ["sqlglot loaded"]
    (failure, loaded) = check_in_fresh_process(MODEL, {**MODEL, "query": TRAILING_SEMICOLON})
    assert failure.startswith("query ") and "remove the trailing ';'" in failure
    assert loaded == "sqlglot loaded"


def test_the_same_query_in_another_dialect_is_judged_again() -> None:
    olds = {**MODEL, "query": TRAILING_SEMICOLON, "warehouse_type": "postgres"}
    (failure, _) = check_in_fresh_process(olds, {**olds, "warehouse_type": "snowflake"})
    assert "remove the trailing ';'" in failure


def test_the_collector_skips_every_object_at_exit_and_the_exit_status_stays() -> None:
    done = run_python(
        """
        import atexit, gc, sys
        # Registered first, so it runs last: after the teardown's own handler.
        atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0))
        from segment_provider.resources.base import quick_exit_teardown
        quick_exit_teardown()
        quick_exit_teardown()
        print("frozen before exit:", gc.get_freeze_count() > 0)
        sys.exit(3)
        """
    )
    assert done.stdout.splitlines() == ["frozen before exit: False", "frozen at exit: True"]
    assert done.returncode == 3


def test_adopt_false_is_no_output_of_the_program_and_still_in_the_checked_inputs() -> None:
    from segment_provider.resources.base import resource_props
    from segment_provider.resources.reverse_etl_model import ReverseEtlModelProvider

    registered = resource_props({**MODEL, "adopt": False, "adopt_id": None}, ("model_id", "app_url"))
    assert "adopt" not in registered and "adopt_id" not in registered
    assert registered["model_id"] is None and registered["query"] == MODEL["query"]
    assert resource_props({**MODEL, "adopt": True}, ())["adopt"] is True

    # The SDK sends no prop whose value is None (the outputs to come).
    checked = ReverseEtlModelProvider().check({}, {k: v for k, v in registered.items() if v is not None})
    assert checked.failures == []
    assert checked.inputs["adopt"] is False
