"""``python -m flex_tools.doctor`` against the emulator: a fresh workspace, a deployed and finished one,
one broken thing at a time, a wrong Profile API token, and the config seams (stack file, Automation API)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi.automation import ConfigValue

from flex_tools.checks import Check, run_checks
from flex_tools.demo import DEMO_SECRETS, stack_config
from flex_tools.doctor import (
    EXIT_CANNOT_RUN,
    EXIT_GAPS,
    EXIT_READY,
    AutomationConfig,
    FileConfig,
    clients_for,
    load_program,
    main,
    with_overrides,
)
from segment_emulator import Emulator
from segment_provider.api import ClientSettings, SegmentClient
from tests.conftest import SESSION_PACING_ENV
from tests.harness import ProviderServer
from tests.program.ready_stack import GUIDE_TRAIT_KEYS, NS, SAMPLE_USER, deploy, finish_the_manual_steps
from tests.tools.user_errors import closing_port

REPO = Path(__file__).resolve().parents[2]
DEV_SPACE = "unified-profiles-dev"
ALL_ROWS = {
    "Unify space",
    "Identity rules",
    "Salesforce source",
    "Warehouse connection",
    "First warehouse load",
    "Reverse ETL model",
    "Send Identify mapping",
    "Last Reverse ETL sync",
    "Flex events",
    *(f"Trait {key}" for key in GUIDE_TRAIT_KEYS),
    "Profile API",
    "Drift",
}


@pytest.fixture(scope="module")
def server() -> Iterator[ProviderServer]:
    with ProviderServer(cwd=REPO) as running:
        yield running


def stack_file(tmp_path: Path, **extra: Any) -> Path:
    """Pulumi.dev.yaml as committed, plus ``extra`` keys of the project namespace."""
    document = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())
    document["config"].update({f"{NS}:{key}": value for key, value in extra.items()})
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def run_doctor(
    emulator: Emulator, config_file: Path, *, profile_token: str | None = None, extra: tuple[str, ...] = ()
) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    env = {
        "SEGMENT_TOKEN": emulator.token,
        "SEGMENT_PROFILE_API_TOKEN": profile_token or emulator.profile_api_token(),
        **SESSION_PACING_ENV,
    }
    argv = ["--stack", "dev", "--config-file", str(config_file), "--endpoint", emulator.url]
    argv += ["--profile-api-endpoint", emulator.url, *extra]
    code = main(argv, env=env, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def table_states(output: str) -> dict[str, str]:
    """Check name → state, read from the printed table (continuation lines have no state)."""
    lines = output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("CHECK"))
    state_at, detail_at = lines[header].index("STATE"), lines[header].index("DETAIL")
    states = {}
    for line in lines[header + 2 :]:
        if not line.strip():
            break
        state = line[state_at:detail_at].strip()
        if state:
            states[line[:state_at].strip()] = state
    return states


def checks_for(emulator: Emulator, config_file: Path, **client_options: Any) -> dict[str, Check]:
    """The checks run directly (as promotion will), keyed by name."""
    env = {"SEGMENT_TOKEN": emulator.token, "SEGMENT_PROFILE_API_TOKEN": emulator.profile_api_token()}
    config = with_overrides(
        FileConfig(config_file, env).load("dev"), endpoint=emulator.url, profile_api_endpoint=emulator.url
    )
    program = load_program(config, "dev", REPO)
    client, profiles = clients_for(program, env=SESSION_PACING_ENV)
    if client_options:
        settings = ClientSettings.resolve(
            token=emulator.token, endpoint=emulator.url, env=SESSION_PACING_ENV, **client_options
        )
        client = SegmentClient(settings, sleep=lambda seconds: None)
    return {check.name: check for check in run_checks(program, client, profiles)}


@pytest.fixture
def ready(server: ProviderServer, emulator: Emulator) -> Emulator:
    deploy(server, emulator)
    finish_the_manual_steps(emulator)
    return emulator


# --------------------------------------------------------------------------------------------- whole runs


def test_a_fresh_workspace_shows_gaps_with_next_actions_and_exits_1(
    emulator: Emulator, tmp_path: Path
) -> None:
    code, output, err = run_doctor(emulator, stack_file(tmp_path))

    assert code == EXIT_GAPS and err == ""
    states = table_states(output)
    assert set(states) == ALL_ROWS
    assert states["Unify space"] == "ok"
    assert states["Identity rules"] == "manual"
    assert states["Profile API"] == "ok"  # the token is accepted; no sample user configured
    assert states["Drift"] == "ok"  # nothing in Segment yet, so nothing that differs
    for row in ALL_ROWS - {"Unify space", "Identity rules", "Profile API", "Drift"}:
        assert states[row] == "gap", row
    checks = checks_for(emulator, stack_file(tmp_path))
    assert "pulumi up --stack dev" in checks["Salesforce source"].next_action
    assert "complete one Flex interaction" in checks["Flex events"].next_action
    assert "verify.sampleUserId" in checks["Profile API"].next_action
    assert "not ready" in output


def test_after_up_and_the_manual_steps_every_check_is_ok_and_exits_0(ready: Emulator, tmp_path: Path) -> None:
    ready.clear_requests()

    code, output, err = run_doctor(ready, stack_file(tmp_path, verify={"sampleUserId": SAMPLE_USER}))

    assert (code, err) == (EXIT_READY, ""), output
    states = table_states(output)
    assert set(states) == ALL_ROWS
    assert {name for name, state in states.items() if state != "ok"} == {"Identity rules"}
    assert states["Identity rules"] == "manual"
    assert "ready: every check is ok" in output
    assert all(r.method == "GET" for r in ready.requests), "the doctor must not change anything"
    # The space's traits are listed once for the traits rows and the Drift row together, not once per trait
    # (Segment allows 25 listings a minute).
    assert sum(r.operation_id == "listComputedTraits" for r in ready.requests) == 1
    profile = checks_for(ready, stack_file(tmp_path, verify={"sampleUserId": SAMPLE_USER}))["Profile API"]
    assert profile.state == "ok" and all(key in profile.detail for key in GUIDE_TRAIT_KEYS)


def test_up_alone_leaves_what_only_people_and_time_can_do(
    server: ProviderServer, emulator: Emulator, tmp_path: Path
) -> None:
    deploy(server, emulator)

    checks = checks_for(emulator, stack_file(tmp_path, verify={"sampleUserId": SAMPLE_USER}))

    gaps = {name for name, check in checks.items() if check.state == "gap"}
    assert gaps == {
        "Salesforce source",
        "First warehouse load",
        "Last Reverse ETL sync",
        *(f"Trait {key}" for key in GUIDE_TRAIT_KEYS),
        "Profile API",
    }
    assert "Authenticate" in checks["Salesforce source"].next_action
    assert "/sources/flex_dev_salesforce/overview" in checks["Salesforce source"].next_action
    assert "Computing" in checks["Trait total_inbounds"].detail
    assert f"user_id:{SAMPLE_USER}" in checks["Profile API"].detail
    for name in ("Warehouse connection", "Reverse ETL model", "Send Identify mapping", "Flex events"):
        assert checks[name].state == "ok", checks[name]


# ----------------------------------------------------------------------------------- one thing broken at a time


def _store(emulator: Emulator) -> Any:
    return emulator.store


def unauthorise_salesforce(emulator: Emulator) -> None:
    source = _store(emulator).source_by_slug("flex_dev_salesforce")
    source["settings"].pop("instance-url")


def break_warehouse_credentials(emulator: Emulator) -> None:
    (warehouse,) = _store(emulator).warehouses.values()
    warehouse["settings"].pop("account")


def fail_the_warehouse_load(emulator: Emulator) -> None:
    store = _store(emulator)
    store.warehouse_syncs.clear()
    (warehouse,) = store.warehouses.values()
    salesforce = store.source_by_slug("flex_dev_salesforce")
    emulator.record_warehouse_sync(warehouse["id"], salesforce["id"], status="failed", count=0)


def disable_the_model(emulator: Emulator) -> None:
    (model,) = _store(emulator).models.values()
    model["enabled"] = False


def delete_the_model(emulator: Emulator) -> None:
    """As a run killed before it made the model leaves it (the destination made, the model not)."""
    _store(emulator).models.clear()


def disable_the_destination(emulator: Emulator) -> None:
    (destination,) = _store(emulator).destinations.values()
    destination["enabled"] = False


def start_a_sync_that_is_still_running(emulator: Emulator) -> None:
    store = _store(emulator)
    (previous,) = store.syncs.values()
    later = time.time() + 3600  # it started after the one that succeeded and has not finished
    store.syncs["running"] = {
        **previous,
        "syncId": "running",
        "startedAtEpoch": later,
        "startedAt": "2999-01-01T00:00:00.000Z",
    }


def recompute_one_trait(emulator: Emulator) -> None:
    trait = next(t for t in _store(emulator).computed_traits.values() if t["key"] == "total_inbounds")
    trait["status"] = "Computing"


def fail_one_trait(emulator: Emulator) -> None:
    trait = next(t for t in _store(emulator).computed_traits.values() if t["key"] == "total_outbounds")
    trait["status"] = "Failed"


def delete_one_trait(emulator: Emulator) -> None:
    traits = _store(emulator).computed_traits
    trait_id = next(i for i, t in traits.items() if t["key"] == "last_known_service_agent")
    del traits[trait_id]


def forget_the_flex_events(emulator: Emulator) -> None:
    _store(emulator).events[emulator.space(DEV_SPACE)["id"]] = {}


def rename_the_salesforce_source_in_the_app(emulator: Emulator) -> None:
    _store(emulator).source_by_slug("flex_dev_salesforce")["name"] = "Renamed in the app"


def remove_the_sample_profile(emulator: Emulator) -> None:
    _store(emulator).profiles.clear()


BREAKAGES: dict[str, tuple[Callable[[Emulator], None], set[str], str]] = {
    "salesforce-unauthorised": (unauthorise_salesforce, {"Salesforce source"}, "not authorised"),
    "warehouse-credentials": (break_warehouse_credentials, {"Warehouse connection", "Drift"}, "FAILED"),
    "warehouse-load-failed": (fail_the_warehouse_load, {"First warehouse load"}, "'failed'"),
    # Switched off in the app: a drift from the config too, which the next `up` puts back.
    "model-disabled": (disable_the_model, {"Reverse ETL model", "Drift"}, "disabled"),
    "model-missing": (
        delete_the_model,
        {"Reverse ETL model", "Send Identify mapping", "Last Reverse ETL sync"},
        "Reverse ETL model 'Salesforce accounts' not found",
    ),
    "destination-disabled": (
        disable_the_destination,
        {"Send Identify mapping", "Drift"},
        "no sync can start",
    ),
    "sync-running": (start_a_sync_that_is_still_running, {"Last Reverse ETL sync"}, "running since"),
    "trait-computing": (recompute_one_trait, {"Trait total_inbounds"}, "Computing"),
    "trait-failed": (fail_one_trait, {"Trait total_outbounds"}, "Failed"),
    "trait-deleted": (
        delete_one_trait,
        {"Trait last_known_service_agent", "Profile API"},
        "last_known_service_agent",
    ),
    "flex-events-gone": (forget_the_flex_events, {"Flex events"}, "not seen in the space"),
    "source-renamed": (
        rename_the_salesforce_source_in_the_app,
        {"Drift"},
        "Salesforce source 'flex_dev_salesforce': name is 'Renamed in the app' in Segment",
    ),
    "no-sample-profile": (remove_the_sample_profile, {"Profile API"}, f"no profile user_id:{SAMPLE_USER}"),
}


@pytest.mark.parametrize("breakage", BREAKAGES, ids=str)
def test_one_broken_thing_is_the_only_gap(ready: Emulator, tmp_path: Path, breakage: str) -> None:
    breaks, expected_gaps, words = BREAKAGES[breakage]
    with ready.store_lock:
        breaks(ready)

    checks = checks_for(ready, stack_file(tmp_path, verify={"sampleUserId": SAMPLE_USER}))

    gaps = {name for name, check in checks.items() if check.state == "gap"}
    assert gaps == expected_gaps
    assert any(words in checks[name].detail for name in expected_gaps), [checks[n] for n in expected_gaps]
    assert all(checks[name].next_action for name in expected_gaps)


def test_a_wrong_profile_api_token_is_a_gap_naming_the_fix(ready: Emulator, tmp_path: Path) -> None:
    wrong = "not-the-profile-token-0123456789"

    code, output, err = run_doctor(
        ready, stack_file(tmp_path, verify={"sampleUserId": SAMPLE_USER}), profile_token=wrong
    )

    assert code == EXIT_GAPS
    states = table_states(output)
    assert {name for name, state in states.items() if state not in ("ok", "manual")} == {"Profile API"}
    assert "refused the token" in output
    # In --config-file mode there is no stack to `pulumi config set` on: the fix is the variable it reads.
    assert "export SEGMENT_PROFILE_API_TOKEN=<token>" in output and "pulumi config set" not in output
    assert wrong not in output + err
    assert ready.profile_api_token() not in output + err


def test_a_failed_request_is_an_error_row_not_a_crash(ready: Emulator, tmp_path: Path) -> None:
    ready.add_fault("status", operation="listWarehouses", status=403)

    checks = checks_for(ready, stack_file(tmp_path), max_retries=0)

    assert checks["Warehouse connection"].state == "error"
    assert checks["First warehouse load"].state == "error"
    assert "HTTP 403" in checks["Warehouse connection"].detail
    assert checks["Salesforce source"].state == "ok"


# ----------------------------------------------------------------------------------------------- config seams


class FakeStack:
    def __init__(self, config: Mapping[str, ConfigValue]) -> None:
        self.config = config

    def get_all_config(self) -> Mapping[str, ConfigValue]:
        return self.config


def automation_config(emulator: Emulator) -> dict[str, ConfigValue]:
    """What `get_all_config()` answers for the dev stack pointed at the emulator (secrets decrypted)."""
    values = stack_config(emulator.url, "dev", emulator.token)
    values[f"{NS}:profileApiToken"] = emulator.profile_api_token()
    values[f"{NS}:profileApi"] = json.dumps({"endpoint": emulator.url})
    secret = {*DEMO_SECRETS, f"{NS}:profileApiToken"}
    return {key: ConfigValue(value=value, secret=key in secret) for key, value in values.items()}


def test_by_default_the_config_comes_from_the_automation_api(emulator: Emulator) -> None:
    selected: list[dict[str, str]] = []

    def select_stack(*, stack_name: str, work_dir: str) -> FakeStack:
        selected.append({"stack_name": stack_name, "work_dir": work_dir})
        return FakeStack(automation_config(emulator))

    source = AutomationConfig(REPO, select_stack=select_stack, which=lambda name: f"/usr/local/bin/{name}")
    out, err = io.StringIO(), io.StringIO()

    code = main(["--stack", "dev"], env=SESSION_PACING_ENV, out=out, err=err, automation=source)

    assert selected == [{"stack_name": "dev", "work_dir": str(REPO)}]
    assert code == EXIT_GAPS and err.getvalue() == ""
    states = table_states(out.getvalue())
    assert states["Unify space"] == "ok" and states["Profile API"] == "ok"
    assert states["Salesforce source"] == "gap"
    assert emulator.profile_api_token() not in out.getvalue()
    assert emulator.token not in out.getvalue()


def test_without_the_pulumi_cli_the_doctor_names_the_alternative() -> None:
    source = AutomationConfig(REPO, select_stack=None, which=lambda name: None)
    out, err = io.StringIO(), io.StringIO()

    code = main(["--stack", "dev"], env=SESSION_PACING_ENV, out=out, err=err, automation=source)

    assert code == EXIT_CANNOT_RUN and out.getvalue() == ""
    message = err.getvalue()
    assert "`pulumi` CLI is not on PATH" in message
    assert "--config-file Pulumi.dev.yaml" in message and "SEGMENT_API_TOKEN" in message


def test_a_stack_pulumi_cannot_read_is_a_clear_message() -> None:
    def select_stack(*, stack_name: str, work_dir: str) -> FakeStack:
        raise RuntimeError("no stack named 'staging' found")

    source = AutomationConfig(REPO, select_stack=select_stack, which=lambda name: "/bin/pulumi")
    err = io.StringIO()

    code = main(["--stack", "staging"], env=SESSION_PACING_ENV, out=io.StringIO(), err=err, automation=source)

    assert code == EXIT_CANNOT_RUN
    assert "no stack named 'staging'" in err.getvalue() and "pulumi stack ls" in err.getvalue()


def test_invalid_config_stops_the_doctor_naming_the_key(emulator: Emulator, tmp_path: Path) -> None:
    code, output, err = run_doctor(
        emulator, stack_file(tmp_path, verify={"expectedTraits": ["total_inbounds"]})
    )

    assert code == EXIT_CANNOT_RUN and output == ""
    assert f"{NS}:verify" in err and "needs sampleUserId" in err


def test_the_stack_file_seam_leaves_out_ciphertext_and_takes_secrets_from_the_environment(
    tmp_path: Path,
) -> None:
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "config": {
                    "segment:token": {"secure": "v1:AAAA"},
                    f"{NS}:warehouseCredentials": {"private_key": {"secure": "v1:BBBB"}},
                    "space": {"slug": "unified-profiles-dev"},
                    f"{NS}:protect": False,
                }
            }
        )
    )
    source = FileConfig(path, env={"SEGMENT_TOKEN": "env-token", "SEGMENT_PROFILE_API_TOKEN": ""})

    config = source.load("dev")

    assert sorted(source.encrypted_keys) == [f"{NS}:warehouseCredentials", "segment:token"]
    assert config.get("segment:token") == "env-token" and config.is_secret("segment:token")
    assert config.get(f"{NS}:profileApiToken") is None
    assert json.loads(config.get(f"{NS}:space")) == {"slug": "unified-profiles-dev"}
    assert config.get(f"{NS}:protect") == "false" and not config.is_secret(f"{NS}:protect")


def test_help_says_what_the_exit_status_means(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])

    assert exited.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "do not fail the run" in text and "SEGMENT_PROFILE_API_TOKEN" in text
    assert "Exit status: 0 when every check is ok" in text and "2 when it cannot run" in text


def run_doctor_at(endpoint: str, token: str, tmp_path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    argv = ["--stack", "dev", "--config-file", str(stack_file(tmp_path)), "--endpoint", endpoint]
    code = main(argv, env={"SEGMENT_API_TOKEN": token, **SESSION_PACING_ENV}, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_an_unreachable_api_stops_the_doctor_at_once_with_one_line_naming_the_url(tmp_path: Path) -> None:
    with closing_port() as (url, connections):
        code, out, err = run_doctor_at(url, "some-token", tmp_path)
    assert code == EXIT_CANNOT_RUN and out == ""
    assert err.count("\n") == 1 and url in err and "cannot reach" in err
    assert connections() == 1, "one attempt, no retries before saying it"


def test_a_refused_token_or_an_address_with_a_path_is_one_line(emulator: Emulator, tmp_path: Path) -> None:
    code, out, err = run_doctor_at(emulator.url, "not-the-token", tmp_path)
    assert code == EXIT_CANNOT_RUN and out == "" and err.count("\n") == 1
    assert "refused the token (HTTP 401)" in err and "SEGMENT_API_TOKEN" in err
    code, out, err = run_doctor_at(f"{emulator.url}/v1", emulator.token, tmp_path)
    assert code == EXIT_CANNOT_RUN and err.count("\n") == 1
    assert "not the base URL" in err and "does not exist" not in err


def test_a_namespace_nobody_reads_is_a_warning_naming_the_namespace_meant(
    emulator: Emulator, tmp_path: Path
) -> None:
    path = stack_file(tmp_path)
    document = yaml.safe_load(path.read_text())
    document["config"]["flex-unified-profile:schedule"] = {"strategy": "MANUAL"}
    path.write_text(yaml.safe_dump(document))

    code, _, err = run_doctor(emulator, path)

    assert code == EXIT_GAPS, err
    (warning,) = [line for line in err.splitlines() if "warning" in line]
    assert (
        "flex-unified-profile:schedule" in warning
        and "did you mean flex-unified-profiles:schedule" in warning
    )
    assert "Pulumi.dev.yaml" in warning


def test_in_config_file_mode_every_token_fix_is_the_variable_it_reads(tmp_path: Path) -> None:
    path = stack_file(tmp_path)
    argv = ["--stack", "dev", "--config-file", str(path)]
    err = io.StringIO()
    assert main(argv, env={}, out=io.StringIO(), err=err) == EXIT_CANNOT_RUN
    assert "export SEGMENT_API_TOKEN=<token>" in err.getvalue() and "pulumi config" not in err.getvalue()

    document = yaml.safe_load(path.read_text())
    document["config"]["segment:token"] = "sgp_in_plain_text"
    path.write_text(yaml.safe_dump(document))
    err = io.StringIO()
    assert main(argv, env={}, out=io.StringIO(), err=err) == EXIT_CANNOT_RUN
    assert err.getvalue().count("\n") == 1
    assert "segment:token is in plain text" in err.getvalue() and "Remove it from the file" in err.getvalue()
    assert "sgp_in_plain_text" not in err.getvalue()


def test_debug_adds_the_traceback_to_a_user_error(tmp_path: Path) -> None:
    with closing_port() as (url, _):
        argv = ["--stack", "dev", "--config-file", str(stack_file(tmp_path)), "--endpoint", url]
        plain, debug = io.StringIO(), io.StringIO()
        assert main(argv, env={"SEGMENT_API_TOKEN": "t"}, out=io.StringIO(), err=plain) == EXIT_CANNOT_RUN
        assert main([*argv, "--debug"], env={"SEGMENT_API_TOKEN": "t"}, out=io.StringIO(), err=debug) == 2
    assert "Traceback" not in plain.getvalue()
    assert "Traceback (most recent call last)" in debug.getvalue()
    assert debug.getvalue().endswith(plain.getvalue())
