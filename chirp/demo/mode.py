"""Demo mode as the composition root uses it: its settings, seeding before serving, the
trickle in the tree, and what to tell the person who started it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from chirp.config import Settings
from chirp.server import Chirp

from .graph import REED98, FollowGraph, power_law, reed98
from .seed import DEMO_PASSWORD, History, Seeded, seed
from .trickle import trickle_spec

GRAPHS = ("power-law", "reed98")
DEFAULT_USERS = 3_000
DEFAULT_RATE = 3.0  # trickle actions a second
#: Trending settings demo mode lowers, when left at their defaults, so a tag shows within
#: seconds and the tables visibly turn over in minutes rather than the seed's minute and
#: ten-minute window.
LIVELY_TRENDS = {
    "trend_rescore_seconds": 5.0,
    "trend_cache_seconds": 2.0,
    "trend_window_seconds": 120.0,
}
EMBEDDED_ONLY = ("users", "tweets", "cache", "log")


def demo_settings(settings: Settings) -> Settings:
    """``settings`` for demo mode: trending livelier (`LIVELY_TRENDS`, where not set
    otherwise). Raises `ValueError` when a store is configured on a server or kept in a
    data directory: the demo fills a fresh embedded chirp, never a saved one."""
    servers = [name for name in EMBEDDED_ONLY if getattr(settings, name) != "memory"]
    if servers:
        names = ", ".join(f"CHIRP_{name.upper()}" for name in servers)
        raise ValueError(
            f"--demo runs on the embedded stores only, but {', '.join(servers)} "
            f"{'is' if len(servers) == 1 else 'are'} configured on a server; "
            f"unset {names} (or the config file's keys) to run the demo"
        )
    if settings.data_dir is not None:
        raise ValueError(
            "--demo seeds a fresh chirp in memory; it does not run with --data-dir (CHIRP_DATA_DIR)"
        )
    defaults = Settings.model_fields
    lively = {
        name: value
        for name, value in LIVELY_TRENDS.items()
        if getattr(settings, name) == defaults[name].default
    }
    return settings.model_copy(update=lively)


def demo_graph(
    kind: Literal["power-law", "reed98"] = "power-law",
    *,
    users: int = DEFAULT_USERS,
    reed98_folder: Path = REED98,
) -> FollowGraph:
    """The graph to seed. Raises `FileNotFoundError` when the Reed98 data is missing,
    `ValueError` for a power-law graph of fewer than 2 users."""
    if kind == "reed98":
        return reed98(reed98_folder)
    return power_law(users)


@dataclass
class Demo:
    """Seeds a chirp before it serves, then adds the trickle (``rate`` actions a second)
    to its tree. `prepare` is `chirp.server.serve`'s ``prepare``; `seeded` holds the
    outcome once it has run."""

    graph: FollowGraph
    rate: float = DEFAULT_RATE
    history: History = History()
    progress: bool = True
    seeded: Seeded | None = field(default=None, init=False)

    async def prepare(self, chirp: Chirp) -> None:
        """Seed, then start the trickle under the root supervisor. Cancellable: a
        signal during seeding stops it where it is."""
        self.seeded = await seed(chirp, self.graph, history=self.history, progress=self.progress)
        spec = trickle_spec(
            self.seeded.crowd,
            tweets=chirp.services.tweets,
            users=chirp.services.users,
            rate=self.rate,
        )
        await chirp.system.spawn(spec, parent="root")

    def lines(self, url: str, admin_token: str | None) -> list[str]:
        """What to print once serving: counts, the login and the dashboard's link (with
        ``admin_token``, or a placeholder for a token the user chose and chirp never
        prints)."""
        if self.seeded is None:
            return []
        login = self.seeded.crowd.login
        token = admin_token if admin_token is not None else "<your admin token>"
        return [
            self.seeded.summary(),
            f"demo login: {login.username} / {DEMO_PASSWORD}  ({login.display_name})",
            f"dashboard: {url}/dashboard#token={token}",
        ]
