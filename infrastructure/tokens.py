"""API tokens: a bearer token names one principal acting in one role.

Only the SHA-256 of a token is stored, so a leaked table grants nothing; the token
itself is shown once, when it is made. Tokens start with ``pqa_`` so that secret
scanners and people can recognise one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import psycopg
import structlog
from psycopg.rows import dict_row

from domain.errors import CaseError
from domain.participants import Actor, Role
from infrastructure.connection_pools import ConnectionPool
from infrastructure.whole_numbers import whole_number

log = structlog.get_logger(__name__)

PREFIX = "pqa_"
# The roles a token may carry; the deadline job ("system") acts from the command line only.
API_ROLES = frozenset(Role) - {Role.SYSTEM}
# token_urlsafe(32) gives 43 characters; anything far from that shape is not ours.
_TOKEN_SHAPE = re.compile(r"pqa_[A-Za-z0-9_-]{20,100}")
_HASH_SHAPE = re.compile(r"[0-9a-f]{64}")  # token_hash(): a SHA-256 in lower-case hex

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS api_tokens (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    role text NOT NULL CHECK (role IN ('admin', 'lead_reviewer', 'organisation', 'auditor', 'reporting')),
    principal text NOT NULL CHECK (length(btrim(principal)) BETWEEN 1 AND 100),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
)
"""


@dataclass(frozen=True)
class TokenInfo:
    """One issued token, without the token: who it speaks for, and whether it still works."""

    id: int
    role: Role
    principal: str
    created_at: datetime
    revoked_at: datetime | None = None


def token_hash(token: str) -> str:
    """The SHA-256 hex digest stored in place of the token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def _checked_actor(role: str | Role, principal: str) -> Actor:
    try:
        actor = Actor(principal, Role(role))  # checks the principal is a bounded, non-blank text
    except CaseError as error:
        raise ValueError(error.message) from None
    if actor.role not in API_ROLES:
        raise ValueError(f"no API token can carry the {actor.role.value!r} role")
    return actor


def _as_id(token_id: int | str) -> int | None:
    """Token ids as typed on the command line; None for anything that cannot be one."""
    return whole_number(str(token_id).strip(), max_digits=18)


def create_table(conn: psycopg.Connection) -> None:
    """Create ``api_tokens`` if missing, on ``conn`` and in its transaction (for migrations).

    The advisory lock stops two migrations racing on CREATE TABLE IF NOT EXISTS,
    which PostgreSQL does not make atomic.
    """
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('pqasso.api_tokens'))")
    conn.execute(CREATE_TABLE)


def ping_if_idle(conn: psycopg.Connection, idle_for: float = 1.0) -> None:
    """Pool check: ping a connection that has not been handed out for ``idle_for`` seconds."""
    now = time.monotonic()
    if now - getattr(conn, "_pqasso_used_at", float("-inf")) >= idle_for:
        ConnectionPool.check_connection(conn)
    conn._pqasso_used_at = now  # type: ignore[attr-defined]


# How many live tokens a TokenStore remembers (see ``remember_for``); more are looked up.
_REMEMBERED_TOKENS = 10_000


class TokenStore:
    """API tokens in PostgreSQL (table ``api_tokens``).

    With ``remember_for`` (seconds), a live token found in the table is not looked up again
    for that long: one query fewer for nearly every request of a busy server. A revocation
    made through this object takes effect at once; one made elsewhere (``pqasso tokens
    revoke``, another server process) within ``remember_for``. Unknown and revoked tokens
    are always looked up, so a new token works at once. ``clock`` (seconds, only ever
    compared) times that; a test may pass its own.
    """

    def __init__(self, database_url: str, *, max_connections: int = 4, timeout: float = 5.0,
                 remember_for: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._remember_for, self._clock = remember_for, clock
        self._remembered: dict[str, tuple[float, Actor]] = {}  # token hash: (until, actor)
        # timeout: a request waits this long for a connection, then is answered 503 (not 30 s,
        # the pool's default); ping_if_idle: after a database restart, stale connections are
        # replaced before use instead of failing a request each.
        self._pool = ConnectionPool(
            database_url, min_size=1, max_size=max_connections, open=True,
            kwargs={"row_factory": dict_row}, name="api_tokens", timeout=timeout,
            check=ping_if_idle,
        )

    def close(self) -> None:
        self._pool.close()

    def create_table(self) -> None:
        """Create the table if it does not exist; safe to call any number of times."""
        with self._pool.connection() as conn:
            create_table(conn)

    def add(self, role: str | Role, principal: str) -> str:
        """Issue a token for ``principal`` in ``role``; the token is returned once, never stored."""
        actor = _checked_actor(role, principal)
        token = new_token()
        with self._pool.connection() as conn:
            row = conn.execute(
                "INSERT INTO api_tokens (token_hash, role, principal) VALUES (%s, %s, %s) RETURNING id",
                (token_hash(token), actor.role.value, actor.principal),
            ).fetchone()
        log.info("api_token_added", token_id=row["id"], role=actor.role.value, principal=actor.principal)
        return token

    def list(self) -> list[TokenInfo]:
        """Every token issued, oldest first, revoked ones included."""
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT id, role, principal, created_at, revoked_at FROM api_tokens ORDER BY id"
            ).fetchall()
        return [TokenInfo(r["id"], Role(r["role"]), r["principal"], r["created_at"], r["revoked_at"]) for r in rows]

    def revoke(self, token_id: int | str) -> bool:
        """Revoke a token; False when there is no such token or it was already revoked."""
        token_id = _as_id(token_id)
        if token_id is None:
            return False
        with self._pool.connection() as conn:
            cursor = conn.execute(
                "UPDATE api_tokens SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL",
                (token_id,),
            )
            revoked = cursor.rowcount == 1
        self._remembered.clear()
        log.info("api_token_revoked", token_id=token_id, revoked=revoked)
        return revoked

    def authenticate(self, token: str) -> Actor | None:
        """The principal and role a live token speaks for, or None."""
        if not isinstance(token, str) or not _TOKEN_SHAPE.fullmatch(token):
            return None
        return self.authenticate_hash(token_hash(token))

    def authenticate_hash(self, digest: str) -> Actor | None:
        """What ``authenticate`` answers for the token whose ``token_hash`` is ``digest``.

        For callers that keep only the hash (a browser session), never the token.
        """
        if not isinstance(digest, str) or not _HASH_SHAPE.fullmatch(digest):
            return None
        actor = self._remembered_actor(digest)
        if actor is not None:
            return actor
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT token_hash, role, principal, revoked_at FROM api_tokens WHERE token_hash = %s",
                (digest,),
            ).fetchone()
        if row is None or row["revoked_at"] is not None:
            self._remembered.pop(digest, None)
            return None
        # The lookup already matched; comparing again in constant time costs nothing
        # and keeps the check honest should the query ever change.
        if not hmac.compare_digest(row["token_hash"], digest):
            return None
        actor = Actor(row["principal"], Role(row["role"]))
        if self._remember_for > 0:  # dict operations are atomic: no lock needed
            if len(self._remembered) >= _REMEMBERED_TOKENS:
                self._remembered.clear()
            self._remembered[digest] = (self._clock() + self._remember_for, actor)
        return actor

    def remembered(self, token: str) -> Actor | None:
        """The actor of a live token checked less than ``remember_for`` ago; no I/O."""
        if not isinstance(token, str) or not self._remembered:
            return None
        return self._remembered_actor(token_hash(token))

    def _remembered_actor(self, digest: str) -> Actor | None:
        remembered = self._remembered.get(digest)
        if remembered is not None and remembered[0] > self._clock():
            return remembered[1]
        return None


class InMemoryTokenStore:
    """The same interface as TokenStore, in a dict: for unit tests and the in-memory service."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_hash: dict[str, TokenInfo] = {}

    def close(self) -> None:
        """Nothing to release."""

    def create_table(self) -> None:
        """Nothing to create."""

    def add(self, role: str | Role, principal: str) -> str:
        actor = _checked_actor(role, principal)
        token = new_token()
        with self._lock:
            info = TokenInfo(len(self._by_hash) + 1, actor.role, actor.principal, datetime.now(UTC))
            self._by_hash[token_hash(token)] = info
        return token

    def list(self) -> list[TokenInfo]:
        with self._lock:
            return sorted(self._by_hash.values(), key=lambda info: info.id)

    def revoke(self, token_id: int | str) -> bool:
        token_id = _as_id(token_id)
        with self._lock:
            for digest, info in self._by_hash.items():
                if info.id == token_id and info.revoked_at is None:
                    self._by_hash[digest] = replace(info, revoked_at=datetime.now(UTC))
                    return True
        return False

    def authenticate(self, token: str) -> Actor | None:
        if not isinstance(token, str) or not _TOKEN_SHAPE.fullmatch(token):
            return None
        return self.authenticate_hash(token_hash(token))

    def authenticate_hash(self, digest: str) -> Actor | None:
        if not isinstance(digest, str) or not _HASH_SHAPE.fullmatch(digest):
            return None
        with self._lock:
            info = next((i for h, i in self._by_hash.items() if hmac.compare_digest(h, digest)), None)
        if info is None or info.revoked_at is not None:
            return None
        return Actor(info.principal, info.role)
