"""What services raise when a request cannot be served; the API maps each to a status."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class. The message is shown to the caller, so it must hold no secret and no
    internals, and should say what to do about it."""


class Malformed(ServiceError):
    """The request cannot be understood (a search query with an unclosed quote…)."""


class RuleBroken(ServiceError):
    """The request is well formed but breaks a rule (too long, following yourself…)."""


class NotFound(ServiceError):
    """The thing asked for does not exist."""


class Conflict(ServiceError):
    """The request clashes with the current state of the thing."""


class Unauthorized(ServiceError):
    """No valid credentials were presented."""


class Forbidden(ServiceError):
    """Valid credentials, but not allowed to do this."""


class Unavailable(ServiceError):
    """A component needed for this request is down or restarting; try again later."""

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after
