"""Who a request comes from: the peer's address, or behind a trusted proxy, X-Forwarded-For's.

Quotas count per client address. A client may write any X-Forwarded-For it likes, so the header
is believed only when the peer is a proxy named by `--trusted-proxy` (addresses or networks),
and then read from the right: each trusted proxy appends the address it saw, so the rightmost
entry that is not itself a trusted proxy is the client. uvicorn's own proxy-header handling is
off (cli.py), so nothing else rewrites the peer's address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted(text: str) -> tuple[Network, ...]:
    """`--trusted-proxy`: comma-separated addresses or networks (`10.0.0.5,172.18.0.0/16`)."""
    networks = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ValueError(f"--trusted-proxy: {item!r} is no IP address or network") from exc
    return tuple(networks)


def _trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_address(peer: str, forwarded_for: Iterable[str],
                   trusted: tuple[Network, ...]) -> str:
    """The client's address: `peer` unless it is a trusted proxy; then the rightmost entry of
    the X-Forwarded-For headers (`forwarded_for`, in order) that is not a trusted proxy."""
    if not _trusted(peer, trusted):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if not _trusted(hop, trusted):
            return hop
    return peer  # every hop is a trusted proxy (or none was sent): the request is theirs
