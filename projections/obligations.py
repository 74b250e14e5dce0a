"""Obligation rows: one per obligation instance of a case, kept by folding ``DeadlineChanges``.

``OpenObligations`` does not restate the deadline rules: it hands each case's open deadlines
to ``DeadlineChanges.applied_to`` (the aggregate's own rule) and compares what comes back.
``applied_to`` maps closing and extending element by element and appends what opens, so
positions give each row its identity: an obligation keeps the ``seq`` it got when it opened,
``originator_version * 10 + index``. Re-applying an event rewrites the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL

from domain.case import Case
from domain.deadlines import Deadline, Obligation
from projections.base import Table, select_by_case

SEQ_PER_VERSION = 10  # an event opens at most this many obligations (today: one)
OBLIGATION_COLUMNS = (  # in row order; the types are for COPY and unnest()
    ("case_id", "uuid"), ("seq", "integer"), ("obligation", "text"), ("owed_by", "text"),
    ("organisation_id", "text"), ("organisation_name", "text"), ("lead_reviewer", "text"),
    ("level", "smallint"), ("opened_on", "date"), ("due_on", "date"), ("closed_on", "date"),
    ("closure", "text"),
)
CHANGING = ("due_on", "closed_on", "closure")  # the only columns that ever change
# By the obligation's value: a str key hashes in C, an Enum member through Enum.__hash__.
_OWED_BY = {obligation.value: obligation.owed_by.value for obligation in Obligation}
_OBLIGATIONS = {obligation.value: obligation for obligation in Obligation}


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What obligation rows copy from their case; fixed when the site visit is recorded."""

    organisation_id: str
    organisation_name: str
    lead_reviewer: str
    level: int

    @classmethod
    def of(cls, event: Case.SiteVisitHeld) -> CaseFacts:
        org = event.organisation
        return cls(org.id, org.name, event.lead_reviewer, event.level)

    @classmethod
    def from_row(cls, row: DictRow) -> CaseFacts:
        return cls(row["organisation_id"], row["organisation_name"], row["lead_reviewer"],
                   row["level"])


_UNKNOWN = CaseFacts("", "", "", 0)


class OpenObligations:
    """The open obligations of cases, moved on event by event in memory; ``changed`` holds
    every obligation that opened, moved or closed since it was last emptied."""

    def __init__(self) -> None:
        self.open: dict[UUID, list[tuple[int, Deadline]]] = {}
        self.changed: dict[tuple[UUID, int], Deadline] = {}

    def load(self, curs: Cursor[DictRow], table: Table, case_ids: Iterable[UUID]) -> None:
        """Read the open obligations of cases opened before this batch."""
        rows = select_by_case(curs, table, ("case_id", "seq", "obligation", "opened_on", "due_on"),
                              case_ids, SQL("closure IS NULL"))
        for row in sorted(rows, key=lambda r: r["seq"]):
            self.open.setdefault(row["case_id"], []).append(
                (row["seq"], Deadline(_OBLIGATIONS[row["obligation"]], row["opened_on"], row["due_on"])))

    def apply(self, event: Case.Event) -> None:
        changes = event.deadline_changes()
        if not (changes.met or changes.missed or changes.withdrawn or changes.opened
                or changes.extended):
            return
        case_id = event.originator_id
        before = self.open.get(case_id, ())
        after = changes.applied_to(tuple([deadline for _, deadline in before]))
        still_open = []
        for (seq, old), new in zip(before, after, strict=False):  # after also has the new ones
            if new is not old:
                self.changed[(case_id, seq)] = new
            if new.closure is None:
                still_open.append((seq, new))
        base = event.originator_version * SEQ_PER_VERSION
        for index, new in enumerate(after[len(before):]):
            assert index < SEQ_PER_VERSION, "too many obligations opened by one event"
            self.changed[(case_id, base + index)] = new
            if new.closure is None:
                still_open.append((base + index, new))
        self.open[case_id] = still_open

    def rows(self, facts: dict[UUID, CaseFacts]) -> Iterator[tuple[Any, ...]]:
        """The changed obligations as rows in ``OBLIGATION_COLUMNS`` order."""
        for (case_id, seq), d in self.changed.items():
            f = facts.get(case_id, _UNKNOWN)
            # ``_value_``: an Enum member's value as a plain attribute (``value`` is a
            # property, a Python call); a rebuild writes a row for most events.
            obligation = d.obligation._value_
            yield (case_id, seq, obligation, _OWED_BY[obligation], f.organisation_id,
                   f.organisation_name, f.lead_reviewer, f.level, d.opened_on, d.due_on,
                   d.closed_on, d.closure._value_ if d.closure else None)
