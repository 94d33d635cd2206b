"""A registration the engine cancelled (another resource failed) ends as a one-line RunError, not a traceback."""

from __future__ import annotations

import grpc
import pulumi
from pulumi.runtime import settings

from flex_program.program import quiet_cancelled_registrations


class _Answer(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


def test_a_cancelled_registration_is_a_run_error_and_other_answers_keep_their_meaning() -> None:
    installed = settings.grpc_error_to_exception  # an earlier test may have run the program already
    settings.grpc_error_to_exception = getattr(installed, "sdk_original", installed)
    try:
        before = settings.grpc_error_to_exception(_Answer(grpc.StatusCode.CANCELLED, "context canceled"))
        assert not isinstance(before, pulumi.RunError)

        quiet_cancelled_registrations()
        quiet_cancelled_registrations()  # once only, however often the program is loaded

        cancelled = settings.grpc_error_to_exception(_Answer(grpc.StatusCode.CANCELLED, "context canceled"))
        assert isinstance(cancelled, pulumi.RunError)
        assert "cancelled the deployment" in str(cancelled)
        other = settings.grpc_error_to_exception(_Answer(grpc.StatusCode.INTERNAL, "boom"))
        assert type(other) is Exception and str(other) == "boom"
        gone = settings.grpc_error_to_exception(_Answer(grpc.StatusCode.UNAVAILABLE, ""))
        assert isinstance(gone, pulumi.RunError)
    finally:
        settings.grpc_error_to_exception = installed
