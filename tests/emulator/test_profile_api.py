"""The emulator's Profile API: Basic auth per space, seeded profiles, computed trait values, paging, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from segment_emulator import Emulator
from tests.emulator.conftest import DEV_SPACE, PROD_SPACE, Api, EmulatorFactory, control

TOTAL_INBOUNDS = "event('Flex - Engagement Initiated').where(property('direction') = 'Inbound').count()"
SENTIMENT = "event('Flex - Engagement Completed').last(property('sentiment'))"
CUSTOM = {"name": "Ada Lovelace", "phone": "+15555550123", "industry": "Software"}


def traits_url(emulator: Emulator, user: str = "user_id:0011x000", space_slug: str = DEV_SPACE) -> str:
    space_id = emulator.space(space_slug)["id"]
    return f"{emulator.url}/v1/spaces/{space_id}/collections/users/profiles/{user}/traits"


def get(emulator: Emulator, url: str, auth: Any = "token", **params: Any) -> requests.Response:
    """A Profile API GET; ``auth`` "token" sends the dev space's token as Basic username, None sends none."""
    if auth == "token":
        auth = (emulator.profile_api_token(), "")
    return requests.get(url, auth=auth, params=params, timeout=10)


@pytest.fixture
def with_traits(api: Api, emulator: Emulator) -> Emulator:
    """The dev space has seen the Flex events and has two computed traits; one profile is seeded."""
    emulator.seed_flex_events(DEV_SPACE)
    space_id = emulator.space(DEV_SPACE)["id"]
    api.trait(space_id, "Total inbounds", definition={"type": "USERS", "query": TOTAL_INBOUNDS})
    api.trait(space_id, "Sentiment in last interaction", definition={"type": "USERS", "query": SENTIMENT})
    emulator.seed_profile("0011x000", CUSTOM)
    return emulator


# ------------------------------------------------------------------------------------------------ tokens


def test_each_space_has_its_own_seeded_token_that_survives_a_reset(emulator: Emulator) -> None:
    dev, prod = emulator.profile_api_token(DEV_SPACE), emulator.profile_api_token(PROD_SPACE)

    assert dev != prod and len(dev) == 40 and dev.isalnum()
    emulator.reset()
    assert emulator.profile_api_token(DEV_SPACE) == dev


def test_a_token_set_for_a_space_replaces_the_seeded_one_until_reset(
    emulator: Emulator, with_traits: Emulator
) -> None:
    seeded = emulator.profile_api_token()
    emulator.set_profile_api_token("rotated-token-for-tests")

    assert get(emulator, traits_url(emulator), auth=(seeded, "")).status_code == 401
    assert get(emulator, traits_url(emulator), auth=("rotated-token-for-tests", "")).status_code == 200
    emulator.reset()
    assert emulator.profile_api_token() == seeded


@pytest.mark.parametrize(
    "auth",
    [None, ("wrong-token", ""), ("", "TOKEN"), ("TOKEN", "TOKEN"), "bearer", "prod-token"],
    ids=["none", "wrong", "token-as-password", "non-empty-password", "bearer", "other-space"],
)
def test_anything_but_the_spaces_token_as_username_with_empty_password_is_401(
    emulator: Emulator, with_traits: Emulator, auth: Any
) -> None:
    token = emulator.profile_api_token()
    headers = {}
    if auth == "bearer":
        auth, headers = None, {"Authorization": f"Bearer {token}"}
    elif auth == "prod-token":
        auth = (emulator.profile_api_token(PROD_SPACE), "")
    elif auth is not None:
        auth = tuple(token if part == "TOKEN" else part for part in auth)

    response = requests.get(traits_url(emulator), auth=auth, headers=headers, timeout=10)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_error"
    assert token not in response.text


def test_an_unknown_space_id_is_401_because_no_token_belongs_to_it(emulator: Emulator) -> None:
    url = f"{emulator.url}/v1/spaces/spa_unknown/collections/users/profiles/user_id:1/traits"

    assert get(emulator, url).status_code == 401


# ------------------------------------------------------------------------------------------------ profiles


def test_an_unknown_profile_is_the_documented_404(emulator: Emulator, with_traits: Emulator) -> None:
    for user in ("user_id:someone-else", "anonymous_id:0011x000", "USER_ID:0011x000"):
        response = get(emulator, traits_url(emulator, user))

        assert response.status_code == 404, user
        assert response.json() == {"error": {"code": "not_found", "message": "Profile was not found."}}


def test_a_profile_shows_its_custom_traits_and_the_spaces_computed_traits(
    emulator: Emulator, with_traits: Emulator
) -> None:
    answer = get(emulator, traits_url(emulator)).json()

    traits = answer["traits"]
    assert {k: traits[k] for k in CUSTOM} == CUSTOM
    assert isinstance(traits["total_inbounds"], int) and 0 <= traits["total_inbounds"] < 20
    assert traits["sentiment_in_last_interaction"] in ("positive", "neutral", "negative")
    assert answer["cursor"] == {
        "url": traits_url(emulator).removeprefix(emulator.url),
        "has_more": False,
        "next": "",
        "limit": 10,
    }


def test_computed_values_are_deterministic_and_differ_between_profiles(
    emulator: Emulator, with_traits: Emulator
) -> None:
    values = set()
    for n in range(12):
        emulator.seed_profile(f"user-{n}")
        first = get(emulator, traits_url(emulator, f"user_id:user-{n}")).json()["traits"]
        again = get(emulator, traits_url(emulator, f"user_id:user-{n}")).json()["traits"]
        assert first == again
        values.add(first["total_inbounds"])
    assert len(values) > 1


def test_class_computed_trait_leaves_custom_traits_out_and_include_picks_keys(
    emulator: Emulator, with_traits: Emulator
) -> None:
    computed = get(emulator, traits_url(emulator), **{"class": "computed_trait"}).json()["traits"]
    picked = get(emulator, traits_url(emulator), include="phone,total_inbounds,missing").json()["traits"]
    audiences = get(emulator, traits_url(emulator), **{"class": "audience"}).json()["traits"]

    assert set(computed) == {"total_inbounds", "sentiment_in_last_interaction"}
    assert set(picked) == {"phone", "total_inbounds"}
    assert audiences == {}


def test_disabled_traits_and_traits_of_other_spaces_are_not_shown(
    api: Api, emulator: Emulator, with_traits: Emulator
) -> None:
    prod_id = emulator.space(PROD_SPACE)["id"]
    api.trait(prod_id, "Total outbounds")
    dev_id = emulator.space(DEV_SPACE)["id"]
    api.trait(dev_id, "Last known service agent", enabled=False)

    computed = get(emulator, traits_url(emulator), **{"class": "computed_trait"}).json()["traits"]

    assert set(computed) == {"total_inbounds", "sentiment_in_last_interaction"}


def test_the_default_page_is_ten_traits_and_next_walks_the_rest(emulator: Emulator) -> None:
    emulator.seed_profile("many", {f"trait_{n:02d}": n for n in range(23)})
    url = traits_url(emulator, "user_id:many")

    seen: dict[str, Any] = {}
    pages = []
    cursor = None
    while True:
        answer = get(emulator, url, **({"next": cursor} if cursor else {})).json()
        pages.append(len(answer["traits"]))
        seen.update(answer["traits"])
        if not answer["cursor"]["has_more"]:
            assert answer["cursor"]["next"] == ""
            break
        cursor = answer["cursor"]["next"]
    assert pages == [10, 10, 3]
    assert seen == {f"trait_{n:02d}": n for n in range(23)}


def test_limit_sets_the_page_size(emulator: Emulator) -> None:
    emulator.seed_profile("many", {f"t{n}": n for n in range(5)})

    answer = get(emulator, traits_url(emulator, "user_id:many"), limit=200).json()

    assert len(answer["traits"]) == 5 and answer["cursor"]["limit"] == 200


@pytest.mark.parametrize(
    "params",
    [{"limit": "0"}, {"limit": "201"}, {"limit": "ten"}, {"class": "custom"}, {"next": "not-a-cursor"}],
    ids=["limit-0", "limit-201", "limit-text", "class", "cursor"],
)
def test_bad_parameters_are_a_validation_error(
    emulator: Emulator, with_traits: Emulator, params: dict[str, str]
) -> None:
    response = get(emulator, traits_url(emulator), **params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_other_profile_api_routes_are_404_after_auth(emulator: Emulator, with_traits: Emulator) -> None:
    url = traits_url(emulator).removesuffix("/traits") + "/events"

    assert get(emulator, url).status_code == 404
    assert get(emulator, url, auth=None).status_code == 401


# ------------------------------------------------------------------------------------- log, faults, controls


def test_profile_api_requests_are_logged_without_a_segment_operation(
    emulator: Emulator, with_traits: Emulator
) -> None:
    emulator.clear_requests()
    get(emulator, traits_url(emulator), limit=3)

    (entry,) = emulator.requests
    assert (entry.method, entry.operation_id, entry.status) == ("GET", None, 200)
    assert entry.path.endswith("/user_id:0011x000/traits") and entry.query == {"limit": ["3"]}


def test_faults_reach_the_profile_api_by_path(emulator: Emulator, with_traits: Emulator) -> None:
    emulator.add_fault("status", path=r"^/v1/spaces/.*/traits$", status=503)

    assert get(emulator, traits_url(emulator)).status_code == 503
    assert get(emulator, traits_url(emulator)).status_code == 200


def test_profiles_and_tokens_through_the_control_endpoints(emulator: Emulator) -> None:
    seeded = control(emulator, "POST", "profiles", {"userId": "c-1", "traits": {"plan": "gold"}})
    tokens = control(emulator, "GET", "profile-api-tokens").json()["tokens"]
    changed = control(emulator, "POST", "profile-api-tokens", {"spaceSlug": PROD_SPACE, "token": "prod-t"})

    assert seeded.status_code == 201 and seeded.json()["profile"]["traits"] == {"plan": "gold"}
    assert tokens == {DEV_SPACE: emulator.profile_api_token(), PROD_SPACE: tokens[PROD_SPACE]}
    assert changed.json() == {"spaceSlug": PROD_SPACE, "token": "prod-t"}
    assert emulator.profile_api_token(PROD_SPACE) == "prod-t"
    answer = get(emulator, traits_url(emulator, "user_id:c-1")).json()
    assert answer["traits"] == {"plan": "gold"}


@pytest.mark.parametrize(
    ("name", "body", "status"),
    [
        ("profiles", {"traits": {"a": 1}}, 400),
        ("profiles", {"userId": "x", "traits": ["a"]}, 400),
        ("profiles", {"userId": "x", "spaceSlug": "nope"}, 404),
        ("profile-api-tokens", {"token": ""}, 400),
        ("profile-api-tokens", {"token": "a:b"}, 400),
        ("profile-api-tokens", {"token": "t", "spaceSlug": "nope"}, 404),
    ],
    ids=["no-user", "traits-list", "unknown-space", "empty-token", "colon", "unknown-space-token"],
)
def test_bad_control_requests_are_refused(emulator: Emulator, name: str, body: Any, status: int) -> None:
    response = control(emulator, "POST", name, body)

    assert response.status_code == status
    assert response.json()["error"]


def test_profiles_and_tokens_are_kept_in_the_state_file(
    make_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    first = make_emulator(state_file=state)
    first.seed_profile("kept", {"plan": "gold"})
    first.set_profile_api_token("kept-token")
    first.stop()

    second = make_emulator(state_file=state)

    assert second.profile_api_token() == "kept-token"
    response = get(second, traits_url(second, "user_id:kept"))
    assert response.json()["traits"] == {"plan": "gold"}
