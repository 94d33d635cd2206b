"""The program's entry point waits for every registration's answer, and leaves failures to the SDK."""

from __future__ import annotations

import asyncio

import pulumi

from flex_program.program import registrations_answered


def pending_urn(loop: asyncio.AbstractEventLoop) -> tuple[pulumi.Output[str], asyncio.Future[str]]:
    """A resource's URN before the engine answers its registration, and the future the answer resolves."""
    answer: asyncio.Future[str] = loop.create_future()
    known: asyncio.Future[bool] = loop.create_future()
    known.set_result(True)
    return pulumi.Output(set(), answer, known), answer


def test_it_returns_only_once_every_registration_is_answered_and_raises_no_failure() -> None:
    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        (first, first_answer), (second, second_answer) = pending_urn(loop), pending_urn(loop)
        waiting = asyncio.ensure_future(registrations_answered([first, second]))
        seen = []
        first_answer.set_result("urn:first")
        for _ in range(5):
            await asyncio.sleep(0)
        seen.append("done" if waiting.done() else "waiting")
        second_answer.set_exception(RuntimeError("the engine refused the registration"))
        await asyncio.wait_for(waiting, timeout=5)
        seen.append("done" if waiting.exception() is None else "raised")
        return seen

    # A loop of its own, not asyncio.run: that would unset the thread's loop for the SDK tests run after this one.
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(scenario()) == ["waiting", "done"]
    finally:
        loop.close()
