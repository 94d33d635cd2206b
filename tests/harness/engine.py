"""Run a Pulumi program the way ``pulumi up``/``preview``/``refresh``/``destroy`` would, without the CLI.

The program runs under ``pulumi.runtime.set_mocks`` with a :class:`~tests.harness.monitor.HarnessMonitor`:

* dynamic resources (``pulumi-python:dynamic…``) go to the real provider server through
  :meth:`ResourceDriver.apply` — create, update, replace in the order the diff asks, or nothing;
* other custom resources (``snowflake:index/…``, explicit providers) get their inputs as outputs and a stable
  fake id, and are diffed by inputs (update on any change, never replace);
* component resources are recorded;
* state is kept between operations like a stack's checkpoint, with each resource's options (parent,
  dependencies, ``protect``, ``retainOnDelete``, ``deleteBeforeReplace``, ``additionalSecretOutputs``);
* after the program, resources it no longer registers are deleted, dependents first; so are objects replaced
  create-before-delete (the engine deletes those at the end too). Protected resources are never deleted or
  replaced;
* an output is secret when the input of the same key held a secret or the key is in
  ``additionalSecretOutputs`` (the engine's rule for providers that do not accept secrets); secret outputs go
  back to the program as secrets, so exports made from them are secret;
* a failing resource does not stop the program: its outputs become unknown, resources depending on it are
  skipped, everything else goes on (as ``pulumi up --continue-on-error``); the state keeps what succeeded, no
  deletes run, and :class:`DeploymentFailed` is raised at the end.

What it does not do: no separate preview before ``up`` (``up`` is ``pulumi up --skip-preview``; call
``preview()`` first for both), no checkpoint files or journal, no plugin downloads or default provider
resources, no targets, aliases, imports, ``get`` reads or transforms; an ``up`` deletes what it no longer
registers one at a time (``refresh`` reads, and ``destroy`` deletes, in parallel, dependents first, as the
engine does); ignore_changes only for top-level keys; previews simplify unknowns (a planned create or update outputs its
checked inputs, everything else unknown).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import hashlib
import itertools
import runpy
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pulumi.runtime
from pulumi.runtime import rpc, settings
from pulumi.runtime.stack import Stack, massage, run_pulumi_func

from tests.harness import wire
from tests.harness.driver import PlannedStep, ResourceDriver
from tests.harness.errors import DeploymentFailed, HarnessError, ResourceProtected
from tests.harness.monitor import HarnessMocks, HarnessMonitor, InvokeHandler, RegisterOutcome, Registration
from tests.harness.results import Drift, Failure, Op, RunResult, StepRecord
from tests.harness.server import DEFAULT_PROJECT, ProviderServer
from tests.harness.state import ResourceState, StackState, StateResource, delete_order

Program = Callable[[], object] | str | Path
"""A zero-argument callable, or the path of a ``__main__.py`` run as the language host runs it."""


@dataclasses.dataclass
class _ProgramRun:
    outputs: dict[str, Any] = dataclasses.field(default_factory=dict)
    secret_outputs: frozenset[str] = frozenset()
    stack_urn: str = ""
    error: BaseException | None = None


class ProgramEngine:
    """A stack: config, state and the provider server its dynamic resources are sent to."""

    def __init__(
        self,
        server: ProviderServer,
        project: str = DEFAULT_PROJECT,
        stack: str = "dev",
        config: Mapping[str, str] | None = None,
        secret_keys: Iterable[str] = (),
        *,
        parallel: int = 16,
        invokes: Mapping[str, InvokeHandler] | None = None,
    ) -> None:
        self.server = server
        self.project = project
        self.stack = stack
        self.config = dict(config or {})
        self.secret_keys = frozenset(secret_keys)
        self.parallel = parallel
        self.invokes = dict(invokes or {})
        self.driver = ResourceDriver(server, stack=stack)
        self.state = StackState()
        self.registrations: list[Registration] = []
        """Every registration of the last program run, in arrival order."""
        self._sequence = itertools.count(1)

    def __repr__(self) -> str:
        return (
            f"ProgramEngine(project={self.project!r}, stack={self.stack!r}, resources={self.state.names()})"
        )

    # operations

    def up(self, program: Program) -> RunResult:
        deployment = self._deploy(program, preview=False)
        run = deployment.run
        if run.error is None and not deployment.failures:
            deployment.delete_leftovers()
        if run.error is None and not deployment.failures:
            self.state.outputs, self.state.secret_outputs = run.outputs, run.secret_outputs
        return deployment.finish()

    def preview(self, program: Program) -> RunResult:
        """Check and Diff only: planned operations, no Create/Update/Delete, state untouched."""
        deployment = self._deploy(program, preview=True)
        if deployment.run.error is None and not deployment.failures:
            deployment.plan_leftover_deletes()
        return deployment.finish()

    def expect_no_changes(self, program: Program) -> RunResult:
        """``pulumi preview --expect-no-changes``: a preview that fails when anything would change."""
        result = self.preview(program)
        if result.has_changes:
            raise AssertionError(f"expected no changes, the preview plans {result.changes}")
        return result

    def refresh(self) -> RunResult:
        """Read every dynamic resource: a vanished object leaves the state, changed outputs are drift."""
        self.server.configure(self.config, self.secret_keys)
        deployment = _Deployment(self, self.state, preview=False, operation="refresh")
        records = list(self.state)
        # The engine reads every resource at once, up to its parallelism; the outcomes are applied in order.
        with concurrent.futures.ThreadPoolExecutor(max_workers=self.parallel) as pool:
            outcomes = list(pool.map(deployment.read_one, records))
        for record, outcome in zip(records, outcomes, strict=True):
            deployment.apply_refresh(record, outcome)
        return deployment.finish()

    def destroy(self) -> RunResult:
        """Delete everything, dependents first. Refused up front if any resource is protected."""
        self.server.configure(self.config, self.secret_keys)
        deployment = _Deployment(self, self.state, preview=False, operation="destroy")
        protected = [record for record in self.state if record.protect]
        if protected:
            for record in protected:
                deployment.fail(record.urn, record.name, record.type, str(ResourceProtected(record.urn)))
            return deployment.finish()
        deployment.delete([*self.state, *self.state.pending_deletes], parallel=self.parallel)
        if not deployment.failures:
            self.state.outputs, self.state.secret_outputs = {}, frozenset()
        return deployment.finish()

    # running the program

    def next_sequence(self) -> int:
        return next(self._sequence)

    def _deploy(self, program: Program, *, preview: bool) -> _Deployment:
        self.server.configure(self.config, self.secret_keys)
        state = self.state.copy() if preview else self.state
        deployment = _Deployment(self, state, preview=preview, operation="preview" if preview else "up")
        deployment.run = self._run_program(program, deployment)
        self.registrations = list(deployment.registrations)
        if not preview and deployment.run.stack_urn:
            self.state.stack_urn = deployment.run.stack_urn
        return deployment

    def _run_program(self, program: Program, deployment: _Deployment) -> _ProgramRun:
        """Each run gets its own thread: fresh context variables (root stack, settings, config) and loop."""
        outcome: list[_ProgramRun] = []
        thread = threading.Thread(
            target=lambda: outcome.append(self._run_in_fresh_runtime(program, deployment)),
            name=f"pulumi-program-{self.stack}",
            daemon=True,
        )
        thread.start()
        thread.join()
        if not outcome:
            raise HarnessError("the program thread ended without a result")
        return outcome[0]

    def _run_in_fresh_runtime(self, program: Program, deployment: _Deployment) -> _ProgramRun:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        # The SDK sends every RegisterResource from the loop's default executor: its size is the program's
        # parallelism (the engine's --parallel).
        loop.set_default_executor(
            concurrent.futures.ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="pulumi-rpc")
        )
        monitor: HarnessMonitor | None = None
        try:
            monitor = self._install_runtime(deployment)
            root = settings.get_root_resource()
            assert isinstance(root, Stack)
            # set_mocks finishes the root stack before the program runs, which closes it to `pulumi.run`; the
            # language host runs the program first, then the entry point it registered. So does the stand-in.
            root._async_program_registration_closed = False
            loop.run_until_complete(run_pulumi_func(lambda: _invoke_in_stack(program, root)))
            outputs, secret_outputs = loop.run_until_complete(_collect_exports(root))
            return _ProgramRun(outputs, secret_outputs, monitor.stack_urn)
        except BaseException as error:
            # Handed to the calling thread, which raises it once the state is saved.
            return _ProgramRun(stack_urn=monitor.stack_urn if monitor else "", error=error)
        finally:
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
            asyncio.set_event_loop(None)

    def _install_runtime(self, deployment: _Deployment) -> HarnessMonitor:
        # These two settings are not set by set_mocks; without fresh ones, runs would share the process-wide
        # defaults.
        settings.SETTINGS.outputs = set()
        settings.SETTINGS.lock = threading.Lock()
        pulumi.runtime.set_all_config(self.config, sorted(self.secret_keys))
        mocks = HarnessMocks(self.invokes)
        monitor = HarnessMonitor(mocks, deployment)
        pulumi.runtime.set_mocks(
            mocks, project=self.project, stack=self.stack, preview=deployment.preview, monitor=monitor
        )
        return monitor


class _Deployment:
    """One operation's bookkeeping; ``register`` is called concurrently from the SDK's thread pool."""

    def __init__(self, engine: ProgramEngine, state: StackState, *, preview: bool, operation: str) -> None:
        self.engine = engine
        self.driver: ResourceDriver = engine.driver
        self.state = state
        self.preview = preview
        self.operation = operation
        self.run = _ProgramRun()
        self.lock = threading.Lock()
        self.replaced_by_dependency: set[str] = set()
        """Dependents deleted ahead of a delete-before-replace: their create is a replace."""
        self.registered: set[str] = set()
        self.registrations: list[Registration] = []
        self.steps: list[StepRecord] = []
        self.failures: list[Failure] = []
        self.drift: list[Drift] = []
        self.skipped: list[str] = []
        self.blocked: set[str] = set()

    # registrations

    def register(self, registration: Registration) -> RegisterOutcome:
        with self.lock:
            duplicate = registration.urn in self.registered
            self.registered.add(registration.urn)
            self.registrations.append(registration)
            prior = self.state.resources.get(registration.urn)
            blocked = bool(registration.depends_on() & self.blocked)
        if duplicate:
            return self._fail(registration, f"duplicate resource URN {registration.urn}")
        if blocked or (not self.preview and wire.contains_unknowns(registration.inputs)):
            return self._skip(registration)
        if registration.import_id:
            return self._fail(registration, "import is not supported for dynamic resources")
        try:
            if registration.custom and wire.is_dynamic_type(registration.type):
                return self._dynamic(registration, prior)
            if registration.custom:
                return self._plain_custom(registration, prior)
            return self._component(registration, prior)
        except HarnessError as error:
            return self._fail(registration, str(error))
        except Exception as error:
            return self._fail(registration, f"{type(error).__name__}: {error}")

    def register_outputs(self, urn: str, outputs: dict[str, Any]) -> None:
        if self.preview:
            return
        with self.lock:
            record = self.state.resources.get(urn)
            if record is not None:
                record.outputs = wire.strip_secrets(outputs)
                record.secret_outputs = wire.secret_keys_of(outputs)

    def _dynamic(self, registration: Registration, prior: StateResource | None) -> RegisterOutcome:
        blob = wire.strip_secrets(registration.inputs.get(wire.PROVIDER_KEY))
        if not isinstance(blob, str):
            raise HarnessError(f"{registration.urn} has no serialized provider")
        news = {key: value for key, value in registration.inputs.items() if key != wire.PROVIDER_KEY}
        prior_state = prior.as_resource_state() if prior else None
        protected = bool(prior and prior.protect and registration.protect)
        if self.preview:
            step = self.driver.plan(
                registration.name,
                registration.type,
                blob,
                news,
                prior_state,
                urn=registration.urn,
                ignore_changes=registration.ignore_changes,
            )
            if step.op == "replace" and protected:
                raise ResourceProtected(registration.urn, "replace")
            resource_id, outputs = _planned_outputs(step, prior_state)
            return self._record(registration, prior, step.op, resource_id, step.inputs, outputs)
        applied, op = self.driver.apply(
            registration.name,
            registration.type,
            blob,
            news,
            prior_state,
            urn=registration.urn,
            protect=protected,
            delete_before_replace=registration.delete_before_replace,
            ignore_changes=registration.ignore_changes,
            defer_delete=lambda replaced: self._defer_delete(prior, replaced),
            on_deleted=lambda _deleted: self._forget(registration.urn),
            before_delete=lambda _replaced: self._delete_dependents_it_replaces(registration.urn),
        )
        return self._record(registration, prior, op, applied.id, applied.inputs, applied.outputs)

    def _plain_custom(self, registration: Registration, prior: StateResource | None) -> RegisterOutcome:
        inputs = wire.strip_secrets(registration.inputs)
        op: Op = "create" if prior is None else ("same" if prior.inputs == inputs else "update")
        new_id = "" if self.preview else _fake_id(registration.urn)
        resource_id = prior.id if prior is not None else new_id
        return self._record(registration, prior, op, resource_id, inputs, inputs)

    def _component(self, registration: Registration, prior: StateResource | None) -> RegisterOutcome:
        op: Op = "same" if prior else "create"
        outputs = prior.outputs if prior else {}
        self._record(registration, prior, op, "", wire.strip_secrets(registration.inputs), outputs)
        return RegisterOutcome()

    def _record(
        self,
        registration: Registration,
        prior: StateResource | None,
        op: Op,
        resource_id: str,
        inputs: dict[str, Any],
        outputs: dict[str, Any],
    ) -> RegisterOutcome:
        secret_inputs = wire.secret_keys_of(registration.inputs)
        secret_outputs = frozenset(
            key for key in outputs if key in secret_inputs or key in registration.additional_secret_outputs
        )
        if op == "same" and prior is not None:
            secret_outputs |= prior.secret_outputs & outputs.keys()
        if op == "create" and registration.urn in self.replaced_by_dependency:
            op = "replace"
        with self.lock:
            keeps_sequence = prior is not None and op != "replace"
            record = StateResource(
                urn=registration.urn,
                name=registration.name,
                type=registration.type,
                custom=registration.custom,
                id=resource_id,
                inputs=wire.strip_secrets(inputs),
                outputs=wire.strip_secrets(outputs),
                parent=registration.parent,
                provider=registration.provider,
                dependencies=registration.dependencies,
                property_dependencies=registration.property_dependencies,
                protect=registration.protect,
                retain_on_delete=registration.retain_on_delete,
                delete_before_replace=registration.delete_before_replace,
                additional_secret_outputs=registration.additional_secret_outputs,
                secret_inputs=secret_inputs,
                secret_outputs=secret_outputs,
                sequence=prior.sequence if keeps_sequence and prior else self.engine.next_sequence(),
            )
            if not self.preview:
                self.state.resources[registration.urn] = record
            self.steps.append(StepRecord(registration.urn, registration.name, registration.type, op))
        returned = {
            key: wire.secret(value) if key in secret_outputs else value for key, value in outputs.items()
        }
        return RegisterOutcome(resource_id, returned)

    def _defer_delete(self, prior: StateResource | None, replaced: ResourceState) -> None:
        if prior is None:
            return
        pending = dataclasses.replace(prior, id=replaced.id, inputs=replaced.inputs, outputs=replaced.outputs)
        with self.lock:
            self.state.pending_deletes.append(pending)

    def _delete_dependents_it_replaces(self, urn: str) -> None:
        """What the engine does before a delete-before-replace: each dependent that the replacement replaces too
        (its Diff asks for a replacement once the inputs it takes from ``urn`` are unknown) is deleted first,
        its own such dependents before it. Its next registration is then a create, shown as a replace."""
        with self.lock:
            dependents = [r for r in self.state if urn in r.depends_on() and wire.is_dynamic_type(r.type)]
        for record in dependents:
            taken = {key for key, urns in record.property_dependencies.items() if urn in urns}
            news = {key: rpc.UNKNOWN if key in taken else value for key, value in record.inputs.items()}
            blob = wire.strip_secrets(record.inputs.get(wire.PROVIDER_KEY))
            step = self.driver.plan(
                record.name, record.type, blob, news, record.as_resource_state(), urn=record.urn
            )
            if step.op != "replace":
                continue
            if record.protect:
                raise ResourceProtected(record.urn, "replace")
            self._delete_dependents_it_replaces(record.urn)
            self.driver.delete(record.as_resource_state())
            with self.lock:
                self.state.resources.pop(record.urn, None)
                self.replaced_by_dependency.add(record.urn)

    def _forget(self, urn: str) -> None:
        with self.lock:
            self.state.resources.pop(urn, None)

    def _skip(self, registration: Registration) -> RegisterOutcome:
        with self.lock:
            self.blocked.add(registration.urn)
            self.skipped.append(registration.urn)
        return RegisterOutcome(failed=True)

    def _fail(self, registration: Registration, message: str) -> RegisterOutcome:
        self.fail(registration.urn, registration.name, registration.type, message)
        return RegisterOutcome(failed=True)

    def fail(self, urn: str, name: str, type_: str, message: str) -> None:
        with self.lock:
            self.blocked.add(urn)
            self.failures.append(Failure(urn, name, type_, message))

    # deletes

    def leftovers(self) -> list[StateResource]:
        return [record for record in self.state if record.urn not in self.registered]

    def delete_leftovers(self) -> None:
        self.delete([*self.leftovers(), *self.state.pending_deletes])

    def plan_leftover_deletes(self) -> None:
        for record in delete_order(self.leftovers()):
            if record.protect:
                self.fail(record.urn, record.name, record.type, str(ResourceProtected(record.urn)))
            else:
                self.steps.append(StepRecord(record.urn, record.name, record.type, "delete"))

    def delete(self, records: list[StateResource], *, parallel: int = 1) -> None:
        """Dependents first; what a failed delete depends on is kept (it is still in use). With ``parallel`` above
        1, as the engine's destroy: every resource whose dependents are gone is deleted at once, up to that
        many at a time."""
        urns = [record.urn for record in records]
        if parallel > 1 and len(set(urns)) == len(urns):
            self._delete_in_parallel(records, parallel)
            return
        pending = {id(record) for record in self.state.pending_deletes}
        still_needed: set[str] = set()
        for record in delete_order(records):
            if record.urn in still_needed:
                still_needed |= record.depends_on()
                continue
            try:
                if record.protect and id(record) not in pending:
                    raise ResourceProtected(record.urn)
                self._delete_one(record)
            except HarnessError as error:
                self.fail(record.urn, record.name, record.type, str(error))
                still_needed |= record.depends_on()
                continue
            if id(record) in pending:
                self.state.pending_deletes.remove(record)
            else:
                self.state.resources.pop(record.urn, None)
                self.steps.append(StepRecord(record.urn, record.name, record.type, "delete"))

    def _delete_in_parallel(self, records: list[StateResource], parallel: int) -> None:
        by_urn = {record.urn: record for record in records}
        needs = {record.urn: [u for u in record.depends_on() if u in by_urn] for record in records}
        dependents = dict.fromkeys(by_urn, 0)
        for needed in needs.values():
            for urn in needed:
                dependents[urn] += 1
        # A failed delete never releases what it depends on: those stay, still in use.
        ready = [record for record in delete_order(records) if dependents[record.urn] == 0]
        running: dict[concurrent.futures.Future[bool], StateResource] = {}
        with concurrent.futures.ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="delete") as pool:
            while ready or running:
                for record in ready:
                    running[pool.submit(self._delete_step, record)] = record
                ready = []
                done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    record = running.pop(future)
                    if not future.result():
                        continue
                    for urn in needs[record.urn]:
                        dependents[urn] -= 1
                        if dependents[urn] == 0:
                            ready.append(by_urn[urn])

    def _delete_step(self, record: StateResource) -> bool:
        pending = any(record is p for p in self.state.pending_deletes)
        try:
            if record.protect and not pending:
                raise ResourceProtected(record.urn)
            self._delete_one(record)
        except HarnessError as error:
            self.fail(record.urn, record.name, record.type, str(error))
            return False
        with self.lock:
            if pending:
                self.state.pending_deletes.remove(record)
            else:
                self.state.resources.pop(record.urn, None)
                self.steps.append(StepRecord(record.urn, record.name, record.type, "delete"))
        return True

    def _delete_one(self, record: StateResource) -> None:
        if record.retain_on_delete or not record.custom or not wire.is_dynamic_type(record.type):
            return
        self.driver.delete(record.as_resource_state())

    # refresh

    def refresh_one(self, record: StateResource) -> None:
        self.apply_refresh(record, self.read_one(record))

    def read_one(self, record: StateResource) -> ResourceState | HarnessError | None:
        """The provider's read of ``record`` (None: gone), or the error; changes nothing (run in parallel)."""
        if not (record.custom and wire.is_dynamic_type(record.type)):
            return None
        try:
            return self.driver.read(record.as_resource_state())
        except HarnessError as error:
            return error

    def apply_refresh(self, record: StateResource, fresh: ResourceState | HarnessError | None) -> None:
        if not (record.custom and wire.is_dynamic_type(record.type)):
            self.steps.append(StepRecord(record.urn, record.name, record.type, "same"))
            return
        if isinstance(fresh, HarnessError):
            self.fail(record.urn, record.name, record.type, str(fresh))
            return
        if fresh is None:
            self.state.resources.pop(record.urn, None)
            self.steps.append(StepRecord(record.urn, record.name, record.type, "delete"))
            return
        changed = sorted(
            key
            for key in record.outputs.keys() | fresh.outputs.keys()
            if record.outputs.get(key) != fresh.outputs.get(key)
        )
        if changed:
            before = {key: record.outputs[key] for key in changed if key in record.outputs}
            after = {key: fresh.outputs[key] for key in changed if key in fresh.outputs}
            self.drift.append(Drift(record.urn, record.name, record.type, before, after))
        record.id, record.inputs, record.outputs = fresh.id, fresh.inputs, fresh.outputs
        record.secret_outputs = frozenset(
            key for key in fresh.outputs if key in record.secret_inputs or key in record.secret_outputs
        )
        self.steps.append(StepRecord(record.urn, record.name, record.type, "update" if changed else "same"))

    # outcome

    def finish(self) -> RunResult:
        result = RunResult(
            operation=self.operation,
            outputs=dict(self.run.outputs),
            secret_outputs=self.run.secret_outputs,
            steps=list(self.steps),
            failures=list(self.failures),
            drift=list(self.drift),
            skipped=list(self.skipped),
        )
        if self.failures:
            raise DeploymentFailed(self.operation, self.failures, result)
        if self.run.error is not None:
            raise self.run.error
        return result


def _planned_outputs(step: PlannedStep, prior: ResourceState | None) -> tuple[str, dict[str, Any]]:
    """Preview answers: a same keeps its outputs; an update keeps its id; creates and replacements have
    neither id nor computed outputs yet (the SDK treats the missing ones as unknown)."""
    inputs = {key: value for key, value in step.inputs.items() if key != wire.PROVIDER_KEY}
    if step.op == "same" and prior is not None:
        return prior.id, dict(prior.outputs)
    if step.op == "update" and prior is not None:
        return prior.id, inputs
    return "", inputs


def _fake_id(urn: str) -> str:
    return f"{urn.rsplit('::', 1)[-1]}-{hashlib.sha256(urn.encode()).hexdigest()[:8]}"


def _invoke(program: Program) -> None:
    if callable(program):
        program()
        return
    path = Path(program).resolve()
    # The language host puts the program directory on sys.path before running __main__.py.
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    runpy.run_path(str(path), run_name="__main__")


async def _invoke_in_stack(program: Program, root: Stack) -> None:
    """The program, then the entry point it registered with ``pulumi.run``, as ``run_in_stack`` runs them."""
    _invoke(program)
    entry_point = root._take_async_program()
    if entry_point is not None:
        root._add_program_outputs(await entry_point())


async def _collect_exports(root: Any) -> tuple[dict[str, Any], frozenset[str]]:
    """The stack outputs as the engine receives them: serialized by the SDK, secrets marked."""
    exported = getattr(root, "outputs", None) or {}
    struct = await rpc.serialize_properties(massage(dict(exported), []), {})
    values = rpc.deserialize_properties(struct, keep_unknowns=True)
    secret_outputs = frozenset(key for key, value in values.items() if rpc.is_rpc_secret(value))
    return {key: rpc.unwrap_rpc_secret(value) for key, value in values.items()}, secret_outputs
