"""The PostgreSQL recorder of the cases application: the library's, plus idempotency
records written in the same transaction as the events, and a table lock the service role
can take without UPDATE/DELETE/TRUNCATE privileges.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import retry
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

from application.idempotency import IdempotencyRecord


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
        schema = Identifier(self.datastore.schema)
        self.idempotency_table_name = idempotency_table_name(events_table_name)
        self.lock_function_name = lock_function_name(events_table_name)
        self.check_identifier_length(self.idempotency_table_name)
        self.check_identifier_length(self.lock_function_name)
        idempotency = Identifier(self.idempotency_table_name)
        function = Identifier(self.lock_function_name)

        self.sql_create_statements.extend(self._create_statements())
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

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        # Runs inside insert_events()'s pipelined transaction, before the table lock; a
        # duplicate key surfaces at the library's pipeline.sync() as IntegrityError.
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
