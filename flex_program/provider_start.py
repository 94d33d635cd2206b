"""Asks the engine for the Segment objects' provider process early, so it starts while the program imports and
runs the preflight, instead of after.

The engine starts the ``pulumi-python`` provider process (where Pulumi's SDK serves every dynamic resource's check,
diff, create, read and delete) at the program's first request for that package, and waits for it: about a
quarter of a second while the process imports the SDK. The program's first Segment object comes after its
imports and the preflight's reads, so every preview and up waited that long after them. Any request for the
package will do: one Invoke of a function of the package, sent from a thread of its own, makes the engine
register the package's default provider (the one the objects then use: one process, not two) and start it.
Pulumi's dynamic provider implements no function, so the answer is an error, and that error is the expected
answer: nothing is shown, nothing reaches Segment.

When: in a preview, as the program starts (``start_provider_for_a_preview``, from ``__main__.py``): a preview
writes no state. In an update, once the stack's configuration and API settings are valid
(``start_provider_early``, from ``program.run``): registering the default provider records it in the state, and a
new stack that stops on bad input keeps no record of anything. Once per engine connection.

Outside the engine (the unit tests' mocks) nothing is sent. Figures: ``benchmarks/README.md``.
"""

from __future__ import annotations

import contextlib
import threading

import grpc
from google.protobuf import struct_pb2
from pulumi.runtime import settings
from pulumi.runtime.proto import resource_pb2, resource_pb2_grpc

PROVIDER_PACKAGE = "pulumi-python"
"""The package of every dynamic resource: its type is ``pulumi-python:dynamic/<module>:<name>``."""
START_REQUEST = f"{PROVIDER_PACKAGE}:dynamic:startProvider"
"""The function invoked: any in the package would do; the provider implements none."""
REQUESTED_MARK = "flex_provider_requested"
"""The attribute that marks an engine connection whose provider was asked for."""
ANSWER_TIMEOUT = 60.0
"""Seconds the thread waits for the engine's answer, at most (about a quarter of a second in practice)."""


def start_provider_for_a_preview() -> threading.Thread | None:
    """``start_provider_early()`` in a preview; None in an update (its configuration is not checked yet)."""
    return start_provider_early() if settings.is_dry_run() else None


def start_provider_early() -> threading.Thread | None:
    """Sends the request from a daemon thread and returns the thread; None outside the engine or when this
    engine connection was asked already."""
    monitor = settings.get_monitor()
    if not isinstance(monitor, resource_pb2_grpc.ResourceMonitorStub):
        return None
    # Marked on the connection itself: a process has one, a test's engine stand-ins one each.
    if getattr(monitor, REQUESTED_MARK, False):
        return None
    setattr(monitor, REQUESTED_MARK, True)
    thread = threading.Thread(target=_request_provider, args=(monitor,), name="start-provider", daemon=True)
    thread.start()
    return thread


def _request_provider(monitor: resource_pb2_grpc.ResourceMonitorStub) -> None:
    # No version, download URL or parameterization: the engine keys its default providers by them, and the
    # objects' registrations send none either, so both name the same provider.
    request = resource_pb2.ResourceInvokeRequest(tok=START_REQUEST, args=struct_pb2.Struct())
    # The answer: "Invoke is not implemented by the dynamic provider" (the provider started), or the run ended.
    with contextlib.suppress(grpc.RpcError):
        monitor.Invoke(request, timeout=ANSWER_TIMEOUT)
