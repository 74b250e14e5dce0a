"""Browser sessions in PostgreSQL (table ``web_sessions``), shared by every server process.

The same behaviour as the in-memory ``SessionStore``: a row per session under the SHA-256
of its id, holding the actor, the SHA-256 of their API token (never the token) and the
CSRF token. Expiry is judged by the database's clock (``now()``), so every process agrees
on it; expired rows are refused at once and deleted at the next sign-in.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from domain.participants import Actor, Role
from infrastructure.connection_pools import ConnectionPool
from infrastructure.tokens import ping_if_idle
from infrastructure.web.sessions import (
    IDLE_SECONDS,
    LIFETIME_SECONDS,
    Session,
    new_csrf_token,
    new_session_id,
    session_key,
    usable_id,
)

TABLE = "web_sessions"

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS web_sessions (
    key_hash text PRIMARY KEY CHECK (key_hash ~ '^[0-9a-f]{64}$'),
    principal text NOT NULL CHECK (length(btrim(principal)) BETWEEN 1 AND 100),
    role text NOT NULL CHECK (role IN ('admin', 'lead_reviewer', 'organisation', 'auditor', 'reporting')),
    token_hash text NOT NULL CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    csrf_token text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
)
"""

# A session is live while last_seen_at >= now() - %(idle)s AND started_at >= now() - %(lifetime)s
# (both intervals), by the database's clock; each statement below spells that out.
_START = """
INSERT INTO web_sessions (key_hash, principal, role, token_hash, csrf_token)
VALUES (%(key)s, %(principal)s, %(role)s, %(token_hash)s, %(csrf)s)
RETURNING principal, role, token_hash, csrf_token,
          extract(epoch FROM started_at)::float8 AS started, extract(epoch FROM last_seen_at)::float8 AS last_seen
"""
_GET = """
UPDATE web_sessions SET last_seen_at = now()
WHERE key_hash = %(key)s AND last_seen_at >= now() - %(idle)s AND started_at >= now() - %(lifetime)s
RETURNING principal, role, token_hash, csrf_token,
          extract(epoch FROM started_at)::float8 AS started, extract(epoch FROM last_seen_at)::float8 AS last_seen
"""
# SKIP LOCKED: two processes purging at once neither wait for nor deadlock on each other.
_PURGE = """
DELETE FROM web_sessions WHERE key_hash IN (
    SELECT key_hash FROM web_sessions
    WHERE last_seen_at < now() - %(idle)s OR started_at < now() - %(lifetime)s
    FOR UPDATE SKIP LOCKED)
"""
_COUNT = """
SELECT count(*) AS n FROM web_sessions
WHERE last_seen_at >= now() - %(idle)s AND started_at >= now() - %(lifetime)s
"""


def create_table(conn: psycopg.Connection) -> None:
    """Create ``web_sessions`` if missing, on ``conn`` and in its transaction (for migrations)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('pqasso.web_sessions'))")
    conn.execute(CREATE_TABLE)


def _session(row: dict[str, Any]) -> Session:
    return Session(Actor(row["principal"], Role(row["role"])), row["token_hash"], row["csrf_token"],
                   row["started"], row["last_seen"])


class PostgresSessionStore:
    """Sessions by id in ``web_sessions``, with idle and absolute expiry; safe across threads
    and processes. The table comes from ``pqasso db migrate``."""

    def __init__(self, database_url: str, *, timeout: float = 5.0, idle_seconds: float = IDLE_SECONDS,
                 lifetime_seconds: float = LIFETIME_SECONDS, max_connections: int = 4) -> None:
        self._expiry = {"idle": timedelta(seconds=idle_seconds), "lifetime": timedelta(seconds=lifetime_seconds)}
        # As TokenStore's pool: a request waits ``timeout`` for a connection (then 503), and
        # stale connections are replaced before use after a database restart.
        self._pool = ConnectionPool(
            database_url, min_size=1, max_size=max_connections, open=True,
            kwargs={"row_factory": dict_row, "autocommit": True}, name=TABLE, timeout=timeout,
            check=ping_if_idle,
        )

    def close(self) -> None:
        self._pool.close()

    def start(self, actor: Actor, token_hash: str) -> tuple[str, Session]:
        """A new session (a new id every time: sign-in never reuses an id it was handed)."""
        session_id = new_session_id()
        with self._pool.connection() as conn:
            conn.execute(_PURGE, self._expiry)
            row = conn.execute(_START, {"key": session_key(session_id), "principal": actor.principal,
                                        "role": actor.role.value, "token_hash": token_hash,
                                        "csrf": new_csrf_token()}).fetchone()
        return session_id, _session(row)

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, its idle clock restarted; None if none or expired."""
        if not usable_id(session_id):
            return None
        with self._pool.connection() as conn:
            row = conn.execute(_GET, {"key": session_key(session_id), **self._expiry}).fetchone()
        return None if row is None else _session(row)

    def end(self, session_id: str | None) -> None:
        """Forget the session (sign-out, or its token no longer works)."""
        if usable_id(session_id):
            with self._pool.connection() as conn:
                conn.execute("DELETE FROM web_sessions WHERE key_hash = %s", (session_key(session_id),))

    def __len__(self) -> int:
        """How many sessions are live."""
        with self._pool.connection() as conn:
            return conn.execute(_COUNT, self._expiry).fetchone()["n"]
