"""What every read model shares: exactly-once batch writes, guarded by position.

Every write is one transaction that
1. takes a transaction-level advisory lock for the read model, so writers queue (readers don't);
2. checks that the stored position is the one this worker last saw (compare and set);
3. writes the rows and the new position (the library's ``_insert_tracking``).

Why step 2: the library's tracking upsert only refuses to go backwards. A batch that overlaps
one another worker has just committed, or a write from a worker that has not noticed a rebuild
emptied the tables, would otherwise slip through and apply events twice or on top of nothing.
A mismatch raises ``PositionConflict`` and nothing is written; the caller re-reads and goes on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import psycopg
import structlog
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import IntegrityError, Tracking, TrackingRecorder
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

from application.cases import QualityMarkCases
from domain.case import Case
from infrastructure.connection_pools import hand_out_last_returned_first
from projections.rows import Table
from projections.rows import copy_rows as copy_rows  # re-exported: read models import them here
from projections.rows import qualified as qualified
from projections.rows import select_by_case as select_by_case
from projections.rows import upsert as upsert

log = structlog.get_logger(__name__)

APPLICATION_NAME = QualityMarkCases.name  # the upstream sequence every read model tracks
_LOCK_NAMESPACE = "pqasso_read_model"  # first key of the advisory locks (hashed)
EventWithTracking = tuple[Any, Tracking]


@dataclass(frozen=True)
class Index:
    """An index of a read model's table that a rebuild by the tables' owner drops with the
    rows and builds again once they are in (bulk.py): a secondary index, or the primary key."""

    name: Table  # (schema, index name); a primary key's index is named after its constraint
    create: Composed
    drop: Composed


@dataclass(frozen=True)
class PreparedBatch:
    """Rows ready to be written, and the position they take the read model to."""

    rows: Any
    last: Tracking
    events: int


class PositionConflict(IntegrityError):
    """Raised when a read model's stored position is not the one this worker expected:
    another worker wrote it first, or it was rebuilt meanwhile. Nothing was written."""


class ReadModel(TrackingRecorder, ABC):
    """A read model of the cases application: a tracking recorder with a batch writer.

    ``position`` is the last notification id this object saw stored or wrote itself.
    """

    position: int | None

    @abstractmethod
    def apply_batch(self, events_with_tracking: Sequence[EventWithTracking]) -> None:
        """Apply events (in notification order, all after ``position``) and record the last
        tracking, in one transaction. Raises ``PositionConflict`` if the stored position moved."""

    @abstractmethod
    def record_position(self, tracking: Tracking) -> None:
        """Move the position over an event that changes nothing here."""

    @abstractmethod
    def new_state(self) -> Any:
        """Memory of cases for one catch-up (see ``prepare_batch``)."""

    @abstractmethod
    def prepare_batch(self, events_with_tracking: Sequence[EventWithTracking], state: Any
                      ) -> PreparedBatch:
        """The rows of a batch, computed before its transaction (catch-up pipeline)."""

    @abstractmethod
    def store_batch(self, prepared: PreparedBatch) -> None:
        """Write a prepared batch and its position in one transaction (``PositionConflict``
        if the stored position moved)."""

    @abstractmethod
    def sync_position(self) -> int | None:
        """Re-read the stored position, adopt it, and return it."""

    @abstractmethod
    def reset(self) -> None:
        """Empty every table of the read model and forget its position, in one transaction."""

    @abstractmethod
    def tables_exist(self) -> bool:
        """True when every table of the read model exists."""


class PostgresReadModel(PostgresTrackingRecorder):
    """Base of the PostgreSQL read models: tables named ``<projection name>_<suffix>``."""

    def __init__(
        self, datastore: PostgresDatastore, *, tracking_table_name: str = "notification_tracking",
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, tracking_table_name=tracking_table_name, **kwargs)
        hand_out_last_returned_first(datastore)
        self.name = tracking_table_name.removesuffix("_tracking")
        self.position: int | None = None
        self.tables: list[Table] = []  # emptied by reset()
        self.indexes: list[Index] = []  # secondary indexes and primary keys (bulk.py)

    def table(self, suffix: str) -> Table:
        """Name, check and register one of this read model's tables in the datastore schema."""
        name = f"{self.name}_{suffix}"
        self.check_identifier_length(name)
        self.tables.append((self.datastore.schema, name))
        return self.datastore.schema, name

    def index(self, name: str, statement: Composed) -> None:
        """Register a secondary index that ``statement`` creates (IF NOT EXISTS) in the
        datastore schema: created with the tables; a rebuild by the tables' owner drops it
        and builds it again once the rows are in (bulk.py), which is several times faster
        than keeping it up row by row."""
        self.check_identifier_length(name)
        table = (self.datastore.schema, name)
        self.indexes.append(Index(table, statement,
                                  SQL("DROP INDEX IF EXISTS {}").format(qualified(table))))
        self.sql_create_statements.append(statement)

    def primary_key(self, table: Table, *columns: str) -> None:
        """Declare the primary key that ``table``'s CREATE TABLE gives it (PostgreSQL names
        it ``<table>_pkey``). A rebuild by the tables' owner drops it too and adds it once
        the rows are in: one sorted build instead of an index insertion per row, at random
        places for the audit's notification ids (PostgreSQL's "Populating a Database")."""
        constraint = f"{table[1]}_pkey"
        self.check_identifier_length(constraint)
        self.indexes.append(Index(
            (table[0], constraint),
            SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({})").format(
                qualified(table), Identifier(constraint), SQL(", ").join(map(Identifier, columns))),
            SQL("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}").format(
                qualified(table), Identifier(constraint))))

    def apply_batch(self, events_with_tracking: Sequence[EventWithTracking]) -> None:
        if events_with_tracking:
            self._write(lambda curs: self._store(curs, self._prepare(
                curs, events_with_tracking, self.new_state())), events_with_tracking[-1][1])

    def record_position(self, tracking: Tracking) -> None:
        self._write(None, tracking)

    def new_state(self) -> Any:
        """What this read model remembers about cases between batches of one catch-up."""
        return None

    def prepare_batch(self, events_with_tracking: Sequence[EventWithTracking], state: Any
                      ) -> PreparedBatch:
        """The rows for a batch, computed outside the write transaction (catch-up pipeline).

        ``state`` (from ``new_state()``) carries every case this catch-up has touched, so
        the next batch can be prepared before this one is stored; cases not in it have not
        changed since the catch-up began and are read from the database. A write by anyone
        else meanwhile fails ``store_batch`` with ``PositionConflict``: ``state`` is then
        stale and must be dropped."""
        with self.datastore.transaction() as curs:
            rows = self._prepare(curs, events_with_tracking, state)
        return PreparedBatch(rows, events_with_tracking[-1][1], len(events_with_tracking))

    def store_batch(self, prepared: PreparedBatch) -> None:
        """Write prepared rows and the batch's position in one guarded transaction."""
        self._write(lambda curs: self._store(curs, prepared.rows), prepared.last)

    def _write(self, work: Callable[[Cursor[DictRow]], None] | None, last: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            # A read model may lose its last commits in a crash without harm (rows and position
            # go together; the events are replayed): don't wait for the WAL flush. And no JIT:
            # compiling the big INSERT ... SELECT of a batch costs more than it saves.
            curs.execute("SELECT set_config('synchronous_commit', 'off', true), "
                         "set_config('jit', 'off', true)", prepare=True)
            self._lock(curs)
            stored = self._max_tracking_id(APPLICATION_NAME, curs)
            if stored != self.position:
                raise PositionConflict(f"{self.name}: expected position {self.position}, found {stored}")
            if work is not None:
                work(curs)
            self._insert_tracking(curs, last)
        self.position = last.notification_id

    @abstractmethod
    def _prepare(self, curs: Cursor[DictRow], items: Sequence[EventWithTracking], state: Any) -> Any:
        """The rows to write for ``items`` (events this read model does not show are ignored),
        reading what ``state`` lacks through ``curs``; records what it learns in ``state``."""

    @abstractmethod
    def _store(self, curs: Cursor[DictRow], rows: Any) -> None:
        """Write the rows ``_prepare`` returned."""

    def _load(self, curs: Cursor[DictRow], rows: Any) -> None:
        """Write the rows ``_prepare`` returned for whole histories of cases into tables
        that hold nothing of those cases (a rebuild, bulk.py): appending is enough."""
        self._store(curs, rows)

    def sync_position(self) -> int | None:
        self.position = self.max_tracking_id(APPLICATION_NAME)
        if self.position is None:
            self._clear_leftovers()
        return self.position

    def _clear_leftovers(self) -> None:
        """Rows without a position are what an interrupted rebuild left (bulk.py; every
        other write stores rows and position together): empty the tables, under the writer
        lock, so that catching up from the start does not apply events on top of them. A
        rebuild in progress holds the lock: this waits for it, then adopts its position."""
        with self.datastore.transaction(commit=True) as curs:
            self._lock(curs)
            self.position = self._max_tracking_id(APPLICATION_NAME, curs)
            if self.position is not None:
                return
            for table in self.tables:
                curs.execute(SQL("SELECT EXISTS (SELECT FROM {}) AS rows").format(qualified(table)))
                row = curs.fetchone()
                if row is not None and row["rows"]:
                    log.warning("projection_leftovers_cleared", projection=self.name,
                                reason="rows without a position: an interrupted rebuild")
                    self.truncate(curs)
                    break
            self._restore_indexes(curs)

    def _restore_indexes(self, curs: Cursor[DictRow]) -> None:
        """Create the indexes and primary keys an interrupted rebuild may have dropped (if
        this role may: only the tables' owner can, and did drop them; otherwise the owner's
        next rebuild, ``pqasso projections rebuild``, will). The tables are empty or hold
        nothing twice: a primary key can be added."""
        for index in self.indexes:
            schema, name = index.name
            curs.execute("SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) AS i",
                         (schema, name))
            row = curs.fetchone()
            if row is not None and row["i"] is not None:
                continue
            try:
                with curs.connection.transaction():  # a savepoint
                    curs.execute(index.create)
            except psycopg.errors.InsufficientPrivilege:
                log.warning("projection_index_missing", projection=self.name, index=name,
                            reason="dropped by an interrupted rebuild; only the owner can create it")

    def reset(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self._lock(curs)
            self.truncate(curs)
        self.position = None

    def truncate(self, curs: Cursor[DictRow]) -> None:
        """Empty every table and delete the position (in the caller's transaction, which
        holds the writer lock)."""
        # TRUNCATE, not DROP: the service role may hold TRUNCATE on tables a migration owns
        # (migrations.grant_service_on), never the right to drop them.
        curs.execute(SQL("TRUNCATE {}").format(SQL(", ").join(map(qualified, self.tables))))
        curs.execute(SQL("DELETE FROM {} WHERE application_name = %s").format(
            Identifier(self.datastore.schema, self.tracking_table_name)), (APPLICATION_NAME,))

    def lock_key(self) -> tuple[str, str]:
        """The two texts whose hashes key this read model's writer lock (``_lock``)."""
        return _LOCK_NAMESPACE, self.name

    def tables_exist(self) -> bool:
        names = [*self.tables, (self.datastore.schema, self.tracking_table_name)]
        with self.datastore.transaction() as curs:
            for schema, name in names:
                curs.execute("SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) AS t",
                             (schema, name))
                row = curs.fetchone()
                if row is None or row["t"] is None:
                    return False
        return True

    def _create_table(self, curs: Cursor[DictRow]) -> None:
        # Two processes starting at once would race on CREATE ... IF NOT EXISTS (a unique
        # violation in the catalogue): the same lock as the writers serialises them.
        self._lock(curs)
        super()._create_table(curs)

    def _lock(self, curs: Cursor[DictRow]) -> None:
        curs.execute("SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))",
                     self.lock_key(), prepare=True)


TView = TypeVar("TView", bound=ReadModel)


class CaseProjection(Projection[TView], Generic[TView]):
    """The live path (one event at a time, run by the library's ``ProjectionRunner``).

    Every case event goes through the view's batch writer as a batch of one, so the live
    and the rebuild paths share one implementation; the property tests check that applying
    events one by one equals applying them in batches. Other events only move the position.
    """

    def __init__(self, view: TView) -> None:
        super().__init__(view)
        # The runner subscribes from the stored position right after this: a write by
        # another worker in between is then caught as a PositionConflict, not missed.
        view.sync_position()

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.record_position(tracking)

    @process_event.register(Case.Event)  # Case.SiteVisitHeld and every later event
    def _case_event(self, domain_event: Case.Event, tracking: Tracking) -> None:
        self.view.apply_batch(((domain_event, tracking),))
