"""Response bodies, so that /openapi.json describes every field the API answers with.

Extra fields are let through: ``application.views`` may add to a case's picture
without this module dropping it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.deadlines import Obligation, Party
from domain.participants import Role, SignatoryPosition
from domain.status import Recommendation, Status


class Answer(BaseModel):
    model_config = ConfigDict(extra="allow", from_attributes=True)


def _(description: str, **kwargs: Any) -> Any:
    return Field(description=description, **kwargs)


CASE_ID = "The case's id."
DAY = "A date, YYYY-MM-DD."


class CommandAnswer(Answer):
    """What a command answers: the case and its version after the command."""

    case_id: UUID = _(CASE_ID)
    version: int = _("The case's version (number of events) after the command.", examples=[2])


class OrganisationOut(Answer):
    id: str = _("The organisation's id.", examples=["org-1"])
    name: str = _("The organisation's name.", examples=["Riverside Community Trust"])


class DeadlineOut(Answer):
    obligation: Obligation = _("What is owed.")
    owed_by: Party = _("Who owes it.")
    opened_on: date = _("When the obligation arose.")
    due_on: date = _("When it is due (after any extension).")
    met_on: date | None = _("When it was met; null while open, missed or withdrawn.")
    closed_on: date | None = _("When it stopped being open, however that happened.", default=None)
    state: Literal["open", "met", "missed", "withdrawn"] = _("Where the obligation stands.", default="open")


class OutcomeOut(Answer):
    recommendation: Recommendation = _("The recommendation reached.")
    decided_on: date = _("When it was reached.")
    reason: str = _("Why.")
    gaps: list[str] = _("Indicators still not met.")


class UnmetIndicatorOut(Answer):
    indicator: str = _("The indicator not met at the site visit.", examples=["4.2.7"])
    findings: str = _("The peer reviewers' findings (On-site Report).")


class SignatoryOut(Answer):
    name: str = _("Who signed.", examples=["J Smith"])
    position: SignatoryPosition = _("Their position: chief executive or chair.")


class PlanOut(Answer):
    rows: list[dict[str, Any]] = _("One row per unmet indicator: indicator, findings, improvement_required.")
    signed_by: SignatoryOut | None = _("Who signed the plan.")
    submissions: int = _("How many times a plan was submitted (revisions count).")


class EvidenceOut(Answer):
    rows: list[dict[str, Any]] = _("Per indicator: indicator, action_undertaken, evidence [{title, content_hash}].")
    signed_by: SignatoryOut | None = _("Who signed the evidence.")


class FurtherDetailsOut(Answer):
    request: str = _("What the lead reviewer asked for.")
    answer: str | None = _("The organisation's answer; null while awaited.")


class CaseState(Answer):
    """A case as it stands now, or after its first ``version`` events."""

    case_id: UUID = _(CASE_ID)
    version: int = _("How many events the case has (or had, for ?version=N).")
    organisation: OrganisationOut = _("The organisation assessed.")
    level: int = _("The PQASSO level assessed (1-3).")
    lead_reviewer: str = _("The lead reviewer's id.")
    visit_date: date = _("The site visit's date.")
    status: Status = _("The stage the case has reached.")
    unmet_indicators: list[UnmetIndicatorOut] = _("The On-site Report's unmet indicators.")
    deadlines: list[DeadlineOut] = _("Every obligation so far, open or closed.")
    outcome: OutcomeOut | None = _("The recommendation; null until reached.")
    plan: PlanOut | None = _("The latest plan; null until one is submitted.", default=None)
    requested_changes: list[dict[str, Any]] = _("The latest changes requested: indicator, comment.", default_factory=list)
    evidence: EvidenceOut | None = _("The evidence; null until submitted.", default=None)
    further_details: list[FurtherDetailsOut] = _("Requests for further details and answers.", default_factory=list)
    judgements: list[dict[str, Any]] = _("Per indicator: indicator, met, comment.", default_factory=list)
    report: str | None = _("The lead reviewer's report on the improvement actions.", default=None)
    awarded_on: date | None = _("When the Quality Mark was awarded.", default=None)
    policy: dict[str, int] = _("Days allowed per obligation, as when the case opened.", default_factory=dict)
    created_at: datetime | None = _("When the case was recorded.", default=None)
    modified_at: datetime | None = _("When the case last changed.", default=None)


class ActorOut(Answer):
    principal: str = _("Who acted: reviewer, organisation or staff id.")
    role: Role = _("The role they acted in.")


class HistoryItem(Answer):
    """One recorded event, as an auditor reads it."""

    version: int = _("The case's version after this event (1 for the first).")
    type: str = _("The event's name.", examples=["PlanSubmitted"])
    recorded_at: datetime = _("When it was recorded.")
    actor: ActorOut = _("Who recorded it.")
    data: dict[str, Any] = _("The event's facts.")


class DeadlineItem(Answer):
    case_id: UUID = _(CASE_ID)
    organisation: OrganisationOut = _("The case's organisation.")
    obligation: Obligation = _("What is owed.")
    owed_by: Party = _("Who owes it.")
    due_on: date = _("When it is due.")
    lead_reviewer: str = _("The case's lead reviewer.")


class OverdueItem(DeadlineItem):
    """An obligation still open after its due date."""

    days_overdue: int = _("Days since the due date.", ge=1)


class UpcomingItem(DeadlineItem):
    """An open obligation falling due soon."""

    days_left: int = _("Days until the due date.", ge=0)


class ProjectionStatus(Answer):
    name: str = _("The read model.")
    position: int | None = _("The last event the read model has processed.")
    head: int | None = _("The last event recorded.")
    lag: int | None = _("Events recorded but not yet in the read model.")


class Health(Answer):
    status: Literal["ok"] = _("The service answers.")
    database: Literal["ok"] = _("The database answers.")
    projections: list[ProjectionStatus] = _("Each read model's lag behind the event store.")
