"""Facts the read models take from each event: the case's status after it, and its date.

The status follows ``Case.Event.update`` (domain/case.py), which needs the whole case; the
read models only have the event, so the mapping is restated here, one rule per event class,
and a property test checks it against the aggregate on random histories.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from domain.case import Case
from domain.status import Recommendation, Status

Rule = Callable[[Any], Status | None]

# The rule of each event class that changes the status. An event of any other class
# (Case.DeadlineExtended, or not a case event) leaves it as it was.
_RULES: dict[type, Rule] = {
    # domain.md: with no unmet indicator the case is closed as recommended at once.
    Case.SiteVisitHeld: lambda event: (Status.AWAITING_PLAN if event.unmet_indicators
                                       else Status.RECOMMENDED),
    Case.EvidenceJudged: lambda event: (
        Status.RECOMMENDED if event.recommendation is Recommendation.RECOMMENDED
        else Status.NOT_RECOMMENDED),
}


def _fixed(status: Status) -> Rule:
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
    _RULES[_cls] = _fixed(_status)


def _unchanged(event: Any) -> None:
    return None


# Every class seen, with the rule of its nearest registered base: one dict lookup an event
# (a rebuild asks twice for each of a million events; functools.singledispatch costs three
# Python calls a time).
_RULE_OF: dict[type, Rule] = {}


def status_after(event: Any) -> Status | None:
    """The case's status after ``event``; None when the event leaves it as it was."""
    cls = type(event)
    try:
        rule = _RULE_OF[cls]
    except KeyError:
        rule = _RULE_OF[cls] = next(
            (_RULES[base] for base in cls.__mro__ if base in _RULES), _unchanged)
    return rule(event)


def business_date(event: Any) -> date | None:
    """The day the event happened in the process (received, judged...), as its deadlines see it."""
    changes = getattr(event, "deadline_changes", None)
    return changes().on if changes is not None else None
