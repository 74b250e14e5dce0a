"""The chain heads: each case's latest version and its hash, as recorded when it was recorded.

A read model like the others (exactly-once batches, rebuilt by ``pqasso projections rebuild``):
for every case event it reads the event's hash from ``cases_event_hashes``
(infrastructure/audit_chain.py) and keeps, per case, the highest version seen. ``pqasso audit
verify`` compares the store with it: a case whose latest events were deleted together with
their hashes still has its old head here, and a case deleted outright still has a head.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from domain.case import Case
from infrastructure.audit_chain import CHAIN_VIEW, event_hashes_table_name
from projections.base import (
    APPLICATION_NAME,
    CaseProjection,
    EventWithTracking,
    PostgresReadModel,
    ReadModel,
    copy_rows,
    qualified,
    upsert,
)

_COLUMNS = (("case_id", "uuid"), ("version", "bigint"), ("hash", "bytea"),
            ("notification_id", "bigint"))


class ChainHeadsView(ReadModel):
    """Per case: the latest version projected and its chained hash."""

    @abstractmethod
    def head(self, case_id: UUID) -> tuple[int, bytes | None] | None:
        """(version, hash) of the case's latest projected event, or None."""


class PostgresChainHeadsView(PostgresReadModel, ChainHeadsView):
    """Table ``chain_heads`` (case_id, version, hash, notification_id)."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.heads_table = self.table("heads")
        self.primary_key(self.heads_table, "case_id")
        self.hashes = Identifier(self.datastore.schema,
                                 event_hashes_table_name(f"{APPLICATION_NAME.lower()}_events"))
        self.sql_create_statements.append(SQL(
            "CREATE TABLE IF NOT EXISTS {} (case_id uuid PRIMARY KEY, version bigint NOT NULL, "
            "hash bytea, notification_id bigint NOT NULL)").format(qualified(self.heads_table)))

    def _prepare(self, curs: Cursor[DictRow], items: Sequence[EventWithTracking],
                 state: Any) -> list[tuple[Any, ...]]:
        latest: dict[UUID, tuple[int, int]] = {}
        for event, tracking in items:
            if isinstance(event, Case.Event):
                latest[event.originator_id] = (event.originator_version, tracking.notification_id)
        if not latest:
            return []
        ids = list(latest)
        curs.execute(SQL(
            "SELECT h.originator_id, h.hash FROM unnest(%s::uuid[], %s::bigint[]) AS b(id, v) "
            "JOIN {} h ON h.originator_id = b.id AND h.originator_version = b.v").format(self.hashes),
            (ids, [latest[i][0] for i in ids]))
        hashes = {row["originator_id"]: bytes(row["hash"]) for row in curs.fetchall()}
        return [(case_id, version, hashes.get(case_id), notification_id)
                for case_id, (version, notification_id) in latest.items()]

    def _store(self, curs: Cursor[DictRow], rows: list[tuple[Any, ...]]) -> None:
        upsert(curs, self.heads_table, _COLUMNS, rows, key=("case_id",),
               update=("version", "hash", "notification_id"))

    def _load(self, curs: Cursor[DictRow], rows: list[tuple[Any, ...]]) -> None:
        copy_rows(curs, self.heads_table, _COLUMNS, rows)

    def head(self, case_id: UUID) -> tuple[int, bytes | None] | None:
        with self.datastore.transaction() as curs:
            curs.execute(SQL("SELECT version, hash FROM {} WHERE case_id = %s").format(
                qualified(self.heads_table)), (case_id,))
            row = curs.fetchone()
        if row is None:
            return None
        return row["version"], bytes(row["hash"]) if row["hash"] is not None else None


class ChainHeadsProjection(CaseProjection[ChainHeadsView]):
    """Keeps the chain heads: table ``chain_heads``, env prefix ``CHAIN_``."""

    name = CHAIN_VIEW
