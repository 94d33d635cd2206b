"""The engine stand-in drives the real provider server the way the Pulumi engine does.

Every test goes through the SDK's own ``python -m pulumi.dynamic`` server with the sample provider in
``tests/harness_fixtures/file_provider.py``, whose objects are JSON files and whose calls are journaled, so
each assertion is about what the provider really saw and did.
"""

from __future__ import annotations

import hashlib
import json
import os
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pulumi
import pulumi_snowflake as snowflake
import pytest

from tests.harness import (
    CIPHERTEXT_PLACEHOLDER,
    CheckFailed,
    DeploymentFailed,
    HarnessError,
    ProgramEngine,
    ProviderError,
    ProviderServer,
    ResourceDriver,
    ResourceProtected,
    decode_provider_blob,
    is_unknown,
    type_token,
)
from tests.harness_fixtures.file_provider import FileObject, FileObjectProvider, read_journal

TOKEN = "tok-3f9a1c-very-secret"
SECRET_CONTENT = "classified-payload-77"
MUTATING = {"create", "update", "delete"}


@pytest.fixture(scope="module")
def server() -> Iterator[ProviderServer]:
    with ProviderServer() as provider_server:
        yield provider_server


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "files"


def files_config(root: Path, label: str = "blue") -> dict[str, str]:
    return {"files:root": str(root), "files:label": label, "files:token": TOKEN}


@pytest.fixture
def driver(server: ProviderServer, root: Path) -> ResourceDriver:
    server.configure(files_config(root), secret_keys=["files:token"])
    return ResourceDriver(server)


@pytest.fixture
def engine(server: ProviderServer, root: Path) -> ProgramEngine:
    return ProgramEngine(server, config=files_config(root), secret_keys=["files:token"])


def journal_ops(root: Path, ops: set[str] = MUTATING) -> list[tuple[str, str]]:
    return [(entry["op"], entry["name"]) for entry in read_journal(root) if entry["op"] in ops]


def object_files(root: Path) -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in (root / "objects").glob("*.json")}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# resource level


def test_type_token_is_the_one_dynamic_resource_registers() -> None:
    assert type_token(FileObject) == "pulumi-python:dynamic/harness:FileObject"


def test_create_read_diff_update_delete_through_the_server(driver: ResourceDriver, root: Path) -> None:
    provider = FileObjectProvider()

    created = driver.create("doc", FileObject, provider, {"name": "doc", "content": "hello"})
    assert created.outputs["content"] == "hello"
    assert object_files(root)[created.id]["content"] == "hello"
    assert driver.read(created) is not None

    unchanged = driver.diff(created, provider, {"name": "doc", "content": "hello"})
    assert (unchanged.changes, unchanged.replaces) == (False, [])
    changed = driver.diff(created, provider, {"name": "doc", "content": "bye"})
    assert (changed.changes, changed.replaces) == (True, [])

    updated = driver.update(created, provider, {"name": "doc", "content": "bye"})
    assert updated.id == created.id
    assert updated.outputs["content"] == "bye"
    assert object_files(root)[created.id]["content"] == "bye"

    driver.delete(updated)
    assert object_files(root) == {}
    assert driver.read(updated) is None
    assert journal_ops(root) == [("create", "doc"), ("update", "doc"), ("delete", "doc")]


def test_ints_come_back_as_floats(driver: ResourceDriver) -> None:
    created = driver.create(
        "doc", FileObject, FileObjectProvider(), {"name": "doc", "content": "abc", "copies": 3}
    )

    assert created.inputs["copies"] == 3 and isinstance(created.inputs["copies"], float)
    assert created.outputs["size"] == 3 and isinstance(created.outputs["size"], float)


def test_apply_leaves_an_unchanged_resource_alone(driver: ResourceDriver, root: Path) -> None:
    provider = FileObjectProvider()
    created, op = driver.apply("doc", FileObject, provider, {"name": "doc", "content": "x"})
    again, again_op = driver.apply("doc", FileObject, provider, {"name": "doc", "content": "x"}, created)

    assert (op, again_op) == ("create", "same")
    assert again.id == created.id
    assert journal_ops(root) == [("create", "doc")]


def test_replace_creates_the_new_object_before_deleting_the_old(driver: ResourceDriver, root: Path) -> None:
    provider = FileObjectProvider()
    old = driver.create("doc", FileObject, provider, {"name": "first", "content": "x"})

    new, op = driver.apply("doc", FileObject, provider, {"name": "second", "content": "x"}, old)

    assert op == "replace"
    assert new.id != old.id
    assert list(object_files(root)) == [new.id]
    assert journal_ops(root) == [("create", "first"), ("create", "second"), ("delete", "first")]


def test_replace_deletes_first_when_the_diff_says_so(driver: ResourceDriver, root: Path) -> None:
    provider = FileObjectProvider()
    old = driver.create("doc", FileObject, provider, {"name": "first", "content": "x", "exclusive": True})

    new, op = driver.apply(
        "doc", FileObject, provider, {"name": "second", "content": "x", "exclusive": True}, old
    )

    assert op == "replace"
    assert list(object_files(root)) == [new.id]
    assert journal_ops(root) == [("create", "first"), ("delete", "first"), ("create", "second")]


def test_protected_resource_is_not_replaced(driver: ResourceDriver, root: Path) -> None:
    provider = FileObjectProvider()
    old = driver.create("doc", FileObject, provider, {"name": "first", "content": "x"})

    with pytest.raises(ResourceProtected, match="set protect=False first"):
        driver.apply("doc", FileObject, provider, {"name": "second"}, old, protect=True)

    assert list(object_files(root)) == [old.id]


def test_check_failures_are_surfaced_and_stop_the_create(driver: ResourceDriver, root: Path) -> None:
    outcome = driver.check(FileObject, FileObjectProvider(), {}, {"name": "a/b", "content": 5})
    assert sorted(prop for prop, _reason in outcome.failures) == ["content", "name"]

    with pytest.raises(CheckFailed) as failed:
        driver.create("doc", FileObject, FileObjectProvider(), {"name": ""})
    assert [prop for prop, _reason in failed.value.failures] == ["name"]
    assert journal_ops(root) == []


def test_provider_exception_becomes_provider_error(driver: ResourceDriver, root: Path) -> None:
    (root / "poison").mkdir(parents=True)
    (root / "poison" / "doc").touch()

    with pytest.raises(ProviderError) as failed:
        driver.create("doc", FileObject, FileObjectProvider(), {"name": "doc"})

    assert failed.value.code == "UNKNOWN"
    assert failed.value.message == "RuntimeError: object doc is poisoned"
    assert "Traceback" in failed.value.details


def test_configure_delivers_config_with_secrets_unwrapped(
    server: ProviderServer, driver: ResourceDriver, root: Path
) -> None:
    provider = FileObjectProvider()
    created = driver.create("doc", FileObject, provider, {"name": "doc"})

    assert created.outputs["label"] == "blue"
    assert created.outputs["token_sha256"] == sha256(TOKEN)
    assert TOKEN.encode() not in decode_provider_blob(provider)
    assert TOKEN.encode() not in decode_provider_blob(created.inputs["__provider"])
    assert TOKEN not in server.stderr

    # The server configures a provider once; new config after use needs (and gets) a fresh process.
    server.configure(files_config(root, label="green"), secret_keys=["files:token"])
    assert driver.create("other", FileObject, provider, {"name": "other"}).outputs["label"] == "green"


def test_server_process_ends_even_when_the_test_fails() -> None:
    pids: list[int] = []
    with pytest.raises(RuntimeError), ProviderServer() as provider_server:
        assert provider_server.pid is not None and provider_server.running
        pids.append(provider_server.pid)
        raise RuntimeError("test body failed")
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)


def test_server_that_cannot_start_reports_it() -> None:
    with pytest.raises(HarnessError, match="did not print its port"):
        ProviderServer(python="/bin/false", startup_timeout=10).start()


# program level


def chain(content: str = "v1", *, leaf: bool = True, base_name: str = "base") -> Callable[[], None]:
    """base ← middle (through an output) ← leaf (through depends_on)."""

    def program() -> None:
        base = FileObject("base", {"name": base_name, "content": content})
        middle = FileObject("middle", {"name": "middle", "content": base.path})
        if leaf:
            FileObject("leaf", {"name": "leaf", "content": "x"}, pulumi.ResourceOptions(depends_on=[middle]))
        pulumi.export("base_size", base.size)

    return program


def test_up_noop_change_removal_and_destroy(engine: ProgramEngine, root: Path) -> None:
    first = engine.up(chain())
    assert first.ops == {"base": "create", "middle": "create", "leaf": "create"}
    assert first.outputs == {"base_size": 2.0}
    base, middle, leaf = (engine.state.get(name) for name in ("base", "middle", "leaf"))
    assert middle.property_dependencies["content"] == (base.urn,)
    assert leaf.dependencies == (middle.urn,)
    assert base.urn == "urn:pulumi:dev::flex-unified-profiles::pulumi-python:dynamic/harness:FileObject::base"

    assert engine.up(chain()).ops == {"base": "same", "middle": "same", "leaf": "same"}
    assert len(journal_ops(root)) == 3

    changed = engine.up(chain("v22"))
    assert changed.ops == {"base": "update", "middle": "same", "leaf": "same"}
    assert changed.outputs == {"base_size": 3.0}

    removed = engine.up(chain("v22", leaf=False))
    assert removed.ops == {"base": "same", "middle": "same", "leaf": "delete"}
    assert engine.state.names() == ["base", "middle"]

    destroyed = engine.destroy()
    assert [step.name for step in destroyed.steps] == ["middle", "base"]
    assert journal_ops(root)[-2:] == [("delete", "middle"), ("delete", "base")]
    assert len(engine.state) == 0 and object_files(root) == {}


def test_deletes_follow_dependencies_not_creation_order(engine: ProgramEngine, root: Path) -> None:
    engine.up(chain(leaf=False))
    # Renaming replaces base: the new base is younger than middle, which still depends on it.
    assert engine.up(chain(leaf=False, base_name="base-2")).ops == {"base": "replace", "middle": "update"}
    assert journal_ops(root)[-3:] == [("create", "base-2"), ("update", "middle"), ("delete", "base")]

    assert [step.name for step in engine.destroy().steps] == ["middle", "base"]


def protected(name: str, *, protect: bool) -> Callable[[], None]:
    def program() -> None:
        FileObject("keeper", {"name": name}, pulumi.ResourceOptions(protect=protect))

    return program


def test_protect_refuses_destroy_replace_and_removal(engine: ProgramEngine, root: Path) -> None:
    engine.up(protected("one", protect=True))
    kept_id = engine.state.get("keeper").id

    with pytest.raises(DeploymentFailed, match="set protect=False first"):
        engine.destroy()
    with pytest.raises(DeploymentFailed, match="set protect=False first"):
        engine.up(protected("two", protect=True))
    with pytest.raises(DeploymentFailed, match="set protect=False first"):
        engine.up(lambda: None)
    assert engine.state.get("keeper").id == kept_id
    assert list(object_files(root)) == [kept_id]

    # As with Pulumi, unprotecting and replacing may happen in the same update.
    assert engine.up(protected("two", protect=False)).ops == {"keeper": "replace"}
    assert engine.destroy().ops == {"keeper": "delete"}


def secretive() -> None:
    document = FileObject(
        "secretive",
        {"name": "secretive", "content": pulumi.Output.secret(SECRET_CONTENT)},
        pulumi.ResourceOptions(additional_secret_outputs=["token_sha256"]),
    )
    pulumi.export("content", document.content)
    pulumi.export("token_digest", document.token_sha256)
    pulumi.export("size", document.size)


def test_secret_outputs_are_marked_and_never_stored_in_plain_text(engine: ProgramEngine, root: Path) -> None:
    result = engine.up(secretive)

    assert result.outputs["content"] == SECRET_CONTENT
    assert result.secret_outputs == {"content", "token_digest"}
    record = engine.state.get("secretive")
    assert {"content", "token_sha256", "__provider"} <= record.secret_outputs
    assert "size" not in record.secret_outputs
    assert engine.registrations[0].additional_secret_outputs == ("token_sha256",)

    stored = json.dumps(engine.state.plaintext_view())
    assert SECRET_CONTENT not in stored and TOKEN not in stored and sha256(TOKEN) not in stored
    assert CIPHERTEXT_PLACEHOLDER in stored
    assert SECRET_CONTENT not in repr(record) + repr(engine.state)
    # The provider itself received the plain value: the engine strips secret markers for dynamic providers.
    assert [document["content"] for document in object_files(root).values()] == [SECRET_CONTENT]


def with_poisoned_middle() -> None:
    FileObject("first", {"name": "first"})
    bad = FileObject("bad", {"name": "bad"})
    FileObject("after-bad", {"name": "after-bad", "content": bad.path})
    FileObject("last", {"name": "last"})


def test_failed_resource_keeps_the_rest_and_the_next_up_converges(engine: ProgramEngine, root: Path) -> None:
    (root / "poison").mkdir(parents=True)
    (root / "poison" / "bad").touch()

    with pytest.raises(DeploymentFailed) as failed:
        engine.up(with_poisoned_middle)
    assert [failure.name for failure in failed.value.failures] == ["bad"]
    assert "object bad is poisoned" in failed.value.failures[0].message
    assert [urn.rsplit("::", 1)[-1] for urn in failed.value.result.skipped] == ["after-bad"]
    assert sorted(engine.state.names()) == ["first", "last"]

    (root / "poison" / "bad").unlink()
    converged = engine.up(with_poisoned_middle)
    assert converged.ops == {"first": "same", "bad": "create", "after-bad": "create", "last": "same"}


def before_preview() -> None:
    FileObject("kept", {"name": "kept", "content": "v1"})
    FileObject("dropped", {"name": "dropped"})


def after_preview() -> None:
    FileObject("kept", {"name": "kept", "content": "v2"})
    added = FileObject("added", {"name": "added"})
    pulumi.export("added_path", added.path)


def test_preview_plans_without_mutating(engine: ProgramEngine, root: Path) -> None:
    engine.up(before_preview)
    files_before = object_files(root)
    mutations_before = journal_ops(root)

    planned = engine.preview(after_preview)

    assert planned.ops == {"kept": "update", "added": "create", "dropped": "delete"}
    assert is_unknown(planned.outputs["added_path"])
    assert journal_ops(root) == mutations_before
    assert object_files(root) == files_before
    assert sorted(engine.state.names()) == ["dropped", "kept"]


def test_expect_no_changes(engine: ProgramEngine) -> None:
    engine.up(before_preview)

    assert engine.expect_no_changes(before_preview).ops == {"kept": "same", "dropped": "same"}
    with pytest.raises(AssertionError, match="expected no changes"):
        engine.expect_no_changes(after_preview)


def test_refresh_drops_vanished_objects_and_reports_drift(engine: ProgramEngine, root: Path) -> None:
    engine.up(before_preview)
    Path(engine.state.get("dropped").outputs["path"]).unlink()
    edited = Path(engine.state.get("kept").outputs["path"])
    edited.write_text(json.dumps({**json.loads(edited.read_text()), "content": "edited by hand"}))

    refreshed = engine.refresh()

    assert refreshed.ops == {"kept": "update", "dropped": "delete"}
    assert [(drift.name, drift.keys) for drift in refreshed.drift] == [("kept", ["content"])]
    assert refreshed.drift[0].after == {"content": "edited by hand"}
    assert engine.state.names() == ["kept"]
    assert engine.up(before_preview).ops == {"kept": "update", "dropped": "create"}


def four_at_once() -> None:
    for index in range(4):
        FileObject(f"parallel-{index}", {"name": f"parallel-{index}", "rendezvous": 4})


def test_concurrent_registrations_reach_the_server_together(engine: ProgramEngine, root: Path) -> None:
    engine.up(four_at_once)

    creates = [entry for entry in read_journal(root) if entry["op"] == "create"]
    assert len(creates) == 4
    assert all(entry["met_rendezvous"] for entry in creates)
    assert len({entry["thread"] for entry in creates}) == 4


def test_components_and_other_custom_resources(engine: ProgramEngine, root: Path) -> None:
    def program(comment: str, *, with_group: bool = True) -> Callable[[], None]:
        def run() -> None:
            if with_group:
                group = pulumi.ComponentResource("harness:test:Group", "group")
                FileObject("child", {"name": "child"}, pulumi.ResourceOptions(parent=group))
            snowflake.Database("db", name="SEGMENT", comment=comment)

        return run

    assert engine.up(program("first")).ops == {"group": "create", "child": "create", "db": "create"}
    child, database = engine.state.get("child"), engine.state.get("db")
    assert child.urn.endswith("::harness:test:Group$pulumi-python:dynamic/harness:FileObject::child")
    assert child.parent == engine.state.get("group").urn
    assert database.id and database.outputs["comment"] == "first"

    assert engine.up(program("second")).ops == {"group": "same", "child": "same", "db": "update"}
    assert engine.state.get("db").id == database.id

    removed = engine.up(program("second", with_group=False))
    assert [(step.name, step.op) for step in removed.steps if step.op == "delete"] == [
        ("child", "delete"),
        ("group", "delete"),
    ]
    assert object_files(root) == {}


def test_program_given_as_a_main_file(engine: ProgramEngine, tmp_path: Path) -> None:
    main = tmp_path / "program" / "__main__.py"
    main.parent.mkdir()
    main.write_text(
        textwrap.dedent(
            """
            import pulumi
            from tests.harness_fixtures.file_provider import FileObject

            config = pulumi.Config("files")
            document = FileObject("from-main", {"name": "from-main", "content": config.require("label")})
            pulumi.export("secret_token", config.require_secret("token"))
            pulumi.export("content", document.content)
            """
        )
    )

    result = engine.up(main)

    assert result.outputs == {"secret_token": TOKEN, "content": "blue"}
    assert result.secret_outputs == {"secret_token"}
    assert TOKEN not in json.dumps(engine.state.plaintext_view())


def test_check_failure_fails_the_up_and_creates_nothing(engine: ProgramEngine, root: Path) -> None:
    with pytest.raises(DeploymentFailed, match="name must be a non-empty string") as failed:
        engine.up(lambda: FileObject("invalid", {"name": "a/b"}))

    assert failed.value.operation == "up"
    assert len(engine.state) == 0
    assert journal_ops(root) == []


def test_program_error_is_raised_after_saving_what_was_created(engine: ProgramEngine) -> None:
    def broken() -> None:
        FileObject("made", {"name": "made"})
        raise ValueError("program bug")

    with pytest.raises(ValueError, match="program bug"):
        engine.up(broken)
    assert engine.state.names() == ["made"]


def test_invokes_are_answered_by_the_handlers_given(server: ProviderServer, root: Path) -> None:
    seen: list[dict[str, Any]] = []

    def lookup(args: dict[str, Any]) -> dict[str, Any]:
        seen.append(args)
        return {"answer": args["question"].upper()}

    engine = ProgramEngine(server, config=files_config(root), invokes={"harness:index:lookup": lookup})

    def program() -> None:
        result = pulumi.runtime.invoke("harness:index:lookup", {"question": "why"})
        pulumi.export("answer", result.value["answer"])

    assert engine.up(program).outputs == {"answer": "WHY"}
    assert seen == [{"question": "why"}]
    with pytest.raises(Exception, match="no handler for invoke 'harness:index:other'"):
        engine.up(lambda: pulumi.runtime.invoke("harness:index:other", {}))
