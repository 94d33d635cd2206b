"""Who may talk to the emulator: the control endpoints take its token, and every request must name it by a
loopback Host (a page that rebinds its DNS name to 127.0.0.1 is refused); listening beyond loopback is refused
unless asked for."""

from __future__ import annotations

import pytest
import requests

from segment_emulator import Emulator
from segment_emulator.control import _ACTIONS
from segment_emulator.server import host_allowed
from tests.emulator.conftest import DEV_SPACE, Api, EmulatorFactory, control, data

CONTROLS = sorted(_ACTIONS)


@pytest.mark.parametrize(("method", "name"), CONTROLS, ids=[f"{m} {n}" for m, n in CONTROLS])
@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_every_control_endpoint_needs_the_token(
    emulator: Emulator, method: str, name: str, token: str | None
) -> None:
    answer = control(emulator, method, name, {}, token=token)

    assert answer.status_code == 401
    assert answer.json() == {
        "error": "the control endpoints need the emulator's token: Authorization: Bearer <token>"
    }
    assert emulator.profile_api_token() not in answer.text


def test_a_refused_control_call_changes_nothing(api: Api, emulator: Emulator) -> None:
    source = api.source()["id"]

    control(emulator, "POST", "reset", token=None)
    control(emulator, "POST", "profile-api-tokens", {"token": "A" * 40}, token=None)

    assert source in emulator.store.sources
    assert emulator.profile_api_token() != "A" * 40


def test_with_the_token_the_state_and_tokens_are_read(emulator: Emulator) -> None:
    tokens = control(emulator, "GET", "profile-api-tokens").json()["tokens"]

    assert tokens[DEV_SPACE] == emulator.profile_api_token()
    assert control(emulator, "GET", "state").json()["workspace"]["slug"] == "flex-emulator"


@pytest.mark.parametrize("path", ["/__emulator/state", "/__emulator/profile-api-tokens", "/", "/sources"])
@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8765", "127.0.0.1.nip.io", ""])
def test_a_request_that_names_another_host_is_refused_before_anything(
    emulator: Emulator, path: str, host: str
) -> None:
    """What a DNS-rebinding page sends: the right port, the right token guessed, its own name as Host."""
    answer = requests.get(
        emulator.url + path,
        headers={"Host": host, "Authorization": f"Bearer {emulator.token}"},
        timeout=10,
    )

    assert answer.status_code == 421
    assert "127.0.0.1, [::1] or localhost" in answer.json()["errors"][0]["message"]
    assert emulator.profile_api_token() not in answer.text
    assert emulator.requests == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST:80", "[::1]:1234", "127.8.0.1"])
def test_loopback_names_are_served_on_any_port(emulator: Emulator, host: str) -> None:
    answer = requests.get(
        emulator.url + "/", headers={"Host": host, "Authorization": f"Bearer {emulator.token}"}, timeout=10
    )

    assert data(answer)["workspace"]["slug"] == "flex-emulator"


@pytest.mark.parametrize(
    ("header", "loopback_only", "remote"),
    [
        ("127.0.0.1:8765", True, True),
        ("10.0.0.5:8765", False, True),
        ("[2001:db8::1]:8765", False, True),
        ("attacker.example:8765", False, False),
        ("user@127.0.0.1", False, False),
        ("127.0.0.1/x", False, False),
        (None, False, False),
    ],
)
def test_the_host_rule(header: str | None, loopback_only: bool, remote: bool) -> None:
    assert host_allowed(header, allow_remote=False) is loopback_only
    assert host_allowed(header, allow_remote=True) is remote


@pytest.mark.parametrize("host", ["0.0.0.0", "", "::"])
def test_listening_beyond_loopback_is_refused_unless_asked_for(host: str) -> None:
    with pytest.raises(ValueError, match="--allow-remote"):
        Emulator(host=host)


def test_asked_for_it_listens_on_every_address(make_emulator: EmulatorFactory) -> None:
    emulator = make_emulator(host="0.0.0.0", allow_remote=True)
    port = emulator.port

    answer = requests.get(
        f"http://127.0.0.1:{port}/", headers={"Authorization": f"Bearer {emulator.token}"}, timeout=10
    )

    assert data(answer)["workspace"]["slug"] == "flex-emulator"
