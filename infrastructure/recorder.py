"""The PostgreSQL recorder of the cases application: the library's, plus idempotency
records written in the same transaction as the events, and a table lock the service role
can take without UPDATE/DELETE/TRUNCATE privileges.
"""

from __future__ import annotations

from collections.abc import Sequence
from time import monotonic
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg import Connection, Cursor
from psycopg.pq import TransactionStatus
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier
from psycopg_pool import ConnectionPool

from application.idempotency import IdempotencyRecord
from infrastructure.audit_chain import EventChain
from infrastructure.availability import fail_fast

_BEGIN, _COMMIT = SQL("BEGIN"), SQL("COMMIT")
_ASYNC_COMMIT = SQL("SET LOCAL synchronous_commit TO off")
# A transactional WAL record (any role may write one): its commit waits for the WAL flush.
# (pg_current_xact_id() alone would not: a transaction that wrote no WAL commits lazily.)
_FLUSH = SQL("SELECT pg_logical_emit_message(true, 'pqasso.flush', '')")
# A pooled connection handed out less than this long ago is not pinged again (see below).
PING_IF_IDLE_FOR = 1.0


def ping_only_idle_connections(datastore: PostgresDatastore, idle_for: float = PING_IF_IDLE_FOR) -> None:
    """With ``POSTGRES_PRE_PING``, the pool pings every connection it hands out: one more
    round trip per checkout, two per command (BENCHMARKS.md). Ping only those not handed
    out for ``idle_for`` seconds (those a server restart may have broken); one broken since
    is retried by the recorders' ``@retry`` on OperationalError, like any lost connection.

    (psycopg_pool takes its ``check`` callback only in its constructor, which the library
    calls: hence the private attribute, which psycopg_pool 3.1 to 3.3 all have.)"""
    if datastore.pool._check is None:  # pre-ping off: nothing to do
        return

    def check(conn: Connection[Any]) -> None:
        now = monotonic()
        if now - getattr(conn, "_pqasso_checked_at", float("-inf")) >= idle_for:
            ConnectionPool.check_connection(conn)
        conn._pqasso_checked_at = now  # type: ignore[attr-defined]

    datastore.pool._check = check


def table_prefix(events_table_name: str) -> str:
    """``cases_events`` -> ``cases``: the prefix shared by the application's tables."""
    return events_table_name.removesuffix("_events")


def lock_function_name(events_table_name: str) -> str:
    """Name of the SECURITY DEFINER function that locks the events table."""
    return f"{table_prefix(events_table_name)}_lock_events"


def idempotency_table_name(events_table_name: str) -> str:
    return f"{table_prefix(events_table_name)}_idempotency"


class CasesRecorder(PostgresApplicationRecorder):
    """``PostgresApplicationRecorder`` that also records idempotency keys atomically.

    ``insert_events(events, idempotency=IdempotencyRecord(...))`` inserts the record into
    ``<prefix>_idempotency`` inside the events' transaction; a key already recorded for the
    principal violates the primary key, so the library raises ``IntegrityError`` and nothing
    of the save is kept.

    The EXCLUSIVE table lock (which keeps notification ids in commit order) is taken through
    ``<prefix>_lock_events()``, a SECURITY DEFINER function: PostgreSQL's ``LOCK TABLE ... IN
    EXCLUSIVE MODE`` needs UPDATE, DELETE or TRUNCATE privilege, which the service role must
    not have on an append-only table.
    """

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        ping_only_idle_connections(datastore)
        schema = Identifier(self.datastore.schema)
        self.idempotency_table_name = idempotency_table_name(events_table_name)
        self.lock_function_name = lock_function_name(events_table_name)
        self.check_identifier_length(self.idempotency_table_name)
        self.check_identifier_length(self.lock_function_name)
        idempotency = Identifier(self.idempotency_table_name)
        function = Identifier(self.lock_function_name)

        self.sql_create_statements.extend(self._create_statements())
        # Tamper evidence (infrastructure/audit_chain.py): each event's hash, chained to the
        # case's previous one, is appended in the events' own transaction.
        self.event_chain = EventChain(self.datastore.schema, events_table_name,
                                      originator_id_type=self.datastore.originator_id_type)
        self.check_identifier_length(self.event_chain.table_name)
        self.sql_create_statements.append(self.event_chain.create_statement)
        # Keep the library's SET LOCAL lock_timeout (the function's LOCK honours it: the
        # setting belongs to the transaction), replace only the LOCK TABLE statement.
        set_lock_timeout = self.lock_table_statements[0]
        self.lock_table_statements = [
            set_lock_timeout,
            SQL("SELECT {}.{}()").format(schema, function),
        ]
        self.insert_idempotency_statement = SQL(
            "INSERT INTO {}.{} (principal, key, request_hash, case_id, version) "
            "VALUES (%s, %s, %s, %s, %s)"
        ).format(schema, idempotency)
        self.select_idempotency_statement = SQL(
            "SELECT principal, key, request_hash, case_id, version FROM {}.{} "
            "WHERE principal = %s AND key = %s"
        ).format(schema, idempotency)

    def _create_statements(self) -> list[Composed]:
        schema = Identifier(self.datastore.schema)
        events = Identifier(self.events_table_name)
        function = Identifier(self.lock_function_name)
        return [
            SQL(
                "CREATE TABLE IF NOT EXISTS {}.{} ("
                "principal text NOT NULL, "
                "key text NOT NULL, "
                "request_hash text NOT NULL, "
                "case_id uuid NOT NULL, "
                "version bigint NOT NULL, "
                "recorded_at timestamptz NOT NULL DEFAULT now(), "
                "PRIMARY KEY (principal, key))"
            ).format(schema, Identifier(self.idempotency_table_name)),
            # SECURITY DEFINER runs as the function's owner (whoever ran the migration, who
            # owns the table). search_path is pinned so the caller cannot substitute objects.
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}() RETURNS void "
                "LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS "
                "$body$ BEGIN LOCK TABLE {schema}.{events} IN EXCLUSIVE MODE; END $body$"
            ).format(schema=schema, function=function, events=events),
            # Functions are executable by PUBLIC by default: anyone could then hold the lock
            # and stall every writer. Migrations grant EXECUTE to the service role only.
            SQL("REVOKE ALL ON FUNCTION {}.{}() FROM PUBLIC").format(schema, function),
        ]

    # Commit the events inside the table lock without waiting for the WAL flush, then wait
    # for it outside the lock, before answering (see insert_events). False: the library's way.
    flush_outside_lock = True

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """The library's insert transaction (same hooks, same statements, same lock), sent
        as one pipeline with its COMMIT: one round trip per save instead of two, and the
        table lock is no longer held across a round trip to the client (BENCHMARKS.md).

        ``BEGIN`` and ``COMMIT`` are sent explicitly (the pooled connections are in
        autocommit mode). If a statement fails, PostgreSQL skips the rest, COMMIT included,
        up to the pipeline's sync, where psycopg raises the first error; the transaction is
        then rolled back before the connection goes back to the pool. A hook that reads a
        result mid-transaction (``fetchone()``) makes psycopg flush the pipeline first.

        With ``flush_outside_lock``, the transaction commits with ``synchronous_commit``
        off: the lock is released without waiting for the disk, so writers no longer queue
        behind each other's WAL flush and their flushes can be shared (group commit). Then,
        in the same round trip, a one-statement transaction that writes WAL commits with the
        session's ``synchronous_commit``: its flush covers the events' commit record (WAL is
        one stream), so a save still returns only once its events are durable. Ids still
        follow commit order (the lock is held until the events are visible). The difference:
        for the length of one flush, other sessions may read events not yet on disk (a
        crash of PostgreSQL in that moment loses them, unacknowledged). BENCHMARKS.md,
        "Four writers", has the figures.
        """
        if self.datastore.enable_db_functions:  # never enabled here: ids would interleave
            return super().insert_events(stored_events, **kwargs)
        with self.datastore.get_connection() as conn:
            assert conn.autocommit
            with conn.cursor() as curs, conn.cursor() as insert_curs:
                try:
                    with conn.pipeline():
                        curs.execute(_BEGIN, prepare=False)
                        if self.flush_outside_lock:
                            curs.execute(_ASYNC_COMMIT, prepare=True)
                        self._insert_events(curs, stored_events, **kwargs)
                        if stored_events:
                            self._insert_stored_events(insert_curs, stored_events, **kwargs)
                        curs.execute(_COMMIT, prepare=False)
                        if self.flush_outside_lock:
                            curs.execute(_FLUSH, prepare=True)
                except BaseException:
                    # Not on a broken connection (UNKNOWN): the pool discards that one.
                    if conn.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
                        conn.rollback()
                    raise
                if not stored_events:
                    return []
                return self._fetch_ids_after_insert_events(insert_curs, stored_events, **kwargs)

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        # Runs inside insert_events()'s pipelined transaction, before the table lock; a
        # duplicate key surfaces as IntegrityError when the pipeline is synced.
        self.event_chain.record(curs, stored_events)  # queued only: no result is read
        record: IdempotencyRecord | None = kwargs.get("idempotency")
        if record is not None:
            curs.execute(
                self.insert_idempotency_statement,
                (record.principal, record.key, record.request_hash, record.case_id, record.version),
                prepare=True,
            )
        super()._insert_events(curs, stored_events, **kwargs)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def find_idempotency_record(self, principal: str, key: str) -> IdempotencyRecord | None:
        """The first answer recorded for ``key`` by ``principal``, if any."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.select_idempotency_statement, (principal, key), prepare=True)
            row = curs.fetchone()
        if row is None:
            return None
        return IdempotencyRecord(
            row["principal"], row["key"], row["request_hash"], row["case_id"], row["version"]
        )

    # ---- Failing fast during a database outage (infrastructure/availability.py) -----------
    # The library's (and the methods above') @retry makes ten attempts, each waiting up to the
    # pool's checkout timeout: about a minute for a request caught by an outage. Re-wrapped
    # with fewer attempts, it gets its 503 within seconds. Keep these lines last in the class.
    insert_events = fail_fast(insert_events)
    find_idempotency_record = fail_fast(find_idempotency_record)
    select_events = fail_fast(PostgresApplicationRecorder.select_events)
    select_notifications = fail_fast(PostgresApplicationRecorder.select_notifications)
    max_notification_id = fail_fast(PostgresApplicationRecorder.max_notification_id)
