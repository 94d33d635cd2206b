"""Segment's contract (``../shared/segment-api/contract.json``) and the session-wide recording check.

Every exchange the session's emulator serves goes through ``ContractRecorder.record``: the response must
validate against the contract's schema for its operation, version and status, and every request body the
emulator accepted must validate against the operation's request schema.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from segment_emulator import RecordedRequest

CONTRACT_ENV = "SEGMENT_CONTRACT"
REPO = Path(__file__).resolve().parents[2]
CONTRACT_URI = "urn:segment-public-api-contract"
ERROR_ENVELOPE = "#/schemas/RequestErrorEnvelope"
MAX_ERRORS_PER_EXCHANGE = 3


def contract_path() -> Path:
    configured = os.environ.get(CONTRACT_ENV)
    return Path(configured) if configured else REPO.parent / "shared" / "segment-api" / "contract.json"


def missing_contract_reason(path: Path) -> str:
    return f"contract.json not found at {path}: contract checks need ../shared beside the checkout"


def load_contract(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def documented_leniency(body: Any) -> Any:
    """``body`` with what the emulator deliberately accepts beyond the contract put back in contract form.

    The one case: a Reverse ETL schedule strategy in lower case. Segment's reference pages write it so, the
    SDK (and so the contract) only knows upper case; the emulator accepts both.
    """
    changes = body.get("input") if isinstance(body, dict) else None
    schedule = changes.get("reverseETLSchedule") if isinstance(changes, dict) else None
    if not (isinstance(schedule, dict) and isinstance(schedule.get("strategy"), str)):
        return body
    normalised = copy.deepcopy(body)
    normalised["input"]["reverseETLSchedule"]["strategy"] = schedule["strategy"].upper()
    return normalised


def strict_nulls(contract: dict[str, Any]) -> dict[str, Any]:
    """``contract`` with ``null`` allowed only where it marks a property ``x-nullable``.

    The contract comes from the SDK's pydantic models, which accept ``null`` for every optional field; the API
    spec marks the fields that really take (and send) ``null`` with ``x-nullable``. Elsewhere an absent field is
    the way to say "no value", in a request and in an answer.
    """
    strict = copy.deepcopy(contract)
    for schema in strict["schemas"].values():
        for name, prop in (schema.get("properties") or {}).items():
            branches = prop.get("anyOf")
            if prop.get("x-nullable") or not isinstance(branches, list):
                continue
            kept = [b for b in branches if b != {"type": "null"}]
            if len(kept) < len(branches) and kept:
                rest = {k: v for k, v in prop.items() if k not in ("anyOf", "default")}
                schema["properties"][name] = (
                    {**rest, **kept[0]} if len(kept) == 1 else {**rest, "anyOf": kept}
                )
    return strict


class ContractSchemas:
    """jsonschema validators for ``#/schemas/<Name>`` references of the contract, built once each; ``null`` is
    valid only where the contract marks a property ``x-nullable`` (see ``strict_nulls``)."""

    def __init__(self, contract: dict[str, Any]) -> None:
        contract = strict_nulls(contract)
        resource = Resource.from_contents(contract, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource(CONTRACT_URI, resource)
        self._validators: dict[str, Draft202012Validator] = {}
        self._lock = threading.Lock()

    def problems(self, reference: str, instance: Any) -> list[str]:
        """Why ``instance`` does not match the schema ``reference`` (``#/schemas/Name``); [] when it does."""
        validator = self._validator(reference)
        found = []
        for error in validator.iter_errors(instance):
            # anyOf failures (every nullable field) say little; the best match inside them names the cause.
            cause = best_match([error]) or error
            where = "/".join(str(part) for part in cause.absolute_path) or "(root)"
            found.append(f"{where}: {cause.message[:300]}")
            if len(found) == MAX_ERRORS_PER_EXCHANGE:
                break
        return found

    def _validator(self, reference: str) -> Draft202012Validator:
        with self._lock:
            if reference not in self._validators:
                schema = {"$ref": CONTRACT_URI + reference}
                self._validators[reference] = Draft202012Validator(schema, registry=self._registry)
            return self._validators[reference]


class ContractRecorder:
    """Checks exchanges as they happen; keeps the violations for the end of the session."""

    def __init__(self, contract: dict[str, Any] | None) -> None:
        self.contract = contract
        self._schemas = ContractSchemas(contract) if contract is not None else None
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        self.checked = 0
        self.violations: list[str] = []
        self.reported = 0
        """How many violations a test has already shown."""

    @property
    def enabled(self) -> bool:
        return self._schemas is not None

    def record(self, exchange: RecordedRequest) -> None:
        if self._schemas is None or exchange.operation_id is None:
            return
        found = list(self._problems(exchange))
        # Emulators run in the test's own process, so the test running now is the one that sent the exchange.
        during = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
        if during:
            found = [f"{problem} [during {during}]" for problem in found]
        with self._lock:
            self.checked += 1
            self.violations.extend(found)

    def unreported(self) -> list[str]:
        with self._lock:
            return self.violations[self.reported :]

    def mark_reported(self) -> None:
        with self._lock:
            self.reported = len(self.violations)

    def _problems(self, exchange: RecordedRequest) -> Iterator[str]:
        assert self.contract is not None
        label = f"{exchange.operation_id} {exchange.method} {exchange.path} -> {exchange.status}"
        operation = self.contract["operations"].get(exchange.operation_id)
        if operation is None:
            yield f"{label}: the contract has no operation {exchange.operation_id}"
            return
        variants = operation.get("bodyVariantsByVersion", {})
        variant = variants.get(exchange.version or "") or variants.get("v1") or {}
        if exchange.committed and operation.get("requestSchemaRef"):
            reference = variant.get("request") or operation["requestSchemaRef"]
            yield from self._check(label, "request body", reference, documented_leniency(exchange.body))
        # Injected answers are the test's own, not the emulator's.
        if exchange.status is None or exchange.fault not in (None, "hang"):
            return
        reference = self._response_reference(operation, variant, exchange.status)
        if reference is None:
            successes = ", ".join(operation["successStatus"])
            yield f"{label}: success status {exchange.status} is not the contract's ({successes})"
            return
        yield from self._check(label, "response", reference, exchange.response_body)

    @staticmethod
    def _response_reference(operation: dict[str, Any], variant: dict[str, Any], status: int) -> str | None:
        code = str(status)
        if 200 <= status < 300:
            found: str | None = variant.get("responses", {}).get(code) or operation["responses"].get(code)
            return found
        # Statuses the SDK does not list (401, 409, 415, 5xx) use Segment's documented error envelope.
        return str(operation["responses"].get(code, ERROR_ENVELOPE))

    def _check(self, label: str, what: str, reference: str, instance: Any) -> Iterator[str]:
        assert self._schemas is not None
        # Identical documents (catalog pages above all) are validated once.
        fingerprint = hashlib.sha256(
            f"{reference}\n{json.dumps(instance, sort_keys=True)}".encode()
        ).hexdigest()
        with self._lock:
            if fingerprint in self._seen:
                return
        problems = self._schemas.problems(reference, instance)
        if not problems:
            with self._lock:
                self._seen.add(fingerprint)
        schema_name = reference.rsplit("/", 1)[-1]
        for problem in problems:
            yield f"{label}: {what} does not match {schema_name}: {problem}"


_RECORDER: ContractRecorder | None = None
_RECORDER_LOCK = threading.Lock()


def session_recorder() -> ContractRecorder:
    """The recorder of this test session (disabled when the contract is absent)."""
    global _RECORDER
    with _RECORDER_LOCK:
        if _RECORDER is None:
            _RECORDER = ContractRecorder(load_contract(contract_path()))
        return _RECORDER
