"""Failing fast while the database is down, and recovering without a restart.

Two parts (docs/reliability.md, "Database outage"):

- ``DatabaseGate``: a thread that pings PostgreSQL (once a second while it answers, four
  times a second while it does not). ``DatabaseGateMiddleware`` answers every request with a
  503 problem (``Retry-After``) at once while the gate is shut, ``GET /health`` included,
  instead of letting it queue on a connection pool that cannot connect.
- ``fail_fast(method)``: the eventsourcing library retries a failed database call ten times,
  each waiting up to the pool's checkout timeout, so a request that was running when the
  database went away would hang for about a minute. The recorder's methods are re-wrapped
  with ``FAIL_FAST_ATTEMPTS`` attempts; that request then gets its 503 within a few seconds.

Nothing here decides what was recorded: a command answered 2xx was committed; a command that
got a 503 was not recorded, or (if the connection broke while COMMIT was in flight) was
recorded once; repeating it with the same ``Idempotency-Key`` tells which.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
import structlog
from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.utils import retry
from starlette.types import ASGIApp, Receive, Scope, Send

log = structlog.get_logger(__name__)

FAIL_FAST_ATTEMPTS = 2
RETRY_AFTER_SECONDS = 2
# Reachable without the database: the API's description.
_ALWAYS_OPEN = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})

F = TypeVar("F", bound=Callable[..., Any])


def fail_fast(method: F, attempts: int = FAIL_FAST_ATTEMPTS) -> F:
    """``method`` (a library recorder method wrapped in ``@retry(..., max_attempts=10)``)
    re-wrapped to try ``attempts`` times; a method without that wrapper is wrapped as is."""
    inner = getattr(method, "__wrapped__", method)
    return retry((InterfaceError, OperationalError), max_attempts=attempts, wait=0.2)(inner)


class DatabaseGate:
    """Knows whether PostgreSQL answers, by pinging it from a background thread."""

    def __init__(self, database_url: str, *, interval: float = 1.0, down_interval: float = 0.25,
                 timeout: float = 2.0) -> None:
        self._url, self.interval, self.down_interval = database_url, interval, down_interval
        self.timeout = timeout
        self._up = True
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._conn: psycopg.Connection[Any] | None = None
        self._conn_lock = threading.Lock()  # the gate's thread and GET /health share _conn
        self._thread: threading.Thread | None = None

    @property
    def up(self) -> bool:
        return self._up

    @property
    def url(self) -> str:
        return self._url

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="database-gate", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._close()

    def check_now(self) -> None:
        """Ping at once (a request just failed on the database)."""
        self._wake.set()

    def ping(self) -> bool:
        """One check: ``SELECT 1`` on a kept connection, reconnecting if it is gone."""
        with self._conn_lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = psycopg.connect(self._url, autocommit=True,
                                                 connect_timeout=max(1, int(self.timeout)),
                                                 application_name="pqasso-database-gate")
                self._conn.execute("SELECT 1")
                return True
            except psycopg.Error:
                self._close_unlocked()
                return False

    def _loop(self) -> None:
        while not self._stopping.is_set():
            up = self.ping()
            if up != self._up:
                self._up = up
                if up:
                    log.info("database_reachable_again")
                else:
                    log.warning("database_unreachable", action="answering 503 until it is back")
            self._wake.wait(self.interval if up else self.down_interval)
            self._wake.clear()

    def _close(self) -> None:
        with self._conn_lock:
            self._close_unlocked()

    def _close_unlocked(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:
                pass


class GatedHealth:
    """``ProjectionHealth`` that first asks PostgreSQL whether it answers, on the gate's own
    connection (``DatabaseGate.ping``): during an outage the gate's thread may not have noticed
    yet, and the read models' pools would each wait out their checkout timeout (seconds)
    before failing; a broken connection or a refused one fails at once, so ``GET /health``
    says 503 at once. One kept connection, not one per request: the endpoint needs no token,
    and a flood of it must not become a flood of connections to PostgreSQL."""

    def __init__(self, health: Any, gate: DatabaseGate) -> None:
        self.health, self.gate = health, gate

    def status(self) -> Any:
        if not self.gate.ping():
            self.gate.check_now()
            raise psycopg.OperationalError("PostgreSQL does not answer")
        return self.health.status()


class DatabaseGateMiddleware:
    """Answers 503 (problem details, ``Retry-After``) while ``gate`` says the database is down."""

    def __init__(self, app: ASGIApp, *, gate: DatabaseGate) -> None:
        self.app, self.gate = app, gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.gate.up or scope["path"] in _ALWAYS_OPEN:
            await self.app(scope, receive, send)
            return
        # Imported here: the HTTP package imports the application, this module must not.
        from infrastructure.http.problems import problem_response

        detail = ("The database cannot be reached just now, so nothing can be read or recorded. "
                  "Try again shortly; repeat a command with the same Idempotency-Key so it "
                  "cannot be recorded twice.")
        response = problem_response(scope, 503, detail, slug="database-unreachable",
                                    title="Database unreachable",
                                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        await response(scope, receive, send)
