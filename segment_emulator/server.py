"""HTTP plumbing: a threading HTTP/1.1 server handing each request to the pipeline or the control endpoints.

Every request must name the emulator by a loopback Host (``127.0.0.1``, ``[::1]``, ``localhost``, any port):
a web page that rebinds its own DNS name to 127.0.0.1 reaches the port, but its requests carry that name as
their Host, and are refused before anything is read or logged. An emulator started with ``allow_remote``
(listening beyond loopback) also takes IP literals, which no rebinding can forge; DNS names stay refused.
"""

from __future__ import annotations

import ipaddress
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from segment_emulator.control import is_control_path, serve_control
from segment_emulator.errors import error_body
from segment_emulator.pipeline import Incoming, Outgoing, Pipeline

_CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], pipeline: Pipeline, *, allow_remote: bool = False) -> None:
        self.pipeline = pipeline
        self.allow_remote = allow_remote
        self.connections_accepted = 0
        self._connections_lock = threading.Lock()
        super().__init__(address, _RequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Each accepted TCP connection: against Segment, each is a TLS handshake too.
        with self._connections_lock:
            self.connections_accepted += 1
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (timeouts, dropped-connection tests) is not an error worth a traceback.
        if isinstance(sys.exc_info()[1], _CLIENT_GONE):
            return
        super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "segment-emulator"
    # Headers and body go out in two writes: without TCP_NODELAY each keep-alive answer waits ~40 ms for
    # the client's delayed ACK.
    disable_nagle_algorithm = True
    server: EmulatorServer

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines would be noise in test output (the request log has everything)."""

    def _serve(self) -> None:
        declared = self.headers.get("Content-Length")
        if declared is not None and not declared.strip().isdigit():
            # An HTTP server refuses a length it cannot read, before reading any body; nothing is served or logged.
            body = error_body(400, "Content-Length is not a number of bytes")
            self._write(Outgoing(400, body, {"Content-Type": "application/json"}))
            self.close_connection = True
            return
        incoming = self._incoming()
        if incoming is None:
            self.close_connection = True
            return
        pipeline = self.server.pipeline
        if not host_allowed(incoming.header("Host"), allow_remote=self.server.allow_remote):
            outgoing: Outgoing | None = Outgoing(
                421,
                {"errors": [{"type": "misdirected", "message": HOST_REFUSED}]},
                {"Content-Type": "application/json"},
            )
        elif is_control_path(incoming.path):
            outgoing = serve_control(pipeline, incoming)
        else:
            outgoing = pipeline.serve(incoming)
        if outgoing is None:
            self.close_connection = True
            return
        self._write(outgoing)

    def _incoming(self) -> Incoming | None:
        """The request, or None when the client hung up before sending all of its body.

        A client killed between its headers and its body (a CLI killed mid-request) leaves a request with a
        short body. Segment never sees such a request, so neither is it served nor logged here: served, an
        empty body would read as ``{}`` and a PATCH with nothing in it would answer 200.
        """
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        if len(body) < length:
            return None
        return Incoming(
            method=self.command,
            path=parts.path or "/",
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={key: value for key, value in self.headers.items()},
            body=body,
        )

    def _write(self, outgoing: Outgoing) -> None:
        body = outgoing.encoded()
        try:
            self.send_response(outgoing.status)
            for name, value in outgoing.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if outgoing.drip_seconds is None:
                self.wfile.write(body)
                return
            self.wfile.flush()
            for index in range(len(body)):
                self.wfile.write(body[index : index + 1])
                self.wfile.flush()
                time.sleep(outgoing.drip_seconds)
        except _CLIENT_GONE:
            self.close_connection = True


HOST_REFUSED = "this emulator answers only requests addressed to 127.0.0.1, [::1] or localhost (Host header)"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an IP literal, IPv6 with or without brackets) is this machine only."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_allowed(header: str | None, *, allow_remote: bool) -> bool:
    """Whether a request's Host header names the emulator in a way no DNS rebinding can produce."""
    found = _HOST_HEADER.fullmatch(header or "")
    if found is None:
        return False
    name = found.group("name")
    if is_loopback(name):
        return True
    if not allow_remote:
        return False
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


_HOST_HEADER = re.compile(r"(?P<name>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::[0-9]{1,5})?")
