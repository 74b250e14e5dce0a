"""Browser sessions for the back-office pages, kept on the server.

The cookie carries only a random session id (256 bits); the server keeps, under the
id's SHA-256, the API token the user signed in with, the actor it spoke for and the
session's CSRF token. Nothing in the cookie can be forged or read for a token, and
signing out (or the token being revoked, checked on every request) ends the session
at once. Sessions live in this process's memory: a restart signs everyone out, and
``pqasso serve`` must run one process (or put a shared store behind this interface).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from domain.participants import Actor

IDLE_SECONDS = 30 * 60  # a desk left for half an hour is signed out
LIFETIME_SECONDS = 10 * 60 * 60  # and nobody stays signed in beyond a working day
MAX_SESSIONS = 10_000  # bounds memory; the oldest session goes first


@dataclass(frozen=True)
class Session:
    """One signed-in browser: who, with which token, and the CSRF token its forms carry."""

    actor: Actor
    token: str
    csrf_token: str
    started: float
    last_seen: float


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


class SessionStore:
    """Sessions by id, in memory, with idle and absolute expiry; safe across threads."""

    def __init__(
        self, *, idle_seconds: float = IDLE_SECONDS, lifetime_seconds: float = LIFETIME_SECONDS,
        max_sessions: int = MAX_SESSIONS, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle, self.lifetime, self.max_sessions, self.clock = idle_seconds, lifetime_seconds, max_sessions, clock
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def start(self, actor: Actor, token: str) -> tuple[str, Session]:
        """A new session (a new id every time: sign-in never reuses an id it was handed)."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        session = Session(actor, token, secrets.token_urlsafe(32), now, now)
        with self._lock:
            self._expire(now)
            while len(self._sessions) >= self.max_sessions:
                oldest = min(self._sessions, key=lambda k: self._sessions[k].started)
                del self._sessions[oldest]
            self._sessions[_key(session_id)] = session
        return session_id, session

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, its idle clock restarted; None if none or expired."""
        if not session_id or len(session_id) > 100:
            return None
        key, now = _key(session_id), self.clock()
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
        if session_id:
            with self._lock:
                self._sessions.pop(_key(session_id), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def _expired(self, session: Session, now: float) -> bool:
        return now - session.last_seen > self.idle or now - session.started > self.lifetime

    def _expire(self, now: float) -> None:
        for key in [k for k, s in self._sessions.items() if self._expired(s, now)]:
            del self._sessions[key]


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a submitted CSRF token with the expected one."""
    return isinstance(given, str) and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
