"""Every pool of the service hands out the connection given back last, so that a light load
keeps to one hot connection (infrastructure/connection_pools.py). Against a real PostgreSQL:
which backend answers is what the order is for."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from infrastructure.bootstrap import application_env
from infrastructure.connection_pools import LAST_GIVEN_BACK_FIRST, ConnectionPool
from infrastructure.tokens import TokenStore
from infrastructure.web.sessions_postgres import PostgresSessionStore
from projections.registry import ALL, read_model

pytestmark = pytest.mark.integration


def backends_handed_out(pool: Any, times: int) -> list[int]:
    """The backend of each of ``times`` connections taken from ``pool`` one after another,
    after two were in use at once (so the pool holds at least two)."""
    with pool.connection() as first, pool.connection() as second:
        in_use_at_once = {first.info.backend_pid, second.info.backend_pid}
        given_back_last = first.info.backend_pid  # ``second`` goes back first
    assert len(in_use_at_once) == 2
    backends = []
    for _ in range(times):
        with pool.connection() as conn:
            backends.append(conn.info.backend_pid)
    assert backends[0] == given_back_last
    return backends


def test_a_lone_writer_keeps_to_the_connection_it_gave_back(make_app, migrated_database_url) -> None:
    pool = make_app(migrated_database_url).recorder.datastore.pool
    pool.open(wait=True)

    assert len(set(backends_handed_out(pool, 6))) == 1  # psycopg_pool alone: the two in turn


@pytest.fixture
def pools(migrated_database_url) -> Iterator[dict[str, Any]]:
    env = application_env(migrated_database_url)
    with ExitStack() as stack:
        views = {spec.name: read_model(env, spec.name) for spec in ALL}
        for view in views.values():
            stack.callback(view.datastore.close)
        tokens = TokenStore(migrated_database_url)
        sessions = PostgresSessionStore(migrated_database_url)
        stack.callback(tokens.close)
        stack.callback(sessions.close)
        yield {**{f"read model {name}": view.datastore.pool for name, view in views.items()},
               "API tokens": tokens._pool, "web sessions": sessions._pool}


def test_every_read_models_pool_and_the_web_stores_do_the_same(pools) -> None:
    for name, pool in pools.items():
        assert isinstance(pool, LAST_GIVEN_BACK_FIRST), name
        pool.open(wait=True)
        assert len(set(backends_handed_out(pool, 4))) == 1, name


def test_the_connection_idle_longest_stays_first_in_line_to_be_closed() -> None:
    pool = ConnectionPool("", open=False)  # its queue of idle connections, without a server
    pool._pool.extend(["a", "b", "c"])  # given back in this order: a idle longest, c last

    assert pool._get_ready_connection(None) == "c"
    assert list(pool._pool) == ["a", "b"]  # the pool's shrinking closes the first: a
    pool._pool.append("c")  # given back
    assert [pool._get_ready_connection(None) for _ in range(4)] == ["c", "b", "a", None]
