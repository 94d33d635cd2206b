"""The same lifecycle matrix for every resource kind, driven through the SDK's provider server.

create · read · no-op diff · update in place · replace · drift (changed / deleted out of band) · delete ·
delete when gone · adopt · lost-response create · secrets · concurrent creates.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from segment_provider.api.operations import operation
from tests.harness import ResourceDriver, decode_provider_blob
from tests.resources.cases import ALL_CASES, SECRET_SENTINEL, Context, KindCase, with_changes

CASES = {case.kind: case for case in ALL_CASES}
MUTATING = ("POST", "PATCH", "PUT", "DELETE")


def kinds(predicate: Any = lambda case: True) -> Any:
    return pytest.mark.parametrize("case", [c for c in ALL_CASES if predicate(c)], ids=lambda c: c.kind)


def mutating_calls(emulator: Any) -> list[str]:
    return [f"{r.method} {r.operation_id}" for r in emulator.requests if r.method in MUTATING]


def create(driver: ResourceDriver, case: KindCase, inputs: dict[str, Any], name: str = "r") -> Any:
    return driver.create(name, case.type_token, case.provider(), inputs)


def comparable(outputs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in outputs.items() if k != "__provider"}


@kinds()
def test_create_then_read_returns_the_same_outputs(
    case: KindCase, driver: ResourceDriver, ctx: Context
) -> None:
    state = create(driver, case, case.inputs(ctx))
    assert state.id
    assert case.exists(ctx, state.id)
    refreshed = driver.read(state)
    assert refreshed is not None
    assert refreshed.id == state.id
    assert comparable(refreshed.outputs) == comparable(state.outputs)


@kinds()
def test_unchanged_inputs_make_no_diff_and_no_mutating_call(
    case: KindCase, driver: ResourceDriver, ctx: Context, emulator: Any
) -> None:
    inputs = case.inputs(ctx)
    state = create(driver, case, inputs)
    refreshed = driver.read(state)
    assert refreshed is not None
    emulator.clear_requests()
    outcome = driver.diff(refreshed, case.provider(), inputs)
    assert outcome.changes is False, outcome
    assert outcome.replaces == []
    assert mutating_calls(emulator) == []


@kinds(lambda c: c.update is not None)
def test_update_in_place_patches_only_the_change(
    case: KindCase, driver: ResourceDriver, ctx: Context, emulator: Any
) -> None:
    assert case.update is not None
    state = create(driver, case, case.inputs(ctx))
    new_inputs = case.update(state.inputs)
    outcome = driver.diff(state, case.provider(), new_inputs)
    assert outcome.changes is True
    assert outcome.replaces == []
    emulator.clear_requests()
    updated = driver.update(state, case.provider(), new_inputs)
    assert updated.id == state.id
    assert len(mutating_calls(emulator)) == 1, mutating_calls(emulator)
    # The change really reached Segment: refreshing shows it and nothing else differs.
    refreshed = driver.read(updated)
    assert refreshed is not None
    assert driver.diff(refreshed, case.provider(), new_inputs).changes is False


@kinds(lambda c: c.replace is not None)
def test_replacement_creates_a_new_object_and_removes_the_old(
    case: KindCase, driver: ResourceDriver, ctx: Context
) -> None:
    assert case.replace is not None
    state = create(driver, case, case.inputs(ctx))
    new_inputs = case.replace(ctx, state.inputs)
    outcome = driver.diff(state, case.provider(), new_inputs)
    assert outcome.replaces, outcome
    replaced, op = driver.apply("r", case.type_token, case.provider(), new_inputs, state=state)
    assert op == "replace"
    assert replaced.id != state.id
    assert case.exists(ctx, replaced.id)
    if case.deletes_remote:
        assert not case.exists(ctx, state.id)


@kinds(lambda c: c.change_out_of_band is not None)
def test_drift_shows_on_refresh_and_up_restores_it(
    case: KindCase, driver: ResourceDriver, ctx: Context
) -> None:
    assert case.change_out_of_band is not None
    inputs = case.inputs(ctx)
    state = create(driver, case, inputs)
    case.change_out_of_band(ctx, state.id, state.inputs)
    refreshed = driver.read(state)
    assert refreshed is not None
    assert comparable(refreshed.outputs) != comparable(state.outputs)
    assert driver.diff(refreshed, case.provider(), state.inputs).changes is True
    restored, op = driver.apply("r", case.type_token, case.provider(), state.inputs, state=refreshed)
    assert op == "update"
    again = driver.read(restored)
    assert again is not None
    assert driver.diff(again, case.provider(), state.inputs).changes is False


@kinds()
def test_object_deleted_out_of_band_reads_as_gone(
    case: KindCase, driver: ResourceDriver, ctx: Context
) -> None:
    state = create(driver, case, case.inputs(ctx))
    case.delete_out_of_band(ctx, state.id)
    assert driver.read(state) is None


@kinds()
def test_delete_removes_the_object_and_tolerates_it_being_gone(
    case: KindCase, driver: ResourceDriver, ctx: Context
) -> None:
    state = create(driver, case, case.inputs(ctx))
    driver.delete(state)
    assert case.exists(ctx, state.id) is (not case.deletes_remote)
    if case.deletes_remote:
        driver.delete(state)  # already gone: no error


@kinds(lambda c: c.deletes_remote)
def test_delete_when_already_deleted_out_of_band(
    case: KindCase, driver: ResourceDriver, ctx: Context
) -> None:
    state = create(driver, case, case.inputs(ctx))
    case.delete_out_of_band(ctx, state.id)
    driver.delete(state)


@kinds(lambda c: c.pre_create is not None)
def test_adopt_takes_over_the_existing_object_without_mutating_it(
    case: KindCase, driver: ResourceDriver, ctx: Context, emulator: Any
) -> None:
    assert case.pre_create is not None
    inputs = case.inputs(ctx)
    case.pre_create(ctx, inputs)
    emulator.clear_requests()
    state = create(driver, case, {**inputs, "adopt": True})
    assert mutating_calls(emulator) == []
    assert case.exists(ctx, state.id)
    refreshed = driver.read(state)
    assert refreshed is not None
    assert driver.diff(refreshed, case.provider(), {**inputs, "adopt": True}).changes is False


@kinds(lambda c: c.pre_create is not None)
def test_adopt_of_a_missing_object_fails_with_the_fix(
    case: KindCase, driver: ResourceDriver, ctx: Context
) -> None:
    from tests.harness import ProviderError

    with pytest.raises(ProviderError, match="adopt"):
        create(driver, case, {**case.inputs(ctx), "adopt": True})


@kinds(lambda c: c.create_operation is not None and c.pre_create is not None)
def test_lost_create_response_adopts_instead_of_duplicating(
    case: KindCase, driver: ResourceDriver, ctx: Context, emulator: Any
) -> None:
    inputs = case.inputs(ctx)
    emulator.add_fault("commit_then_fail", operation=case.create_operation, status=502)
    state = create(driver, case, inputs)
    creates = [r for r in emulator.requests if r.operation_id == case.create_operation]
    # A create is sent once; only one that is idempotent (connecting a source to a warehouse) is sent again.
    assert len(creates) == (2 if operation(case.create_operation).safe_to_resend else 1), creates
    assert case.exists(ctx, state.id)
    again = driver.read(state)
    assert again is not None


@kinds(lambda c: c.create_operation is not None and operation(c.create_operation).method == "POST")
def test_only_kinds_segment_does_not_keep_unique_are_looked_up_before_their_create(
    case: KindCase, driver: ResourceDriver, ctx: Context, emulator: Any
) -> None:
    # Segment answers 409 to a second source slug or trait key; a second warehouse, model, destination or
    # mapping of the same name it makes without complaint, so those are listed first (one list per create).
    inputs = case.inputs(ctx)
    emulator.clear_requests()
    create(driver, case, inputs)
    sent = [r.operation_id or "" for r in emulator.requests]
    lists = [op for op in sent[: sent.index(case.create_operation)] if op.startswith("list")]
    assert len(lists) == (0 if case.provider().unique_key else 1), sent
    assert sent.count(case.create_operation) == 1


@kinds()
def test_secrets_stay_out_of_the_provider_blob_and_plain_outputs(
    case: KindCase, driver: ResourceDriver, ctx: Context, server: Any, emulator: Any
) -> None:
    state = create(driver, case, case.inputs(ctx))
    blob = decode_provider_blob(state.inputs["__provider"])
    assert emulator.token.encode() not in blob
    assert SECRET_SENTINEL.encode() not in blob
    secret_outputs = set(getattr(case.resource, "SECRET_OUTPUTS", ())) | set(case.secret_inputs)
    for key, value in comparable(state.outputs).items():
        if key not in secret_outputs:
            text = json.dumps(value, default=str)
            assert SECRET_SENTINEL not in text, key
            assert emulator.token not in text, key
    assert emulator.token not in server.stderr
    assert SECRET_SENTINEL not in server.stderr


@kinds(lambda c: c.create_operation is not None)
def test_concurrent_creates_of_one_kind(case: KindCase, driver: ResourceDriver, ctx: Context) -> None:
    inputs = [case.inputs(ctx) for _ in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        states = list(pool.map(lambda i: create(driver, case, i[1], name=f"r{i[0]}"), enumerate(inputs)))
    ids = {s.id for s in states}
    assert len(ids) == 4
    assert all(case.exists(ctx, id_) for id_ in ids)


def test_every_kind_module_is_in_the_matrix() -> None:
    import segment_provider.resources as resources

    exported = {name for name in resources.__all__ if name[0].isupper() and name != "RETL_TRIGGERS"}
    assert exported == set(CASES)


# A settings change of each kind configured by settings, as a user makes it.
SETTINGS_CHANGES = {
    "Source": lambda s: {**s, "database": "OTHER_DB"},
    "Warehouse": lambda s: {**s, "database": "OTHER_DB"},
    "Destination": lambda s: {**s, "note": "managed"},
    "DestinationSubscription": lambda s: {
        **s,
        "traits": {**s["traits"], "phone": {"@path": "$.properties.PHONE"}},
    },
}
STORES = {
    "Source": "sources",
    "Warehouse": "warehouses",
    "Destination": "destinations",
    "DestinationSubscription": "subscriptions",
}
# Keys the Segment app stores that the program does not model (a mapping's consent and message_id, …).
APP_ONLY_SETTINGS = {
    "consent": {"@path": "$.context.consent"},
    "message_id": {"@path": "$.messageId"},
    "app_only_password": "kept-secret-value-0c1e",
}


@kinds(lambda c: c.kind in SETTINGS_CHANGES)
def test_a_settings_change_keeps_every_setting_the_program_does_not_manage(
    case: KindCase, driver: ResourceDriver, ctx: Context, emulator: Any
) -> None:
    state = create(driver, case, case.inputs(ctx))
    stored_id = state.id.rsplit(":", 1)[-1]
    with emulator.store_lock:
        getattr(emulator.store, STORES[case.kind])[stored_id]["settings"].update(APP_ONLY_SETTINGS)
    new_inputs = with_changes(state.inputs, settings=SETTINGS_CHANGES[case.kind](state.inputs["settings"]))
    new_inputs.pop("__provider", None)
    emulator.clear_requests()
    driver.update(state, case.provider(), new_inputs)

    assert len(mutating_calls(emulator)) == 1, mutating_calls(emulator)
    with emulator.store_lock:
        stored = dict(getattr(emulator.store, STORES[case.kind])[stored_id]["settings"])
    assert {k: stored.get(k) for k in APP_ONLY_SETTINGS} == APP_ONLY_SETTINGS
    wanted = {**new_inputs["settings"], **new_inputs.get("secret_settings", {})}
    assert {k: stored.get(k) for k in wanted} == wanted
