"""The read side answered straight from the event store, for the in-memory service and tests.

A PostgreSQL deployment answers these from the deadline projection instead; this
rebuilds every case on each question, which is fine for a demo's handful of cases.
The rule is the domain's own (``Deadline.is_overdue_on``), so both agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any
from uuid import UUID

from application.cases import QualityMarkCases
from domain.case import Case
from domain.deadlines import Deadline, last_day_ahead

_PAGE = 500


class EventStoreDeadlines:
    """``overdue_on``, ``upcoming`` and an empty projection ``status`` over every case."""

    def __init__(self, cases: QualityMarkCases) -> None:
        self.cases = cases

    def overdue_on(self, day: date) -> list[dict[str, Any]]:
        """Obligations open on ``day`` whose due date is before it."""
        return sorted((
            _item(case, d, days_overdue=(day - d.due_on).days)
            for case in self._cases() for d in case.deadlines
            if d.opened_on <= day and d.is_overdue_on(day)
        ), key=_order)

    def upcoming(self, day: date, days: int) -> list[dict[str, Any]]:
        """Obligations open on ``day`` and due on it or within the ``days`` after it."""
        last = last_day_ahead(day, days)
        return sorted((
            _item(case, d, days_left=(d.due_on - day).days)
            for case in self._cases() for d in case.deadlines
            if d.opened_on <= day and day <= d.due_on <= last
            and (d.closed_on is None or d.closed_on > day)
        ), key=_order)

    def status(self) -> list[dict[str, Any]]:
        """No projections run in memory: nothing lags."""
        return []

    def _cases(self) -> Iterator[Case]:
        seen: set[UUID] = set()
        start = 1
        while True:
            page = self.cases.recorder.select_notifications(start=start, limit=_PAGE)
            for notification in page:
                if notification.originator_id not in seen:
                    seen.add(notification.originator_id)
                    yield self.cases.get_case(notification.originator_id)
            if len(page) < _PAGE:
                return
            start = page[-1].id + 1


def _item(case: Case, deadline: Deadline, **days: int) -> dict[str, Any]:
    return {
        "case_id": case.id,
        "organisation": {"id": case.organisation.id, "name": case.organisation.name},
        "obligation": deadline.obligation, "owed_by": deadline.owed_by, "due_on": deadline.due_on,
        "lead_reviewer": case.lead_reviewer, **days,
    }


def _order(item: dict[str, Any]) -> tuple[date, str, str]:
    return item["due_on"], str(item["case_id"]), item["obligation"].value
