"""Connection pools that hand out the connection returned last.

psycopg_pool keeps its idle connections in a queue: a connection given back goes to the end,
and the one handed out is the one idle longest. So one request after another goes round every
connection of the pool, each time to a backend that has gone cold meanwhile (its process
asleep, its caches and the CPU's taken by others). Measured with the benchmark's lone writer,
whose pool held two connections: 70 µs more a command (of ~450) than when it used one
(BENCHMARKS.md, "Appending, one writer", tenth session). Here the connection given back last
is handed out first (as SQLAlchemy's ``pool_use_lifo``), so a light load keeps to one hot
connection; a heavier one still uses as many as it needs at once. The one idle longest stays
first in the queue, where the pool's shrinking (``max_idle``) closes it.

psycopg_pool has no such option: these subclasses turn its queue round just before it takes
the first connection, under the pool's lock (``_get_ready_connection``: psycopg_pool 3.2 and
3.3, which pyproject.toml asks for, take a connection so; tests/integration/test_connection_pools.py
checks that they still do).
"""

from __future__ import annotations

from typing import Any

import psycopg_pool
from eventsourcing.postgres import ConnectionPool as LibraryConnectionPool
from eventsourcing.postgres import PostgresDatastore


def _take_last_given_back(pool: Any, timeout: float | None) -> Any:
    """psycopg_pool's way of taking a ready connection, after turning the queue round: the
    connection given back last comes first; the others keep their order."""
    if len(pool._pool) > 1:
        pool._pool.rotate(1)
    return psycopg_pool.ConnectionPool._get_ready_connection(pool, timeout)


class ConnectionPool(psycopg_pool.ConnectionPool):  # type: ignore[type-arg]
    """psycopg_pool's pool, handing out the connection given back last."""

    __slots__ = ()
    _get_ready_connection = _take_last_given_back


class _LibraryConnectionPool(LibraryConnectionPool):  # type: ignore[type-arg]
    """The eventsourcing library's pool (which takes psycopg_pool's way), handing out the
    connection given back last."""

    __slots__ = ()  # no state of its own: a library pool can be made one (below)
    _get_ready_connection = _take_last_given_back


LAST_GIVEN_BACK_FIRST = (ConnectionPool, _LibraryConnectionPool)


def hand_out_last_returned_first(datastore: PostgresDatastore) -> None:
    """Make the pool of a library datastore hand out the connection given back last. (The
    library makes its pool in the datastore's constructor, with no way to choose its class:
    hence the change of class, to a subclass that adds no state, before the pool opens.)"""
    if type(datastore.pool) is LibraryConnectionPool:
        datastore.pool.__class__ = _LibraryConnectionPool
