"""HTTP/1.1 connections to one API address, on the standard library (``http.client`` and ``ssl``).

Every ``pulumi`` command starts the program and provider processes afresh, and each one that calls Segment
used to import ``requests`` for it (about 130 modules, 0.08 s of CPU per process) and spend most of a
call's CPU in its layers; Pulumi's SDK already imports ``http.client`` and ``ssl``. What the clients rely
on is here, and only that:

* **One connection per thread, kept open** between requests (keep-alive). Before a connection is used
  again it is checked: one the server closed while it sat idle is replaced before a request is written on
  it, so a create is never sent on a socket that is already dead.
* **Two timeouts**: ``connect_timeout`` bounds reaching the server (TCP, a proxy's tunnel, TLS);
  ``read_timeout`` bounds each read after. The total deadline of an answer is ``transport.exchange``'s.
* **Proxies from the environment**, read once per pool (one that cannot be used is a ``ConfigurationError``
  naming the variable): ``HTTPS_PROXY`` / ``ALL_PROXY`` and ``NO_PROXY`` (either case), as Python's
  ``urllib`` reads them. https goes through a ``CONNECT`` tunnel; a ``user:password@`` in the proxy's URL is
  sent as ``Proxy-Authorization`` to the proxy only. Only ``http://`` proxies are supported. This machine's
  loopback is never proxied (a proxy cannot reach it), and plain http goes nowhere else
  (``transport.endpoint_problem``), so ``HTTP_PROXY`` is never used: a local emulator is reached straight
  behind a corporate proxy, as Go's ``net/http`` does for loopback.
* **TLS verified** against the CA bundle named by ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` (a file or a
  folder), else certifi's bundle (as ``requests`` did), else the system's.
* **gzip** is asked for (as ``requests`` did); ``Response.read_piece`` decodes an answer a bounded piece at
  a time, so the size cap of ``transport.exchange`` counts the decoded bytes (a compressed bomb is refused
  at the cap, not inflated).

Failures that leave no HTTP answer raise ``NoAnswer`` subclasses; their names say what happened
(``ConnectTimeout``, ``ReadTimeout``, ``ConnectionFailed``, ``ConnectionLost``), and their text never holds
a header, so never a token or a proxy password.
"""

from __future__ import annotations

import base64
import http.client
import importlib.util
import ipaddress
import os
import select
import ssl
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit
from urllib.request import getproxies, proxy_bypass

from segment_provider.api.errors import ConfigurationError

CA_BUNDLE_ENVS = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
"""Environment variables naming the CA bundle to trust instead of the default one (the first set wins)."""
ACCEPT_ENCODING = "gzip"
LOOPBACK_NAMES = ("localhost",)
"""Names of this machine besides its loopback addresses."""
_PIECE = 64 * 1024
_GZIP_OR_ZLIB = 32 + zlib.MAX_WBITS
"""``wbits`` that makes zlib detect a gzip or a zlib header itself."""


class NoAnswer(Exception):
    """No HTTP answer came: the connection could not be made or was lost, or a timeout ran out."""

    request_sent: bool = True
    """False when the request never left this machine (no connection was made): sending it again cannot make
    a second object, even for a create."""
    what_happened = "lost its connection"


class ConnectionFailed(NoAnswer):
    """The server (or the proxy) could not be reached, or refused the connection or the TLS handshake."""

    request_sent = False
    what_happened = "could not be reached"


class ConnectTimeout(NoAnswer):
    """The server (or the proxy) did not accept the connection within the connect timeout."""

    request_sent = False
    what_happened = "could not be reached in time"


class ReadTimeout(NoAnswer):
    """The server went silent for longer than the read timeout, after the request was sent."""

    what_happened = "timed out"


class ConnectionLost(NoAnswer):
    """The connection broke after the request was sent: the answer is missing or incomplete."""


class UndecodableAnswer(Exception):
    """The answer's ``Content-Encoding`` could not be decoded."""


class Headers(Mapping[str, str]):
    """An answer's headers, looked up in any case (a header repeated is joined with ", ")."""

    def __init__(self, pairs: Iterable[tuple[str, str]] | Mapping[str, str]) -> None:
        items = pairs.items() if isinstance(pairs, Mapping) else pairs
        self._values: dict[str, str] = {}
        self._names: dict[str, str] = {}
        for name, value in items:
            key = name.lower()
            if key in self._values:
                self._values[key] = f"{self._values[key]}, {value}"
            else:
                self._values[key] = value
                self._names[key] = name

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names.values())

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


class Response:
    """An answer whose status and headers have arrived; its body is read with ``read_piece``."""

    def __init__(self, raw: http.client.HTTPResponse, on_done: Callable[..., None]) -> None:
        self.status = raw.status
        self.headers = Headers(raw.getheaders())
        self._raw = raw
        self._on_done = on_done
        self._finished = False
        encoding = self.headers.get("Content-Encoding", "").strip().lower()
        self._decoder: Any = None
        if encoding in ("gzip", "x-gzip", "deflate"):  # zlib tells gzip from zlib-wrapped deflate
            self._decoder = zlib.decompressobj(_GZIP_OR_ZLIB)
        elif encoding not in ("", "identity"):
            raise UndecodableAnswer(encoding)

    def read_piece(self) -> bytes:
        """The next piece of the body, decoded (at most one read of the socket); b"" once it has all come."""
        decoder = self._decoder
        while not self._finished:
            if decoder is not None and decoder.unconsumed_tail:
                data = decoder.unconsumed_tail
            else:
                data = self._read_socket()
                if not data:
                    if decoder is not None and (rest := self._decode(b"")):
                        return rest
                    if decoder is not None and not decoder.eof:
                        # The body ended before the compressed stream did: it was cut short.
                        self._on_done(reusable=False)
                        raise UndecodableAnswer(self.headers.get("Content-Encoding", "unknown"))
                    self._finish()
                    return b""
            if decoder is None:
                return data
            if decoded := self._decode(data):
                return decoded
        return b""

    def _read_socket(self) -> bytes:
        try:
            return self._raw.read1(_PIECE)
        except TimeoutError:
            self._on_done(reusable=False)
            raise ReadTimeout("the server went silent while sending its answer") from None
        except (http.client.HTTPException, OSError) as error:
            self._on_done(reusable=False)
            raise ConnectionLost(type(error).__name__) from None

    def _decode(self, data: bytes) -> bytes:
        try:
            return bytes(self._decoder.decompress(data, _PIECE))
        except zlib.error:
            self._on_done(reusable=False)
            raise UndecodableAnswer(self.headers.get("Content-Encoding", "unknown")) from None

    def _finish(self) -> None:
        self._finished = True
        # http.client's read1 does not mark an answer with a Content-Length done when its last byte is read
        # (only read() does), and the connection refuses another request until it is: mark it here.
        self._raw.close()
        self._on_done(reusable=not self._raw.will_close)

    def close(self) -> None:
        """Done with the answer: a connection whose answer was not read to the end is not used again."""
        if not self._finished:
            self._finished = True
            self._raw.close()
            self._on_done(reusable=False)


class ConnectionPool:
    """Connections to one base URL, one per thread. The environment's proxy settings are read once, at the first
    request (a proxy it cannot use is a ``ConfigurationError`` then, before anything is sent); its CA bundle when
    a connection is opened (``tls_context``).

    ``headers`` are sent with every request (authorization, user agent). Safe to share between threads."""

    def __init__(self, base_url: str, headers: Mapping[str, str]) -> None:
        parts = urlsplit(base_url)
        self._scheme = parts.scheme
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._headers = {**dict(headers), "Accept-Encoding": ACCEPT_ENCODING}
        self._proxy_setting: tuple[Proxy | None] | None = None
        self._proxy_lock = threading.Lock()
        self._local = threading.local()

    @property
    def _proxy(self) -> Proxy | None:
        setting = self._proxy_setting
        if setting is None:
            with self._proxy_lock:
                setting = self._proxy_setting
                if setting is None:
                    setting = self._proxy_setting = (_proxy_for(self._scheme, self._host),)
        return setting[0]

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None,
        body: bytes | None,
        headers: Mapping[str, str],
        connect_timeout: float,
        read_timeout: float,
    ) -> Response:
        """Send one request on this thread's connection and wait for the answer's status and headers."""
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{query}" if (query := _query_string(params)) else "")
        all_headers = {**self._headers, **dict(headers)}
        connection = self._ready_connection(connect_timeout, read_timeout)
        try:
            connection.request(method, target, body=body, headers=all_headers)
            raw = connection.getresponse()
        except TimeoutError:
            self._discard(connection)
            raise ReadTimeout("no answer within the read timeout") from None
        except (http.client.HTTPException, OSError) as error:
            self._discard(connection)
            raise ConnectionLost(type(error).__name__) from None

        def done(*, reusable: bool) -> None:
            if not reusable:
                self._discard(connection)

        try:
            return Response(raw, done)
        except UndecodableAnswer:
            raw.close()
            self._discard(connection)
            raise

    def _ready_connection(self, connect_timeout: float, read_timeout: float) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is not None and _still_open(connection):
            connection.sock.settimeout(read_timeout)
            return connection
        if connection is not None:
            connection.close()
        connection = self._new_connection(connect_timeout)
        try:
            connection.connect()
        except TimeoutError:
            connection.close()
            raise ConnectTimeout(f"no connection within {connect_timeout:g} s") from None
        except OSError as error:
            connection.close()
            raise ConnectionFailed(type(error).__name__) from None
        connection.sock.settimeout(read_timeout)
        self._local.connection = connection
        return connection

    def _new_connection(self, connect_timeout: float) -> http.client.HTTPConnection:
        proxy = self._proxy
        host, port = (proxy.host, proxy.port) if proxy is not None else (self._host, self._port)
        connection: http.client.HTTPConnection
        if self._https:
            connection = http.client.HTTPSConnection(
                host, port, timeout=connect_timeout, context=tls_context()
            )
            if proxy is not None:
                connection.set_tunnel(self._host, self._port, headers=proxy.authorization)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=connect_timeout)
        return connection

    def _discard(self, connection: http.client.HTTPConnection) -> None:
        connection.close()
        if getattr(self._local, "connection", None) is connection:
            self._local.connection = None


def _still_open(connection: http.client.HTTPConnection) -> bool:
    """Whether an idle connection can carry another request: nothing may be readable on it (a server that
    closed it has sent EOF, which reads as readable)."""
    sock = connection.sock
    if sock is None:
        return False
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return not poller.poll(0)
        readable, _, _ = select.select([sock], [], [], 0)
        return not readable
    except (OSError, ValueError):
        return False


def _query_string(params: Mapping[str, Any] | None) -> str:
    if not params:
        return ""
    return urlencode([(key, value) for key, value in params.items() if value is not None], doseq=True)


# ------------------------------------------------------------------------------------------------ proxies


class Proxy:
    def __init__(self, host: str, port: int, authorization: dict[str, str]) -> None:
        self.host = host
        self.port = port
        self.authorization = authorization


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine: ``localhost``, or an address in 127.0.0.0/8 or ``::1``."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _proxy_for(scheme: str, host: str) -> Proxy | None:
    """The proxy the environment names for an https ``host``, or None: none set, ``NO_PROXY``, or this machine
    (plain http only ever goes to this machine)."""
    if scheme != "https" or is_loopback(host):
        return None
    proxies = getproxies()
    address = proxies.get("https") or proxies.get("all")
    if not address or proxy_bypass(host):
        return None
    if "://" not in address:
        address = f"http://{address}"
    parts = urlsplit(address)
    variable = "HTTPS_PROXY" if proxies.get("https") else "ALL_PROXY"
    if parts.scheme != "http" or not parts.hostname:
        raise ConfigurationError(
            f"{variable} is set to a {parts.scheme or 'schemeless'} proxy; only http:// proxies are "
            f"supported (https to Segment still goes through it encrypted, in a CONNECT tunnel). Set "
            f"{variable} to http://host:port, or add {host} to NO_PROXY.",
            key=variable,
        )
    try:
        port = parts.port or 80
    except ValueError:
        raise ConfigurationError(
            f"{variable} holds a port that is not a number: set it to http://host:port.", key=variable
        ) from None
    authorization: dict[str, str] = {}
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        authorization["Proxy-Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    return Proxy(parts.hostname, port, authorization)


# ---------------------------------------------------------------------------------------------------- TLS


def tls_context() -> ssl.SSLContext:
    """The verifying TLS context for the CA bundle the environment names now (one per bundle per process)."""
    named = next((os.environ[name] for name in CA_BUNDLE_ENVS if os.environ.get(name)), None)
    return _tls_context(named or _certifi_bundle())


@lru_cache(maxsize=4)
def _tls_context(bundle: str | None) -> ssl.SSLContext:
    if bundle is not None and Path(bundle).is_dir():
        return ssl.create_default_context(capath=bundle)
    return ssl.create_default_context(cafile=bundle)


@lru_cache(maxsize=1)
def _certifi_bundle() -> str | None:
    """certifi's ``cacert.pem``, found without importing certifi (its import alone costs more than a call)."""
    spec = importlib.util.find_spec("certifi")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        bundle = Path(folder) / "cacert.pem"
        if bundle.is_file():
            return str(bundle)
    return None


__all__ = [
    "CA_BUNDLE_ENVS",
    "ConnectTimeout",
    "ConnectionFailed",
    "ConnectionLost",
    "ConnectionPool",
    "Headers",
    "NoAnswer",
    "ReadTimeout",
    "Response",
    "UndecodableAnswer",
    "tls_context",
]
