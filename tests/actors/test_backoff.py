"""Backing off: a subtree that gave up waits before its parent starts it again, so a crash
loop is slow and visible instead of spending every ancestor's intensity at once."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from actors import (
    ActorCrashed,
    ActorSpec,
    ActorSystem,
    ActorUnavailable,
    Strategy,
    SupervisorGaveUp,
    SupervisorSpec,
)

from .helpers import Journal, recorder, started, supervisor


class Poisoned(Exception):
    """What a child that cannot start raises, every time."""


def poisoned(name: str) -> ActorSpec:
    """An actor that crashes as it starts: the shape of a poison message or a dead server."""

    def make() -> object:
        raise Poisoned(name)

    return ActorSpec(name, make)  # type: ignore[arg-type]


async def give_up(system: ActorSystem, name: str, times: int) -> None:
    """Kill ``name`` ``times`` times in a row, each once it runs again."""
    await trio.testing.wait_all_tasks_blocked()
    for _ in range(times):
        system.kill(name)
        await trio.testing.wait_all_tasks_blocked()


def node(tree: dict, name: str) -> dict:
    if tree["name"] == name:
        return tree
    for child in tree.get("children", ()):
        found = node(child, name)
        if found:
            return found
    return {}


async def test_a_subtree_that_gave_up_waits_out_its_backoff_refusing_asks_at_once(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    journal = Journal()
    inner = supervisor("inner", [recorder("w", journal)], max_restarts=2, within=10.0)
    system = await started(
        nursery,
        supervisor("root", [recorder("sibling", journal), inner], backoff=1.0, max_backoff=8.0),
    )
    await give_up(system, "w", 3)  # R + 1 within T

    assert system.state("inner") == "backoff" and system.state("w") == "backoff"
    [loop] = system.backing_off()
    assert loop["name"] == "inner" and loop["gave_up"] == 1 and loop["restart_in"] == 1.0
    assert loop["last_error"].startswith("SupervisorGaveUp: inner: more than 2 restarts")
    assert node(system.tree(), "inner")["restart_in"] == 1.0
    assert sorted(system.unavailable()) == ["inner", "w"]
    with pytest.raises(ActorUnavailable, match="backoff"):
        with trio.fail_after(0.001):  # at once: not after the ask's own 5 s deadline
            await system.ref("w").ask("ping")
    assert await system.ref("sibling").ask("ping") == "pong", "the rest goes on"

    await trio.sleep(1.0)
    await trio.testing.wait_all_tasks_blocked()
    assert system.state("w") == "running" and system.backing_off() == []
    assert await system.ref("w").ask("ping") == "pong"
    assert system.restarts("inner") == 1 and "restart_in" not in node(system.tree(), "inner")


async def test_backoff_doubles_while_the_loop_goes_on_and_the_root_survives_it(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """Without a backoff this root (4 restarts in 10 s) gives up at once; with one it
    sees a restart after 1, 2, 4, 8, 8… seconds and stays up."""
    inner = supervisor("inner", [poisoned("w")], max_restarts=1, within=10.0)
    system = await started(
        nursery,
        supervisor("root", [inner], max_restarts=4, within=10.0, backoff=1.0, max_backoff=8.0),
    )
    delays = []
    for _ in range(7):
        await trio.testing.wait_all_tasks_blocked()
        [loop] = system.backing_off()
        delays.append(loop["restart_in"])
        await trio.sleep(loop["restart_in"])
        await trio.testing.wait_all_tasks_blocked()
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]
    assert system.state("root") == "running"
    assert node(system.tree(), "inner")["gave_up"] == 8
    assert "Poisoned: w" in node(system.tree(), "w")["last_error"]


async def test_without_backoff_the_same_loop_takes_the_root_down() -> None:
    inner = supervisor("inner", [poisoned("w")], max_restarts=1, within=10.0)
    system = ActorSystem(supervisor("root", [inner], max_restarts=4, within=10.0))
    with pytest.RaisesGroup(SupervisorGaveUp, allow_unwrapped=True):
        await system.run()


async def test_a_subtree_that_ran_well_for_a_while_starts_its_backoff_over(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    journal = Journal()
    inner = supervisor("inner", [recorder("w", journal)], max_restarts=0, within=1.0)
    system = await started(
        nursery, supervisor("root", [inner], backoff=1.0, max_backoff=4.0, within=100.0)
    )
    await give_up(system, "w", 1)
    assert system.backing_off()[0]["restart_in"] == 1.0
    await trio.sleep(1.0)
    await give_up(system, "w", 1)  # again, at once: twice as long
    assert system.backing_off()[0]["restart_in"] == 2.0
    await trio.sleep(2.0 + 4.0)  # then it runs longer than max_backoff
    await give_up(system, "w", 1)
    assert system.backing_off()[0]["restart_in"] == 1.0


def test_a_backoff_longer_than_its_ceiling_is_refused() -> None:
    with pytest.raises(ValueError, match="backoff"):
        SupervisorSpec("root", backoff=5.0, max_backoff=1.0)
    with pytest.raises(ValueError, match="backoff"):
        SupervisorSpec("root", backoff=-1.0)


async def test_a_supervisor_giving_up_while_a_child_backs_off_escalates_at_once(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    journal = Journal()
    inner = supervisor("inner", [recorder("w", journal)], max_restarts=0, within=10.0)
    middle = supervisor(
        "middle",
        [recorder("v", journal), inner],
        max_restarts=1,
        within=10.0,
        backoff=20.0,
        max_backoff=20.0,
    )
    system = await started(nursery, supervisor("root", [middle], max_restarts=10))
    await give_up(system, "w", 1)
    assert system.backing_off()[0]["name"] == "inner"
    started_at = trio.current_time()
    await give_up(system, "v", 1)  # middle gives up too, with inner's backoff still running
    assert trio.current_time() == started_at, "not after inner's 20 s backoff"
    assert system.restarts("middle") == 1 and system.state("w") == "running"


async def test_asks_waiting_when_the_backoff_begins_are_answered_then_not_after(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    journal = Journal()
    inner = supervisor("inner", [recorder("w", journal)], max_restarts=0, within=10.0)
    system = await started(nursery, supervisor("root", [inner], backoff=10.0, max_backoff=10.0))
    outcomes: list[str] = []

    async def block() -> None:  # keeps w busy, until the kill ends it
        with pytest.raises(ActorCrashed):
            await system.ref("w").ask(("block", trio.Event()), timeout=None)
        outcomes.append("crashed")

    nursery.start_soon(block)
    await trio.testing.wait_all_tasks_blocked()

    async def ping() -> None:
        try:
            outcomes.append(await system.ref("w").ask("ping", timeout=60.0))
        except ActorUnavailable as exc:
            outcomes.append(f"{trio.current_time():g}: {exc}")

    for _ in range(2):
        nursery.start_soon(ping)  # queued behind the block
    await trio.testing.wait_all_tasks_blocked()
    system.kill("w")  # with the block in hand: inner gives up
    await trio.testing.wait_all_tasks_blocked()
    assert sorted(outcomes) == ["0: w went down to back off"] * 2 + ["crashed"], "not at 10"
    await trio.sleep(10.0)
    await trio.testing.wait_all_tasks_blocked()
    assert await system.ref("w").ask("ping") == "pong"
    assert [m for name, m in journal.handled if name == "w"].count("ping") == 1, (
        "the withdrawn pings were skipped"
    )


async def test_a_backoff_cut_short_by_a_wider_restart_does_not_end_the_next_one_early(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    journal = Journal()
    inner = supervisor("inner", [recorder("w", journal)], max_restarts=0, within=10.0)
    system = await started(
        nursery,
        supervisor(
            "root",
            [recorder("a", journal), inner],
            Strategy.REST_FOR_ONE,
            backoff=1.0,
            max_backoff=8.0,
        ),
    )
    await give_up(system, "w", 1)  # inner backs off until t=1
    await trio.sleep(0.5)
    await give_up(system, "a", 1)  # rest_for_one: inner is started again at once
    assert system.state("w") == "running"
    await give_up(system, "w", 1)  # and gives up again: 2 s this time, until t=2.5
    assert system.backing_off()[0]["restart_in"] == 2.0
    await trio.sleep(1.0)  # past the first backoff's end
    await trio.testing.wait_all_tasks_blocked()
    assert system.state("w") == "backoff", "the first backoff's timer is stale"
    await trio.sleep(1.0)
    await trio.testing.wait_all_tasks_blocked()
    assert system.state("w") == "running"
