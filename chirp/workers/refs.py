"""References to actors a handler sends to, taken once they run."""

from __future__ import annotations

from actors import ActorRef, ActorSystem


class LateRefs:
    """Refs by name, resolved at first use: the actors they name may start after the
    process is assembled (`Chirp.start_consumers`), so they cannot be taken then."""

    def __init__(self, names: list[str]) -> None:
        self._names = names
        self._system: ActorSystem | None = None
        self._refs: list[ActorRef] = []

    def attach(self, system: ActorSystem) -> None:
        self._system = system

    def __call__(self) -> list[ActorRef]:
        if not self._refs and self._system is not None:
            self._refs = [self._system.ref(name) for name in self._names]
        return self._refs
