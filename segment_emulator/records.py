"""One entry of the request log: what arrived, and what the emulator answered."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(repr=False)
class RecordedRequest:
    method: str
    path: str
    """As received: percent-encoded, without the query string."""
    query: dict[str, list[str]]
    headers: dict[str, str]
    """As received, including Authorization."""
    body: Any
    """The parsed JSON body; the raw text when it was not JSON; None when there was none."""
    timestamp: float
    operation_id: str | None = None
    """None when no Segment operation has this method and path."""
    status: int | None = None
    """The status sent; None while the request is being served and when the connection was dropped."""
    version: str | None = None
    """The API version served (``v1``, ``v1beta``, ``v1alpha``) once negotiated."""
    response_body: Any = None
    response_headers: dict[str, str] = field(default_factory=dict)
    fault: str | None = None
    """The kind of injected fault that hit this request, if any."""
    committed: bool = False
    """The operation ran and succeeded: its change is in the state (even when a fault hid the answer)."""

    def __repr__(self) -> str:
        # Headers and bodies may carry the token or credentials: never shown here.
        return (
            f"RecordedRequest({self.method} {self.path} -> {self.status}, operation_id={self.operation_id!r}, "
            f"fault={self.fault!r})"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body,
            "timestamp": self.timestamp,
            "operationId": self.operation_id,
            "status": self.status,
            "version": self.version,
            "responseBody": self.response_body,
            "responseHeaders": self.response_headers,
            "fault": self.fault,
            "committed": self.committed,
        }
