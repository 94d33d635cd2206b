"""The HTTP connections under both API clients (``segment_provider/api/connections.py``), against loopback
servers of the test's own that answer in ways the emulator does not: compressed and broken answers, a
keep-alive connection closed while idle, a proxy, a TLS certificate nobody named.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import gzip
import ipaddress
import json
import socket
import ssl
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from segment_provider.api import (
    ClientSettings,
    ConfigurationError,
    OutcomeUnknownError,
    SegmentClient,
    TransportError,
    connections,
)
from segment_provider.api.transport import Limits, ResponseRefusedError, exchange

TOKEN = "sgp_" + "T0k3n" * 8
PROXY_PASSWORD = "pr0xy-p@ss"
WORKSPACE = {"workspace": {"id": "ws1", "name": "Acme", "slug": "acme"}}
LIMITS = Limits(connect_timeout=5, read_timeout=5, max_response_bytes=1024 * 1024)


def answer(body: bytes, *, status: str = "200 OK", headers: dict[str, str] | None = None) -> bytes:
    head = {"Content-Type": "application/json", "Content-Length": str(len(body)), **(headers or {})}
    lines = [f"HTTP/1.1 {status}", *(f"{name}: {value}" for name, value in head.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def data_answer(document: Any = WORKSPACE) -> bytes:
    return answer(json.dumps({"data": document}).encode())


class CannedServer:
    """A loopback HTTP/1.1 server answering each request with ``respond(request head)``, keeping connections
    open unless ``close_after`` says otherwise. Records every request head and counts connections."""

    def __init__(
        self,
        respond: Callable[[bytes], bytes],
        *,
        close_after: Callable[[int], bool] = lambda _: False,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.port = self._socket.getsockname()[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.heads: list[bytes] = []
        self.connections = 0
        self.closed = threading.Event()
        self._respond = respond
        self._close_after = close_after
        self._tls = tls
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while self._socket.fileno() != -1:
            try:
                connection, _ = self._socket.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._converse, args=(connection,), daemon=True).start()

    def _converse(self, connection: socket.socket) -> None:
        with contextlib.suppress(OSError), contextlib.closing(connection):
            connection.settimeout(5)
            stream = self._tls.wrap_socket(connection, server_side=True) if self._tls else connection
            buffered = b""
            while True:
                while b"\r\n\r\n" not in buffered:
                    piece = stream.recv(65536)
                    if not piece:
                        return
                    buffered += piece
                head, _, buffered = buffered.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                while len(buffered) < length:
                    buffered += stream.recv(65536)
                buffered = buffered[length:]
                self.heads.append(head)
                stream.sendall(self._respond(head))
                if self._close_after(len(self.heads)):
                    stream.close()
                    self.closed.set()
                    return

    def header(self, index: int, name: str) -> str | None:
        for line in self.heads[index].split(b"\r\n")[1:]:
            key, _, value = line.decode().partition(":")
            if key.lower() == name.lower():
                return value.strip()
        return None

    def close(self) -> None:
        self._socket.close()
        self._thread.join(timeout=2)


@pytest.fixture
def serve() -> Iterator[Callable[..., CannedServer]]:
    servers: list[CannedServer] = []

    def start(respond: Callable[[bytes], bytes], **options: Any) -> CannedServer:
        servers.append(CannedServer(respond, **options))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", *connections.CA_BUNDLE_ENVS):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def client_of(url: str, *, retries: int = 0, sleeps: list[float] | None = None) -> SegmentClient:
    settings = ClientSettings.resolve(
        token=TOKEN, endpoint=url, env={"SEGMENT_API_PACING": "off"}, max_retries=retries, read_timeout=5
    )
    return SegmentClient(settings, sleep=(sleeps if sleeps is not None else []).append)


def get(url: str) -> Any:
    return exchange(
        connections.ConnectionPool(url, {}),
        "GET",
        url + "/",
        operation="getWorkspace",
        limits=LIMITS,
        advice="",
    )


# ---------------------------------------------------------------------------------------------- compression


def test_a_gzip_answer_is_asked_for_and_decoded(serve: Callable[..., CannedServer]) -> None:
    body = gzip.compress(json.dumps({"data": WORKSPACE}).encode())
    server = serve(lambda _: answer(body, headers={"Content-Encoding": "gzip"}))

    assert client_of(server.url).call("getWorkspace") == WORKSPACE
    assert server.header(0, "Accept-Encoding") == "gzip"


def test_a_compressed_bomb_is_refused_at_the_cap_counted_decoded(serve: Callable[..., CannedServer]) -> None:
    bomb = gzip.compress(b"0" * (8 * LIMITS.max_response_bytes))
    assert len(bomb) < LIMITS.max_response_bytes // 50
    server = serve(lambda _: answer(bomb, headers={"Content-Encoding": "gzip"}))

    tracemalloc.start()
    try:
        with pytest.raises(ResponseRefusedError) as caught:
            get(server.url)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert "larger than 1 MB" in str(caught.value)
    assert peak < 4 * LIMITS.max_response_bytes  # decoded a piece at a time, not all 8 MB at once


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", b"\x1f\x8b\x08\x00 this is not deflate data"),
        ("gzip", gzip.compress(b'{"data": {}}')[:-12]),
        ("br", b"\x0b\x02\x80{}\x03"),
    ],
    ids=["corrupt", "cut-short", "not-asked-for"],
)
def test_an_answer_that_cannot_be_decompressed_is_refused_naming_the_encoding(
    serve: Callable[..., CannedServer], encoding: str, body: bytes
) -> None:
    server = serve(lambda _: answer(body, headers={"Content-Encoding": encoding}))

    with pytest.raises(ResponseRefusedError) as caught:
        get(server.url)

    assert f"could not be decompressed ({encoding})" in str(caught.value)


# ------------------------------------------------------------------------------------------------ keep-alive


def test_a_kept_open_connection_carries_the_next_calls(serve: Callable[..., CannedServer]) -> None:
    server = serve(lambda _: data_answer())
    client = client_of(server.url)

    for _ in range(3):
        client.call("getWorkspace")

    assert (len(server.heads), server.connections) == (3, 1)


def test_a_connection_the_server_closed_while_idle_is_replaced_before_a_create_is_sent(
    serve: Callable[..., CannedServer],
) -> None:
    # A load balancer closes idle connections. Writing a create on such a socket loses it with an unknown
    # outcome; the pool must see the close and open a new connection first.
    server = serve(lambda _: data_answer({"source": {"id": "s1"}}), close_after=lambda count: count == 1)
    client = client_of(server.url)
    client.call("getWorkspace")
    assert server.closed.wait(5)

    created = client.call("createSource", body={"slug": "s", "metadataId": "m", "enabled": True})

    assert created == {"source": {"id": "s1"}}
    assert [head.split(b" ")[0] for head in server.heads] == [b"GET", b"POST"]
    assert server.connections == 2


def test_a_create_that_never_left_is_sent_again_and_its_failure_is_not_an_unknown_outcome() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"  # nothing listens here
    sleeps: list[float] = []

    with pytest.raises(TransportError) as caught:
        client_of(url, retries=2, sleeps=sleeps).call("createSource", body={"slug": "s", "metadataId": "m"})

    assert not isinstance(caught.value, OutcomeUnknownError)
    assert len(sleeps) == 2
    assert f"createSource at {url} could not be reached (ConnectionFailed)" in str(caught.value)


def test_a_create_whose_connection_broke_after_it_was_sent_is_an_unknown_outcome(
    serve: Callable[..., CannedServer],
) -> None:
    server = serve(lambda _: b"", close_after=lambda _: True)
    sleeps: list[float] = []

    with pytest.raises(OutcomeUnknownError) as caught:
        client_of(server.url, retries=2, sleeps=sleeps).call(
            "createSource", body={"slug": "s", "metadataId": "m"}
        )

    assert (len(server.heads), sleeps) == (1, [])
    assert "lost its connection (ConnectionLost)" in str(caught.value)


# --------------------------------------------------------------------------------------------------- proxies


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_this_machine_is_never_proxied(
    serve: Callable[..., CannedServer], monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    """A corporate proxy cannot reach the user's own loopback: a local emulator is reached straight."""
    proxy = serve(lambda _: data_answer({"wrong": "way"}))
    server = serve(lambda _: data_answer())
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(variable, f"http://127.0.0.1:{proxy.port}")

    assert client_of(f"http://{host}:{server.port}").call("getWorkspace") == WORKSPACE
    assert (len(server.heads), proxy.heads) == (1, [])
    assert connections._proxy_for("https", "::1") is None
    assert connections._proxy_for("https", "127.0.0.2") is None


def test_https_goes_through_a_connect_tunnel_and_a_refusal_holds_no_password(
    serve: Callable[..., CannedServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = serve(
        lambda _: answer(b"", status="407 Proxy Authentication Required"), close_after=lambda _: True
    )
    monkeypatch.setenv(
        "HTTPS_PROXY", f"http://ops:{PROXY_PASSWORD.replace('@', '%40')}@127.0.0.1:{proxy.port}"
    )

    with pytest.raises(TransportError) as caught:
        client_of("https://api.segmentapis.com").call("getWorkspace")

    assert proxy.heads[0].split(b"\r\n")[0] == b"CONNECT api.segmentapis.com:443 HTTP/1.0"
    credentials = base64.b64encode(f"ops:{PROXY_PASSWORD}".encode()).decode()
    assert proxy.header(0, "Proxy-Authorization") == f"Basic {credentials}"
    assert proxy.header(0, "Authorization") is None  # the token travels only inside the tunnel
    assert "could not be reached (ConnectionFailed)" in str(caught.value)
    assert PROXY_PASSWORD not in str(caught.value) and "pr0xy" not in repr(caught.value)


def test_no_proxy_leaves_a_host_out_and_all_proxy_stands_in_for_https_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALL_PROXY", "http://proxy.example:3128")
    proxy = connections._proxy_for("https", "api.segmentapis.com")
    assert proxy is not None and (proxy.host, proxy.port, proxy.authorization) == ("proxy.example", 3128, {})

    monkeypatch.setenv("NO_PROXY", "segmentapis.com")
    assert connections._proxy_for("https", "api.segmentapis.com") is None


@pytest.mark.parametrize(
    "address", ["socks5://127.0.0.1:1080", "https://proxy.example:3128", "http://proxy:port"]
)
def test_a_proxy_this_client_cannot_use_is_a_configuration_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", address)

    # Refused before any connection is tried (none could be made from here).
    with pytest.raises(ConfigurationError) as caught:
        client_of("https://api.segmentapis.com").call("getWorkspace")

    assert "HTTPS_PROXY" in str(caught.value) and "http://host:port" in str(caught.value)


# ------------------------------------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (and its key): trusted by nobody unless named."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "flex test server")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return folder / "cert.pem", folder / "key.pem"


@pytest.fixture
def tls_server(serve: Callable[..., CannedServer], certificate: tuple[Path, Path]) -> CannedServer:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return serve(lambda _: data_answer(), tls=context)


def test_a_certificate_no_trusted_authority_signed_is_refused_before_the_token_is_sent(
    tls_server: CannedServer,
) -> None:
    with pytest.raises(TransportError) as caught:
        client_of(tls_server.url).call("getWorkspace")

    assert "could not be reached (ConnectionFailed)" in str(caught.value)
    assert tls_server.heads == []


@pytest.mark.parametrize("variable", connections.CA_BUNDLE_ENVS)
def test_the_ca_bundle_the_environment_names_is_trusted(
    tls_server: CannedServer, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, str(certificate[0]))

    assert client_of(tls_server.url).call("getWorkspace") == WORKSPACE
    assert tls_server.header(0, "Authorization") == f"Bearer {TOKEN}"
