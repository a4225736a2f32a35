"""Dashboard sessions: server-side, signed, ended by sign-out, expiry or the removal of their key.

A key is checked once, at sign-in, against the API's keyring. The session then lives on the server
(this one worker's memory) with its role and the `key_id` of the key it came from, never the key;
the cookie holds only the session's random id, signed. A session ends when the user signs out,
after `MAX_AGE_SECONDS`, when its key is no longer in the keyring, and when the process stops.

The signing secret is an HMAC of the keyring's digests under a workspace secret: a random value
made once and kept in `$BAROMETER_HOME/session-secret` (mode 0600), or `BAROMETER_SESSION_SECRET`.
Nobody can sign a cookie without reading the workspace, and rotating keys rotates the secret.

Every dashboard form that changes something (sign-in, sign-out, what-if) carries a CSRF token: for a
session an HMAC of its id, for the sign-in form (no session yet) an HMAC of a random nonce held in a
short-lived cookie of its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, Signer

from serving.auth import KeyRing, Role

COOKIE = "barometer_session"
SIGN_IN_COOKIE = "barometer_signin"  # the sign-in form's CSRF nonce
MAX_AGE_SECONDS = 8 * 3600
SIGN_IN_MAX_AGE = 3600
SALT = "barometer-dashboard-session"
MAX_SESSIONS = 10_000  # the oldest are ended beyond this (every session needed a valid key)
MIN_SECRET_CHARS = 32


def workspace_secret(settings) -> bytes:
    """`BAROMETER_SESSION_SECRET`, else the workspace's own secret file (made on first use)."""
    if settings.session_secret is not None:
        value = settings.session_secret.get_secret_value().strip()
        if len(value) < MIN_SECRET_CHARS:
            raise ValueError(
                f"BAROMETER_SESSION_SECRET is shorter than {MIN_SECRET_CHARS} characters."
            )
        return value.encode()
    return read_or_create_secret(settings.session_secret_path)


def read_or_create_secret(path: Path) -> bytes:
    """The secret in `path`, written once with mode 0600 (two processes racing keep one value)."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        handle = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(handle, "w") as out:
                out.write(secrets.token_urlsafe(48) + "\n")
            with contextlib.suppress(FileExistsError):  # another process made it first: theirs
                os.link(draft, path)  # atomic, and never over an existing secret
        finally:
            draft.unlink(missing_ok=True)
    if path.stat().st_mode & 0o077:
        raise PermissionError(
            f"The session secret {path} is readable by other users; run `chmod 600 {path}`."
        )
    value = path.read_text().strip()
    if len(value) < MIN_SECRET_CHARS:
        raise ValueError(f"{path} holds no usable secret; delete it and a new one will be made.")
    return value.encode()


def secret_for(keyring: KeyRing, workspace: bytes) -> bytes:
    """The signing secret: the keyring's digests and roles under the workspace secret."""
    message = hashlib.sha256(SALT.encode())
    for known, role in sorted(keyring.entries):
        message.update(known + bytes([int(role)]))
    return hmac.new(workspace, message.digest(), hashlib.sha256).digest()


@dataclass(frozen=True)
class Session:
    """One signed-in browser: its role and the `key_id` of the key it signed in with."""

    id: str
    role: Role
    key: str
    expires: float


class SessionStore:
    """The sessions of one worker process; the cookie holds a session's signed id."""

    def __init__(
        self, secret: bytes, max_age: int = MAX_AGE_SECONDS, clock: Callable[[], float] = time.time
    ) -> None:
        self.secret = secret
        self.max_age = max_age
        self.clock = clock
        self.signer = Signer(secret, salt=SALT)
        self.sessions: dict[str, Session] = {}
        self.lock = threading.Lock()

    def start(self, role: Role, key: str) -> str:
        """A new session for a key just checked; returns the cookie value."""
        now = self.clock()
        session = Session(secrets.token_urlsafe(32), role, key, now + self.max_age)
        with self.lock:
            self.sessions = {i: s for i, s in self.sessions.items() if s.expires > now}
            while len(self.sessions) >= MAX_SESSIONS:
                del self.sessions[min(self.sessions, key=lambda i: self.sessions[i].expires)]
            self.sessions[session.id] = session
        return self.signer.sign(session.id).decode()

    def get(self, cookie: str | None, keyring: KeyRing) -> Session | None:
        """The live session behind a cookie; None for a missing, forged, ended or expired one,
        or one whose key has left `keyring` (that session ends here)."""
        found = self.sessions.get(self.session_id(cookie) or "")
        if found is None:
            return None
        if found.expires <= self.clock() or not keyring.holds(found.key, found.role):
            self.end(cookie)
            return None
        return found

    def end(self, cookie: str | None) -> None:
        """End the session behind a cookie (sign-out); nothing for an unknown one."""
        session_id = self.session_id(cookie)
        if session_id is not None:
            with self.lock:
                self.sessions.pop(session_id, None)

    def session_id(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            return self.signer.unsign(cookie).decode()
        except (BadSignature, UnicodeDecodeError):
            return None

    def csrf_token(self, session: Session) -> str:
        """The token a signed-in form carries."""
        return self.token(b"session", session.id)

    def sign_in_token(self, nonce: str) -> str:
        """The token the sign-in form carries, bound to the nonce in its own cookie."""
        return self.token(b"sign-in", nonce)

    def token(self, purpose: bytes, value: str) -> str:
        return hmac.new(self.secret, purpose + b"\0" + value.encode(), hashlib.sha256).hexdigest()


def same_token(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison; False when either side is missing."""
    return bool(expected and given) and hmac.compare_digest(expected, given)


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def cookie_options(secure: bool) -> dict:
    """`Response.set_cookie` keywords for the session: HttpOnly, SameSite=Strict, limited life."""
    return {
        "key": COOKIE,
        "httponly": True,
        "samesite": "strict",
        "secure": secure,
        "max_age": MAX_AGE_SECONDS,
        "path": "/dashboard",
    }


def sign_in_cookie_options(secure: bool) -> dict:
    """The same for the sign-in form's nonce, which lives an hour."""
    return cookie_options(secure) | {"key": SIGN_IN_COOKIE, "max_age": SIGN_IN_MAX_AGE}


def forget(response, options: dict) -> None:
    """Tell the browser to drop the cookie set with `options`."""
    response.delete_cookie(**{k: v for k, v in options.items() if k != "max_age"})
