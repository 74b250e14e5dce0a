"""Example cases for `pqasso demo`: the guidance's own example and a few in other states.

Dates of the extra cases are relative to ``today`` so the deadline views always
have something due and something overdue. Every command carries an idempotency
key, so loading the demo twice records nothing new.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from uuid import UUID

from application.cases import QualityMarkCases
from application.commands import (
    ApprovePlan,
    AwardQualityMark,
    CommandContext,
    HoldSiteVisit,
    JudgeEvidence,
    RequestChanges,
    RequestFurtherDetails,
    SubmitEvidence,
    SubmitPlan,
)
from domain.indicators import UnmetIndicator
from domain.participants import Actor, Organisation, Role, Signatory
from domain.plans import EvidenceItem, EvidenceRow, IndicatorJudgement, PlanRow, RequestedChange

ADMIN = Actor("ces-demo-admin", Role.ADMIN)
J_SMITH = Signatory("J Smith", "chief_executive")

# The guidance's example improvement action plan (PQASSO 3rd edition indicators).
GUIDANCE_FINDINGS = {
    "3.1.4": "Employers' liability insurance out of date.",
    "4.2.7": "There is no documented complaints procedure.",
}
GUIDANCE_IMPROVEMENT = {
    "3.1.4": "Examine our present system for identifying legal requirements and set up a "
             "process to ensure these legal requirements are met.",
    "4.2.7": "Develop a complaints procedure.",
}
GUIDANCE_ACTION = {
    "3.1.4": "Previously unmet legal requirements have been put into place. Relevant people have "
             "been informed. Ongoing process has been established to ensure legal requirements "
             "are up-to-date.",
    "4.2.7": "Complaints procedure developed and communicated to staff.",
}
GUIDANCE_EVIDENCE = {
    "3.1.4": "Copy of employers' liability certificate.",
    "4.2.7": "Documented complaints procedure.",
}


@dataclass(frozen=True)
class DemoCase:
    title: str
    case_id: UUID
    status: str


def plan_rows(findings: dict[str, str], improvement: dict[str, str] | None = None) -> tuple[PlanRow, ...]:
    improvement = improvement or {}
    return tuple(
        PlanRow(code, text, improvement.get(code, f"Put right what the peer reviewers found for {code}."))
        for code, text in findings.items()
    )


def evidence_rows(codes: list[str]) -> tuple[EvidenceRow, ...]:
    return tuple(
        EvidenceRow(
            code, GUIDANCE_ACTION.get(code, f"Actions for {code} completed and recorded."),
            (EvidenceItem(GUIDANCE_EVIDENCE.get(code, f"Records for {code}.")),),
        )
        for code in codes
    )


class _Loader:
    def __init__(self, app: QualityMarkCases, today: date) -> None:
        self.app, self.today, self.step = app, today, 0

    def ctx(self, key: str, actor: Actor = ADMIN) -> CommandContext:
        return CommandContext(actor, today=self.today, idempotency_key=f"demo:{key}", request_hash="demo")

    def open(self, key: str, org: Organisation, level: int, visit: date, reviewer: str,
             findings: dict[str, str]) -> UUID:
        unmet = tuple(UnmetIndicator(code, text) for code, text in findings.items())
        cmd = HoldSiteVisit(org, level, visit, reviewer, unmet)
        return self.app.open_case(cmd, self.ctx(f"{key}:visit")).case_id

    def run(self, key: str, cmd, actor: Actor = ADMIN) -> None:  # noqa: ANN001 - any case command
        self.app.execute(cmd, self.ctx(f"{key}:{type(cmd).__name__}:{self.step}", actor))
        self.step += 1


def load_demo(app: QualityMarkCases, today: date | None = None) -> list[DemoCase]:
    """Record the demo cases (again: nothing new) and say where each one stands."""
    today = today or date.today()
    loader = _Loader(app, today)
    cases = [(title, build(loader, today)) for title, build in _SCENARIOS]
    return [DemoCase(title, case_id, app.get_case(case_id).status.value) for title, case_id in cases]


def _guidance_example(d: _Loader, today: date) -> UUID:
    # The guidance's example: plan signed 30/04/2009, evidence signed 30/07/2009 by J Smith.
    reviewer = Actor("reviewer-ahmed", Role.LEAD_REVIEWER)
    case = d.open("guidance", Organisation("org-example-trust", "Example Community Trust"), 2,
                  date(2009, 4, 17), "reviewer-ahmed", GUIDANCE_FINDINGS)
    rows = plan_rows(GUIDANCE_FINDINGS, GUIDANCE_IMPROVEMENT)
    d.run("guidance", SubmitPlan(case, rows, J_SMITH, date(2009, 4, 30), date(2009, 5, 1)))
    d.run("guidance", RequestChanges(case, date(2009, 5, 12), (RequestedChange(
        "3.1.4", "Say who will check the legal requirements, and how often."),)), reviewer)
    d.run("guidance", SubmitPlan(case, rows, J_SMITH, date(2009, 5, 20), date(2009, 5, 22)))
    d.run("guidance", ApprovePlan(case, date(2009, 6, 5)), reviewer)
    d.run("guidance", SubmitEvidence(case, evidence_rows(list(GUIDANCE_FINDINGS)), J_SMITH,
                                     date(2009, 7, 30), date(2009, 7, 31)))
    d.run("guidance", JudgeEvidence(case, date(2009, 8, 10), tuple(
        IndicatorJudgement(code, True, "Evidence shows the indicator is now met.") for code in GUIDANCE_FINDINGS
    ), "Both improvement actions were carried out and evidenced; recommend the Quality Mark."), reviewer)
    d.run("guidance", AwardQualityMark(case, date(2009, 8, 20)))
    return case


def _overdue_plan(d: _Loader, today: date) -> UUID:
    findings = {"5.2.7": "Some staff do not receive annual appraisals."}
    return d.open("overdue-plan", Organisation("org-riverside", "Riverside Advice Centre"), 2,
                  today - timedelta(days=20), "reviewer-bell", findings)


def _plan_under_review(d: _Loader, today: date) -> UUID:
    findings = {"2.1.3": "Trustees have not reviewed the governing document.",
                "7.2.1": "Budgets are not monitored monthly."}
    case = d.open("plan-review", Organisation("org-hillside", "Hillside Youth Project"), 2,
                  today - timedelta(days=40), "reviewer-bell", findings)
    d.run("plan-review", SubmitPlan(case, plan_rows(findings), J_SMITH,
                                    today - timedelta(days=30), today - timedelta(days=28)))
    return case


def _awaiting_evidence(d: _Loader, today: date, *, key: str, approved_days_ago: int,
                       org: Organisation) -> UUID:
    findings = {"11.1.2": "Outcomes are not recorded consistently."}
    visit = today - timedelta(days=approved_days_ago + 25)
    case = d.open(key, org, 1, visit, "reviewer-chen", findings)
    d.run(key, SubmitPlan(case, plan_rows(findings), J_SMITH, visit + timedelta(days=5),
                          visit + timedelta(days=7)))
    d.run(key, ApprovePlan(case, today - timedelta(days=approved_days_ago)),
          Actor("reviewer-chen", Role.LEAD_REVIEWER))
    return case


def _further_details(d: _Loader, today: date) -> UUID:
    reviewer = Actor("reviewer-chen", Role.LEAD_REVIEWER)
    case = _awaiting_evidence(d, today, key="details", approved_days_ago=40,
                              org=Organisation("org-meadow", "Meadow Carers Network"))
    d.run("details", SubmitEvidence(case, evidence_rows(["11.1.2"]), J_SMITH,
                                    today - timedelta(days=12), today - timedelta(days=10)))
    d.run("details", RequestFurtherDetails(case, today - timedelta(days=3),
                                           "Please send last quarter's outcome records."), reviewer)
    return case


def _nothing_unmet(d: _Loader, today: date) -> UUID:
    return d.open("all-met", Organisation("org-lantern", "Lantern Literacy Trust"), 3,
                  today - timedelta(days=5), "reviewer-ahmed", {})


def _not_recommended(d: _Loader, today: date) -> UUID:
    reviewer = Actor("reviewer-ahmed", Role.LEAD_REVIEWER)
    findings = {"6.1.1": "No training plan.", "9.2.4": "Website out of date."}
    visit = today - timedelta(days=120)
    case = d.open("gaps", Organisation("org-oakfield", "Oakfield Food Bank"), 2, visit,
                  "reviewer-ahmed", findings)
    d.run("gaps", SubmitPlan(case, plan_rows(findings), J_SMITH, visit + timedelta(days=9),
                             visit + timedelta(days=10)))
    d.run("gaps", ApprovePlan(case, visit + timedelta(days=20)), reviewer)
    d.run("gaps", SubmitEvidence(case, evidence_rows(list(findings)), J_SMITH,
                                 visit + timedelta(days=60), visit + timedelta(days=62)))
    d.run("gaps", JudgeEvidence(case, visit + timedelta(days=70), (
        IndicatorJudgement("6.1.1", True, "Training plan adopted by the board."),
        IndicatorJudgement("9.2.4", False, "The website still shows 2019 services."),
    ), "One indicator remains unmet; cannot recommend."), reviewer)
    return case


_SCENARIOS: list[tuple[str, Callable[[_Loader, date], UUID]]] = [
    ("The guidance's example (3.1.4, 4.2.7): recommended and awarded", _guidance_example),
    ("Plan overdue", _overdue_plan),
    ("Plan under review, review overdue", _plan_under_review),
    ("Evidence due in 16 days", lambda d, t: _awaiting_evidence(
        d, t, key="evidence-due", approved_days_ago=40, org=Organisation("org-brook", "Brook Street Lunch Club"))),
    ("Evidence overdue (the deadline job will lapse it)", lambda d, t: _awaiting_evidence(
        d, t, key="evidence-late", approved_days_ago=60, org=Organisation("org-castle", "Castle Gate Counselling"))),
    ("Evidence under review, further details requested", _further_details),
    ("No indicator unmet: recommended at once", _nothing_unmet),
    ("Evidence judged with gaps: not recommended", _not_recommended),
]


def iter_titles() -> Iterator[str]:
    return (title for title, _ in _SCENARIOS)
