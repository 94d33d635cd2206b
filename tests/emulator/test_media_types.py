"""Versioning by media type: what each Accept / Content-Type gets, and the alpha body of sources."""

from __future__ import annotations

import pytest

from segment_emulator import Emulator
from tests.emulator.conftest import ALPHA, DEV_SPACE, SNOWFLAKE_RETL, STABLE, Api, data, error

BETA = "application/vnd.segment.v1beta+json"


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "text/html, application/json;q=0.5"])
def test_a_generic_accept_gets_the_most_mature_version(
    api: Api, emulator: Emulator, accept: str | None
) -> None:
    headers: dict[str, str | None] = {"Accept": accept}

    stable = api.get("/", headers=headers)
    alpha = api.get("/spaces", headers=headers)

    assert data(stable) and stable.headers["Content-Type"] == STABLE
    assert data(alpha) and alpha.headers["Content-Type"] == ALPHA
    assert [r.version for r in emulator.requests] == ["v1", "v1alpha"]
    assert all(("Accept" in r.headers) == (accept is not None) for r in emulator.requests)


@pytest.mark.parametrize(
    ("accept", "version"),
    [
        (STABLE, "v1"),
        (BETA, "v1beta"),
        (ALPHA, "v1alpha"),
        ("application/vnd.segment.stable+json", "v1"),
        ("application/vnd.segment.beta+json", "v1beta"),
        ("application/vnd.segment.alpha+json", "v1alpha"),
    ],
)
def test_a_stable_operation_serves_the_version_asked_for_and_echoes_it(
    api: Api, emulator: Emulator, accept: str, version: str
) -> None:
    response = api.get("/", headers={"Accept": accept})

    data(response)
    assert response.headers["Content-Type"] == accept
    assert emulator.requests[-1].version == version


@pytest.mark.parametrize("accept", [STABLE, BETA, "application/vnd.segment.stable+json"])
def test_an_alpha_operation_asked_for_as_stable_or_beta_is_406(api: Api, accept: str) -> None:
    item = error(api.get("/spaces", headers={"Accept": accept}), 406)

    assert item["type"] == "not-acceptable"
    assert ALPHA in item["message"]


def test_an_unknown_accept_is_406(api: Api) -> None:
    assert "text/html" in error(api.get("/", headers={"Accept": "text/html"}), 406)["message"]


def test_an_alpha_body_must_be_sent_as_alpha(api: Api, emulator: Emulator) -> None:
    space_id = emulator.space(DEV_SPACE)["id"]
    body = {"name": "t", "definition": {"type": "USERS", "query": "event('x').count()"}}
    path = f"/spaces/{space_id}/computed-traits"

    error(api.post(path, body, headers={"Content-Type": "application/json"}), 415)
    error(api.post(path, body, headers={"Content-Type": STABLE}), 415)
    data(api.post(path, body, headers={"Content-Type": "application/vnd.segment.alpha+json"}))


def test_a_body_that_is_not_json_by_content_type_is_415(api: Api) -> None:
    response = api.post(
        "/sources", data="slug=x", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )

    error(response, 415)


def test_a_stable_body_may_be_sent_as_plain_json(api: Api) -> None:
    body = {"slug": "plain", "enabled": True, "metadataId": SNOWFLAKE_RETL}

    created = data(
        api.post("/sources", body, headers={"Content-Type": "application/json; charset=utf-8"}), 201
    )

    assert created["source"]["slug"] == "plain"


def test_the_alpha_create_source_takes_a_name(api: Api, emulator: Emulator) -> None:
    body = {"slug": "named", "enabled": True, "metadataId": SNOWFLAKE_RETL, "name": "Named in alpha"}

    created = data(api.post("/sources", body, headers={"Accept": ALPHA, "Content-Type": ALPHA}), 201)

    assert created["source"]["name"] == "Named in alpha"
    assert emulator.requests[-1].version == "v1alpha"


def test_the_stable_create_source_refuses_a_name(api: Api) -> None:
    body = {"slug": "unnamed", "enabled": True, "metadataId": SNOWFLAKE_RETL, "name": "Dropped by Segment"}

    item = error(api.post("/sources", body), 422)

    assert item["field"] == "name" and "alpha" in item["message"]


def test_a_versioned_body_with_a_generic_accept_uses_the_body_version(api: Api, emulator: Emulator) -> None:
    body = {"slug": "by_body", "enabled": True, "metadataId": SNOWFLAKE_RETL, "name": "From the body type"}

    created = data(
        api.post("/sources", body, headers={"Accept": "application/json", "Content-Type": ALPHA}), 201
    )

    assert created["source"]["name"] == "From the body type"
    assert emulator.requests[-1].version == "v1alpha"
