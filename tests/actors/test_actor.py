"""Mailboxes, tell/ask, kill and introspection."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from actors import (
    ActorCrashed,
    ActorSystem,
    ActorUnavailable,
    AskTimeout,
    NoSuchActor,
    Restart,
    ask_all,
)

from .helpers import Crash, Journal, recorder, started, supervisor


async def test_ask_returns_the_reply_and_tell_is_handled_in_order(nursery: trio.Nursery) -> None:
    journal = Journal()
    system = await started(nursery, supervisor("root", [recorder("a", journal)]))
    ref = system.ref("a")
    for n in range(5):
        await ref.tell(n)
    assert await ref.ask("ping") == "pong"
    assert journal.handled == [("a", 0), ("a", 1), ("a", 2), ("a", 3), ("a", 4), ("a", "ping")]


async def test_ask_times_out_cleanly_and_the_request_is_withdrawn(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    journal = Journal()
    system = await started(nursery, supervisor("root", [recorder("a", journal)]))
    ref = system.ref("a")
    gate = trio.Event()
    await ref.tell(("block", gate))
    with pytest.raises(AskTimeout):
        await ref.ask("ping", timeout=2.0)
    assert trio.current_time() == pytest.approx(2.0)
    gate.set()
    assert await ref.ask(("late", 1)) is None
    # The timed-out "ping" was skipped, not handled after its asker gave up.
    assert [message for _, message in journal.handled][1:] == [("late", 1)]
    assert system.state("a") == "running"


async def test_a_full_mailbox_blocks_the_sender_and_drops_nothing(nursery: trio.Nursery) -> None:
    journal = Journal()
    system = await started(nursery, supervisor("root", [recorder("a", journal, mailbox_size=2)]))
    ref = system.ref("a")
    gate = trio.Event()
    await ref.tell(("block", gate))
    await trio.testing.wait_all_tasks_blocked()  # "a" took the block message and waits
    await ref.tell(1)
    await ref.tell(2)
    assert ref.mailbox_depth == 2
    sent_third = trio.Event()

    async def send_third() -> None:
        await ref.tell(3)
        sent_third.set()

    nursery.start_soon(send_third)
    await trio.testing.wait_all_tasks_blocked()
    assert not sent_third.is_set(), "the sender must wait while the mailbox is full"
    gate.set()
    await sent_third.wait()
    assert await ref.ask("ping") == "pong"
    assert [message for _, message in journal.handled][1:] == [1, 2, 3, "ping"]


async def test_a_crash_while_answering_reaches_the_asker_with_its_cause(
    nursery: trio.Nursery,
) -> None:
    journal = Journal()
    system = await started(nursery, supervisor("root", [recorder("a", journal)]))
    with pytest.raises(ActorCrashed) as raised:
        await system.ref("a").ask(("crash", "bad input"))
    assert isinstance(raised.value.__cause__, Crash)
    await trio.testing.wait_all_tasks_blocked()
    assert system.restarts("a") == 1
    assert await system.ref("a").ask("ping") == "pong"


async def test_kill_restarts_the_actor_under_its_name_with_its_mailbox(
    nursery: trio.Nursery,
) -> None:
    journal = Journal()
    system = await started(nursery, supervisor("root", [recorder("a", journal)]))
    ref = system.ref("a")
    gate = trio.Event()
    await ref.tell(("block", gate))
    await trio.testing.wait_all_tasks_blocked()
    for n in range(3):
        await ref.tell(n)  # waiting in the mailbox when "a" dies
    system.kill("a")
    await trio.testing.wait_all_tasks_blocked()
    assert system.restarts("a") == 1
    assert system.ref("a") is ref
    assert await ref.ask("ping") == "pong"
    assert [message for _, message in journal.handled][1:] == [0, 1, 2, "ping"]
    assert system.tree()["children"][0]["last_error"] == "killed"


async def test_an_ask_in_flight_when_its_actor_is_killed_fails_at_once(
    nursery: trio.Nursery,
) -> None:
    journal = Journal()
    system = await started(nursery, supervisor("root", [recorder("a", journal)]))
    gate = trio.Event()
    outcome: list[BaseException] = []

    async def ask_blocked() -> None:
        try:
            await system.ref("a").ask(("block", gate), timeout=60)
        except ActorCrashed as exc:
            outcome.append(exc)

    nursery.start_soon(ask_blocked)
    await trio.testing.wait_all_tasks_blocked()
    system.kill("a")
    await trio.testing.wait_all_tasks_blocked()
    assert len(outcome) == 1


async def test_introspection_reports_state_depth_restarts_and_errors(
    nursery: trio.Nursery,
) -> None:
    journal = Journal()
    system = await started(
        nursery,
        supervisor("root", [recorder("a", journal), supervisor("sub", [recorder("b", journal)])]),
    )
    gate = trio.Event()
    await system.ref("b").tell(("block", gate))
    await trio.testing.wait_all_tasks_blocked()
    await system.ref("b").tell("queued")
    await system.ref("a").tell(("crash", "oops"))
    await trio.testing.wait_all_tasks_blocked()
    tree = system.tree()
    assert (tree["name"], tree["kind"], tree["state"], tree["strategy"]) == (
        "root",
        "supervisor",
        "running",
        "one_for_one",
    )
    a, sub = tree["children"]
    assert a["kind"] == "actor" and a["type"] == "Recorder"
    assert (a["state"], a["restarts"], a["last_error"]) == ("running", 1, "Crash: oops")
    b = sub["children"][0]
    assert (b["name"], b["mailbox_depth"], b["restarts"], b["last_error"]) == ("b", 1, 0, None)
    assert system.unavailable() == []
    gate.set()


async def test_lookups_of_unknown_names_fail_clearly(nursery: trio.Nursery) -> None:
    system = await started(nursery, supervisor("root", [recorder("a", Journal())]))
    with pytest.raises(NoSuchActor, match="'ghost'"):
        system.ref("ghost")
    with pytest.raises(NoSuchActor):
        system.kill("ghost")
    with pytest.raises(TypeError):
        system.ref("root")


async def test_names_are_unique() -> None:
    with pytest.raises(ValueError, match="two actors named 'a'"):
        ActorSystem(supervisor("root", [recorder("a", Journal()), recorder("a", Journal())]))


async def test_spawn_adds_a_child_that_is_supervised_like_the_others(
    nursery: trio.Nursery,
) -> None:
    journal = Journal()
    system = await started(nursery, supervisor("root", [recorder("a", journal)]))
    await system.spawn(supervisor("dyn", [recorder("d", journal)]), parent="root")
    assert await system.ref("d").ask("ping") == "pong"
    system.kill("d")
    await trio.testing.wait_all_tasks_blocked()
    assert system.restarts("d") == 1
    with pytest.raises(ValueError):
        await system.spawn(recorder("d", journal), parent="root")
    await system.shutdown()
    assert journal.of("stop") == ["d", "a"]


async def test_telling_an_actor_stopped_for_good_fails_fast(nursery: trio.Nursery) -> None:
    journal = Journal()
    system = await started(
        nursery, supervisor("root", [recorder("t", journal, restart=Restart.TEMPORARY)])
    )
    ref = system.ref("t")
    system.kill("t")
    await trio.testing.wait_all_tasks_blocked()
    with pytest.raises(ActorUnavailable):
        await ref.ask("ping")
    with pytest.raises(ActorUnavailable):
        await ref.tell("ping")


async def test_ask_waiting_for_mailbox_room_times_out_too(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    journal = Journal()
    system = await started(nursery, supervisor("root", [recorder("a", journal, mailbox_size=1)]))
    ref = system.ref("a")
    gate = trio.Event()
    await ref.tell(("block", gate))
    await trio.testing.wait_all_tasks_blocked()
    await ref.tell("fills the mailbox")
    with pytest.raises(AskTimeout):
        await ref.ask("ping", timeout=1.5)
    assert trio.current_time() == pytest.approx(1.5)
    gate.set()
    assert await ref.ask("after") is None
    assert [m for _, m in journal.handled][1:] == ["fills the mailbox", "after"]


async def test_asks_still_queued_when_the_system_stops_fail_instead_of_hanging() -> None:
    journal = Journal()
    system = ActorSystem(supervisor("root", [recorder("a", journal)]))
    outcomes: list[type[BaseException]] = []

    async def ask(message: object) -> None:
        try:
            await system.ref("a").ask(message, timeout=None)
        except (ActorCrashed, ActorUnavailable) as exc:
            outcomes.append(type(exc))

    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        nursery.start_soon(ask, ("block", trio.Event()))  # in hand when the stop comes
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(ask, "queued behind it")
        await trio.testing.wait_all_tasks_blocked()
        await system.shutdown()
    assert sorted(outcomes, key=lambda t: t.__name__) == [ActorCrashed, ActorUnavailable]


async def test_ask_all_answers_in_order_each_failure_in_its_own_place(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    journal = Journal()
    names = ["a", "b", "c", "d"]
    system = await started(
        nursery,
        supervisor("root", [recorder(name, journal) for name in names], max_restarts=10),
    )
    a, b, c, d = (system.ref(name) for name in names)
    gate = trio.Event()
    for blocked in (c, d):
        await blocked.tell(("block", gate))
    answers = await ask_all(
        [(a, "ping"), (b, ("crash", "boom")), (c, "ping"), (d, "ping"), (a, ("x", 1))],
        timeout=3.0,
    )
    assert answers[0] == "pong" and answers[4] is None
    assert isinstance(answers[1], ActorCrashed)
    assert isinstance(answers[2], AskTimeout) and isinstance(answers[3], AskTimeout)
    assert trio.current_time() == pytest.approx(3.0), (
        "the deadlines ran side by side, not one after another"
    )
    gate.set()
    await trio.testing.wait_all_tasks_blocked()
    assert ("c", "ping") not in journal.handled, "expired asks are withdrawn"
    assert ("d", "ping") not in journal.handled


async def test_cancelling_ask_all_withdraws_every_request(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    journal = Journal()
    system = await started(nursery, supervisor("root", [recorder("a", journal)]))
    a = system.ref("a")
    gate = trio.Event()
    await a.tell(("block", gate))
    with trio.move_on_after(1.0):
        await ask_all([(a, ("first", 1)), (a, ("second", 2))], timeout=None)
    gate.set()
    assert await a.ask("ping") == "pong"
    assert [m for _, m in journal.handled] == [("block", gate), "ping"]
