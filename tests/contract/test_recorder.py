"""The recording check itself: it flags what breaks the contract and lets the rest through."""

from __future__ import annotations

from typing import Any

import pytest

from segment_emulator import RecordedRequest
from tests.contract.recorder import ContractRecorder

pytestmark = pytest.mark.contract
WORKSPACE = {"data": {"workspace": {"id": "w", "slug": "s", "name": "n"}}}


def exchange(operation_id: str | None, status: int | None, response: Any, **fields: Any) -> RecordedRequest:
    record = RecordedRequest(method="GET", path="/", query={}, headers={}, body=None, timestamp=0.0)
    record.operation_id, record.status, record.response_body = operation_id, status, response
    for name, value in fields.items():
        setattr(record, name, value)
    return record


@pytest.fixture
def recorder(contract: dict[str, Any]) -> ContractRecorder:
    return ContractRecorder(contract)


def test_a_matching_answer_passes(recorder: ContractRecorder) -> None:
    recorder.record(exchange("getWorkspace", 200, WORKSPACE, version="v1"))

    assert (recorder.checked, recorder.violations) == (1, [])


def test_a_missing_required_field_is_flagged(recorder: ContractRecorder) -> None:
    recorder.record(
        exchange("getWorkspace", 200, {"data": {"workspace": {"id": "w", "slug": "s"}}}, version="v1")
    )

    assert len(recorder.violations) == 1
    assert (
        "getWorkspace" in recorder.violations[0] and "'name' is a required property" in recorder.violations[0]
    )


def test_an_undocumented_success_status_is_flagged(recorder: ContractRecorder) -> None:
    recorder.record(exchange("getWorkspace", 201, WORKSPACE, version="v1"))

    assert "success status 201" in recorder.violations[0]
    # The test that sent it is named, so a violation at the end of a parallel run can be traced.
    assert recorder.violations[0].endswith(
        "[during tests/contract/test_recorder.py::test_an_undocumented_success_status_is_flagged]"
    )


def test_errors_are_checked_against_the_error_envelope(recorder: ContractRecorder) -> None:
    recorder.record(exchange("getWorkspace", 401, {"errors": [{"type": "unauthorized", "message": "no"}]}))
    recorder.record(exchange("getWorkspace", 409, {"error": "not Segment's shape"}))

    assert len(recorder.violations) == 1 and "RequestErrorEnvelope" in recorder.violations[0]


def test_an_accepted_request_body_must_match_the_request_schema(recorder: ContractRecorder) -> None:
    created = {"data": {"status": "CONNECTED"}}
    good = {"metadataId": "m", "settings": {}}
    bad = {"metadataId": 7, "settings": {}}

    recorder.record(
        exchange("createValidationInWarehouse", 200, created, body=good, committed=True, version="v1")
    )
    recorder.record(
        exchange("createValidationInWarehouse", 200, created, body=bad, committed=True, version="v1")
    )

    assert len(recorder.violations) == 1 and "request body" in recorder.violations[0]


def test_the_alpha_variant_is_used_for_alpha_requests(recorder: ContractRecorder) -> None:
    body = {"slug": "s", "enabled": True, "metadataId": "m", "name": "Named"}
    source = {
        "id": "i",
        "slug": "s",
        "metadata": {},
        "workspaceId": "w",
        "enabled": True,
        "writeKeys": [],
        "labels": [],
    }

    recorder.record(
        exchange(
            "createSource", 201, {"data": {"source": source}}, body=body, committed=True, version="v1alpha"
        )
    )

    assert all("request body" not in v for v in recorder.violations)


def test_injected_answers_and_unknown_routes_are_not_judged(recorder: ContractRecorder) -> None:
    recorder.record(exchange("getWorkspace", 503, "<html>", fault="status"))
    recorder.record(exchange("getWorkspace", 500, {"oops": 1}, fault="commit_then_fail", committed=True))
    recorder.record(exchange(None, 404, {"anything": True}))
    recorder.record(exchange("getWorkspace", None, None, fault="drop"))

    assert recorder.violations == []


def test_a_lower_case_schedule_strategy_is_the_one_documented_leniency(recorder: ContractRecorder) -> None:
    answer: dict[str, Any] = {"data": {"subscription": {}}}
    body = {"input": {"reverseETLSchedule": {"strategy": "periodic", "config": {"interval": "1h"}}}}
    wrong = {"input": {"reverseETLSchedule": {"strategy": "weekly", "config": None}}}

    for sent in (body, wrong):
        recorder.record(
            exchange(
                "updateSubscriptionForDestination", 200, answer, body=sent, committed=True, version="v1alpha"
            )
        )

    requests_flagged = [v for v in recorder.violations if "request body" in v]
    assert len(requests_flagged) == 1 and "WEEKLY" in requests_flagged[0]


def test_a_disabled_recorder_records_nothing() -> None:
    recorder = ContractRecorder(None)

    recorder.record(exchange("getWorkspace", 200, {"data": 42}))

    assert (recorder.enabled, recorder.checked, recorder.violations) == (False, 0, [])
