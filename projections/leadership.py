"""Which worker writes a read model: PostgreSQL session advisory locks, one per projection.

Two workers (``pqasso serve`` and ``pqasso projections run``, or two of either) may run at
once. Correctness never depends on this lock — every write checks the position under a
transaction lock (projections/base.py) — but without it both would do all the work and
keep tripping over each other's positions. With it one worker leads each projection and
the other stands by; if the leader dies its session ends, the lock is freed, and the
stand-by's next watchdog tick takes over.

The session's connection is also the one the supervisor LISTENs on (projections/live.py):
one connection per supervisor, used by its follow thread alone, for both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg
import structlog

log = structlog.get_logger(__name__)

_NAMESPACE = "pqasso_projection_leader"  # first key (hashed); the second is the projection
APPLICATION_NAME = "pqasso-projections"  # of the session, in pg_stat_activity


class LeaderLocks:
    """One dedicated connection holding the session locks of the projections we lead."""

    def __init__(self, connect_kwargs: Mapping[str, Any]) -> None:
        self._kwargs = dict(connect_kwargs)
        self._conn: psycopg.Connection[Any] | None = None
        self.held: set[str] = set()

    @property
    def current(self) -> psycopg.Connection[Any] | None:
        """The session's connection, if one is open (a new one means the old session,
        its locks and its LISTEN, are gone)."""
        return self._conn if self._conn is not None and not self._conn.closed else None

    @property
    def opened(self) -> bool:
        """A session was opened and not closed since (it may have broken meanwhile)."""
        return self._conn is not None

    def try_acquire(self, name: str) -> bool:
        """Lead ``name`` if nobody else does (or we already do)."""
        if name in self.held:
            return True
        conn = self.connection()
        row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s), hashtext(%s))",
                           (_NAMESPACE, name)).fetchone()
        if row and row[0]:
            self.held.add(name)
            return True
        return False

    def alive(self) -> bool:
        """False if the session (and with it every lock) is gone; then forget the locks."""
        if self._conn is None:
            return not self.held
        try:
            self._conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            log.warning("projection_leader_session_lost", held=sorted(self.held))
            self.close()
            return False

    def close(self) -> None:
        """Release every lock (ending the session does), and the LISTEN with them."""
        self.held.clear()
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.close()
            except psycopg.Error:
                pass

    def connection(self) -> psycopg.Connection[Any]:
        """The session's connection (a new session if there is none, or it was closed)."""
        if self._conn is None or self._conn.closed:
            if self.held:  # the old session ended: its locks went with it
                log.warning("projection_leader_session_lost", held=sorted(self.held))
                self.held.clear()
            self._conn = None
            self._conn = psycopg.connect(**self._kwargs, autocommit=True, connect_timeout=5,
                                         application_name=APPLICATION_NAME)
        return self._conn
