"""Choosing the database at start-up, and creating/dropping databases.

``connect_or_start()`` uses ``PQASSO_DATABASE_URL`` when it is set, and otherwise an
embedded PostgreSQL server in ``<data_dir>/postgres``; either way the caller gets a URL
and a handle to ``close()`` on shutdown.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType

import psycopg
import structlog
from psycopg import sql

from infrastructure.embedded_postgres import EmbeddedPostgres
from infrastructure.settings import Settings, redact, replace_dbname

log = structlog.get_logger(__name__)


class DatabaseUnavailable(RuntimeError):
    """The configured PostgreSQL server cannot be reached."""


@dataclass
class DatabaseHandle:
    """The database the service uses: its URL and, if we run it, the embedded server."""

    url: str
    embedded: EmbeddedPostgres | None = None

    def close(self) -> None:
        """Stop the embedded server if this process started it; idempotent."""
        if self.embedded is not None:
            self.embedded.stop()

    def __enter__(self) -> DatabaseHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def connect_or_start(settings: Settings) -> DatabaseHandle:
    """Return a handle on ``settings.database_url``, or on an embedded server if unset."""
    if settings.database_url:
        url = settings.database_url
        # Fail at start-up with a clear message rather than at the first request.
        try:
            with psycopg.connect(url, connect_timeout=5):
                pass
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(
                f"cannot connect to PQASSO_DATABASE_URL={redact(url)}: {exc}"
            ) from exc
        log.info("database_external", url=redact(url))
        return DatabaseHandle(url=url)
    embedded = EmbeddedPostgres(settings.embedded_data_dir)
    url = embedded.start()
    log.info("database_embedded", url=url, data_dir=str(embedded.data_dir))
    return DatabaseHandle(url=url, embedded=embedded)


def create_database(admin_url: str, name: str, *, exist_ok: bool = False) -> None:
    """Create database ``name`` on the server of ``admin_url`` (any database there)."""
    # CREATE/DROP DATABASE cannot run inside a transaction block.
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        if exist_ok:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if found.fetchone():
                return
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
            # Lost a race with another process creating it (two CREATE DATABASEs at once may
            # also collide on pg_database's unique index): fine if exist_ok.
            if not exist_ok:
                raise
            return
    log.info("database_created", dbname=name, server=redact(admin_url))


def drop_database(admin_url: str, name: str) -> None:
    """Drop database ``name`` if it exists, disconnecting its sessions (PostgreSQL 13+)."""
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
    log.info("database_dropped", dbname=name, server=redact(admin_url))


@contextmanager
def temporary_database(admin_url: str, name: str, *, keep: bool = False) -> Iterator[str]:
    """The URL of a new database ``name`` on the server of ``admin_url``, dropped when the
    block ends, however it ends (unless ``keep``)."""
    create_database(admin_url, name)
    try:
        yield replace_dbname(admin_url, name)
    finally:
        if not keep:
            drop_database(admin_url, name)
