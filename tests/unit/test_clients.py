"""The client address behind proxies: X-Forwarded-For counts only from a trusted proxy, and
is read from the right, past every trusted hop."""

from __future__ import annotations

import pytest

from torchplay.api.clients import client_address, parse_trusted

TRUSTED = parse_trusted("127.0.0.1, 10.0.0.0/8,::1")


@pytest.mark.parametrize("peer, headers, client", [
    ("203.0.113.7", ["198.51.100.1"], "203.0.113.7"),  # not a proxy: its claim is ignored
    ("203.0.113.7", [], "203.0.113.7"),
    ("127.0.0.1", ["198.51.100.1"], "198.51.100.1"),
    ("127.0.0.1", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),  # the client's own claim, left
    ("127.0.0.1", ["198.51.100.1, 10.1.2.3"], "198.51.100.1"),  # past a second trusted hop
    ("127.0.0.1", ["6.6.6.6", "198.51.100.1"], "198.51.100.1"),  # two headers, in order
    ("::1", ["2001:db8::5"], "2001:db8::5"),
    ("127.0.0.1", ["10.0.0.9"], "127.0.0.1"),  # only proxies: the request is theirs
    ("127.0.0.1", [], "127.0.0.1"),
    ("127.0.0.1", ["not-an-address"], "not-an-address"),  # untrusted, counted as sent
])
def test_the_client_is_the_rightmost_untrusted_hop(peer: str, headers: list[str],
                                                   client: str) -> None:
    assert client_address(peer, headers, TRUSTED) == client


def test_nothing_is_trusted_by_default() -> None:
    assert client_address("127.0.0.1", ["198.51.100.1"], parse_trusted("")) == "127.0.0.1"


@pytest.mark.parametrize("text", ["nonsense", "10.0.0.0/33", "1.2.3.4/8/9"])
def test_a_bad_trusted_proxy_is_named(text: str) -> None:
    with pytest.raises(ValueError, match="--trusted-proxy"):
        parse_trusted(text)
