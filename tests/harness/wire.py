"""The engine's wire format for dynamic providers: type tokens, pickled provider, property structs, secrets.

Everything here calls the Pulumi SDK's own functions, so values take exactly the shape they take between the
real engine and the provider server: ints come back as floats, keys whose value is ``None`` disappear, secrets
travel as ``{"4dabf…": "1b47…", "value": …}`` wrappers and unknowns as a sentinel string that deserializes to
``pulumi.output.Unknown``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import functools
import pickle
import threading
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

import pulumi.dynamic
import pulumi.dynamic.dynamic
from google.protobuf import struct_pb2
from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi.runtime._serialization import _serialize

PROVIDER_KEY = "__provider"
DYNAMIC_TYPE_PREFIX = "pulumi-python:dynamic"

ProviderRef = pulumi.dynamic.ResourceProvider | str
"""A provider object, or the base64 blob ``pulumi.dynamic.Resource`` already made of one."""

TypeRef = str | type[pulumi.dynamic.Resource]
"""A type token, or the ``pulumi.dynamic.Resource`` subclass whose token it is."""

T = TypeVar("T")


def _pickler_restoring(serialize: Any) -> Any:
    """The SDK's ``serialize_provider``, leaving the pure-Python pickler as it found it.

    The SDK wraps ``pickle._Pickler._batch_setitems`` in a sorting shim on every call and never unwraps it, and
    the nested wrappers end in a RecursionError. The program's own resource classes put the unwrapped function
    back after each registration (``SegmentResource``); this test process also pickles providers directly and
    runs test-only dynamic resources, thousands of times. One lock, as the SDK's shim is process-global state.
    """
    if getattr(serialize, "_restores_pickler", False):
        return serialize
    lock = threading.Lock()

    @functools.wraps(serialize)
    def serialize_and_restore(provider: Any) -> str:
        with lock:
            saved = pickle._Pickler._batch_setitems, pickle._Pickler.save_dict  # type: ignore[attr-defined]
            try:
                return str(serialize(provider))
            finally:
                pickle._Pickler._batch_setitems, pickle._Pickler.save_dict = saved  # type: ignore[attr-defined]

    serialize_and_restore._restores_pickler = True  # type: ignore[attr-defined]
    return serialize_and_restore


# ``pulumi.dynamic.Resource.__init__`` looks the function up in its module, so the programs the harness runs in
# this process get the restoring version too.
pulumi.dynamic.dynamic.serialize_provider = _pickler_restoring(pulumi.dynamic.dynamic.serialize_provider)
sdk_serialize_provider = pulumi.dynamic.dynamic.serialize_provider


def type_token(type_: TypeRef) -> str:
    """``pulumi-python:dynamic/<module>:<name>`` for a subclass declared with ``module=…, name=…``."""
    if isinstance(type_, str):
        return type_
    return f"pulumi-python:{type_._resource_type_name}"


def is_dynamic_type(type_: str) -> bool:
    return type_.startswith(DYNAMIC_TYPE_PREFIX)


def serialize_provider(provider: pulumi.dynamic.ResourceProvider) -> str:
    """The ``__provider`` blob, made the way ``pulumi.dynamic.Resource.__init__`` makes it (dill, base64)."""
    blob, _contained_secrets = _serialize(True, sdk_serialize_provider, provider)
    return blob


def provider_blob(provider: ProviderRef) -> str:
    return provider if isinstance(provider, str) else serialize_provider(provider)


def decode_provider_blob(blob: ProviderRef | Mapping[str, Any]) -> bytes:
    """The pickled bytes inside a ``__provider`` value, so a test can assert that no credential is in them.

    Accepts the blob string, a secret-wrapped blob (as found in registered inputs) or a provider object.
    """
    if isinstance(blob, Mapping):
        blob = rpc.unwrap_rpc_secret(dict(blob))
    if isinstance(blob, pulumi.dynamic.ResourceProvider):
        blob = serialize_provider(blob)
    if not isinstance(blob, str):
        raise TypeError(f"not a serialized provider: {type(blob).__name__}")
    try:
        return base64.b64decode(blob, validate=True)
    except binascii.Error as error:
        raise ValueError("not a base64 provider blob") from error


def to_struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    """Serialize properties with the SDK's ``serialize_properties`` (what the engine puts on the wire)."""
    return run_coroutine(rpc.serialize_properties(dict(props), {}))


def from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    """Deserialize a provider response as the engine sees it: unknowns kept, ints as floats."""
    props = rpc.deserialize_properties(struct, keep_unknowns=True)
    return dict(props) if isinstance(props, Mapping) else {}


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run an SDK coroutine to completion from synchronous code, even inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _run_in_fresh_loop(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(_run_in_fresh_loop, coroutine).result()


def _run_in_fresh_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


def secret(value: Any) -> Any:
    """Mark a value secret the way it travels over RPC."""
    return rpc.wrap_rpc_secret(value)


def contains_secret(value: Any) -> bool:
    if rpc.is_rpc_secret(value):
        return True
    if isinstance(value, Mapping):
        return any(contains_secret(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(contains_secret(item) for item in value)
    return False


def strip_secrets(value: Any) -> Any:
    """Remove every secret marker: the dynamic provider server answers Configure with
    ``acceptSecrets: False``, so the engine sends it plain values."""
    if rpc.is_rpc_secret(value):
        return strip_secrets(value["value"])
    if isinstance(value, Mapping):
        return {key: strip_secrets(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [strip_secrets(item) for item in value]
    return value


def secret_keys_of(props: Mapping[str, Any]) -> frozenset[str]:
    """Top-level keys holding a secret anywhere inside their value."""
    return frozenset(key for key, value in props.items() if contains_secret(value))


def is_unknown(value: Any) -> bool:
    return isinstance(value, Unknown) or value == rpc.UNKNOWN


def contains_unknowns(value: Any) -> bool:
    if is_unknown(value):
        return True
    if isinstance(value, Mapping):
        return any(contains_unknowns(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(contains_unknowns(item) for item in value)
    return False
