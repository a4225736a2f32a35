"""API keys and roles: keys are held only as SHA-256 hashes and compared in constant time.

Keys come from settings as `role:key,role:key` (`BAROMETER_API_KEYS`) or from a file
(`BAROMETER_API_KEYS_FILE`) with one `role:key` per line (`#` starts a comment). Roles are ordered:
`retention` < `manager` < `admin`; a route that needs `manager` also admits `admin`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property
from pathlib import Path


class Role(IntEnum):
    """What a key may see; a higher role includes everything below it."""

    retention = 1
    manager = 2
    admin = 3


@dataclass(frozen=True)
class KeyRing:
    """The known keys as (sha256 digest, role) pairs; never the keys themselves."""

    entries: tuple[tuple[bytes, Role], ...] = ()

    def role_of(self, key: str | None) -> Role | None:
        """The role of `key`, or None for a missing or unknown key (constant time per entry)."""
        found = self.match(key)
        return None if found is None else found[1]

    def match(self, key: str | None) -> tuple[str, Role] | None:
        """`(key_id(digest), role)` of a known `key`, else None (constant time per entry)."""
        if not key:
            return None
        digest = hash_key(key)
        found: tuple[str, Role] | None = None
        for known, role in self.entries:
            if hmac.compare_digest(known, digest):
                found = (key_id(known), role)
        return found

    def holds(self, identity: str, role: Role) -> bool:
        """Whether a key with this `key_id` and role is still in the ring (sessions check it)."""
        return (identity, role) in self.identities

    @cached_property
    def identities(self) -> frozenset[tuple[str, Role]]:
        return frozenset((key_id(known), role) for known, role in self.entries)

    def __len__(self) -> int:
        return len(self.entries)


def hash_key(key: str) -> bytes:
    """SHA-256 digest of a key."""
    return hashlib.sha256(key.encode("utf-8")).digest()


def key_id(digest: bytes) -> str:
    """A short, public name for a key: the first 8 bytes of its digest, in hex (never the key)."""
    return digest[:8].hex()


class NoKeysError(ValueError):
    """The service was asked to start without a single API key."""


NO_KEYS = (
    "No API keys are configured, and Barometer does not serve without them: set "
    "BAROMETER_API_KEYS (`role:key,role:key`) or BAROMETER_API_KEYS_FILE (one `role:key` per line; "
    "`make demo-key` writes one), or run `barometer serve --insecure-demo` for a demo on 127.0.0.1."
)


def parse_entry(text: str, where: str) -> tuple[bytes, Role]:
    """One `role:key` entry; a clear error naming where it came from (the key is never echoed)."""
    role_name, sep, key = text.strip().partition(":")
    if not sep or not key.strip():
        raise ValueError(f"{where}: expected `role:key`, got an entry without a key.")
    if role_name.strip() not in Role.__members__:
        allowed = ", ".join(Role.__members__)
        raise ValueError(f"{where}: unknown role {role_name.strip()!r}; expected one of {allowed}.")
    if len(key.strip()) < 16:
        raise ValueError(f"{where}: key for role {role_name.strip()!r} is shorter than 16 chars.")
    return hash_key(key.strip()), Role[role_name.strip()]


def parse_keys(spec: str | None, where: str = "BAROMETER_API_KEYS") -> KeyRing:
    """Keys from a `role:key,role:key` string."""
    parts = [p for p in (spec or "").split(",") if p.strip()]
    return KeyRing(tuple(parse_entry(p, f"{where} entry {i + 1}") for i, p in enumerate(parts)))


def read_keys_file(path: Path) -> KeyRing:
    """Keys from a file with one `role:key` per line; blank lines and `#` comments are skipped."""
    if not path.is_file():
        raise FileNotFoundError(f"API keys file {path} does not exist.")
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if text:
            entries.append(parse_entry(text, f"{path} line {number}"))
    return KeyRing(tuple(entries))


def load_keyring(api_keys: str | None, api_keys_file: Path | None) -> KeyRing:
    """Both sources combined (settings' `api_keys` and `api_keys_file`)."""
    ring = parse_keys(api_keys)
    if api_keys_file is not None:
        ring = KeyRing(ring.entries + read_keys_file(Path(api_keys_file)).entries)
    return ring


def new_key(role: Role | str = Role.retention) -> str:
    """A fresh random `role:key` entry, e.g. for `barometer serve --demo-key`."""
    role = role if isinstance(role, Role) else Role[role]
    return f"{role.name}:{secrets.token_urlsafe(24)}"


def key_from_headers(x_api_key: str | None, authorization: str | None) -> str | None:
    """The key a client sent: `X-API-Key`, else `Authorization: Bearer <key>`."""
    if x_api_key:
        return x_api_key.strip()
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return None
