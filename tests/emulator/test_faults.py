"""Injected faults: a status, a hang, a dropped connection, and a change committed whose answer is lost."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from segment_emulator import Emulator
from tests.emulator.conftest import SNOWFLAKE_RETL, Api, EmulatorFactory, data, error

NEW_SOURCE = {"slug": "faulted", "enabled": True, "metadataId": SNOWFLAKE_RETL}


def source_slugs(emulator: Emulator) -> set[str]:
    return {source["slug"] for source in emulator.store.sources.values()}


def test_a_status_fault_answers_instead_of_the_operation(api: Api, emulator: Emulator) -> None:
    emulator.add_fault(kind="status", status=503, operation="getWorkspace", count=2)

    statuses = [api.get("/").status_code for _ in range(3)]

    assert statuses == [503, 503, 200]
    assert [r.fault for r in emulator.requests] == ["status", "status", None]


def test_a_status_fault_has_segments_envelope_by_default(api: Api, emulator: Emulator) -> None:
    emulator.add_fault(kind="status", status=503, operation="getWorkspace")

    item = error(api.get("/"), 503)

    assert item == {"type": "service-unavailable", "message": "Service Unavailable"}


def test_a_429_fault_carries_the_body_and_headers_given(api: Api, emulator: Emulator) -> None:
    body = {
        "errors": [{"type": "RequestError", "message": "Too many requests", "data": {"msBeforeNext": 1500}}]
    }
    emulator.add_fault(
        kind="status", status=429, operation="listSources", body=body, headers={"Retry-After": "7"}
    )

    answer = api.get("/sources")

    assert (answer.status_code, answer.json(), answer.headers["Retry-After"]) == (429, body, "7")


def test_a_text_body_is_sent_as_text(api: Api, emulator: Emulator) -> None:
    emulator.add_fault(kind="status", status=502, body="<html>Bad Gateway</html>")

    answer = api.get("/")

    assert answer.text == "<html>Bad Gateway</html>"
    assert answer.headers["Content-Type"].startswith("text/plain")


def test_a_status_fault_does_not_run_the_operation(api: Api, emulator: Emulator) -> None:
    emulator.add_fault(kind="status", status=500, operation="createSource")

    error(api.post("/sources", NEW_SOURCE), 500)

    assert "faulted" not in source_slugs(emulator)


def test_faults_match_on_method_and_path(api: Api, emulator: Emulator) -> None:
    source = api.source()["id"]
    emulator.add_fault(kind="status", status=500, method="get", path=r"^/sources/[^/]+$", count=5)

    assert api.get("/sources").status_code == 200
    assert api.patch(f"/sources/{source}", {"name": "x"}).status_code == 200
    assert api.get(f"/sources/{source}").status_code == 500
    assert emulator.faults[0].count == 4


def test_a_fault_without_matchers_hits_any_request(api: Api, emulator: Emulator) -> None:
    emulator.add_fault(kind="status", status=500)

    assert api.get("/no-such-route").status_code == 500
    assert emulator.faults == []


def test_faults_are_hit_in_the_order_they_were_added(api: Api, emulator: Emulator) -> None:
    emulator.add_fault(kind="status", status=502, operation="getWorkspace")
    emulator.add_fault(kind="status", status=503)

    assert [api.get("/").status_code for _ in range(3)] == [502, 503, 200]


def test_clear_faults(api: Api, emulator: Emulator) -> None:
    emulator.add_fault(kind="status", status=500, count=3)

    emulator.clear_faults()

    assert api.get("/").status_code == 200


# ------------------------------------------------------------------------------------------------ hang


def test_a_hang_answers_normally_afterwards(api: Api, emulator: Emulator) -> None:
    emulator.add_fault(kind="hang", seconds=0.2, operation="createSource")

    created = data(api.post("/sources", NEW_SOURCE), 201)

    assert created["source"]["slug"] == "faulted"
    assert (emulator.requests[-1].fault, emulator.requests[-1].status) == ("hang", 201)


def test_a_hang_outlasts_a_short_client_timeout(emulator: Emulator) -> None:
    emulator.add_fault(kind="hang", seconds=30, operation="getWorkspace")
    headers = {"Authorization": f"Bearer {emulator.token}"}

    with pytest.raises(requests.ReadTimeout):
        requests.get(emulator.url + "/", headers=headers, timeout=0.3)


def test_reset_drops_a_hung_request_without_running_it(emulator: Emulator) -> None:
    emulator.add_fault(kind="hang", seconds=30, operation="createSource")
    headers = {"Authorization": f"Bearer {emulator.token}", "Content-Type": "application/json"}
    with pytest.raises(requests.ReadTimeout):
        requests.post(emulator.url + "/sources", json=NEW_SOURCE, headers=headers, timeout=0.3)

    emulator.reset()

    assert "faulted" not in source_slugs(emulator)


# ------------------------------------------------------------------------------------------------ drop


def test_a_drop_closes_the_connection_without_an_answer(api: Api, emulator: Emulator) -> None:
    emulator.add_fault(kind="drop", operation="createSource")

    with pytest.raises(requests.ConnectionError):
        api.post("/sources", NEW_SOURCE)

    assert "faulted" not in source_slugs(emulator)
    dropped = emulator.requests[-1]
    assert (dropped.operation_id, dropped.fault, dropped.status, dropped.committed) == (
        "createSource",
        "drop",
        None,
        False,
    )


def test_the_next_request_after_a_drop_is_served(api: Api, emulator: Emulator) -> None:
    emulator.add_fault(kind="drop", operation="getWorkspace")
    with pytest.raises(requests.ConnectionError):
        api.get("/")

    assert data(api.get("/"))["workspace"]["slug"] == "flex-emulator"


# ----------------------------------------------------------------------------------------- response lost


def test_commit_then_fail_keeps_the_change_and_answers_the_status(api: Api, emulator: Emulator) -> None:
    emulator.add_fault(kind="commit_then_fail", operation="createSource", status=502)

    error(api.post("/sources", NEW_SOURCE), 502)

    assert "faulted" in source_slugs(emulator)
    record = emulator.requests[-1]
    assert (record.fault, record.status, record.committed) == ("commit_then_fail", 502, True)


def test_commit_then_fail_without_a_status_drops_after_committing(api: Api, emulator: Emulator) -> None:
    emulator.add_fault(kind="commit_then_fail", operation="createSource", status=None)

    with pytest.raises(requests.ConnectionError):
        api.post("/sources", NEW_SOURCE)

    assert "faulted" in source_slugs(emulator)


def test_commit_then_fail_lets_a_refused_request_answer_its_own_error(api: Api, emulator: Emulator) -> None:
    emulator.add_fault(kind="commit_then_fail", operation="createSource")

    item = error(api.post("/sources", {"enabled": True}), 422)

    assert item["field"] == "slug"
    assert emulator.requests[-1].committed is False


# --------------------------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        ({"kind": "explode"}, "fault kind"),
        ({"kind": "status", "count": 0}, "count"),
        ({"kind": "status", "status": None}, "needs a status"),
        ({"kind": "status", "status": 99}, "HTTP status"),
        ({"kind": "hang"}, "seconds"),
        ({"kind": "drop", "path": "("}, "regular expression"),
    ],
)
def test_faults_that_make_no_sense_are_refused(
    emulator: Emulator, arguments: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        emulator.add_fault(**arguments)


# ---------------------------------------------------------------------------------------------- latency


def test_latency_delays_api_requests_but_not_the_controls(make_emulator: EmulatorFactory) -> None:
    emulator = make_emulator(latency_ms=30_000)
    headers = {"Authorization": f"Bearer {emulator.token}"}

    with pytest.raises(requests.ReadTimeout):
        requests.get(emulator.url + "/", headers=headers, timeout=0.3)
    assert requests.get(emulator.url + "/__emulator/faults", headers=headers, timeout=0.3).status_code == 200
