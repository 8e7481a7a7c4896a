"""Who may change a saved experiment, and how much anyone may save.

Ownership: the first save from a browser issues it an owner token (192 random bits), returned
once; the browser keeps it and sends it with later saves, so one token owns all of them. The
store keeps only the token's SHA-256, so a copy of the database cannot edit anything. With the
token, its holder may rename, annotate and delete what it owns; without it nobody can.

Limits, checked inside the save's own write transaction (serialised across every replica
sharing the database, so two replicas cannot both let the last save through): saves per minute
per owner token and per client address, bytes stored per token and per client address, and a
cap on the bytes of the whole store. Zero turns a limit off.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

TOKEN_BYTES = 24  # 192 random bits: 32 URL-safe characters
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{32}")
RATE_WINDOW_S = 60


class AccessError(Exception):
    """A request the store refuses for who sent it or how much they stored; nothing changed.
    `status` is the HTTP status the REST API answers with, `code` the error's code."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.field = field
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limits:
    """What one owner, one client address and the whole store may hold (0: no limit)."""

    saves_per_minute: int = 10  # per owner token
    client_saves_per_minute: int = 60  # per client address: a classroom shares one behind NAT
    bytes_per_owner: int = 200_000_000
    bytes_per_client: int = 1_000_000_000
    storage_cap: int = 20_000_000_000


@dataclass(frozen=True)
class Saver:
    """Who is saving: the owner token they sent (None: issue one) and their address."""

    token: str | None = None
    client: str = ""


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def valid_token(text: str) -> bool:
    return TOKEN_PATTERN.fullmatch(text) is not None


def same_hash(stored: str | None, token: str | None) -> bool:
    """Whether `token` is the one whose hash is stored (never true for a missing owner)."""
    if stored is None or token is None or not valid_token(token):
        return False
    return hmac.compare_digest(stored, token_hash(token))


def forbidden(what: str) -> AccessError:
    return AccessError(403, "forbidden", f"only the owner of this experiment may {what}: send "
                       "the owner token its save returned (Authorization: Bearer <token>)",
                       "token")


def unknown_token() -> AccessError:
    return AccessError(403, "unknown_token", "this owner token was not issued by this server "
                       "(or its store was reset); save without a token to get a new one",
                       "token")


def rate_limited(who: str, limit: int, retry_after: int) -> AccessError:
    return AccessError(429, "rate_limited", f"at most {limit} saves a minute per {who}; try "
                       f"again in {retry_after} s", retry_after=retry_after)


def over_quota(who: str, used: int, adding: int, limit: int) -> AccessError:
    return AccessError(413, "quota_exceeded", f"this {who} stores {used:,} bytes; this save "
                       f"({adding:,} bytes) would pass its limit of {limit:,}; delete some of "
                       "its experiments first")


def store_full(used: int, adding: int, limit: int) -> AccessError:
    return AccessError(507, "storage_full", f"the server's store holds {used:,} bytes; this "
                       f"save ({adding:,} bytes) would pass its cap of {limit:,}; ask whoever "
                       "runs it to make room")
