"""The emulator serves each operation where Segment's contract puts it: method, path, status, versions, limits."""

from __future__ import annotations

from typing import Any

import pytest

from segment_emulator.ratelimit import PER_MINUTE
from segment_emulator.routing import OPERATIONS, Operation

pytestmark = pytest.mark.contract


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.operation_id)
def test_the_operation_is_where_the_contract_puts_it(contract: dict[str, Any], operation: Operation) -> None:
    theirs = contract["operations"][operation.operation_id]

    assert (operation.method, operation.path) == (theirs["method"], theirs["path"])
    assert [str(operation.success_status)] == theirs["successStatus"]
    assert list(operation.versions) == theirs["mediaTypes"]["versions"]
    assert bool(operation.bodies) == (theirs["requestSchemaRef"] is not None)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.operation_id)
def test_the_rate_limit_is_the_documented_one(contract: dict[str, Any], operation: Operation) -> None:
    documented = contract["operations"][operation.operation_id].get("rateLimit")

    if documented is None:
        assert operation.operation_id not in PER_MINUTE
    else:
        assert documented["per"] == "minute"
        assert PER_MINUTE[operation.operation_id] == documented["requests"]


def test_path_parameters_are_the_contracts(contract: dict[str, Any]) -> None:
    for operation in OPERATIONS:
        declared = [p["name"] for p in contract["operations"][operation.operation_id]["pathParams"]]
        assert list(operation.pattern.groupindex) == declared, operation.operation_id
