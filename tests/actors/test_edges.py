"""Edges of the runtime: fates that cross a subtree, mailboxes of actors gone for good,
kills that race other things."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
import trio
import trio.testing

from actors import (
    Actor,
    ActorCrashed,
    ActorSpec,
    ActorSystem,
    ActorUnavailable,
    Restart,
    Strategy,
    SupervisorGaveUp,
)

from .helpers import Journal, recorder, started, supervisor


class Lingering(Actor):
    """Says it will finish on its own when stopped, then takes its whole shutdown budget."""

    def request_stop(self) -> bool:
        return True

    async def run(
        self, mailbox: Any, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        task_status.started()
        await trio.sleep_forever()


async def test_messages_to_a_subtree_being_restarted_wait_for_it(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    journal = Journal()
    system = await started(
        nursery,
        supervisor(
            "root",
            [
                recorder("a", journal),
                ActorSpec("lingering", Lingering, shutdown=10.0),
                supervisor("sub", [recorder("b", journal)]),
            ],
            Strategy.ONE_FOR_ALL,
        ),
    )
    await system.ref("a").tell(("crash", "x"))
    await trio.sleep(1.0)  # "lingering" is still taking its 10 s to stop
    assert (system.state("sub"), system.state("b")) == ("restarting", "restarting")
    await system.ref("b").tell("sent during the restart")
    assert await system.ref("b").ask("ping", timeout=60) == "pong"
    assert ("b", "sent during the restart") in journal.handled


async def test_a_kill_that_breaks_an_actors_cleanup_is_still_just_a_kill(
    nursery: trio.Nursery,
) -> None:
    class CleansUpBadly(Actor):
        async def run(
            self, mailbox: Any, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
        ) -> None:
            async def helper() -> None:
                try:
                    await trio.sleep_forever()
                finally:
                    raise ValueError("cleanup failed")

            async with trio.open_nursery() as inner:
                inner.start_soon(helper)
                task_status.started()
                await trio.sleep_forever()

    system = await started(
        nursery, supervisor("root", [supervisor("sub", [ActorSpec("n", CleansUpBadly)])])
    )
    system.kill("n")
    await trio.testing.wait_all_tasks_blocked()
    sub = system.tree()["children"][0]
    assert (sub["restarts"], sub["last_error"]) == (0, None), "the supervisor did not crash"
    assert (sub["children"][0]["restarts"], sub["children"][0]["last_error"]) == (1, "killed")


class FinishesOnRequest(Actor):
    """Handles messages; "finish" makes it return normally from run, ending it."""

    def __init__(self, gate: trio.Event) -> None:
        self.gate = gate

    async def run(
        self, mailbox: Any, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        task_status.started()
        await self.gate.wait()


async def test_asks_and_blocked_tells_fail_when_their_actor_ends_for_good(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    gate = trio.Event()
    system = await started(
        nursery,
        supervisor(
            "root",
            [
                ActorSpec(
                    "done",
                    lambda: FinishesOnRequest(gate),
                    restart=Restart.TRANSIENT,
                    mailbox_size=2,
                )
            ],
        ),
    )
    ref = system.ref("done")
    outcomes: list[str] = []

    async def send(kind: str, **options: Any) -> None:
        try:
            if kind == "tell":
                await ref.tell(kind)
            else:
                await ref.ask(kind, **options)
            outcomes.append(f"{kind}: delivered")
        except ActorUnavailable:
            outcomes.append(f"{kind}: unavailable")

    for sender in (
        partial(send, "ask-forever", timeout=None),
        partial(send, "ask-5s", timeout=5.0),
        partial(send, "tell"),
    ):  # the mailbox holds two: this one waits for room
        nursery.start_soon(sender)
        await trio.testing.wait_all_tasks_blocked()
    gate.set()  # it returns normally; a transient actor is then done for good
    await trio.testing.wait_all_tasks_blocked()
    assert sorted(outcomes) == [
        "ask-5s: unavailable",
        "ask-forever: unavailable",
        "tell: unavailable",
    ]
    assert trio.current_time() == 0, "they failed at once, not at a timeout"
    assert system.state("done") == "stopped"


async def test_a_transient_supervisor_that_gives_up_is_not_restarted(
    nursery: trio.Nursery,
) -> None:
    journal = Journal()
    inner = supervisor("sub", [recorder("w", journal)], max_restarts=0, restart=Restart.TRANSIENT)
    system = await started(nursery, supervisor("root", [recorder("other", journal), inner]))
    worker = system.ref("w")
    await worker.tell(("crash", "x"))
    await trio.testing.wait_all_tasks_blocked()
    # OTP: a supervisor that gives up exits with reason `shutdown`, normal for transient.
    assert (system.state("sub"), system.restarts("sub"), system.state("w")) == (
        "stopped",
        0,
        "stopped",
    )
    with pytest.raises(ActorUnavailable):
        await worker.ask("ping")
    assert system.state("other") == "running"
    assert "sub" in system.tree()["children"][1]["name"]
    assert system.unavailable() == [], "a transient child that is done is not missing"


async def test_a_kill_racing_a_shutdown_is_still_reported() -> None:
    system = ActorSystem(supervisor("root", [recorder("a", Journal())]))

    async def kill_then_stop() -> None:
        await trio.testing.wait_all_tasks_blocked()
        system.kill("root")
        await system.shutdown()

    with pytest.RaisesGroup(pytest.RaisesExc(SupervisorGaveUp, match="killed")):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(kill_then_stop)
            await system.run()


async def test_a_temporary_child_ending_while_a_sibling_restarts_all_is_dropped_once(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    journal = Journal()
    system = await started(
        nursery,
        supervisor(
            "root",
            [
                supervisor(
                    "sub",
                    [
                        recorder("a", journal),
                        recorder("t", journal, restart=Restart.TEMPORARY),
                    ],
                    Strategy.ONE_FOR_ALL,
                    max_restarts=10,
                )
            ],
        ),
    )
    await system.ref("a").tell(("crash", "x"))
    system.kill("t")  # its report is queued behind a's, whose restart drops it first
    await trio.sleep(1.0)
    assert system.restarts("sub") == 0, "the supervisor itself did not crash"
    assert [c["name"] for c in system.tree()["children"][0]["children"]] == ["a"]


async def test_a_subtree_giving_up_but_restarted_by_its_parent_keeps_its_mailboxes(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    journal = Journal()
    system = await started(
        nursery,
        supervisor(
            "root",
            [
                supervisor(
                    "sub",
                    [ActorSpec("lingering", Lingering, shutdown=10.0), recorder("a", journal)],
                    max_restarts=0,
                    restart=Restart.TRANSIENT,
                ),
                recorder("b", journal),
            ],
            Strategy.ONE_FOR_ALL,
            max_restarts=10,
        ),
    )
    await system.ref("a").tell(("crash", "x"))
    await trio.sleep(0.5)  # "sub" is giving up: "lingering" takes 10 s to stop
    await system.ref("b").tell(("crash", "y"))  # the root restarts everyone, "sub" included
    await trio.sleep(0.1)
    await system.ref("a").tell("sent meanwhile")  # must neither fail nor be dropped
    await trio.sleep(20.0)
    assert system.state("a") == "running"
    assert ("a", "sent meanwhile") in journal.handled


async def test_a_spawned_child_that_fails_to_start_is_refused_and_not_kept(
    nursery: trio.Nursery,
) -> None:
    def broken_factory() -> Actor:
        raise RuntimeError("no such config")

    system = await started(nursery, supervisor("root", [recorder("a", Journal())]))
    with pytest.raises(ActorCrashed, match="failed to start") as raised:
        await system.spawn(ActorSpec("broken", broken_factory), parent="root")
    assert isinstance(raised.value.__cause__, RuntimeError)
    assert [c["name"] for c in system.tree()["children"]] == ["a"]
    assert system.restarts("root") == 0 and system.unavailable() == []
    await system.spawn(recorder("broken", Journal()), parent="root")  # the name is free
