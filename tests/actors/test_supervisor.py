"""OTP semantics of `Supervisor`: strategies, restart types, intensity, ordered stop."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from actors import (
    Actor,
    ActorSpec,
    ActorSystem,
    ActorUnavailable,
    NoSuchActor,
    Restart,
    Strategy,
    SupervisorGaveUp,
)

from .helpers import Journal, recorder, restarts, returner, started, supervisor


async def crash(system: ActorSystem, name: str) -> None:
    """Make ``name`` raise from its handler, then let the supervisor react."""
    await system.ref(name).tell(("crash", "boom"))
    await trio.testing.wait_all_tasks_blocked()


async def test_one_for_one_restarts_only_the_crashed_child(nursery: trio.Nursery) -> None:
    journal = Journal()
    system = await started(
        nursery, supervisor("root", [recorder(n, journal) for n in ("a", "b", "c")])
    )
    await crash(system, "b")
    assert restarts(system, "a", "b", "c") == {"a": 0, "b": 1, "c": 0}
    assert journal.of("start") == ["a", "b", "c", "b"]
    assert journal.of("stop") == []
    assert system.state("b") == "running"
    assert await system.ref("b").ask("ping") == "pong"


async def test_one_for_all_restarts_every_child_in_order(nursery: trio.Nursery) -> None:
    journal = Journal()
    system = await started(
        nursery,
        supervisor("root", [recorder(n, journal) for n in "abc"], Strategy.ONE_FOR_ALL),
    )
    await crash(system, "b")
    assert restarts(system, "a", "b", "c") == {"a": 1, "b": 1, "c": 1}
    # The survivors stop in reverse start order; then everyone starts in order.
    assert journal.of("stop") == ["c", "a"]
    assert journal.of("start") == ["a", "b", "c", "a", "b", "c"]


async def test_rest_for_one_restarts_the_child_and_those_started_after_it(
    nursery: trio.Nursery,
) -> None:
    journal = Journal()
    system = await started(
        nursery,
        supervisor("root", [recorder(n, journal) for n in "abcd"], Strategy.REST_FOR_ONE),
    )
    await crash(system, "b")
    assert restarts(system, "a", "b", "c", "d") == {"a": 0, "b": 1, "c": 1, "d": 1}
    assert journal.of("stop") == ["d", "c"]
    assert journal.of("start") == ["a", "b", "c", "d", "b", "c", "d"]


async def test_transient_child_is_restarted_after_a_crash_only(nursery: trio.Nursery) -> None:
    journal = Journal()
    system = await started(
        nursery,
        supervisor(
            "root",
            [
                recorder("crashes", journal, restart=Restart.TRANSIENT),
                returner("finishes", journal, restart=Restart.TRANSIENT),
            ],
        ),
    )
    await trio.testing.wait_all_tasks_blocked()
    assert system.state("finishes") == "stopped"
    assert system.restarts("finishes") == 0
    await crash(system, "crashes")
    assert system.state("crashes") == "running"
    assert system.restarts("crashes") == 1
    # A transient child that finished is done, not missing.
    assert system.unavailable() == []


async def test_permanent_child_that_returns_is_restarted(
    autojump_clock: trio.testing.MockClock,
) -> None:
    journal = Journal()
    system = ActorSystem(
        supervisor("parent", [returner("finishes", journal)], max_restarts=2, within=1.0)
    )
    # It returns at once every time: the third restart within a second is one too many.
    with pytest.raises(SupervisorGaveUp, match="more than 2 restarts"):
        await system.run()
    assert journal.of("start") == ["finishes"] * 3


async def test_temporary_child_is_never_restarted_and_leaves_the_tree(
    nursery: trio.Nursery,
) -> None:
    journal = Journal()
    system = await started(
        nursery,
        supervisor(
            "root",
            [recorder("a", journal), recorder("t", journal, restart=Restart.TEMPORARY)],
            Strategy.ONE_FOR_ALL,
        ),
    )
    temporary = system.ref("t")
    await crash(system, "t")
    assert [child["name"] for child in system.tree()["children"]] == ["a"]
    assert system.restarts("a") == 0, "a temporary child's end restarts nobody"
    with pytest.raises(ActorUnavailable):
        await temporary.tell("ping")
    with pytest.raises(NoSuchActor):
        system.ref("t")
    # Its name is free again.
    await system.spawn(recorder("t", journal, restart=Restart.TEMPORARY), parent="root")
    assert await system.ref("t").ask("ping") == "pong"


async def test_temporary_sibling_stopped_by_one_for_all_is_not_restarted(
    nursery: trio.Nursery,
) -> None:
    journal = Journal()
    system = await started(
        nursery,
        supervisor(
            "root",
            [recorder("a", journal), recorder("t", journal, restart=Restart.TEMPORARY)],
            Strategy.ONE_FOR_ALL,
        ),
    )
    await crash(system, "a")
    assert journal.of("start") == ["a", "t", "a"]
    assert journal.of("stop") == ["t"]
    assert [child["name"] for child in system.tree()["children"]] == ["a"]


async def test_more_than_r_crashes_in_t_escalates_to_the_parent(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    journal = Journal()
    inner = supervisor("inner", [recorder("w", journal)], max_restarts=3, within=10.0)
    system = await started(
        nursery, supervisor("root", [recorder("sibling", journal), inner], max_restarts=5)
    )
    for _ in range(3):
        await crash(system, "w")
    assert restarts(system, "inner", "w") == {"inner": 0, "w": 3}
    await crash(system, "w")  # R + 1 = 4 crashes within T
    assert system.restarts("inner") == 1, "inner gave up and its parent restarted it"
    assert system.tree()["children"][1]["last_error"].startswith("SupervisorGaveUp")
    assert system.restarts("sibling") == 0
    assert system.state("w") == "running"
    # The new incarnation of inner starts with a fresh intensity budget.
    await crash(system, "w")
    assert system.restarts("inner") == 1


async def test_crashes_spread_wider_than_t_do_not_escalate(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    journal = Journal()
    system = await started(
        nursery, supervisor("root", [recorder("w", journal)], max_restarts=2, within=5.0)
    )
    for _ in range(6):
        await crash(system, "w")
        await trio.sleep(3.0)
    assert system.restarts("w") == 6
    assert system.state("root") == "running"


async def test_root_giving_up_ends_the_system_with_the_reason() -> None:
    journal = Journal()
    system = ActorSystem(supervisor("root", [recorder("w", journal)], max_restarts=0))

    async def crash_once_started() -> None:
        await trio.testing.wait_all_tasks_blocked()
        await system.ref("w").tell(("crash", "root cause"))

    reason = pytest.RaisesExc(SupervisorGaveUp, match=r"the last was w \(Crash: root cause\)")
    with pytest.RaisesGroup(reason):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(crash_once_started)
            await system.run()
    assert system.state("w") == "stopped"


async def test_shutdown_stops_children_in_reverse_start_order(nursery: trio.Nursery) -> None:
    journal = Journal()
    tree = supervisor(
        "root",
        [
            recorder("a", journal),
            supervisor("mid", [recorder("m1", journal), recorder("m2", journal)]),
            recorder("z", journal),
        ],
    )
    system = await started(nursery, tree)
    await system.shutdown()
    assert journal.of("start") == ["a", "m1", "m2", "z"]
    assert journal.of("stop") == ["z", "m2", "m1", "a"]
    assert all(system.state(n) == "stopped" for n in ("root", "mid", "a", "m1", "m2", "z"))


async def test_cancelling_the_system_still_stops_in_reverse_order() -> None:
    journal = Journal()
    system = ActorSystem(supervisor("root", [recorder(n, journal) for n in "abc"]))
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        nursery.cancel_scope.cancel()
    assert journal.of("stop") == ["c", "b", "a"]


class Stubborn(Actor):
    """Its on_stop never finishes: the shutdown timeout has to cut it off."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def receive(self, message: object) -> None:
        return None

    async def on_stop(self) -> None:
        self.journal.events.append(("stopping", self.name))
        await trio.sleep_forever()


async def test_shutdown_timeout_cancels_a_child_that_will_not_stop(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    journal = Journal()
    system = await started(
        nursery,
        supervisor(
            "root",
            [
                recorder("first", journal),
                ActorSpec("stubborn", lambda: Stubborn(journal), shutdown=3.0),
            ],
        ),
    )
    before = trio.current_time()
    await system.shutdown()
    assert trio.current_time() - before == pytest.approx(3.0)
    assert journal.events[-2:] == [("stopping", "stubborn"), ("stop", "first")]


class Draining(Actor):
    """Finishes its run on its own when asked to stop (as a server drains)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.finish = trio.Event()

    def request_stop(self) -> bool:
        self.finish.set()
        return True

    async def run(
        self, mailbox: object, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        task_status.started()
        await self.finish.wait()
        await trio.sleep(1.0)  # the drain takes a while, within its shutdown budget
        self.journal.events.append(("drained", self.name))


async def test_an_actor_may_finish_on_its_own_when_asked_to_stop(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    journal = Journal()
    system = await started(
        nursery, supervisor("root", [ActorSpec("server", lambda: Draining(journal), shutdown=5.0)])
    )
    await system.shutdown()
    assert journal.events == [("drained", "server")]


async def test_failure_in_on_start_is_a_crash_handled_by_intensity(
    autojump_clock: trio.testing.MockClock,
) -> None:
    class BadStart(Actor):
        async def on_start(self) -> None:
            raise RuntimeError("cannot open its store")

    system = ActorSystem(supervisor("root", [ActorSpec("bad", BadStart)], max_restarts=2))
    with pytest.raises(SupervisorGaveUp, match="cannot open its store"):
        await system.run()
    assert system.restarts("bad") == 2
