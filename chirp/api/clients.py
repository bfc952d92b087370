"""Which address a request comes from, for per-IP limits."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

from quart import request


class ClientAddress:
    """The peer's address, or, when the peer is a proxy we trust, the first address in
    ``X-Forwarded-For`` (from the right) that is not one of ours. Anyone can send that
    header, so from anyone else it is ignored."""

    def __init__(self, trusted_proxies: list[str]) -> None:
        self._trusted = [ip_network(p, strict=False) for p in trusted_proxies]

    def __call__(self) -> str:
        peer = request.remote_addr or "unknown"
        if not self._is_trusted(peer):
            return peer
        # Every header line: a proxy may add its own line rather than extend the first.
        forwarded = ",".join(request.headers.getlist("X-Forwarded-For"))
        hops = [h.strip() for h in forwarded.split(",")]
        for hop in reversed([h for h in hops if h]):
            if not self._is_trusted(hop):
                return hop
        return peer

    def _is_trusted(self, address: str) -> bool:
        try:
            parsed = ip_address(address)
        except ValueError:
            return False
        if parsed.version == 6 and parsed.ipv4_mapped is not None:
            parsed = parsed.ipv4_mapped  # ::ffff:10.0.0.1 is 10.0.0.1 on a dual-stack socket
        return any(parsed in network for network in self._trusted)
