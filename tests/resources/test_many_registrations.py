"""A program may register more dynamic resources than Python's recursion limit: Pulumi's SDK leaves a wrapper on
``pickle._Pickler._batch_setitems`` after pickling each provider, and the next one wraps it again, until pickling
raises RecursionError (at about 985 in one program). Each kind's resource class puts the unwrapped one back."""

from __future__ import annotations

import pickle
from typing import Any

import pulumi
import pulumi.dynamic.dynamic
import pulumi.runtime
import pytest
from pulumi.dynamic import CreateResult, ResourceProvider

from segment_provider.resources.base import _UNWRAPPED_BATCH_SETITEMS, SegmentResource

REGISTRATIONS = 1_500


class NothingProvider(ResourceProvider):
    def __init__(self) -> None:
        self.settings = {"kind": "probe"}  # pickling a dict is what goes through the wrapped function

    def create(self, props: Any) -> CreateResult:
        return CreateResult(id_="nothing", outs={})


class Probe(SegmentResource, module="test", name="Probe"):
    def __init__(self, name: str) -> None:
        super().__init__(NothingProvider(), name, {})


class AnswerAll(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


def test_more_registrations_than_the_recursion_limit_all_pickle_their_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The SDK's own function, as a program run by the engine has it (the test harness wraps it when loaded).
    sdk = pulumi.dynamic.dynamic.serialize_provider
    monkeypatch.setattr(pulumi.dynamic.dynamic, "serialize_provider", getattr(sdk, "__wrapped__", sdk))
    pulumi.runtime.set_mocks(AnswerAll(), preview=False)
    for n in range(REGISTRATIONS):
        Probe(f"probe-{n}")
        assert pickle._Pickler._batch_setitems is _UNWRAPPED_BATCH_SETITEMS  # type: ignore[attr-defined]
