"""Deadlines: who owes what by when.

The guidance's durations ("within 2 weeks of the site visit", "8 weeks to undertake
the agreed improvements") are a policy. A case records the policy it was opened
under, so changing the policy never rewrites an existing case. "Within N weeks of
D" means on or before D + 7N days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum
from typing import NamedTuple

from domain.errors import InvalidInput


class Obligation(Enum):
    """Something one party owes the process."""

    PLAN_SUBMISSION = "plan_submission"
    PLAN_REVIEW = "plan_review"
    PLAN_RESUBMISSION = "plan_resubmission"
    EVIDENCE_SUBMISSION = "evidence_submission"
    FURTHER_DETAILS = "further_details"
    EVIDENCE_JUDGEMENT = "evidence_judgement"

    @property
    def owed_by(self) -> Party:
        return _OWED_BY[self]


class Party(Enum):
    """Who owes an obligation."""

    ORGANISATION = "organisation"
    LEAD_REVIEWER = "lead_reviewer"


_OWED_BY = {
    Obligation.PLAN_SUBMISSION: Party.ORGANISATION,
    Obligation.PLAN_REVIEW: Party.LEAD_REVIEWER,
    Obligation.PLAN_RESUBMISSION: Party.ORGANISATION,
    Obligation.EVIDENCE_SUBMISSION: Party.ORGANISATION,
    Obligation.FURTHER_DETAILS: Party.ORGANISATION,
    Obligation.EVIDENCE_JUDGEMENT: Party.LEAD_REVIEWER,
}


@dataclass(frozen=True)
class DeadlinePolicy:
    """Calendar days allowed for each obligation, counted from the day it arises."""

    plan_submission_days: int = 14  # guidance: plan "within 2 weeks of the site visit"
    plan_review_days: int = 14  # guidance: reviewed "within 2 weeks of receiving it"
    plan_resubmission_days: int = 14  # not in the guidance: a CES policy setting
    evidence_submission_days: int = 56  # guidance: "8 weeks" after approval
    further_details_days: int = 14  # not in the guidance: a CES policy setting
    evidence_judgement_days: int = 14  # guidance: evidence checked "within 2 weeks"

    def __post_init__(self) -> None:
        for name, days in self.__dict__.items():
            if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 366:
                raise ValueError(f"{name} must be a whole number of days from 1 to 366")

    def days_for(self, obligation: Obligation) -> int:
        return getattr(self, f"{obligation.value}_days")

    def due(self, obligation: Obligation, arises_on: date) -> date:
        return arises_on + timedelta(days=self.days_for(obligation))


class Closure(Enum):
    """How an obligation stopped being open."""

    MET = "met"
    MISSED = "missed"  # the evidence deadline passed: the case lapsed
    WITHDRAWN = "withdrawn"  # no longer needed (e.g. the lead reviewer judged without further details)


@dataclass(frozen=True)
class Deadline:
    """One obligation on one case: open from ``opened_on`` until it is closed."""

    obligation: Obligation
    opened_on: date
    due_on: date
    closed_on: date | None = None
    closure: Closure | None = None

    @property
    def owed_by(self) -> Party:
        return self.obligation.owed_by

    @property
    def is_open(self) -> bool:
        return self.closure is None

    @property
    def met_on(self) -> date | None:
        return self.closed_on if self.closure is Closure.MET else None

    def is_overdue_on(self, day: date) -> bool:
        """Overdue on ``day`` when ``day`` is after the due date and it was still open that day."""
        return day > self.due_on and (self.closed_on is None or self.closed_on > day)

    def close(self, on: date, how: Closure) -> Deadline:
        # Made directly, not with dataclasses.replace, which looks at every field each time:
        # replaying a case closes deadlines at most of its events.
        return Deadline(self.obligation, self.opened_on, self.due_on, on, how)

    def moved_to(self, due_on: date) -> Deadline:
        return Deadline(self.obligation, self.opened_on, due_on, self.closed_on, self.closure)


LOOK_AHEAD_MAX_DAYS = 366  # the most days ahead a list of upcoming deadlines looks


def last_day_ahead(on: date, days: int) -> date:
    """The last day of a look ahead of ``days`` from ``on`` (the list of deadlines falling due
    soon); InvalidInput for a negative number, more than LOOK_AHEAD_MAX_DAYS, or a day past the
    calendar's last."""
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= LOOK_AHEAD_MAX_DAYS:
        raise InvalidInput(f"days must be a whole number from 0 to {LOOK_AHEAD_MAX_DAYS}, not {days!r}.",
                           field="days")
    if (date.max - on).days < days:
        raise InvalidInput(f"{days} days after {on.isoformat()} is past the calendar's last day "
                           f"({date.max.isoformat()}).", field="days")
    return on + timedelta(days=days)


def open_deadline(deadlines: tuple[Deadline, ...], obligation: Obligation) -> Deadline | None:
    """The open instance of ``obligation``, if any (at most one is ever open)."""
    return next((d for d in deadlines if d.obligation is obligation and d.is_open), None)


def closing(
    deadlines: tuple[Deadline, ...], obligations: tuple[Obligation, ...], on: date, how: Closure
) -> tuple[Deadline, ...]:
    """Close whichever of ``obligations`` are open."""
    if not obligations:
        return deadlines
    # Replaying a case applies this once per event to every deadline the case ever had:
    # find the few open ones in one cheap pass, and copy the tuple only if there are any.
    found = [i for i, d in enumerate(deadlines) if d.closure is None and d.obligation in obligations]
    if not found:
        return deadlines
    result = list(deadlines)
    for i in found:
        result[i] = result[i].close(on, how)
    return tuple(result)


def extending(deadlines: tuple[Deadline, ...], obligation: Obligation, to: date) -> tuple[Deadline, ...]:
    return tuple(
        d.moved_to(to) if d.is_open and d.obligation is obligation else d for d in deadlines
    )


class DeadlineChanges(NamedTuple):
    """What one event does to a case's obligations: which close, which open, which move.

    Events describe this themselves, so the aggregate and the deadline read model
    apply one and the same rule. Never stored: made afresh from an event whenever it is
    applied, so an immutable tuple, which is made in half the time of a frozen dataclass
    (every command and every event of a rebuild makes one or two).
    """

    on: date
    met: tuple[Obligation, ...] = ()
    missed: tuple[Obligation, ...] = ()
    withdrawn: tuple[Obligation, ...] = ()
    opened: tuple[tuple[Obligation, date], ...] = ()
    extended: tuple[Obligation, date] | None = None

    def applied_to(self, deadlines: tuple[Deadline, ...]) -> tuple[Deadline, ...]:
        result = tuple(deadlines)
        # Most events close one kind and open one: only the calls that change something.
        if self.met:
            result = closing(result, self.met, self.on, Closure.MET)
        if self.missed:
            result = closing(result, self.missed, self.on, Closure.MISSED)
        if self.withdrawn:
            result = closing(result, self.withdrawn, self.on, Closure.WITHDRAWN)
        if self.extended is not None:
            result = extending(result, *self.extended)
        if not self.opened:
            return result
        return result + tuple([Deadline(o, self.on, due_on) for o, due_on in self.opened])
