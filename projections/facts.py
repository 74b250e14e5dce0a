"""Facts the read models take from each event: the case's status after it, and its date.

The status follows ``Case.Event.update`` (domain/case.py), which needs the whole case; the
read models only have the event, so the mapping is restated here, one registration per
event class, and a property test checks it against the aggregate on random histories.
"""

from __future__ import annotations

from datetime import date
from functools import singledispatch
from typing import Any

from domain.case import Case
from domain.status import Recommendation, Status


@singledispatch
def status_after(event: Any) -> Status | None:
    """The case's status after ``event``; None when the event leaves it as it was."""
    return None  # Case.DeadlineExtended, and anything that is not a case event


@status_after.register
def _(event: Case.SiteVisitHeld) -> Status:
    # domain.md: with no unmet indicator the case is closed as recommended at once.
    return Status.AWAITING_PLAN if event.unmet_indicators else Status.RECOMMENDED


@status_after.register
def _(event: Case.EvidenceJudged) -> Status:
    recommended = event.recommendation is Recommendation.RECOMMENDED
    return Status.RECOMMENDED if recommended else Status.NOT_RECOMMENDED


def _fixed(status: Status) -> Any:
    return lambda event: status


for _cls, _status in (
    (Case.PlanSubmitted, Status.PLAN_UNDER_REVIEW),
    (Case.ChangesRequested, Status.CHANGES_REQUESTED),
    (Case.PlanApproved, Status.AWAITING_EVIDENCE),
    (Case.EvidenceSubmitted, Status.EVIDENCE_UNDER_REVIEW),
    (Case.FurtherDetailsRequested, Status.AWAITING_FURTHER_DETAILS),
    (Case.FurtherDetailsProvided, Status.EVIDENCE_UNDER_REVIEW),
    (Case.EvidenceDeadlineMissed, Status.NOT_RECOMMENDED),
    (Case.QualityMarkAwarded, Status.AWARDED),
):
    status_after.register(_cls, _fixed(_status))


def business_date(event: Any) -> date | None:
    """The day the event happened in the process (received, judged...), as its deadlines see it."""
    changes = getattr(event, "deadline_changes", None)
    return changes().on if changes is not None else None
