"""Exceptions raised by the actor runtime."""

from __future__ import annotations


class ActorError(Exception):
    """Base class of everything the runtime raises."""


class NoSuchActor(ActorError, KeyError):
    """No actor or supervisor is registered under this name."""

    def __str__(self) -> str:
        return f"no actor named {self.args[0]!r}"


class AskFailed(ActorError):
    """An `ask` that got no reply: the base of the three ways that happens, for callers
    that treat them alike (the request did not, or may not, take effect)."""


class ActorUnavailable(AskFailed):
    """The actor is stopped for good (its supervisor will not restart it), or backing off
    after its supervisor gave up, so nothing sent to it now can be handled."""


class ActorCrashed(AskFailed):
    """The actor ended (crashed, was killed or stopped) while handling this `ask`, so whether
    the request took effect is unknown; ``__cause__`` is the exception it crashed with."""


class AskTimeout(AskFailed, TimeoutError):
    """No reply arrived in time. The request is withdrawn: an actor that has not started
    it yet skips it, so a timed-out `ask` has no effect later."""


class ActorKilled(ActorError):
    """The reason given to an actor ended through `ActorSystem.kill` (the chaos lever)."""

    def __str__(self) -> str:
        return "killed"


class SupervisorGaveUp(ActorError):
    """A supervisor's children crashed more often than its intensity allows. It stops all of
    them and raises this to its own parent, as an OTP supervisor does."""
