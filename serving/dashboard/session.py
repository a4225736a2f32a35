"""Dashboard sign-in: a key is checked once against the API's keyring, then a signed session
cookie holds the role (never the key). The cookie is HttpOnly, SameSite=Strict and expires."""

from __future__ import annotations

import hashlib

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from serving.auth import KeyRing, Role

COOKIE = "barometer_session"
MAX_AGE_SECONDS = 8 * 3600
SALT = "barometer-dashboard-session"


def secret_for(keyring: KeyRing, extra: str | None = None) -> bytes:
    """The signing secret, derived from the keyring's key digests (rotating keys ends sessions).

    `extra` (e.g. a configured session secret) is mixed in when given."""
    digest = hashlib.sha256(SALT.encode())
    for known, role in keyring.entries:
        digest.update(known + bytes([int(role)]))
    digest.update((extra or "").encode())
    return digest.digest()


def serializer(secret: bytes) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


def issue(secret: bytes, role: Role) -> str:
    """A signed cookie value holding only the role's name."""
    return serializer(secret).dumps({"role": role.name})


def read(secret: bytes, value: str | None, max_age: int = MAX_AGE_SECONDS) -> Role | None:
    """The role in a valid, unexpired cookie; None for a missing, forged or expired one."""
    if not value:
        return None
    try:
        data = serializer(secret).loads(value, max_age=max_age)
    except (BadSignature, SignatureExpired):
        return None
    name = data.get("role") if isinstance(data, dict) else None
    return Role[name] if name in Role.__members__ else None


def cookie_options(secure: bool) -> dict:
    """`Response.set_cookie` keywords: HttpOnly, SameSite=Strict, limited lifetime."""
    return {
        "key": COOKIE,
        "httponly": True,
        "samesite": "strict",
        "secure": secure,
        "max_age": MAX_AGE_SECONDS,
        "path": "/dashboard",
    }
