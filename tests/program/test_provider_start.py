"""The program asks the engine for the dynamic provider's process once its configuration is valid: one Invoke
of a function of the ``pulumi-python`` package, from a thread of its own, whose error answer is the expected one.
Under the real CLI, ``tests/e2e/test_cli_lifecycle.py`` checks that the engine then starts the provider before
the first Segment object arrives, and only one."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from pulumi.runtime import mocks
from pulumi.runtime.proto import resource_pb2_grpc

from flex_program import provider_start
from tests.program.sdk_context import with_sdk_settings


class DynamicProviderMonitor(resource_pb2_grpc.ResourceMonitorServicer):
    """A resource monitor that answers every Invoke as the engine does for Pulumi's dynamic provider, once
    ``answering`` is set."""

    def __init__(self) -> None:
        self.requests: list[Any] = []
        self.arrived = threading.Event()
        self.answering = threading.Event()

    def Invoke(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.requests.append(request)
        self.arrived.set()
        self.answering.wait(timeout=30)
        context.abort(
            grpc.StatusCode.UNKNOWN,
            f"invocation of {request.tok} returned an error: Invoke is not implemented by the dynamic provider",
        )


@pytest.fixture
def monitor() -> Iterator[tuple[DynamicProviderMonitor, str]]:
    servicer = DynamicProviderMonitor()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    resource_pb2_grpc.add_ResourceMonitorServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        servicer.answering.set()
        server.stop(grace=None)


@pytest.fixture
def thread_errors(monkeypatch: pytest.MonkeyPatch) -> list[BaseException | None]:
    """Exceptions that escaped a thread (threading's hook would only print them)."""
    escaped: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: escaped.append(args.exc_value))
    return escaped


def started_with(
    monitor: Any, start: Callable[[], threading.Thread | None] | None = None, *, dry_run: bool = False
) -> threading.Thread | None:
    """``start()`` (``start_provider_early``) where the SDK's settings hold ``monitor``, in a preview or an
    update (the test's own context untouched)."""
    return with_sdk_settings(start or provider_start.start_provider_early, monitor=monitor, dry_run=dry_run)


def test_one_invoke_of_the_dynamic_package_without_a_version_and_its_error_answer_ends_the_thread_quietly(
    monitor: tuple[DynamicProviderMonitor, str], thread_errors: list[BaseException | None]
) -> None:
    servicer, address = monitor
    with grpc.insecure_channel(address) as channel:
        thread = started_with(resource_pb2_grpc.ResourceMonitorStub(channel))
        assert thread is not None and thread.daemon
        assert servicer.arrived.wait(timeout=30)
        # The caller went on while the engine had not answered: the program never waits for the provider here.
        assert thread.is_alive()
        servicer.answering.set()
        thread.join(timeout=30)
        assert not thread.is_alive()

    [request] = servicer.requests
    # Every dynamic resource's type is pulumi-python:dynamic/<module>:<name>: the same package, so the engine
    # starts the provider the Segment objects use.
    package, module, function = request.tok.split(":")
    assert package == "pulumi-python" and module and function
    # The engine keys a package's default provider by version, download URL and parameterization as well; the
    # objects' registrations send none, so neither may this request.
    assert (request.version, request.pluginDownloadURL, request.provider) == ("", "", "")
    assert not request.HasField("args") or dict(request.args) == {}
    assert thread_errors == []


def test_an_engine_that_is_gone_ends_the_thread_quietly(thread_errors: list[BaseException | None]) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    # Nothing listens there any more: the connection is refused, as when the engine has exited.
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        thread = started_with(resource_pb2_grpc.ResourceMonitorStub(channel))
        assert thread is not None
        thread.join(timeout=provider_start.ANSWER_TIMEOUT + 30)
        assert not thread.is_alive()
    assert thread_errors == []


class NoMocks(mocks.Mocks):
    def call(self, args: mocks.MockCallArgs) -> Any:
        raise AssertionError(f"invoked {args.token}")

    def new_resource(self, args: mocks.MockResourceArgs) -> Any:
        raise AssertionError(f"registered {args.name}")


def test_nothing_is_sent_outside_the_engine() -> None:
    assert started_with(mocks.MockMonitor(NoMocks())) is None
    assert started_with(None) is None


def test_a_connection_is_asked_once_and_a_preview_asks_as_the_program_starts_an_update_later(
    monitor: tuple[DynamicProviderMonitor, str],
) -> None:
    servicer, address = monitor
    servicer.answering.set()
    with grpc.insecure_channel(address) as channel:
        update = resource_pb2_grpc.ResourceMonitorStub(channel)
        # An update's program start: its configuration is not checked yet, so nothing goes.
        assert started_with(update, provider_start.start_provider_for_a_preview) is None
        first = started_with(update)
        assert first is not None
        first.join(timeout=30)
        assert started_with(update) is None, "asked once per engine connection"

        preview = resource_pb2_grpc.ResourceMonitorStub(channel)
        early = started_with(preview, provider_start.start_provider_for_a_preview, dry_run=True)
        assert early is not None
        early.join(timeout=30)
        assert started_with(preview, dry_run=True) is None, "the check after the configuration asks no more"

    assert [request.tok for request in servicer.requests] == [provider_start.START_REQUEST] * 2
