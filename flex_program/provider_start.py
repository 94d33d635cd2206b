"""Asks the engine for the Segment objects' provider process once the stack's configuration is valid, so the
process starts while the preflight reads from Segment, instead of after.

The engine starts the ``pulumi-python`` provider process (where Pulumi's SDK serves every dynamic resource's check,
diff, create, read and delete) at the program's first request for that package, and waits for it: about a
quarter of a second while the process imports the SDK. The program's first Segment object comes after the
preflight's reads, so every preview and up waited that long after them. Any request for the package will do:
one Invoke of a function of the package, sent from a thread of its own, makes the engine register the package's
default provider (the one the objects then use: one process, not two) and start it. Pulumi's dynamic provider
implements no function, so the answer is an error, and that error is the expected answer: nothing is shown,
nothing reaches Segment. Sent only after the configuration checks: a stack with bad input still stops before
anything is registered, its state as before.

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
ANSWER_TIMEOUT = 60.0
"""Seconds the thread waits for the engine's answer, at most (about a quarter of a second in practice)."""


def start_provider_early() -> threading.Thread | None:
    """Sends the request from a daemon thread and returns the thread; None outside the engine."""
    monitor = settings.get_monitor()
    if not isinstance(monitor, resource_pb2_grpc.ResourceMonitorStub):
        return None
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
