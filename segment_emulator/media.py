"""Versioning by media type, as Segment does it.

``Accept`` picks the version: ``application/vnd.segment.v1+json`` (stable), ``…v1beta+json``, ``…v1alpha+json``
or the ``vnd.segment.{stable,beta,alpha}+json`` spellings; ``application/json``, ``*/*`` or no header get the
operation's most mature version. An ``Accept`` the operation cannot answer (a version it does not have, a
media type the API does not know) is 406 Not Acceptable; a request body in a type it does not take is 415
Unsupported Media Type (HTTP's split of the two). A request body of an alpha-only operation must be sent as the
alpha type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from segment_emulator.errors import ApiProblem

STABLE_VERSIONS = ("v1", "v1beta", "v1alpha")
ALPHA_VERSIONS = ("v1alpha",)
VERSIONED_TYPES = {
    "application/vnd.segment.v1+json": "v1",
    "application/vnd.segment.v1beta+json": "v1beta",
    "application/vnd.segment.v1alpha+json": "v1alpha",
    "application/vnd.segment.stable+json": "v1",
    "application/vnd.segment.beta+json": "v1beta",
    "application/vnd.segment.alpha+json": "v1alpha",
}
GENERIC_TYPES = frozenset({"application/json", "*/*", "application/*"})


def canonical_type(version: str) -> str:
    return f"application/vnd.segment.{version}+json"


@dataclass(frozen=True)
class Negotiated:
    version: str
    """The version served: ``v1``, ``v1beta`` or ``v1alpha``."""
    content_type: str
    """The Content-Type of the answer: the served version, spelled as the client asked for it."""


def negotiate(
    accept: str | None, content_type: str | None, has_body: bool, versions: Sequence[str]
) -> Negotiated:
    asked = _accepted_version(accept, versions)
    body_version = _body_version(content_type, versions) if has_body else None
    if asked is None:
        version = body_version or versions[0]
        return Negotiated(version, canonical_type(version))
    version, spelled = asked
    return Negotiated(version, spelled)


def _accepted_version(accept: str | None, versions: Sequence[str]) -> tuple[str, str] | None:
    """(version, media type) for a versioned Accept; None for a generic one; ApiProblem 406 otherwise."""
    refused: list[str] = []
    for media in _media_types(accept):
        if media in GENERIC_TYPES:
            return None
        version = VERSIONED_TYPES.get(media)
        if version is not None and version in versions:
            return version, media
        refused.append(media)
    if not refused:
        return None
    served = ", ".join(canonical_type(v) for v in versions)
    if any(media in VERSIONED_TYPES for media in refused):
        raise ApiProblem(406, f"This operation is not available as {refused[0]}; it is served as: {served}")
    raise ApiProblem(
        406, f"Unsupported media type '{refused[0]}' in Accept; use one of: {served}, application/json"
    )


def _body_version(content_type: str | None, versions: Sequence[str]) -> str | None:
    declared = _media_types(content_type)
    media = declared[0] if declared else "application/json"
    version = VERSIONED_TYPES.get(media)
    if version is not None:
        if version not in versions:
            raise ApiProblem(415, f"Request bodies of this operation cannot be sent as {media}")
        return version
    if media != "application/json":
        raise ApiProblem(415, f"Unsupported Content-Type '{media}': send JSON")
    if "v1" not in versions:
        raise ApiProblem(415, f"Alpha operations take request bodies as {canonical_type('v1alpha')}")
    return None


def _media_types(header: str | None) -> list[str]:
    """The media types of an Accept header, most preferred first (q=0 dropped); [] when absent."""
    if not header or not header.strip():
        return []
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        media, *parameters = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media and quality > 0:
            ranked.append((-quality, position, media.lower()))
    return [media for _, _, media in sorted(ranked)]
