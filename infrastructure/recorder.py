"""The PostgreSQL recorder of the cases application: the library's, plus idempotency
records and hash-chain rows written in the same transaction as the events, a table lock the
service role can take without UPDATE/DELETE/TRUNCATE privileges, and the whole save made by
one call of a stored procedure (``<prefix>_append_events``).
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
from psycopg.rows import TupleRow, tuple_row
from psycopg.sql import SQL, Composed, Identifier, Literal
from psycopg_pool import ConnectionPool

from application.idempotency import IdempotencyRecord
from infrastructure.audit_chain import EventChain
from infrastructure.availability import fail_fast

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


def append_cursor(conn: Connection[Any]) -> Cursor[TupleRow]:
    """The pooled connection's cursor for saves, made once and then reused (making and
    closing one costs some 20 µs, a sixth of a save's Python time). The pool lends a
    connection to one thread at a time, and so its cursor."""
    try:
        return conn._pqasso_append_cursor  # type: ignore[attr-defined,no-any-return]
    except AttributeError:
        cursor = conn._pqasso_append_cursor = conn.cursor(row_factory=tuple_row)  # type: ignore[attr-defined]
        return cursor


def table_prefix(events_table_name: str) -> str:
    """``cases_events`` -> ``cases``: the prefix shared by the application's tables."""
    return events_table_name.removesuffix("_events")


def lock_function_name(events_table_name: str) -> str:
    """Name of the SECURITY DEFINER function that locks the events table."""
    return f"{table_prefix(events_table_name)}_lock_events"


def idempotency_table_name(events_table_name: str) -> str:
    return f"{table_prefix(events_table_name)}_idempotency"


def append_procedure_name(events_table_name: str) -> str:
    """Name of the procedure that makes a whole save (``CasesRecorder.insert_events``)."""
    return f"{table_prefix(events_table_name)}_append_events"


def _id_type(originator_id_type: str) -> SQL:
    return SQL("uuid" if originator_id_type == "uuid" else "text")


def append_procedure_signature(schema: str, events_table_name: str,
                               originator_id_type: str = "uuid") -> Composed:
    """``schema.<prefix>_append_events(argument types)``, as GRANT and REVOKE name it."""
    return SQL(
        "{}.{}({id_type}[], bigint[], text[], bytea[], bytea[], text, text, text, uuid, bigint, "
        "integer, boolean, OUT bigint[])"
    ).format(Identifier(schema), Identifier(append_procedure_name(events_table_name)),
             id_type=_id_type(originator_id_type))


def append_procedure_statements(schema: str, events_table_name: str,
                                originator_id_type: str = "uuid") -> list[Composed]:
    """CREATE OR REPLACE the append procedure (and take EXECUTE from PUBLIC): run by the
    recorder's ``create_table()`` and by migration step 8 (infrastructure/migrations.py).

    One CALL makes the whole save, in the events' transaction: the hash-chain rows
    (infrastructure/audit_chain.py) and the idempotency record (when a key is given) first,
    then, as the library does, ``SET LOCAL lock_timeout``, the EXCLUSIVE table lock (through
    the SECURITY DEFINER ``<prefix>_lock_events()``: the procedure itself runs with the
    caller's privileges), NOTIFY on the library's channel and the INSERT of the events from
    the arrays; ``notification_ids`` are the events' ids, in the arrays' order.

    With ``flush_after_commit`` (``CasesRecorder.flush_outside_lock``) the transaction commits
    with ``synchronous_commit`` off, releasing the lock without waiting for the disk; then a
    second transaction writes a WAL record (``pg_logical_emit_message``) and commits, at the
    end of the CALL, with the session's ``synchronous_commit``: its flush covers the events'
    commit record (WAL is one stream), so the CALL answers only once the events are durable.
    Without it, the CALL's one transaction commits the events synchronously (the library's way).

    A procedure that commits must be CALLed on its own, outside a transaction block (pooled
    connections are in autocommit mode; inside one, pass ``flush_after_commit`` false), and
    cannot be SECURITY DEFINER or have a SET clause (no pinned search_path): it runs with the
    caller's privileges, and names its tables and functions with their schema.
    """
    schema_id = Identifier(schema)
    procedure = Identifier(append_procedure_name(events_table_name))
    chain = EventChain(schema, events_table_name, originator_id_type=originator_id_type)
    chain_declarations, chain_statements = chain.plpgsql(
        "event_ids", "event_versions", "event_digests", "event_count")
    body = SQL(
        "DECLARE event_count integer := coalesce(cardinality(event_ids), 0); {chain_declarations} "
        "BEGIN "
        "IF flush_after_commit THEN SET LOCAL synchronous_commit = off; END IF; "
        "{chain_statements} "
        "IF key_name IS NOT NULL THEN "
        "INSERT INTO {schema}.{idempotency} (principal, key, request_hash, case_id, version) "
        "VALUES (key_principal, key_name, key_request_hash, key_case_id, key_version); "
        "END IF; "
        "IF event_count > 0 THEN "
        "PERFORM pg_catalog.set_config('lock_timeout', lock_timeout_seconds::text || 's', true); "
        "PERFORM {schema}.{lock_function}(); "
        "NOTIFY {channel}; "
        "IF event_count = 1 THEN "
        "INSERT INTO {schema}.{events} (originator_id, originator_version, topic, state) "
        "VALUES (event_ids[1], event_versions[1], event_topics[1], event_states[1]) "
        "RETURNING ARRAY[notification_id] INTO notification_ids; "
        "ELSE "
        "WITH inserted AS ("
        "INSERT INTO {schema}.{events} (originator_id, originator_version, topic, state) "
        "SELECT e.id, e.version, e.topic, e.state "
        "FROM unnest(event_ids, event_versions, event_topics, event_states) "
        "WITH ORDINALITY AS e (id, version, topic, state, ordinal) ORDER BY e.ordinal "
        "RETURNING notification_id) "
        "SELECT array_agg(i.notification_id ORDER BY i.notification_id) "
        "INTO notification_ids FROM inserted i; "
        "END IF; "
        "ELSE notification_ids := ARRAY[]::bigint[]; "
        "END IF; "
        "IF flush_after_commit THEN "
        "COMMIT; "
        "PERFORM pg_catalog.pg_logical_emit_message(true, 'pqasso.flush', ''); "
        "END IF; "
        "END"
    ).format(
        chain_declarations=chain_declarations, chain_statements=chain_statements,
        schema=schema_id, idempotency=Identifier(idempotency_table_name(events_table_name)),
        lock_function=Identifier(lock_function_name(events_table_name)),
        channel=Identifier(events_table_name.replace(".", "_")),  # the library's channel
        events=Identifier(events_table_name),
    )
    return [
        SQL(
            "CREATE OR REPLACE PROCEDURE {schema}.{procedure}("
            "event_ids {id_type}[], event_versions bigint[], event_topics text[], "
            "event_states bytea[], event_digests bytea[], "
            "key_principal text, key_name text, key_request_hash text, key_case_id uuid, "
            "key_version bigint, lock_timeout_seconds integer, flush_after_commit boolean, "
            "OUT notification_ids bigint[]) "
            "LANGUAGE plpgsql AS $body$ {body} $body$"
        ).format(schema=schema_id, procedure=procedure, id_type=_id_type(originator_id_type),
                 body=body),
        # Executable by PUBLIC by default; migrations grant EXECUTE to the service role only.
        SQL("REVOKE ALL ON PROCEDURE {} FROM PUBLIC").format(
            append_procedure_signature(schema, events_table_name, originator_id_type)),
    ]


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

    A save is one CALL of ``<prefix>_append_events`` (``append_procedure_statements``).
    """

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        ping_only_idle_connections(datastore)
        schema = Identifier(self.datastore.schema)
        self.idempotency_table_name = idempotency_table_name(events_table_name)
        self.lock_function_name = lock_function_name(events_table_name)
        self.append_procedure_name = append_procedure_name(events_table_name)
        self.check_identifier_length(self.idempotency_table_name)
        self.check_identifier_length(self.lock_function_name)
        self.check_identifier_length(self.append_procedure_name)
        idempotency = Identifier(self.idempotency_table_name)
        function = Identifier(self.lock_function_name)
        # Tamper evidence (infrastructure/audit_chain.py): each event's hash, chained to the
        # case's previous one, is appended in the events' own transaction.
        self.event_chain = EventChain(self.datastore.schema, events_table_name,
                                      originator_id_type=self.datastore.originator_id_type)
        self.check_identifier_length(self.event_chain.table_name)

        self.sql_create_statements.extend(self._create_statements())
        # The library's statements to lock the table (its _lock_table(), which the append
        # procedure does not use): its SET LOCAL lock_timeout, then our function instead of
        # LOCK TABLE.
        set_lock_timeout = self.lock_table_statements[0]
        self.lock_table_statements = [
            set_lock_timeout,
            SQL("SELECT {}.{}()").format(schema, function),
        ]
        self.select_idempotency_statement = SQL(
            "SELECT principal, key, request_hash, case_id, version FROM {}.{} "
            "WHERE principal = %s AND key = %s"
        ).format(schema, idempotency)
        # The CALL statements, by (one event?, idempotency record?, flush_outside_lock), as
        # bytes: psycopg then neither composes nor re-parses them (see _append_call).
        self._append_calls: dict[tuple[bool, bool, bool], bytes] = {}

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
            self.event_chain.create_statement,
            *append_procedure_statements(self.datastore.schema, self.events_table_name,
                                         self.datastore.originator_id_type),
        ]

    # Commit the events inside the table lock without waiting for the WAL flush, then wait
    # for it outside the lock, before answering (see insert_events). False: the library's way.
    flush_outside_lock = True

    def _append_call(self, one: bool, keyed: bool, flush: bool) -> bytes:
        """``CALL <prefix>_append_events(...)`` for one event (its values as scalars, which
        psycopg adapts faster than lists) or any number (arrays), with or without an
        idempotency record; the lock timeout and the flush flag are constants in the text."""
        id_type = _id_type(self.datastore.originator_id_type)
        if one:
            events = SQL("ARRAY[%s::{0}], ARRAY[%s::bigint], ARRAY[%s::text], ARRAY[%s::bytea], "
                         "ARRAY[%s::bytea]").format(id_type)
        else:
            events = SQL("%s::{0}[], %s::bigint[], %s::text[], %s::bytea[], %s::bytea[]").format(id_type)
        key = SQL("%s::text, %s::text, %s::text, %s::uuid, %s::bigint" if keyed
                  else "NULL, NULL, NULL, NULL, NULL")
        statement = SQL("CALL {}.{}({}, {}, {}, {}, NULL)").format(
            Identifier(self.datastore.schema), Identifier(self.append_procedure_name), events, key,
            Literal(int(self.datastore.lock_timeout)), SQL("true" if flush else "false"))
        return self._append_calls.setdefault((one, keyed, flush), statement.as_bytes())

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """The whole save in one statement, one round trip: a CALL of the append procedure
        (``append_procedure_statements`` has what it does), which returns the events'
        notification ids. A duplicate (case, version) or idempotency key fails the CALL before
        anything is committed: the library raises ``IntegrityError`` and nothing is kept.

        With ``flush_outside_lock``, the events' transaction commits inside the procedure with
        ``synchronous_commit`` off: the lock is released without waiting for the disk, so
        writers no longer queue behind each other's WAL flush and their flushes can be shared
        (group commit). Then the procedure writes a WAL record in a second transaction, which
        commits with the session's ``synchronous_commit`` before the CALL answers: its flush
        covers the events' commit record (WAL is one stream), so a save still returns only
        once its events are durable. Ids still follow commit order (the lock is held until the
        events are visible). The difference: for the length of one flush, other sessions may
        read events not yet on disk (a crash of PostgreSQL in that moment loses them,
        unacknowledged). BENCHMARKS.md, "Four writers", has the figures.
        """
        if self.datastore.enable_db_functions:  # never enabled here: ids would interleave
            return super().insert_events(stored_events, **kwargs)
        record: IdempotencyRecord | None = kwargs.get("idempotency")
        if not stored_events and record is None:
            return []
        one = len(stored_events) == 1
        if one:
            (event,) = stored_events
            params: list[Any] = [event.originator_id, event.originator_version, event.topic,
                                 event.state, EventChain.digest(event)]
        else:
            params = [[e.originator_id for e in stored_events],
                      [e.originator_version for e in stored_events],
                      [e.topic for e in stored_events],
                      [e.state for e in stored_events],
                      [EventChain.digest(e) for e in stored_events]]
        if record is not None:
            params += [record.principal, record.key, record.request_hash, record.case_id, record.version]
        flush = self.flush_outside_lock
        query = self._append_calls.get((one, record is not None, flush)) \
            or self._append_call(one, record is not None, flush)
        with self.datastore.get_connection() as conn:
            curs = append_cursor(conn)
            try:
                curs.execute(query, params, prepare=True)
                row = curs.fetchone()
            except BaseException:
                # Only if the CALL ran inside a transaction block (not in autocommit mode);
                # not on a broken connection (UNKNOWN): the pool discards that one.
                if conn.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
                    conn.rollback()
                raise
        assert row is not None
        return row[0]  # type: ignore[no-any-return]

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
