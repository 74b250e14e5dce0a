"""A pooled connection lent for one save, as the library lends one, in one context manager.

``PostgresDatastore.get_connection()`` (the library's) takes the pool's lock to see that it is
open, enters psycopg_pool's ``connection()``, which enters the connection itself (a COMMIT on
leaving, if anything is left to commit; a ROLLBACK after an error), gives it back and counts
its use; and it raises psycopg's errors as the library's (``IntegrityError``, which tells the
application a version or key is taken; ``OperationalError``, which its ``@retry`` retries...).
Three generator-based context managers, nested, and the recorder's own around them: some
43,000 instructions of a command's ~640,000 on PostgreSQL (BENCHMARKS.md, "Appending, one
writer"). ``LentConnection`` does the same in one, for the recorder's save: it takes the
connection from the open pool and gives it back (psycopg_pool's own ``getconn`` and
``putconn``, which check and reset it, and discard a broken one), commits what a
transaction block left open or rolls back a failed save's, and raises the library's error.
(It does not add to psycopg_pool's usage statistics, which nothing here reads.)
tests/integration/test_lent_connections.py compares it with the library's, error by error.

``CasesRecorder._save_connection`` lends the library's way until the pool is open. (The
library's way also registers the library's composite types on a connection that lacks them,
which the save does not use.)
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import psycopg
from eventsourcing.persistence import (
    DatabaseError,
    DataError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    PersistenceError,
    ProgrammingError,
)
from psycopg import Connection
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool

# psycopg's errors and the library's, in the order PostgresDatastore.get_connection tries them.
_LIBRARY_ERRORS: tuple[tuple[type[psycopg.Error], type[PersistenceError]], ...] = (
    (psycopg.InterfaceError, InterfaceError),
    (psycopg.OperationalError, OperationalError),
    (psycopg.DataError, DataError),
    (psycopg.IntegrityError, IntegrityError),
    (psycopg.InternalError, InternalError),
    (psycopg.ProgrammingError, ProgrammingError),
    (psycopg.NotSupportedError, NotSupportedError),
    (psycopg.DatabaseError, DatabaseError),
    (psycopg.Error, PersistenceError),
)
_OPEN = (TransactionStatus.INTRANS, TransactionStatus.INERROR)


def library_error(error: psycopg.Error) -> PersistenceError:
    """The library's error for psycopg's ``error``, as ``get_connection`` raises it."""
    for theirs, ours in _LIBRARY_ERRORS:
        if isinstance(error, theirs):
            return ours(str(error))
    raise AssertionError("unreachable: psycopg.Error is the last")  # pragma: no cover


class LentConnection:
    """``with LentConnection(pool) as conn:`` a connection of the (open) ``pool``."""

    __slots__ = ("_conn", "_pool")

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self._pool = pool

    def __enter__(self) -> Connection[Any]:
        try:
            conn = self._conn = self._pool.getconn()
        except psycopg.Error as error:  # PoolTimeout, PoolClosed: OperationalError
            raise library_error(error) from error
        return conn

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        conn, pool = self._conn, self._pool
        try:
            if conn.pgconn.transaction_status in _OPEN:  # a transaction block was left open
                if kind is None:
                    conn.commit()  # as the connection's own `with` does
                else:
                    conn.rollback()
        except psycopg.Error as failed:
            if kind is None:  # the COMMIT failed: that is the save's error
                raise library_error(failed) from failed
            # Rolling back after an error: the pool discards a broken connection.
        finally:
            pool.putconn(conn)
        if isinstance(error, psycopg.Error):
            raise library_error(error) from error
