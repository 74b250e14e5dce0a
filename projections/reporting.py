"""The reporting view: tables and summary views in the ``reporting`` schema.

``reporting.cases`` (one row per case: organisation, level, lead reviewer, status, visit date,
recommendation and when, days from visit to outcome, award, plan submissions) and
``reporting.unmet_indicators`` (the On-site Report's indicators, and whether the evidence met
them). ``reporting.obligations`` is a view of the deadline view's table, which must therefore
be created first (``runner.ALL`` lists it first). The SQL views are in ``reporting_sql``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from operator import itemgetter
from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from domain.case import Case
from domain.indicators import QUALITY_AREAS, quality_area
from domain.status import Recommendation
from projections import reporting_sql as ddl
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
from projections.deadlines import DeadlinesProjection
from projections.facts import status_after

_CASE_NAMES = [name for name, _ in ddl.CASE_COLUMNS]
_CASE_ROW = itemgetter(*_CASE_NAMES)  # a row dict -> a tuple in column order


class ReportingView(ReadModel):
    """Summaries for the reporting job."""

    @abstractmethod
    def report(self) -> dict[str, list[dict[str, Any]]]:
        """Every summary view's rows, by view name (``reporting_sql.VIEWS``)."""


class _State(CaseMemory):
    """The ``reporting.cases`` rows of the cases one catch-up has touched."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[UUID, dict[str, Any]] = {}

    def forget(self, case_ids: Iterable[UUID]) -> None:
        for case_id in case_ids:
            self.rows.pop(case_id, None)

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class _Rows:
    cases: list[tuple[Any, ...]]
    indicators: list[tuple[Any, ...]]
    lapsed: list[UUID]


class _Fold:
    """Case rows (kept between batches) and one batch's indicator rows, moved on event by
    event (a method per class)."""

    def __init__(self, cases: dict[UUID, dict[str, Any]]) -> None:
        self.cases = cases
        self.indicators: dict[tuple[UUID, str], tuple[Any, ...]] = {}
        self.lapsed: set[UUID] = set()

    def indicator(self, case_id: UUID, code: str, still_unmet: bool | None) -> None:
        self.indicators[(case_id, code)] = (
            case_id, code, *_indicator_columns(code), self.cases[case_id]["level"], still_unmet)

    def _outcome(self, event: Case.Event, recommendation: Recommendation, on: Any) -> None:
        self.cases[event.originator_id].update(recommendation=recommendation.value, outcome_on=on)

    def apply(self, event: Any) -> None:
        """Most events change only the status (done by the caller)."""
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def site_visit_held(self, event: Case.SiteVisitHeld) -> None:
        org = event.organisation
        self.cases[event.originator_id] = dict(
            case_id=event.originator_id, organisation_id=org.id, organisation_name=org.name,
            level=event.level, lead_reviewer=event.lead_reviewer, status=None,
            visit_date=event.visit_date, recommendation=None, outcome_on=None, awarded_on=None,
            plan_submissions=0, version=0)
        for row in event.unmet_indicators:
            self.indicator(event.originator_id, row.indicator, None)
        if not event.unmet_indicators:  # closed as recommended at once (domain.md)
            self._outcome(event, Recommendation.RECOMMENDED, event.visit_date)

    def plan_submitted(self, event: Case.PlanSubmitted) -> None:
        self.cases[event.originator_id]["plan_submissions"] += 1

    def evidence_judged(self, event: Case.EvidenceJudged) -> None:
        self._outcome(event, event.recommendation, event.judged_on)
        for judgement in event.judgements:
            self.indicator(event.originator_id, judgement.indicator, not judgement.met)

    def evidence_deadline_missed(self, event: Case.EvidenceDeadlineMissed) -> None:
        self._outcome(event, Recommendation.NOT_RECOMMENDED, event.noticed_on)
        self.lapsed.add(event.originator_id)

    def quality_mark_awarded(self, event: Case.QualityMarkAwarded) -> None:
        self.cases[event.originator_id]["awarded_on"] = event.awarded_on


@cache
def _indicator_columns(code: str) -> tuple[int, str | None, int]:
    """An indicator's quality area, the area's name and the indicator's level: worked out
    once per code (a rebuild writes a row for most indicators of every case)."""
    area = quality_area(code)
    return area, QUALITY_AREAS.get(area), int(code.split(".")[1])


# One handler per event class that changes more than the status. A plain dict, not a
# singledispatchmethod: that builds a bound wrapper on every call, a cost per event here.
_HANDLERS = {
    Case.SiteVisitHeld: _Fold.site_visit_held,
    Case.PlanSubmitted: _Fold.plan_submitted,
    Case.EvidenceJudged: _Fold.evidence_judged,
    Case.EvidenceDeadlineMissed: _Fold.evidence_deadline_missed,
    Case.QualityMarkAwarded: _Fold.quality_mark_awarded,
}


class PostgresReportingView(PostgresReadModel, ReportingView):
    """The reporting view in PostgreSQL (schema ``reporting``; tracking in the datastore's)."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.tables = [(ddl.SCHEMA, name) for name in ddl.TABLES]
        self.cases, self.indicators = self.tables
        self.primary_key(self.cases, "case_id")
        self.primary_key(self.indicators, "case_id", "indicator")
        deadlines = Identifier(self.datastore.schema, f"{DeadlinesProjection.name}_obligations")
        self.sql_create_statements += [*ddl.table_statements(), *ddl.view_statements(deadlines)]

    def _create_table(self, curs: Cursor[DictRow]) -> None:
        self._lock(curs)
        # CREATE SCHEMA IF NOT EXISTS still needs CREATE on the database: ask only when missing.
        curs.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (ddl.SCHEMA,))
        if curs.fetchone() is None:
            curs.execute(SQL("CREATE SCHEMA IF NOT EXISTS {}").format(Identifier(ddl.SCHEMA)))
        super()._create_table(curs)
        self._grant_reporting_role(curs)

    def _grant_reporting_role(self, curs: Cursor[DictRow]) -> None:
        """SELECT for the reporting role on what we own here (migrations set default
        privileges too, but those only cover objects their own role creates)."""
        curs.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ddl.REPORTING_ROLE,))
        if curs.fetchone() is None:
            return
        role = Identifier(ddl.REPORTING_ROLE)
        curs.execute("SELECT c.relname, pg_has_role(n.nspowner, 'USAGE') AS own_schema "
                     "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                     "WHERE n.nspname = %s AND c.relkind IN ('r', 'v') "
                     "AND pg_has_role(c.relowner, 'USAGE')", (ddl.SCHEMA,))
        rows = curs.fetchall()
        if rows and rows[0]["own_schema"]:
            curs.execute(SQL("GRANT USAGE ON SCHEMA {} TO {}").format(Identifier(ddl.SCHEMA), role))
        for row in rows:
            curs.execute(SQL("GRANT SELECT ON {} TO {}").format(
                Identifier(ddl.SCHEMA, row["relname"]), role))

    def new_state(self) -> _State:
        return _State()

    def _prepare(self, curs: Cursor[DictRow], items: Sequence[EventWithTracking],
                 state: _State) -> _Rows:
        events = [event for event, _ in items if isinstance(event, Case.Event)]
        rows = state.rows
        missing = [case_id for case_id in state.cases_to_load(events) if case_id not in rows]
        rows.update((row["case_id"], dict(row))
                    for row in select_by_case(curs, self.cases, _CASE_NAMES, missing))
        fold, touched = _Fold(rows), set()
        for event in events:
            fold.apply(event)
            row = rows[event.originator_id]
            status = status_after(event)
            state.note_status(event.originator_id, status)
            row["status"] = status._value_ if status else row["status"]  # ``value``, without the property
            row["version"] = event.originator_version
            touched.add(event.originator_id)
        cases = [_CASE_ROW(rows[case_id]) for case_id in touched]
        return _Rows(cases, list(fold.indicators.values()), list(fold.lapsed))

    def _store(self, curs: Cursor[DictRow], rows: _Rows) -> None:
        upsert(curs, self.cases, ddl.CASE_COLUMNS, rows.cases, key=("case_id",),
               update=_CASE_NAMES[1:])
        upsert(curs, self.indicators, ddl.INDICATOR_COLUMNS, rows.indicators,
               key=("case_id", "indicator"), update=("still_unmet",))
        if rows.lapsed:
            curs.execute(SQL("UPDATE {} SET still_unmet = true WHERE case_id = ANY(%s)").format(
                qualified(self.indicators)), (rows.lapsed,))

    def _load(self, curs: Cursor[DictRow], rows: _Rows) -> None:
        # Every event of these cases is in ``rows``: a lapse marks all their indicators.
        lapsed = set(rows.lapsed)
        indicators = [row[:-1] + (True,) if row[0] in lapsed else row for row in rows.indicators]
        copy_rows(curs, self.cases, ddl.CASE_COLUMNS, rows.cases)
        copy_rows(curs, self.indicators, ddl.INDICATOR_COLUMNS, indicators)

    def report(self) -> dict[str, list[dict[str, Any]]]:
        with self.datastore.transaction() as curs:
            result = {}
            for name in ddl.VIEWS:
                curs.execute(ddl.select_view(name))
                result[name] = [dict(row) for row in curs.fetchall()]
            return result


class ReportingProjection(CaseProjection[ReportingView]):
    """Keeps the reporting view: schema ``reporting``, env prefix ``REPORTING_``."""

    name = "reporting"
