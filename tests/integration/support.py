"""Commands of the guidance's example case, for tests that drive the application."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from application.cases import CommandResult, QualityMarkCases
from application.commands import (
    ApprovePlan,
    AwardQualityMark,
    CommandContext,
    HoldSiteVisit,
    JudgeEvidence,
    ProvideFurtherDetails,
    RequestChanges,
    RequestFurtherDetails,
    SubmitEvidence,
    SubmitPlan,
)
from domain.participants import Actor
from tests.builders import (
    ADMIN,
    CHARITY,
    EXAMPLE_CODES,
    J_SMITH,
    LEAD_REVIEWER,
    LEAD_REVIEWER_ID,
    ORGANISATION,
    VISIT_DATE,
    changes,
    evidence_rows,
    judgements,
    on_site_report,
    plan_rows,
)

TODAY = date(2010, 1, 4)  # every date below is in the past


def ctx(actor: Actor, **guards: object) -> CommandContext:
    return CommandContext(actor, today=TODAY, **guards)  # type: ignore[arg-type]


def site_visit() -> HoldSiteVisit:
    """Site visit on 17/04/2009 with 3.1.4 and 4.2.7 unmet (the guidance's example)."""
    return HoldSiteVisit(CHARITY, 2, VISIT_DATE, LEAD_REVIEWER_ID, on_site_report(*EXAMPLE_CODES))


def submit_plan(case_id: UUID, received_on: date = date(2009, 5, 5)) -> SubmitPlan:
    return SubmitPlan(case_id, plan_rows(*EXAMPLE_CODES), J_SMITH,
                      signed_on=date(2009, 4, 30), received_on=received_on)


def approve(case_id: UUID) -> ApprovePlan:
    return ApprovePlan(case_id, date(2009, 5, 29))


def open_case_with_plan(app: QualityMarkCases) -> UUID:
    """A case at version 2: plan under review."""
    case_id = app.open_case(site_visit(), ctx(ADMIN)).case_id
    app.execute(submit_plan(case_id), ctx(ADMIN))
    return case_id


# (command factory, actor, event name, status afterwards): the whole example, in order.
EXAMPLE_JOURNEY = [
    (lambda c: submit_plan(c), ADMIN, "PlanSubmitted", "plan_under_review"),
    (lambda c: RequestChanges(c, date(2009, 5, 12), changes("4.2.7")), LEAD_REVIEWER,
     "ChangesRequested", "changes_requested"),
    (lambda c: SubmitPlan(c, plan_rows(*EXAMPLE_CODES), J_SMITH, signed_on=date(2009, 5, 20),
                          received_on=date(2009, 5, 22)), ORGANISATION,
     "PlanSubmitted", "plan_under_review"),
    (lambda c: approve(c), LEAD_REVIEWER, "PlanApproved", "awaiting_evidence"),
    (lambda c: SubmitEvidence(c, evidence_rows(*EXAMPLE_CODES), J_SMITH,
                              signed_on=date(2009, 7, 1), received_on=date(2009, 7, 3)),
     ORGANISATION, "EvidenceSubmitted", "evidence_under_review"),
    (lambda c: RequestFurtherDetails(c, date(2009, 7, 10), "Please send the board minutes."),
     LEAD_REVIEWER, "FurtherDetailsRequested", "awaiting_further_details"),
    (lambda c: ProvideFurtherDetails(c, date(2009, 7, 17), "Minutes enclosed."), ORGANISATION,
     "FurtherDetailsProvided", "evidence_under_review"),
    (lambda c: JudgeEvidence(c, date(2009, 7, 24), judgements(EXAMPLE_CODES), "All now met."),
     LEAD_REVIEWER, "EvidenceJudged", "recommended"),
    (lambda c: AwardQualityMark(c, date(2009, 8, 7)), ADMIN, "QualityMarkAwarded", "awarded"),
]


def run_example(app: QualityMarkCases) -> tuple[UUID, list[CommandResult]]:
    """Open the example case and take it all the way to the award (10 events)."""
    opened = app.open_case(site_visit(), ctx(ADMIN))
    results = [opened]
    for command, actor, _, _ in EXAMPLE_JOURNEY:
        results.append(app.execute(command(opened.case_id), ctx(actor)))
    return opened.case_id, results
