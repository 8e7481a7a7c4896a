"""Who may talk to this server, and the headers every answer carries.

A browser lets any page it shows open a WebSocket to any address and send requests to it, and
a name the attacker controls can be made to resolve to 127.0.0.1 (DNS rebinding). So every
request names, in its Host header, a host this server accepts, and a browser's request (which
carries an Origin header) comes from a page this server accepts:

- Host: loopback names always (localhost, 127.0.0.1, [::1]); when the server listens on a
  specific other address, that address; on a wildcard address (0.0.0.0, ::), any IP literal
  (a rebound *name* is what the check stops, and an IP literal is no name); and whatever
  `--allow-host` lists (`*`: any host, for a trusted network only).
- Origin (checked on every request that carries one, the WebSocket handshake included): the
  server's own origin as the request addressed it (an Origin whose host[:port] equals the
  Host header), or one `--allow-origin` lists (`*`: any page, for a trusted network only).
  A request without Origin is no browser page's (tools and scripts), and is let through.

A refused request gets 400 (bad Host) or 403 (bad Origin) with an error body in the API's
shape; a refused WebSocket handshake gets the same status and body instead of an upgrade.

Every HTTP answer carries a Content-Security-Policy that allows the page's own files only
(scripts, styles, the WebSocket to its own origin), forbids framing, plus nosniff and a
referrer policy. Pure ASGI, no torch, no framework state.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from torchplay.api.messages import error

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


def split_list(value: str | Iterable[str]) -> tuple[str, ...]:
    """A comma-separated list (as flags and variables give it) as its items, trimmed."""
    items = value.split(",") if isinstance(value, str) else value
    return tuple(item.strip() for item in items if item.strip())


def _host_name(host: str) -> str:
    """The name of a Host header or netloc without its port: '[::1]:8000' -> '::1'."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _is_loopback(name: str) -> bool:
    return name == "localhost" or (_is_ip(name) and ipaddress.ip_address(name).is_loopback)


@dataclass(frozen=True)
class Access:
    """Which Host and Origin values a server accepts (see the module's docstring)."""

    bind: str  # the interface the server listens on
    hosts: tuple[str, ...] = ()  # extra host names (--allow-host), '*' for any
    origins: tuple[str, ...] = ()  # extra origins (--allow-origin), '*' for any

    @property
    def wildcard(self) -> bool:
        return self.bind in ("0.0.0.0", "::", "")

    def host_ok(self, host: str) -> bool:
        name = _host_name(host)
        if not name or "*" in self.hosts or _is_loopback(name):
            return True
        if name in (_host_name(h) for h in self.hosts):
            return True
        if self.wildcard:
            return _is_ip(name)
        return name == _host_name(self.bind)

    def origin_ok(self, origin: str, host: str) -> bool:
        if "*" in self.origins:
            return True
        origin = origin.strip().lower().rstrip("/")
        if origin in (o.lower().rstrip("/") for o in self.origins):
            return True
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False  # 'null' (a sandboxed frame, a file) is nobody's origin here
        default = "443" if parts.scheme == "https" else "80"
        return _with_port(parts.netloc, default) == _with_port(host.strip().lower(), default)

    def describe(self) -> list[str]:
        """What this server accepts, in words, for the start-up message."""
        hosts = ["localhost", "127.0.0.1", "[::1]"]
        if "*" in self.hosts:
            hosts = ["any host (--allow-host '*': only on a network you trust)"]
        else:
            if self.wildcard:
                hosts.append("any IP address")
            elif not _is_loopback(_host_name(self.bind)):
                hosts.append(self.bind)
            hosts += list(self.hosts)
        origins = ["the page's own origin (scheme://host:port it was loaded from)"]
        if "*" in self.origins:
            origins = ["any origin (--allow-origin '*': only on a network you trust)"]
        else:
            origins += list(self.origins)
        return [f"accepting Host: {', '.join(hosts)}",
                f"accepting Origin: {', '.join(origins)}"]


def _with_port(netloc: str, default: str) -> str:
    """host:port with the scheme's default port written out, so 'a' equals 'a:80'."""
    if netloc.startswith("["):
        end = netloc.find("]")
        host, rest = netloc[:end + 1], netloc[end + 1:]
        return host + (rest if rest.startswith(":") else f":{default}")
    return netloc if netloc.count(":") == 1 else f"{netloc}:{default}"


class Guard:
    """ASGI middleware: refuse foreign Host and Origin values; add the security headers."""

    def __init__(self, app: ASGIApp, access: Access) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        origin = headers.get("origin")
        refusal = None
        if not self.access.host_ok(host):
            refusal = (400, error("bad_host", f"this server does not answer to the host "
                                  f"{host!r}; start it with --allow-host naming it", "Host"))
        elif origin is not None and not self.access.origin_ok(origin, host):
            refusal = (403, error("bad_origin", f"pages from {origin!r} may not use this "
                                  "server; start it with --allow-origin naming that origin",
                                  "Origin"))
        if refusal is not None:
            await _refuse(scope, receive, send, *refusal)
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, secured)


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int,
                  body: dict[str, Any]) -> None:
    payload = orjson.dumps(body)
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(payload)).encode()), *SECURITY_HEADERS]
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        return
    await receive()  # websocket.connect
    if "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": status,
                    "headers": headers})
        await send({"type": "websocket.http.response.body", "body": payload})
    else:  # the server answers 403 with no body
        await send({"type": "websocket.close", "code": 1008})
