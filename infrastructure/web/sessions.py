"""Browser sessions for the back-office pages, kept on the server.

The cookie carries only a random session id (256 bits); the server keeps, under the
id's SHA-256, the SHA-256 of the API token the user signed in with (never the token),
the actor it spoke for and the session's CSRF token. Nothing in the cookie can be forged
or read for a token, and signing out (or the token being revoked, checked on every
request) ends the session at once.

Two stores keep them, behind ``KeepsSessions``: ``SessionStore`` here, in this process's
memory (tests and the in-memory service; a restart signs everyone out), and
``PostgresSessionStore`` (``sessions_postgres.py``), shared by every ``pqasso serve``
process on the database and surviving restarts. Both expire a session idle for
``IDLE_SECONDS`` or older than ``LIFETIME_SECONDS``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from domain.participants import Actor

IDLE_SECONDS = 30 * 60  # a desk left for half an hour is signed out
LIFETIME_SECONDS = 10 * 60 * 60  # and nobody stays signed in beyond a working day
MAX_SESSIONS = 10_000  # bounds memory; the oldest session goes first
_MAX_ID_LENGTH = 100  # token_urlsafe(32) is 43 characters: anything much longer is not ours


@dataclass(frozen=True)
class Session:
    """One signed-in browser: who, the hash of their token, and the CSRF token its forms carry.

    ``started`` and ``last_seen`` are seconds on the store's clock (the database's, for
    ``PostgresSessionStore``).
    """

    actor: Actor
    token_hash: str
    csrf_token: str
    started: float
    last_seen: float


class KeepsSessions(Protocol):
    """A session store, as ``WebAuth`` uses it (SessionStore, PostgresSessionStore)."""

    def start(self, actor: Actor, token_hash: str) -> tuple[str, Session]: ...

    def get(self, session_id: str | None) -> Session | None: ...

    def end(self, session_id: str | None) -> None: ...

    def __len__(self) -> int: ...

    def close(self) -> None: ...


def new_session_id() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def session_key(session_id: str) -> str:
    """What a store keeps in place of the id: its SHA-256, so a leaked store opens no session."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def usable_id(session_id: str | None) -> bool:
    """Whether ``session_id`` could be one of ours (cheap, before any lookup)."""
    return isinstance(session_id, str) and 0 < len(session_id) <= _MAX_ID_LENGTH


class SessionStore:
    """Sessions by id, in memory, with idle and absolute expiry; safe across threads."""

    def __init__(
        self, *, idle_seconds: float = IDLE_SECONDS, lifetime_seconds: float = LIFETIME_SECONDS,
        max_sessions: int = MAX_SESSIONS, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle, self.lifetime, self.max_sessions, self.clock = idle_seconds, lifetime_seconds, max_sessions, clock
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def start(self, actor: Actor, token_hash: str) -> tuple[str, Session]:
        """A new session (a new id every time: sign-in never reuses an id it was handed)."""
        session_id = new_session_id()
        now = self.clock()
        session = Session(actor, token_hash, new_csrf_token(), now, now)
        with self._lock:
            self._expire(now)
            while len(self._sessions) >= self.max_sessions:
                oldest = min(self._sessions, key=lambda k: self._sessions[k].started)
                del self._sessions[oldest]
            self._sessions[session_key(session_id)] = session
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, its idle clock restarted; None if none or expired."""
        if not usable_id(session_id):
            return None
        key, now = session_key(session_id), self.clock()
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return None
            if self._expired(session, now):
                del self._sessions[key]
                return None
            session = self._sessions[key] = replace(session, last_seen=now)
            return session

    def end(self, session_id: str | None) -> None:
        """Forget the session (sign-out, or its token no longer works)."""
        if usable_id(session_id):
            with self._lock:
                self._sessions.pop(session_key(session_id), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def close(self) -> None:
        """Nothing to release."""

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.last_seen > self.idle or now - session.started > self.lifetime

    def _expire(self, now: float) -> None:
        for key in [k for k, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[key]


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a submitted CSRF token with the expected one."""
    return isinstance(given, str) and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
