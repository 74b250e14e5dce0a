"""A connection lent for a save (infrastructure/lent_connections.py) behaves as the library's
``get_connection()`` lends one: the same errors, the connection given back, a transaction
block committed or rolled back, a broken connection replaced."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import OperationalError, PersistenceError
from eventsourcing.postgres import PostgresDatastore
from psycopg import errors
from psycopg_pool import ConnectionPool, PoolTimeout

from infrastructure.lent_connections import LentConnection, library_error
from infrastructure.recorder import CasesRecorder
from infrastructure.settings import parse_database_url


@pytest.fixture
def store(database_url: str) -> Iterator[PostgresDatastore]:
    parts = parse_database_url(database_url)
    datastore = PostgresDatastore(parts.dbname, parts.host, parts.port, parts.user, parts.password or "",
                                  pool_size=1, max_overflow=0)
    datastore.pool.open(wait=True)
    yield datastore
    datastore.close()


@pytest.fixture
def table(database_url: str) -> Iterator[str]:
    name = "lent_connection_rows"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {name} (id int PRIMARY KEY)")
        conn.execute(f"TRUNCATE {name}")
        yield name
        conn.execute(f"DROP TABLE {name}")


def rows(database_url: str, table: str) -> list[int]:
    with psycopg.connect(database_url) as conn:
        return [row[0] for row in conn.execute(f"SELECT id FROM {table} ORDER BY id")]  # noqa: S608


def raised_by(lend: Any, statement: str) -> BaseException:
    with pytest.raises(PersistenceError) as caught, lend as conn:
        conn.execute(statement)
    return caught.value


@pytest.mark.parametrize("statement", [
    "SELECT 1 / 0",  # DataError
    "SELECT * FROM no_such_table",  # ProgrammingError
    "SELEC 1",  # ProgrammingError (syntax)
    "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '0A000'; END $$",  # NotSupportedError
    "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = 'XX000'; END $$",  # InternalError
    "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '23505'; END $$",  # IntegrityError
    "DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '57014'; END $$",  # OperationalError
])
def test_a_failed_statement_raises_the_library_s_error(store, statement) -> None:
    ours = raised_by(LentConnection(store.pool), statement)
    theirs = raised_by(store.get_connection(), statement)

    assert type(ours) is type(theirs) and str(ours) == str(theirs)
    assert type(ours.__cause__) is type(theirs.__cause__)


@pytest.mark.parametrize("error", [
    cls("a message") for cls in (
        errors.InterfaceError, errors.OperationalError, errors.DataError, errors.IntegrityError,
        errors.InternalError, errors.ProgrammingError, errors.NotSupportedError, errors.DatabaseError,
        errors.Error, errors.UniqueViolation, errors.DivisionByZero, errors.QueryCanceled, PoolTimeout,
        errors.LockNotAvailable, errors.UndefinedTable, errors.SerializationFailure)
], ids=lambda error: type(error).__name__)
def test_each_of_psycopg_s_errors_is_the_library_s_error_it_maps_to(store, error) -> None:
    with pytest.raises(PersistenceError) as theirs, store.get_connection():
        raise error
    assert type(library_error(error)) is type(theirs.value)
    assert str(library_error(error)) == str(theirs.value) == "a message"


def test_an_error_not_psycopg_s_is_raised_as_it_is(store) -> None:
    with pytest.raises(KeyError), LentConnection(store.pool):
        raise KeyError("not the database's")


def test_the_connection_goes_back_to_the_pool_after_each_save_and_each_failure(store) -> None:
    for statement in ("SELECT 1", "SELECT 1 / 0", "SELECT 2"):  # a pool of one connection
        try:
            with LentConnection(store.pool) as conn:
                conn.execute(statement)
        except PersistenceError:
            pass
    assert store.pool.get_stats()["pool_available"] == 1


def test_a_transaction_block_is_committed_after_a_save_and_rolled_back_after_a_failure(
        store, table, database_url) -> None:
    with LentConnection(store.pool) as conn:
        conn.execute("BEGIN")
        conn.execute(f"INSERT INTO {table} VALUES (1)")  # noqa: S608
    with pytest.raises(PersistenceError), LentConnection(store.pool) as conn:
        conn.execute("BEGIN")
        conn.execute(f"INSERT INTO {table} VALUES (2)")  # noqa: S608
        conn.execute("SELECT 1 / 0")
    with LentConnection(store.pool) as conn:
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert rows(database_url, table) == [1]


def test_a_connection_broken_during_a_save_is_replaced(store) -> None:
    with pytest.raises(OperationalError), LentConnection(store.pool) as conn:
        conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    with LentConnection(store.pool) as conn:
        assert conn.execute("SELECT 1 AS one").fetchone() == {"one": 1}


def test_no_connection_to_be_had_is_the_library_s_operational_error(database_url) -> None:
    with ConnectionPool(database_url, min_size=1, max_size=1, timeout=0.2, open=True) as pool, \
            LentConnection(pool), pytest.raises(OperationalError, match="couldn't get a connection"), \
            LentConnection(pool):
        pass


def test_the_recorder_lends_so_while_its_pool_is_open_and_fails_as_the_library_once_closed(
        database_url) -> None:
    parts = parse_database_url(database_url)
    datastore = PostgresDatastore(parts.dbname, parts.host, parts.port, parts.user, parts.password or "")
    recorder = CasesRecorder(datastore, events_table_name="lent_connection_events")
    with recorder._save_connection() as conn:
        assert not datastore.pool.closed and conn.execute("SELECT 1 AS one").fetchone() == {"one": 1}
    assert isinstance(recorder._save_connection(), LentConnection)

    datastore.close()
    with pytest.raises(OperationalError) as ours, recorder._save_connection():
        pass
    with pytest.raises(OperationalError) as theirs, datastore.get_connection():
        pass
    assert not isinstance(recorder._save_connection(), LentConnection)
    assert str(ours.value) == str(theirs.value)
