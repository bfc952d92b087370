"""Child specifications: what a supervisor needs to start, restart and stop a child."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from ._actor import Actor


class Restart(enum.Enum):
    """When a child that has ended is started again (OTP restart types)."""

    PERMANENT = "permanent"  # always
    TRANSIENT = "transient"  # only after a crash, not after a normal return
    TEMPORARY = "temporary"  # never; its supervisor forgets it once it ends


class Strategy(enum.Enum):
    """Which children a supervisor restarts when one of them crashes (OTP strategies)."""

    ONE_FOR_ONE = "one_for_one"  # just that child
    ONE_FOR_ALL = "one_for_all"  # every child, stopped in reverse order, started in order
    REST_FOR_ONE = "rest_for_one"  # that child and every child started after it


@dataclass(frozen=True)
class ActorSpec:
    """How to run one named actor.

    ``factory`` makes a fresh `Actor` for every start, so a restart begins from a clean
    state; what must outlive a crash belongs in an object the factory closes over (the way a
    process's disk outlives it). The mailbox belongs to the name, not the instance: it holds
    ``mailbox_size`` messages and survives restarts. ``shutdown`` is how many seconds an
    orderly stop may take before the actor is cancelled.
    """

    name: str
    factory: Callable[[], Actor]
    restart: Restart = Restart.PERMANENT
    shutdown: float = 5.0
    mailbox_size: int = 1024

    def __post_init__(self) -> None:
        _check_name(self.name)
        if self.mailbox_size < 1:
            raise ValueError("mailbox_size must be at least 1: a mailbox never drops")
        if self.shutdown < 0:
            raise ValueError("shutdown must be >= 0 seconds")


@dataclass(frozen=True)
class SupervisorSpec:
    """A supervisor and its children, in start order.

    Restart intensity: at most ``max_restarts`` restarts within ``within`` seconds; one more
    and the supervisor stops its children and escalates to its parent. A supervisor takes as
    long to stop as its children do, each bounded by its own ``shutdown`` (OTP's
    ``shutdown => infinity`` for supervisors).

    ``backoff`` is not OTP's: it is how long this supervisor waits before restarting a child
    supervisor that gave up, doubling for each give-up that comes less than ``max_backoff``
    seconds after the restart before it, never more than ``max_backoff``. OTP restarts at
    once, so a subtree that crashes as soon as it starts (a poison message, a dead server)
    spends its parent's intensity in milliseconds and takes the whole tree down; backing off
    turns that into a slow, visible loop while the rest keeps serving. The default, 0, is
    OTP's behaviour.
    """

    name: str
    children: Sequence[ActorSpec | SupervisorSpec] = field(default_factory=tuple)
    strategy: Strategy = Strategy.ONE_FOR_ONE
    max_restarts: int = 3
    within: float = 5.0
    restart: Restart = Restart.PERMANENT
    backoff: float = 0.0
    max_backoff: float = 30.0
    shutdown: ClassVar[float] = math.inf

    def __post_init__(self) -> None:
        _check_name(self.name)
        if self.max_restarts < 0 or self.within <= 0:
            raise ValueError("intensity needs max_restarts >= 0 and within > 0 seconds")
        if not 0 <= self.backoff <= self.max_backoff:
            raise ValueError("backoff needs 0 <= backoff <= max_backoff seconds")


ChildSpec = ActorSpec | SupervisorSpec


def _check_name(name: str) -> None:
    if not name or "/" in name or name != name.strip():
        raise ValueError(f"bad actor name {name!r}: non-empty, no '/', no outer spaces")
