"""The PostgreSQL recorder of the cases application: the library's, plus idempotency
records and hash-chain rows written in the same transaction as the events, a table lock the
service role can take without UPDATE/DELETE/TRUNCATE privileges, and the whole save made by
one statement: a SELECT of a stored function (``<prefix>_insert_event``, or ``_insert_events``
for several events), or, while saves contend for the lock, a CALL of a stored procedure that
makes the same save and flushes it outside the lock (``<prefix>_append_event``, ``_events``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from time import monotonic
from typing import Any
from typing import Literal as OneOf
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg import Connection, Cursor
from psycopg.pq import TransactionStatus
from psycopg.rows import TupleRow, tuple_row
from psycopg.sql import SQL, Composable, Composed, Identifier, Literal
from psycopg_pool import ConnectionPool

from application.idempotency import IdempotencyRecord
from infrastructure.audit_chain import EventChain
from infrastructure.availability import fail_fast
from infrastructure.connection_pools import hand_out_last_returned_first
from infrastructure.lent_connections import LentConnection
from infrastructure.lock_contention import LockContention
from infrastructure.prepared_statements import (
    int8,
    numbered_placeholders,
    run_prepared,
    text_encoding,
    uuid_bytes,
)

FlushOutsideLock = OneOf["always", "never", "when_contended"]

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


def append_function_name(events_table_name: str, *, one: bool = False) -> str:
    """Name of the function that makes a whole save (``CasesRecorder.insert_events``), or
    (``one``) the save of one event."""
    return f"{table_prefix(events_table_name)}_insert_{'event' if one else 'events'}"


def append_procedure_name(events_table_name: str, *, one: bool = False) -> str:
    """Name of the procedure that makes the same save as the append function (``one``: of one
    event), committing it without waiting for the disk inside the table lock
    (``CasesRecorder.insert_events``)."""
    return f"{table_prefix(events_table_name)}_append_{'event' if one else 'events'}"


def _id_type(originator_id_type: str) -> SQL:
    return SQL("uuid" if originator_id_type == "uuid" else "text")


# What a save takes: its events (each event's values, or arrays of them), then these.
_KEY_AND_TIMEOUT = ("key_principal text, key_name text, key_request_hash text, key_case_id uuid, "
                    "key_version bigint, lock_timeout_seconds integer")
_KEY_AND_TIMEOUT_TYPES = "text, text, text, uuid, bigint, integer"
_EVENT_PARAMETERS = ("event_id {id_type}, event_version bigint, event_topic text, "
                     "event_state bytea, event_digest bytea")
_EVENT_TYPES = "{id_type}, bigint, text, bytea, bytea"
_EVENTS_PARAMETERS = ("event_ids {id_type}[], event_versions bigint[], event_topics text[], "
                      "event_states bytea[], event_digests bytea[]")
_EVENTS_TYPES = "{id_type}[], bigint[], text[], bytea[], bytea[]"


def _events(one: bool, originator_id_type: str, *, types: bool = False) -> Composed:
    template = (_EVENT_TYPES if types else _EVENT_PARAMETERS) if one else (
        _EVENTS_TYPES if types else _EVENTS_PARAMETERS)
    return SQL(template).format(id_type=_id_type(originator_id_type))


def append_function_signature(schema: str, events_table_name: str, originator_id_type: str = "uuid",
                              *, one: bool = False) -> Composed:
    """``schema.<prefix>_insert_events(argument types)`` (``one``: ``_insert_event``), as
    GRANT and REVOKE name it."""
    return SQL("{}.{}({}, {})").format(
        Identifier(schema), Identifier(append_function_name(events_table_name, one=one)),
        _events(one, originator_id_type, types=True), SQL(_KEY_AND_TIMEOUT_TYPES))


def append_procedure_signature(schema: str, events_table_name: str, originator_id_type: str = "uuid",
                               *, one: bool = False) -> Composed:
    """``schema.<prefix>_append_events(argument types)`` (``one``: ``_append_event``), as
    GRANT and REVOKE name it."""
    return SQL("{}.{}({}, {}, boolean, OUT {})").format(
        Identifier(schema), Identifier(append_procedure_name(events_table_name, one=one)),
        _events(one, originator_id_type, types=True), SQL(_KEY_AND_TIMEOUT_TYPES),
        SQL("bigint" if one else "bigint[]"))


def one_event_save(schema: str, events_table_name: str, originator_id_type: str = "uuid") -> dict[str, Composable]:
    """The PL/pgSQL statements of the save of one event (the append function's and
    procedure's for one event), by name, in the order they run: the hash-chain row, the
    idempotency record (when a key is given), ``lock_timeout``, the table lock (timing its
    wait into ``lock_wait_ms``), NOTIFY, and the event's INSERT (into ``notification_id``).
    Named, so that a benchmark can measure the save without one of them
    (benchmarks/save_trade_offs.py)."""
    chain = EventChain(schema, events_table_name, originator_id_type=originator_id_type)
    names = _names(schema, events_table_name)
    return {
        "hash-chain row": chain.plpgsql_one("event_id", "event_version", "event_digest"),
        "idempotency record": _key_statement(names),
        "lock_timeout": _LOCK_TIMEOUT,
        "table lock": _lock_statement(names),
        "NOTIFY": _notify_statement(names),
        "INSERT": SQL(
            "INSERT INTO {schema}.{events} AS e (originator_id, originator_version, topic, state) "
            "VALUES (event_id, event_version, event_topic, event_state) "
            "RETURNING e.notification_id INTO notification_id;").format(**names),
    }


ONE_EVENT_DECLARATIONS = SQL("lock_started timestamptz;")
_LOCK_TIMEOUT = SQL("PERFORM pg_catalog.set_config('lock_timeout', lock_timeout_seconds::text || 's', true); ")


def _names(schema: str, events_table_name: str) -> dict[str, Identifier]:
    return {
        "schema": Identifier(schema),
        "idempotency": Identifier(idempotency_table_name(events_table_name)),
        "lock_function": Identifier(lock_function_name(events_table_name)),
        "channel": Identifier(events_table_name.replace(".", "_")),  # the library's channel
        "events": Identifier(events_table_name),
    }


def _key_statement(names: dict[str, Identifier]) -> Composed:
    return SQL(
        "IF key_name IS NOT NULL THEN "
        "INSERT INTO {schema}.{idempotency} (principal, key, request_hash, case_id, version) "
        "VALUES (key_principal, key_name, key_request_hash, key_case_id, key_version); "
        "END IF; ").format(**names)


def _lock_statement(names: dict[str, Identifier]) -> Composed:
    return SQL(
        "lock_started := pg_catalog.clock_timestamp(); "
        "PERFORM {schema}.{lock_function}(); "
        "lock_wait_ms := 1000 * pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - lock_started); "
    ).format(**names)


def _notify_statement(names: dict[str, Identifier]) -> Composed:
    return SQL("NOTIFY {channel}; ").format(**names)


def _save_block(schema: str, events_table_name: str, originator_id_type: str, *,
                one: bool) -> tuple[Composable, Composable]:
    """(declarations, statements) of the PL/pgSQL that makes a save, for the append functions
    and procedures alike (``append_function_statements`` says what it does). They set
    ``notification_id`` (``one``) or ``notification_ids``, and ``lock_wait_ms``."""
    if one:
        chain, *rest = one_event_save(schema, events_table_name, originator_id_type).values()
        return ONE_EVENT_DECLARATIONS, SQL("{} {}").format(chain, SQL("").join(rest))
    names = _names(schema, events_table_name)
    chain = EventChain(schema, events_table_name, originator_id_type=originator_id_type)
    chain_declarations, chain_statements = chain.plpgsql(
        "event_ids", "event_versions", "event_digests", "event_count")
    declarations = SQL("event_count integer := coalesce(cardinality(event_ids), 0); "
                       "lock_started timestamptz; {}").format(chain_declarations)
    return declarations, SQL(
        "{chain_statements} {key}"
        "IF event_count = 0 THEN "  # a key alone: no lock
        "notification_ids := ARRAY[]::bigint[]; lock_wait_ms := 0; "
        "ELSE {lock_timeout}{lock}{notify}"
        "WITH inserted AS ("
        "INSERT INTO {schema}.{events} (originator_id, originator_version, topic, state) "
        "SELECT e.id, e.version, e.topic, e.state "
        "FROM unnest(event_ids, event_versions, event_topics, event_states) "
        "WITH ORDINALITY AS e (id, version, topic, state, ordinal) ORDER BY e.ordinal "
        "RETURNING notification_id) "
        "SELECT array_agg(i.notification_id ORDER BY i.notification_id) "
        "INTO notification_ids FROM inserted i; "
        "END IF;"
    ).format(chain_statements=chain_statements, key=_key_statement(names), lock_timeout=_LOCK_TIMEOUT,
             lock=_lock_statement(names), notify=_notify_statement(names), **names)


def _head(schema: str, name: str, originator_id_type: str, one: bool) -> tuple[Composable, ...]:
    """What names an append routine and its arguments: schema, name, the events' parameters,
    the key's and the timeout's, and the ids it answers."""
    return (Identifier(schema), Identifier(name), _events(one, originator_id_type), SQL(_KEY_AND_TIMEOUT),
            SQL("notification_id bigint" if one else "notification_ids bigint[]"))


def append_function_statements(schema: str, events_table_name: str,
                               originator_id_type: str = "uuid") -> list[Composed]:
    """CREATE OR REPLACE the two append functions (and take EXECUTE from PUBLIC): run by the
    recorder's ``create_table()`` and by migration steps 8 and 10 (infrastructure/migrations.py).

    ``<prefix>_insert_events(arrays of the events' ids, versions, topics, states and digests,
    the idempotency record's fields or NULLs, lock timeout in seconds)`` makes a whole save,
    in the caller's transaction: the hash-chain rows (infrastructure/audit_chain.py) and the
    idempotency record (when a key is given) first, then, as the library does, ``SET LOCAL
    lock_timeout``, the EXCLUSIVE table lock (through the SECURITY DEFINER
    ``<prefix>_lock_events()``: the function itself runs with the caller's privileges), NOTIFY
    on the library's channel and the INSERT of the events. It returns the events'
    ``notification_ids``, in the arrays' order, and ``lock_wait_ms``: how long it waited for
    the lock (``CasesRecorder`` uses that to choose how the next saves commit).

    ``<prefix>_insert_event(the event's id, version, topic, state and digest, the same)`` does
    the same for one event, the save of nearly every command, and returns its
    ``notification_id``: cheaper for PostgreSQL than arrays of one (BENCHMARKS.md).

    Both name their tables and functions with their schema.
    """
    statements = []
    for one in (True, False):
        declarations, block = _save_block(schema, events_table_name, originator_id_type, one=one)
        statements += [
            append_function_definition(schema, events_table_name, declarations, block,
                                       originator_id_type, one=one),
            # Executable by PUBLIC by default; migrations grant EXECUTE to the service role only.
            SQL("REVOKE ALL ON FUNCTION {} FROM PUBLIC").format(
                append_function_signature(schema, events_table_name, originator_id_type, one=one)),
        ]
    return statements


def append_function_definition(schema: str, events_table_name: str, declarations: Composable,
                               block: Composable, originator_id_type: str = "uuid", *,
                               one: bool) -> Composed:
    """CREATE OR REPLACE the append function (``one``: for one event) with this PL/pgSQL:
    its own (``append_function_statements``), or a variant a benchmark puts in its place
    (benchmarks/save_trade_offs.py), under the same name and arguments."""
    return SQL("CREATE OR REPLACE FUNCTION {}.{}({}, {}, OUT {}, OUT lock_wait_ms double precision) "
               "LANGUAGE plpgsql AS $body$ DECLARE {} BEGIN {} END $body$").format(
        *_head(schema, append_function_name(events_table_name, one=one), originator_id_type, one),
        declarations, block)


def append_procedure_statements(schema: str, events_table_name: str,
                                originator_id_type: str = "uuid") -> list[Composed]:
    """CREATE OR REPLACE the two append procedures (and take EXECUTE from PUBLIC): run by the
    recorder's ``create_table()`` and by migration steps 8 and 10 (infrastructure/migrations.py).

    ``CALL <prefix>_append_events(the arguments of <prefix>_insert_events, flush_after_commit,
    NULL)`` (and ``<prefix>_append_event``, those of ``<prefix>_insert_event``) makes the same
    save as the function (``append_function_statements``: the same PL/pgSQL, inline) and
    returns its ``notification_ids`` (``notification_id``). With ``flush_after_commit`` the
    events' transaction commits with ``synchronous_commit`` off, releasing the lock without
    waiting for the disk; then a second transaction writes a WAL record
    (``pg_logical_emit_message``) and commits, at the end of the CALL, with the session's
    ``synchronous_commit``: its flush covers the events' commit record (WAL is one stream), so
    the CALL answers only once the events are durable. Without it, the CALL is the function's
    save in one transaction.

    A procedure that commits must be CALLed on its own, outside a transaction block (pooled
    connections are in autocommit mode; inside one, pass ``flush_after_commit`` false), and
    cannot be SECURITY DEFINER or have a SET clause (no pinned search_path): it runs with the
    caller's privileges, and names its tables and functions with their schema.
    """
    statements = []
    for one in (True, False):
        declarations, block = _save_block(schema, events_table_name, originator_id_type, one=one)
        statements += [
            SQL("CREATE OR REPLACE PROCEDURE {}.{}({}, {}, flush_after_commit boolean, OUT {}) "
                "LANGUAGE plpgsql AS $body$ DECLARE lock_wait_ms double precision; {} BEGIN "
                "IF flush_after_commit THEN SET LOCAL synchronous_commit = off; END IF; "
                "{} "
                "IF flush_after_commit THEN "
                "COMMIT; "
                "PERFORM pg_catalog.pg_logical_emit_message(true, 'pqasso.flush', ''); "
                "END IF; "
                "END $body$").format(
                *_head(schema, append_procedure_name(events_table_name, one=one), originator_id_type, one),
                declarations, block),
            # Executable by PUBLIC by default; migrations grant EXECUTE to the service role only.
            SQL("REVOKE ALL ON PROCEDURE {} FROM PUBLIC").format(
                append_procedure_signature(schema, events_table_name, originator_id_type, one=one)),
        ]
    return statements


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

    A save is one statement: a SELECT of an append function, ``<prefix>_insert_event`` (one
    event) or ``<prefix>_insert_events`` (``append_function_statements``), or, while saves
    lately waited for the table lock, a CALL of an append procedure, ``<prefix>_append_event``
    or ``<prefix>_append_events``, which makes the same save and flushes it outside the lock
    (``append_procedure_statements``, ``insert_events``).
    """

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        ping_only_idle_connections(datastore)
        hand_out_last_returned_first(datastore)
        schema = Identifier(self.datastore.schema)
        self.idempotency_table_name = idempotency_table_name(events_table_name)
        self.lock_function_name = lock_function_name(events_table_name)
        self.append_function_name = append_function_name(events_table_name)
        self.append_one_function_name = append_function_name(events_table_name, one=True)
        self.append_procedure_name = append_procedure_name(events_table_name)
        self.append_one_procedure_name = append_procedure_name(events_table_name, one=True)
        self.check_identifier_length(self.idempotency_table_name)
        self.check_identifier_length(self.lock_function_name)
        self.check_identifier_length(self.append_function_name)
        self.check_identifier_length(self.append_one_function_name)
        self.check_identifier_length(self.append_procedure_name)
        self.check_identifier_length(self.append_one_procedure_name)
        self.lock_contention = LockContention()
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
        # The save statements, by (one event?, idempotency record?, flush outside the lock?),
        # as bytes: psycopg then neither composes nor re-parses them (see _append_statement).
        self._append_statements: dict[tuple[bool, bool, bool], bytes] = {}
        self._prepared_saves: dict[tuple[bool, bool, bool], tuple[bytes, bytes]] = {}  # name, text
        self._select_events_statements: dict[tuple[bool, bool, bool, bool], bytes] = {}

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
            *append_function_statements(self.datastore.schema, self.events_table_name,
                                        self.datastore.originator_id_type),
            *append_procedure_statements(self.datastore.schema, self.events_table_name,
                                         self.datastore.originator_id_type),
        ]

    # How a save commits (see insert_events): "when_contended" flushes outside the table lock
    # while saves lately waited for it (LockContention), "always" and "never" say it all.
    flush_outside_lock: FlushOutsideLock = "when_contended"

    def _append_statement(self, one: bool, keyed: bool, flush: bool) -> bytes:
        """The save as one statement: ``SELECT ... FROM <prefix>_insert_event(...)`` or, to
        flush outside the lock, ``CALL <prefix>_append_event(..., true, NULL)``, for one event
        (its values as scalars, which psycopg adapts faster than lists, and PostgreSQL too);
        ``<prefix>_insert_events`` and ``<prefix>_append_events`` for any number (arrays);
        with or without an idempotency record; the lock timeout is a constant in the text."""
        id_type = _id_type(self.datastore.originator_id_type)
        if one:
            events = SQL("%s::{0}, %s::bigint, %s::text, %s::bytea, %s::bytea").format(id_type)
        else:
            events = SQL("%s::{0}[], %s::bigint[], %s::text[], %s::bytea[], %s::bytea[]").format(id_type)
        key = SQL("%s::text, %s::text, %s::text, %s::uuid, %s::bigint" if keyed
                  else "NULL, NULL, NULL, NULL, NULL")
        schema, lock_timeout = Identifier(self.datastore.schema), Literal(int(self.datastore.lock_timeout))
        if flush:
            procedure = self.append_one_procedure_name if one else self.append_procedure_name
            statement = SQL("CALL {}.{}({}, {}, {}, true, NULL)").format(
                schema, Identifier(procedure), events, key, lock_timeout)
        else:
            ids = SQL("saved.notification_id" if one else "saved.notification_ids")
            function = self.append_one_function_name if one else self.append_function_name
            statement = SQL("SELECT {}, saved.lock_wait_ms FROM {}.{}({}, {}, {}) AS saved").format(
                ids, schema, Identifier(function), events, key, lock_timeout)
        return self._append_statements.setdefault((one, keyed, flush), statement.as_bytes())

    def _flushes_outside_lock(self) -> bool:
        policy = self.flush_outside_lock
        if policy == "when_contended":
            return self.lock_contention.recent()
        return policy == "always"

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """The whole save in one statement, one round trip, which returns the events'
        notification ids. A duplicate (case, version) or idempotency key fails it before
        anything is committed: the library raises ``IntegrityError`` and nothing is kept.

        Usually a SELECT of the append function (``append_function_statements`` has what it
        does), in the statement's own transaction, which commits as the library's does: it
        waits for its WAL flush while it holds the table lock. The cheapest save for a writer
        alone; but concurrent writers then queue behind each other's flush.

        So while saves of this process lately had to wait for the lock (``LockContention``,
        from the wait the function reports), a save is a CALL of the append procedure instead:
        the events' transaction commits with ``synchronous_commit`` off, releasing the lock
        without waiting for the disk, so writers no longer queue behind each other's flush and
        their flushes can be shared (group commit). Then the procedure writes a WAL record in
        a second transaction, which commits with the session's ``synchronous_commit`` before
        the CALL answers: its flush covers the events' commit record (WAL is one stream), so a
        save still returns only once its events are durable. Either way, ids follow commit
        order (the lock is held until the events are visible). The difference: for the length
        of one flush, other sessions may read events not yet on disk (a crash of PostgreSQL in
        that moment loses them, unacknowledged). BENCHMARKS.md, "Appending", has the figures.
        """
        if self.datastore.enable_db_functions:  # never enabled here: ids would interleave
            return super().insert_events(stored_events, **kwargs)
        record: IdempotencyRecord | None = kwargs.get("idempotency")
        if not stored_events and record is None:
            return []
        one = len(stored_events) == 1
        if one and type(stored_events[0].originator_id) is UUID:
            return [self._insert_one(stored_events[0], record)]
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
        flush = self._flushes_outside_lock()
        query = self._append_statements.get((one, record is not None, flush)) \
            or self._append_statement(one, record is not None, flush)
        with self._save_connection() as conn:
            curs = append_cursor(conn)
            curs.execute(query, params, prepare=True)
            row = curs.fetchone()
        assert row is not None
        if not flush:
            self.lock_contention.observe(row[1])
        return [row[0]] if one else row[0]

    def _insert_one(self, event: StoredEvent, record: IdempotencyRecord | None) -> int:
        """The save of one event (nearly every command's), as ``insert_events`` makes it, its
        parameters sent in binary form through libpq (infrastructure/prepared_statements.py)."""
        flush = self._flushes_outside_lock()
        key = (True, record is not None, flush)
        prepared = self._prepared_saves.get(key)
        if prepared is None:  # its name on each connection, and its text with $1, $2...
            prepared = self._prepared_saves[key] = (
                b"pqasso_save_%d%d" % key[1:], numbered_placeholders(self._append_statement(*key)))
        name, statement = prepared
        with self._save_connection() as conn:
            encoding = text_encoding(conn)
            params = [uuid_bytes(event.originator_id), int8(event.originator_version),
                      event.topic.encode(encoding), event.state, EventChain.digest(event)]
            if record is not None:
                params += [record.principal.encode(encoding), record.key.encode(encoding),
                           record.request_hash.encode(encoding), uuid_bytes(record.case_id),
                           int8(record.version)]
            row = run_prepared(conn, name, statement, params)
        notification_id, lock_wait_ms = row[0], row[1] if len(row) > 1 else None
        assert notification_id is not None
        if not flush and lock_wait_ms is not None:
            self.lock_contention.observe(float(lock_wait_ms))
        return int(notification_id)

    def _save_connection(self) -> AbstractContextManager[Connection[Any]]:
        """A pooled connection for a save; if the save fails inside a transaction block (not
        in autocommit mode), rolled back. Not a broken one (UNKNOWN): the pool discards it.
        Lent in one context manager (``LentConnection``) once the pool is open. (The library's
        way also registers its composite types on the connection, if missing: the save does
        not use them, and the library's way registers them when it next lends it.)"""
        pool = self.datastore.pool
        if pool.closed:
            return self._library_save_connection()
        return LentConnection(pool)

    @contextmanager
    def _library_save_connection(self) -> Iterator[Connection[Any]]:
        with self.datastore.get_connection() as conn:
            try:
                yield conn
            except BaseException:
                if conn.info.transaction_status in (TransactionStatus.INTRANS, TransactionStatus.INERROR):
                    conn.rollback()
                raise

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

    def select_events(
        self, originator_id: Any, *, gt: int | None = None, lte: int | None = None,
        desc: bool = False, limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        """The library's ``select_events``, its statement composed once for each shape of
        query instead of at each call (a tenth of the CPU of loading a case), and its rows
        read as tuples."""
        shape = (gt is not None, lte is not None, desc, limit is not None)
        statement = self._select_events_statements.get(shape)
        if statement is None:
            composed = SQL("SELECT originator_id, originator_version, topic, state FROM {}.{} "
                           "WHERE originator_id = %s").format(
                Identifier(self.datastore.schema), Identifier(self.events_table_name))
            if gt is not None:
                composed += SQL(" AND originator_version > %s")
            if lte is not None:
                composed += SQL(" AND originator_version <= %s")
            composed += SQL(" ORDER BY originator_version DESC" if desc
                            else " ORDER BY originator_version ASC")
            if limit is not None:
                composed += SQL(" LIMIT %s")
            statement = self._select_events_statements[shape] = composed.as_bytes()
        params = [originator_id, *(value for value in (gt, lte, limit) if value is not None)]
        with self.datastore.get_connection() as conn, \
                conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(statement, params, prepare=True)
            return [StoredEvent(originator_id=originator_id_, originator_version=version,
                                topic=topic, state=bytes(state))
                    for originator_id_, version, topic, state in curs.fetchall()]

    # ---- Failing fast during a database outage (infrastructure/availability.py) -----------
    # The library's (and the methods above') @retry makes ten attempts, each waiting up to the
    # pool's checkout timeout: about a minute for a request caught by an outage. Re-wrapped
    # with fewer attempts, it gets its 503 within seconds. Keep these lines last in the class.
    insert_events = fail_fast(insert_events)
    find_idempotency_record = fail_fast(find_idempotency_record)
    select_events = fail_fast(select_events)
    select_notifications = fail_fast(PostgresApplicationRecorder.select_notifications)
    max_notification_id = fail_fast(PostgresApplicationRecorder.max_notification_id)
