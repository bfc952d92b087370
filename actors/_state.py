"""The states a name in the tree goes through."""

from __future__ import annotations

import enum


class State(enum.Enum):
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"  # down, and its supervisor (or an ancestor) will start it again
    BACKOFF = "backoff"  # down in a subtree that gave up, until its backoff is over
    STOPPING = "stopping"
    STOPPED = "stopped"  # down for good: nothing will start it again
