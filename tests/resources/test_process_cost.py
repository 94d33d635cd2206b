"""What the program and provider processes spare themselves: the collector's passes while they import and at
exit, and sqlglot for a query the state holds as checked or this machine has already passed. Each case runs in a
fresh interpreter, as the engine starts these processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.harness import REPO_ROOT

MODEL = {
    "source_id": "src",
    "name": "Salesforce accounts",
    "query": "SELECT ID, NAME FROM salesforce.accounts",
    "query_identifier_column": "ID",
    "warehouse_type": "snowflake",
}
TRAILING_SEMICOLON = "SELECT 'a;b' AS ID FROM t;"


def run_python(
    code: str, cache: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter, with ``env`` (default: this one's) and ``cache`` as its cache folder."""
    env = dict(os.environ if env is None else env)
    if cache is not None:
        env["XDG_CACHE_HOME"] = str(cache)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    """A cache folder of this test's own: no query has passed on this "machine" yet."""
    return tmp_path / "cache"


def check_in_fresh_process(olds: dict[str, object], news: dict[str, object], cache: Path) -> list[str]:
    """The failures of a model's check, and whether sqlglot was loaded to reach them (last line)."""
    done = run_python(
        f"""
        import sys
        from segment_provider.resources.reverse_etl_model import ReverseEtlModelProvider
        result = ReverseEtlModelProvider().check({olds!r}, {news!r})
        for failure in result.failures:
            print(failure.property, failure.reason)
        print("sqlglot loaded" if "sqlglot" in sys.modules else "sqlglot not loaded")
        """,
        cache,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_a_query_checked_last_time_is_not_parsed_again(cache: Path) -> None:
    renamed = {**MODEL, "name": "Accounts"}
    assert check_in_fresh_process(MODEL, renamed, cache) == ["sqlglot not loaded"]


def test_a_new_or_changed_query_is_parsed_and_a_bad_one_refused(cache: Path) -> None:
    assert check_in_fresh_process({}, MODEL, cache) == ["sqlglot loaded"]
    (failure, loaded) = check_in_fresh_process(MODEL, {**MODEL, "query": TRAILING_SEMICOLON}, cache)
    assert failure.startswith("query ") and "remove the trailing ';'" in failure
    assert loaded == "sqlglot loaded"


def test_the_same_query_in_another_dialect_is_judged_again(cache: Path) -> None:
    olds = {**MODEL, "query": TRAILING_SEMICOLON, "warehouse_type": "postgres"}
    (failure, _) = check_in_fresh_process(olds, {**olds, "warehouse_type": "snowflake"}, cache)
    assert "remove the trailing ';'" in failure


def test_a_query_this_machine_passed_is_not_parsed_again_by_the_next_process(cache: Path) -> None:
    assert check_in_fresh_process({}, MODEL, cache) == ["sqlglot loaded"]
    assert check_in_fresh_process({}, MODEL, cache) == ["sqlglot not loaded"]
    # Only hashes are kept: not the query, not a table name.
    kept = [path.name for path in (cache / "flex-unified-profiles" / "sql-checked").iterdir()]
    assert kept and all(len(name) == 64 and "salesforce" not in name for name in kept)


def test_a_refused_query_is_never_remembered_and_another_dialect_is_judged_again(cache: Path) -> None:
    bad = {**MODEL, "query": TRAILING_SEMICOLON}
    for _ in range(2):
        (failure, loaded) = check_in_fresh_process({}, bad, cache)
        assert "remove the trailing ';'" in failure and loaded == "sqlglot loaded"
    assert check_in_fresh_process({}, MODEL, cache) == ["sqlglot loaded"]
    assert check_in_fresh_process({}, {**MODEL, "warehouse_type": "postgres"}, cache) == ["sqlglot loaded"]


def test_the_programs_column_check_is_remembered_per_column_list(cache: Path) -> None:
    code = """
        import sys
        from segment_provider.model_sql import missing_columns
        print(missing_columns("SELECT ID FROM t", "snowflake", {needed!r}), "sqlglot" in sys.modules)
        """
    outputs = [
        run_python(code.format(needed=needed), cache).stdout.strip()
        for needed in (["ID"], ["ID"], ["ID", "PHONE"], ["ID", "PHONE"])
    ]
    assert outputs == ["[] True", "[] False", "['PHONE'] True", "['PHONE'] True"]


def test_a_cache_folder_that_cannot_be_written_only_costs_the_parse(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")  # a file where the cache folder would be
    for _ in range(2):
        assert check_in_fresh_process({}, MODEL, blocked) == ["sqlglot loaded"]


def test_a_user_with_no_home_folder_still_gets_the_sql_check() -> None:
    # A service account with no HOME, no XDG_CACHE_HOME and no passwd entry: Path.home() raises there.
    env = {k: v for k, v in os.environ.items() if k not in ("HOME", "XDG_CACHE_HOME")}
    code = f"""
        import pwd, sys
        def no_entry(uid):
            raise KeyError(uid)
        pwd.getpwuid = no_entry
        from segment_provider.resources.reverse_etl_model import ReverseEtlModelProvider
        for olds, news in (({{}}, {MODEL!r}), ({{}}, {{**{MODEL!r}, "query": {TRAILING_SEMICOLON!r}}})):
            result = ReverseEtlModelProvider().check(olds, news)
            print([failure.property for failure in result.failures], "sqlglot" in sys.modules)
        """
    done = run_python(code, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[] True", "['query'] True"]


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


def collector_while_importing(module: str, code: str) -> list[str]:
    """What ``code`` prints in a fresh interpreter where ``seen`` gets whether the collector was on as
    ``module`` started to import."""
    watch = f"""
        import gc, sys
        seen = []
        class Watch:
            def find_spec(self, name, path=None, target=None):
                if name == {module!r}:
                    seen.append(gc.isenabled())
        sys.meta_path.insert(0, Watch())
        """
    done = run_python(textwrap.dedent(watch) + textwrap.dedent(code))
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_the_collector_is_off_while_the_api_package_imports_and_on_after() -> None:
    printed = collector_while_importing(
        "segment_provider.api.models",
        """
        import segment_provider.api
        print(seen, gc.isenabled())
        """,
    )
    assert printed == ["[False] True"]


def test_a_paused_collector_resumes_after_the_outermost_block_and_stays_off_if_it_was() -> None:
    import gc

    from segment_provider.api.collector import collector_paused

    assert gc.isenabled()
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ImportError), collector_paused():
        raise ImportError("a failed import resumes it too")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_programs_entry_point_imports_the_program_with_the_collector_paused() -> None:
    printed = collector_while_importing(
        "flex_program.traits",
        """
        import runpy
        try:
            runpy.run_path("__main__.py", run_name="__main__")  # no engine: the program stops at its config
        except Exception as error:
            print(type(error).__name__)
        print(seen, gc.isenabled())
        """,
    )
    assert printed == ["RunError", "[False] True"]


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
