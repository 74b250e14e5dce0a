"""The deadline view: every obligation of every case, open or closed, and when.

``deadlines_obligations`` has one row per obligation instance (see projections/obligations.py)
with the case's organisation, lead reviewer and level copied in, so the questions below are
each one indexed query. It keeps closed rows, which makes the answers historically correct:
an obligation met late was overdue from the day after its due date until the day it was met.

"Overdue on D" is ``due_on < D AND (closed_on IS NULL OR closed_on > D)``: D lies strictly
inside the range (due_on, closed_on). The generated column ``overdue_during`` holds that range
and a GiST index answers ``overdue_during @> D`` for any day, past or present.
The due date is the current one: after an extension an obligation counts as overdue only
after the new date, as ``Deadline.is_overdue_on`` in the domain says.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import pydantic_core
from eventsourcing.postgres import PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Composable, Composed, Identifier

from domain.case import Case
from domain.deadlines import Closure, Obligation, Party, last_day_ahead
from projections.base import (
    CaseProjection,
    EventWithTracking,
    PostgresReadModel,
    ReadModel,
    copy_rows,
    qualified,
    select_by_case,
    upsert,
)
from projections.case_memory import CaseMemory
from projections.facts import status_after
from projections.obligations import CHANGING, OBLIGATION_COLUMNS, CaseFacts, OpenObligations

_CASE_COLUMNS = (
    ("case_id", "uuid"), ("organisation_id", "text"), ("organisation_name", "text"),
    ("lead_reviewer", "text"), ("level", "smallint"), ("status", "text"), ("version", "integer"),
)
_OBLIGATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS {} (case_id uuid NOT NULL, seq integer NOT NULL, "
    "obligation text NOT NULL, owed_by text NOT NULL, organisation_id text, "
    "organisation_name text, lead_reviewer text, level smallint, opened_on date NOT NULL, "
    "due_on date NOT NULL, closed_on date, closure text, "
    # The days it is overdue: strictly after due_on, strictly before closed_on (if closed).
    "overdue_during daterange GENERATED ALWAYS AS (daterange(due_on, CASE WHEN closed_on IS "
    "NULL THEN NULL ELSE greatest(closed_on, due_on) END, '()')) STORED, "
    "PRIMARY KEY (case_id, seq))"
)
_ITEM = SQL(", ").join(map(Identifier, (
    "case_id", "organisation_id", "organisation_name", "obligation", "owed_by", "due_on",
    "lead_reviewer", "level")))
_JSON_ITEM = SQL(", ").join(map(Identifier, (  # the API's fields, in the answer's order
    "case_id", "organisation_id", "organisation_name", "obligation", "owed_by", "due_on",
    "lead_reviewer")))
# Overdue on a day: "NOT isempty(...)" repeats the partial index's condition so the planner
# can use it. Upcoming: open on the day and due on it or by "last".
_OVERDUE_ON = SQL("overdue_during @> %(day)s::date AND NOT isempty(overdue_during)")
_UPCOMING = SQL("due_on BETWEEN %(day)s AND %(last)s AND opened_on <= %(day)s "
                "AND (closed_on IS NULL OR closed_on > %(day)s)")


@dataclass(frozen=True)
class OrganisationRef:
    """The organisation as the read models show it: id and name."""

    id: str
    name: str


@dataclass(frozen=True)
class OverdueItem:
    """An obligation overdue on a given day."""

    case_id: UUID
    organisation: OrganisationRef
    obligation: Obligation
    owed_by: Party
    due_on: date
    days_overdue: int
    lead_reviewer: str
    level: int


@dataclass(frozen=True)
class UpcomingItem:
    """An obligation open on a given day and due within the next few days."""

    case_id: UUID
    organisation: OrganisationRef
    obligation: Obligation
    owed_by: Party
    due_on: date
    days_left: int
    lead_reviewer: str
    level: int


@dataclass(frozen=True)
class ObligationRecord:
    """One obligation of a case: when it opened, when due, and how and when it closed."""

    case_id: UUID
    seq: int
    obligation: Obligation
    owed_by: Party
    opened_on: date
    due_on: date
    closed_on: date | None
    closure: Closure | None


class DeadlinesView(ReadModel):
    """Queries on obligations and their due dates."""

    @abstractmethod
    def overdue_on(self, day: date) -> list[OverdueItem]:
        """Obligations overdue on ``day``: due before it and still open that day."""

    @abstractmethod
    def upcoming(self, day: date, days: int) -> list[UpcomingItem]:
        """Obligations open on ``day`` and due on it or within the ``days`` after it."""

    @abstractmethod
    def evidence_overdue_cases(self, day: date) -> list[UUID]:
        """Cases whose evidence is still awaited although its due date is before ``day``."""

    @abstractmethod
    def obligations_for_case(self, case_id: UUID) -> list[ObligationRecord]:
        """Every obligation of the case, in the order they opened."""


class PostgresDeadlinesView(PostgresReadModel, DeadlinesView):
    """The deadline view in PostgreSQL: ``<name>_cases`` and ``<name>_obligations``."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.cases, self.obligations = self.table("cases"), self.table("obligations")
        self.primary_key(self.cases, "case_id")
        self.primary_key(self.obligations, "case_id", "seq")
        cases, obligations, name = qualified(self.cases), qualified(self.obligations), self.obligations[1]
        self.sql_create_statements += [
            # Room on each page, so the frequent status updates are HOT (no index writes).
            SQL("CREATE TABLE IF NOT EXISTS {} (case_id uuid PRIMARY KEY, organisation_id text, "
                "organisation_name text, lead_reviewer text, level smallint, status text, "
                "version integer) WITH (fillfactor = 70)").format(cases),
            SQL(_OBLIGATIONS_TABLE).format(obligations),
        ]
        # Only rows ever overdue: most obligations are met in time (an empty range), and
        # leaving them out makes the GiST index, the dearest to keep up, several times smaller.
        overdue, due = f"{name}_overdue_idx", f"{name}_due_idx"
        self.index(overdue, SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gist (overdue_during) "
                                "WHERE NOT isempty(overdue_during)").format(Identifier(overdue), obligations))
        self.index(due, SQL("CREATE INDEX IF NOT EXISTS {} ON {} (due_on)").format(
            Identifier(due), obligations))
        # The two lists, as items and as the API answers them (``overdue_json``,
        # ``upcoming_json``): composed once.
        def listing(columns: Composable, where: SQL) -> Composed:
            return SQL("SELECT {} FROM {} WHERE {} ORDER BY due_on, case_id, seq").format(
                columns, obligations, where)

        self._overdue_items, self._upcoming_items = listing(_ITEM, _OVERDUE_ON), listing(_ITEM, _UPCOMING)
        self._overdue_json = listing(SQL("{}, %(day)s::date - due_on").format(_JSON_ITEM), _OVERDUE_ON)
        self._upcoming_json = listing(SQL("{}, due_on - %(day)s::date").format(_JSON_ITEM), _UPCOMING)

    def new_state(self) -> _State:
        return _State()

    def _prepare(self, curs: Cursor[DictRow], items: Sequence[EventWithTracking],
                 state: _State) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        events = [event for event, _ in items if isinstance(event, Case.Event)]
        missing = [case_id for case_id in state.cases_to_load(events) if case_id not in state.cases]
        for row in select_by_case(curs, self.cases, [c for c, _ in _CASE_COLUMNS], missing):
            state.facts[row["case_id"]] = CaseFacts.from_row(row)
            state.cases[row["case_id"]] = (row["status"], row["version"])
        state.obligations.load(curs, self.obligations, missing)
        state.obligations.changed = {}
        touched = set()
        for event in events:
            case_id = event.originator_id
            if isinstance(event, Case.SiteVisitHeld):
                state.facts[case_id] = CaseFacts.of(event)
            status = status_after(event)
            state.note_status(case_id, status)
            previous = state.cases.get(case_id, ("", 0))[0]
            # ``_value_``: the member's value as a plain attribute (``value`` is a property).
            state.cases[case_id] = (status._value_ if status else previous, event.originator_version)
            state.obligations.apply(event)
            touched.add(case_id)
        case_rows = [(case_id, *_facts(state, case_id), *state.cases[case_id]) for case_id in touched]
        return case_rows, list(state.obligations.rows(state.facts))

    def _store(self, curs: Cursor[DictRow],
               rows: tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]) -> None:
        cases, obligations = rows
        upsert(curs, self.cases, _CASE_COLUMNS, cases, key=("case_id",), update=("status", "version"))
        upsert(curs, self.obligations, OBLIGATION_COLUMNS, obligations, key=("case_id", "seq"),
               update=CHANGING)

    def _load(self, curs: Cursor[DictRow],
              rows: tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]) -> None:
        cases, obligations = rows
        copy_rows(curs, self.cases, _CASE_COLUMNS, cases)
        copy_rows(curs, self.obligations, OBLIGATION_COLUMNS, obligations)

    def overdue_on(self, day: date) -> list[OverdueItem]:
        rows = self._select(self._overdue_items, {"day": day})
        return [OverdueItem(**_item(row), days_overdue=(day - row["due_on"]).days) for row in rows]

    def upcoming(self, day: date, days: int) -> list[UpcomingItem]:
        rows = self._select(self._upcoming_items, {"day": day, "last": last_day_ahead(day, days)})
        return [UpcomingItem(**_item(row), days_left=(row["due_on"] - day).days) for row in rows]

    def overdue_json(self, day: date) -> bytes:
        """``overdue_on(day)`` as the API answers it: a JSON array, written from the rows as
        they come, with no object built per item (BENCHMARKS.md, "Overdue"). The same bytes
        as the answer's model writes from ``overdue_on`` (tests compare the two)."""
        return self._json(self._overdue_json, "days_overdue", {"day": day})

    def upcoming_json(self, day: date, days: int) -> bytes:
        """``upcoming(day, days)`` as the API answers it, as ``overdue_json``."""
        return self._json(self._upcoming_json, "days_left",
                          {"day": day, "last": last_day_ahead(day, days)})

    def _json(self, statement: Composed, days_field: str, params: dict[str, Any]) -> bytes:
        return pydantic_core.to_json([
            {"case_id": case_id, "organisation": {"id": organisation_id, "name": organisation_name},
             "obligation": obligation, "owed_by": owed_by, "due_on": due_on,
             "lead_reviewer": lead_reviewer, days_field: n}
            for case_id, organisation_id, organisation_name, obligation, owed_by, due_on,
            lead_reviewer, n in self._select(statement, params, as_tuples=True)])

    def evidence_overdue_cases(self, day: date) -> list[UUID]:
        # Open and due before ``day``: overdue on ``day`` and not closed (the GiST index).
        rows = self._select(SQL(
            "SELECT DISTINCT case_id FROM {} WHERE overdue_during @> %s::date AND NOT "
            "isempty(overdue_during) AND closure IS NULL AND obligation = %s ORDER BY case_id"
        ).format(qualified(self.obligations)), (day, Obligation.EVIDENCE_SUBMISSION.value))
        return [row["case_id"] for row in rows]

    def obligations_for_case(self, case_id: UUID) -> list[ObligationRecord]:
        rows = self._select(SQL(
            "SELECT case_id, seq, obligation, owed_by, opened_on, due_on, closed_on, closure "
            "FROM {} WHERE case_id = %s ORDER BY seq").format(qualified(self.obligations)), (case_id,))
        return [ObligationRecord(
            row["case_id"], row["seq"], Obligation(row["obligation"]), Party(row["owed_by"]),
            row["opened_on"], row["due_on"], row["closed_on"],
            Closure(row["closure"]) if row["closure"] else None) for row in rows]

    def _select(self, statement: Composed, params: Sequence[Any] | dict[str, Any],
                as_tuples: bool = False) -> list[Any]:
        with self.datastore.transaction() as curs:
            if as_tuples:
                curs.row_factory = tuple_row  # type: ignore[assignment]
            curs.execute(statement, params)
            return curs.fetchall()


class _State(CaseMemory):
    """What one catch-up knows of the cases it has touched (see ``prepare_batch``)."""

    def __init__(self) -> None:
        super().__init__()
        self.facts: dict[UUID, CaseFacts] = {}
        self.cases: dict[UUID, tuple[str, int]] = {}  # status, version
        self.obligations = OpenObligations()

    def forget(self, case_ids: Iterable[UUID]) -> None:
        for case_id in case_ids:
            self.facts.pop(case_id, None)
            self.cases.pop(case_id, None)
            self.obligations.open.pop(case_id, None)

    def __len__(self) -> int:
        return len(self.cases)


def _facts(state: _State, case_id: UUID) -> tuple[Any, ...]:
    f = state.facts.get(case_id)
    return (f.organisation_id, f.organisation_name, f.lead_reviewer, f.level) if f else (None,) * 4


def _item(row: DictRow) -> dict[str, Any]:
    return {
        "case_id": row["case_id"],
        "organisation": OrganisationRef(row["organisation_id"], row["organisation_name"]),
        "obligation": Obligation(row["obligation"]), "owed_by": Party(row["owed_by"]),
        "due_on": row["due_on"], "lead_reviewer": row["lead_reviewer"], "level": row["level"],
    }


class DeadlinesProjection(CaseProjection[DeadlinesView]):
    """Keeps the deadline view: tables ``deadlines_*``, env prefix ``DEADLINES_``."""

    name = "deadlines"
