"""Where a case stands, and how it ended."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import Enum


class Status(Enum):
    """The stage a case has reached."""

    AWAITING_PLAN = "awaiting_plan"
    PLAN_UNDER_REVIEW = "plan_under_review"
    CHANGES_REQUESTED = "changes_requested"
    AWAITING_EVIDENCE = "awaiting_evidence"
    EVIDENCE_UNDER_REVIEW = "evidence_under_review"
    AWAITING_FURTHER_DETAILS = "awaiting_further_details"
    RECOMMENDED = "recommended"
    NOT_RECOMMENDED = "not_recommended"
    AWARDED = "awarded"

    @property
    def has_ended(self) -> bool:
        """Nothing more happens to a case that was not recommended or was awarded."""
        return self in (Status.NOT_RECOMMENDED, Status.AWARDED)

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    Status.AWAITING_PLAN: "is waiting for the organisation's improvement action plan",
    Status.PLAN_UNDER_REVIEW: "has a plan waiting for the lead reviewer's review",
    Status.CHANGES_REQUESTED: "is waiting for the organisation's revised plan",
    Status.AWAITING_EVIDENCE: "is waiting for the organisation's evidence",
    Status.EVIDENCE_UNDER_REVIEW: "has evidence waiting for the lead reviewer's judgement",
    Status.AWAITING_FURTHER_DETAILS: "is waiting for further details from the organisation",
    Status.RECOMMENDED: "has been recommended for the Quality Mark",
    Status.NOT_RECOMMENDED: "has ended: the organisation was not recommended",
    Status.AWARDED: "has ended: the Quality Mark was awarded",
}


class Recommendation(Enum):
    """The lead reviewer's recommendation to CES."""

    RECOMMENDED = "recommended"
    NOT_RECOMMENDED = "not_recommended"


@dataclass(frozen=True)
class Outcome:
    """The recommendation, when it was reached, why, and the indicators still not met."""

    recommendation: Recommendation
    decided_on: date
    reason: str
    gaps: tuple[str, ...] = ()
