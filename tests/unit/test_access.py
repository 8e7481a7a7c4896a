"""Which Host and Origin values a server accepts, for each kind of interface it listens on."""

from __future__ import annotations

from torchplay.api.guard import Access, split_list


def test_loopback_server_answers_loopback_names_only() -> None:
    access = Access(bind="127.0.0.1")
    for host in ("localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000", "127.0.0.2",
                 "LOCALHOST:1"):
        assert access.host_ok(host), host
    for host in ("evil.example", "evil.example:8000", "192.168.1.5:8000", "localhost.evil",
                 "127.0.0.1.nip.io"):
        assert not access.host_ok(host), host


def test_lan_server_answers_its_address_and_named_hosts() -> None:
    access = Access(bind="192.168.1.5", hosts=split_list("class.example, room.example"))
    for host in ("192.168.1.5:8000", "class.example", "room.example:8000", "localhost"):
        assert access.host_ok(host), host
    for host in ("192.168.1.6", "evil.example"):
        assert not access.host_ok(host), host


def test_wildcard_server_answers_ip_literals_but_no_other_name() -> None:
    access = Access(bind="0.0.0.0")
    assert access.host_ok("10.0.0.7:8000") and access.host_ok("[fe80::1]:8000")
    assert not access.host_ok("evil.example:8000")
    assert "any IP address" in access.describe()[0]


def test_origin_is_the_pages_own_or_named() -> None:
    access = Access(bind="127.0.0.1", origins=("http://teacher.example:9000",))
    assert access.origin_ok("http://127.0.0.1:8000", "127.0.0.1:8000")
    assert access.origin_ok("https://class.example", "class.example")  # behind a TLS proxy
    assert access.origin_ok("http://class.example", "class.example:80")
    assert access.origin_ok("http://teacher.example:9000/", "127.0.0.1:8000")
    for origin in ("http://127.0.0.1:8001", "http://evil.example", "null", "file://",
                   "http://127.0.0.1:8000.evil.example"):
        assert not access.origin_ok(origin, "127.0.0.1:8000"), origin


def test_star_means_anything() -> None:
    access = Access(bind="127.0.0.1", hosts=("*",), origins=("*",))
    assert access.host_ok("evil.example") and access.origin_ok("null", "x")
    assert all("trust" in line for line in access.describe())
