"""Builders for a case's events, with the guidance's example as defaults.

Each builder returns a *step*: a function that runs the real command on a scratch
case rebuilt from the events before it and returns the one event the domain
produced. So every given event is one the domain really produces, with the right
id, version and topic. ``tests.gwt.given`` resolves steps in order; ``events()``
does the same for a test that wants the event objects themselves.

Dates left out default to one week after the case's last recorded step, so the
defaults always make a valid timeline; a test that is about a date passes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta

from domain.case import Case
from domain.deadlines import DeadlinePolicy, Obligation, open_deadline
from domain.indicators import UnmetIndicator
from domain.participants import Actor, Organisation, Role, Signatory, SignatoryPosition
from domain.plans import EvidenceItem, EvidenceRow, IndicatorJudgement, PlanRow, RequestedChange

ADMIN = Actor("ces-admin-1", Role.ADMIN)
LEAD_REVIEWER = Actor("reviewer-1", Role.LEAD_REVIEWER)
ORGANISATION = Actor("org-1", Role.ORGANISATION)
DEADLINE_JOB = Actor("deadline-job", Role.SYSTEM)
CHARITY = Organisation("org-1", "Riverside Community Trust")
LEAD_REVIEWER_ID = LEAD_REVIEWER.principal
J_SMITH = Signatory("J Smith", SignatoryPosition.CHIEF_EXECUTIVE)
CHAIR = Signatory("A Patel", SignatoryPosition.CHAIR)

# The guidance's example improvement action plan (seeds/000_a03b1eb3c03ae734.txt).
EXAMPLE = {
    "3.1.4": {
        "findings": "Employers' liability insurance out of date.",
        "improvement_required": (
            "Examine our present system for identifying legal requirements and set up a "
            "process to ensure these legal requirements are met."
        ),
        "action_undertaken": (
            "Previously unmet legal requirements have been put into place. Relevant people "
            "have been informed. Ongoing process has been established to ensure legal "
            "requirements are up-to-date."
        ),
        "evidence": "Copy of employers' liability certificate.",
    },
    "4.2.7": {
        "findings": "There is no documented complaints procedure.",
        "improvement_required": "Develop a complaints procedure.",
        "action_undertaken": "Complaints procedure developed and communicated to staff.",
        "evidence": "Documented complaints procedure.",
    },
}
EXAMPLE_CODES = ("3.1.4", "4.2.7")
VISIT_DATE = date(2009, 4, 17)  # so the plan signed 30/04/2009 in the example is on time
STEP = timedelta(days=7)

Step = Callable[[Case | None], Case.Event]


def _text(code: str, column: str) -> str:
    return EXAMPLE.get(code, {}).get(column) or f"{column.replace('_', ' ').capitalize()} for {code}."


# ---- rows for commands ------------------------------------------------------------------

def on_site_report(*codes: str) -> tuple[UnmetIndicator, ...]:
    """On-site Report rows, with the example's findings where it has them."""
    return tuple(UnmetIndicator(code, _text(code.strip(), "findings")) for code in codes)


def plan_rows(*codes: str) -> tuple[PlanRow, ...]:
    return tuple(
        PlanRow(code, _text(code.strip(), "findings"), _text(code.strip(), "improvement_required"))
        for code in codes
    )


def evidence_rows(*codes: str) -> tuple[EvidenceRow, ...]:
    return tuple(
        EvidenceRow(code, _text(code.strip(), "action_undertaken"),
                    (EvidenceItem(_text(code.strip(), "evidence")),))
        for code in codes
    )


def judgements(codes: Iterable[str], met: Iterable[str] | None = None) -> tuple[IndicatorJudgement, ...]:
    """One judgement per code: met when in ``met`` (all when ``met`` is None)."""
    codes = tuple(codes)
    met = set(codes if met is None else met)
    return tuple(
        IndicatorJudgement(code, code in met, "Now met." if code in met else "Still a gap.")
        for code in codes
    )


def changes(*codes: str) -> tuple[RequestedChange, ...]:
    return tuple(RequestedChange(code, f"Say who does what by when for {code}.") for code in codes)


# ---- steps ------------------------------------------------------------------------------

def _step(command: Callable[[Case], object]) -> Step:
    def run(case: Case | None) -> Case.Event:
        assert case is not None, "a case starts with site_visit_held()"
        command(case)
        (produced,) = case.collect_events()
        return produced
    return run


def _next_day(case: Case, day: date | None) -> date:
    return day if day is not None else case.last_activity_on + STEP


def _codes(case: Case) -> tuple[str, ...]:
    return tuple(row.indicator for row in case.unmet_indicators)


def site_visit_held(
    unmet: Iterable[str | UnmetIndicator] = EXAMPLE_CODES, *, level: int = 2,
    visit_date: date = VISIT_DATE, policy: DeadlinePolicy | None = None,
    organisation: Organisation = CHARITY, lead_reviewer: str = LEAD_REVIEWER_ID, by: Actor = ADMIN,
) -> Step:
    report = tuple(row if isinstance(row, UnmetIndicator) else on_site_report(row)[0] for row in unmet)

    def run(case: Case | None) -> Case.Event:
        assert case is None, "site_visit_held() opens the case: put it first"
        opened = Case.hold_site_visit(
            organisation=organisation, level=level, visit_date=visit_date, lead_reviewer=lead_reviewer,
            unmet_indicators=report, policy=policy or DeadlinePolicy(), by=by,
        )
        (produced,) = opened.collect_events()
        return produced
    return run


def plan_submitted(
    rows: Iterable[str | PlanRow] | None = None, *, signed_on: date | None = None,
    received_on: date | None = None, signed_by: Signatory = J_SMITH, by: Actor = ADMIN,
) -> Step:
    def command(case: Case) -> None:
        received = _next_day(case, received_on)
        plan = plan_rows(*_codes(case)) if rows is None else tuple(
            r if isinstance(r, PlanRow) else plan_rows(r)[0] for r in rows)
        case.submit_plan(plan, signed_by, signed_on=signed_on or received - timedelta(days=1),
                         received_on=received, by=by)
    return _step(command)


def changes_requested(
    indicators: Iterable[str] | None = None, *, on: date | None = None, by: Actor = LEAD_REVIEWER
) -> Step:
    def command(case: Case) -> None:
        codes = _codes(case)[:1] if indicators is None else tuple(indicators)
        case.request_changes(changes(*codes), requested_on=_next_day(case, on), by=by)
    return _step(command)


def plan_approved(*, on: date | None = None, by: Actor = LEAD_REVIEWER) -> Step:
    return _step(lambda case: case.approve_plan(approved_on=_next_day(case, on), by=by))


def evidence_submitted(
    rows: Iterable[str | EvidenceRow] | None = None, *, signed_on: date | None = None,
    received_on: date | None = None, signed_by: Signatory = J_SMITH, by: Actor = ADMIN,
) -> Step:
    def command(case: Case) -> None:
        received = _next_day(case, received_on)
        sent = evidence_rows(*_codes(case)) if rows is None else tuple(
            r if isinstance(r, EvidenceRow) else evidence_rows(r)[0] for r in rows)
        case.submit_evidence(sent, signed_by, signed_on=signed_on or received - timedelta(days=1),
                             received_on=received, by=by)
    return _step(command)


def further_details_requested(
    request: str = "Please send the minutes approving the procedure.", *,
    on: date | None = None, by: Actor = LEAD_REVIEWER,
) -> Step:
    return _step(lambda case: case.request_further_details(
        request, requested_on=_next_day(case, on), by=by))


def further_details_provided(
    details: str = "Minutes of the board meeting enclosed.", *,
    on: date | None = None, by: Actor = ORGANISATION,
) -> Step:
    return _step(lambda case: case.provide_further_details(
        details, received_on=_next_day(case, on), by=by))


def evidence_judged(
    met: Iterable[str] | Mapping[str, bool] | None = None, *, on: date | None = None,
    report: str = "Report on the improvement actions.", by: Actor = LEAD_REVIEWER,
) -> Step:
    """``met``: the indicators now met (all when None); the others are gaps."""
    if isinstance(met, Mapping):
        met = [code for code, ok in met.items() if ok]

    def command(case: Case) -> None:
        case.judge_evidence(judgements(_codes(case), met), report, judged_on=_next_day(case, on), by=by)
    return _step(command)


def evidence_deadline_missed(*, on: date | None = None, by: Actor = DEADLINE_JOB) -> Step:
    """The deadline job; ``on`` defaults to the day after the evidence was due."""
    def command(case: Case) -> None:
        due = open_deadline(case.deadlines, Obligation.EVIDENCE_SUBMISSION)
        day = on or (due.due_on + timedelta(days=1) if due else case.last_activity_on)
        case.record_evidence_deadline_missed(on=day, by=by)
    return _step(command)


def quality_mark_awarded(*, on: date | None = None, by: Actor = ADMIN) -> Step:
    return _step(lambda case: case.award_quality_mark(awarded_on=_next_day(case, on), by=by))


def deadline_extended(
    obligation: Obligation = Obligation.EVIDENCE_SUBMISSION, *, to: date | None = None,
    reason: str = "The chief executive was on sick leave.", today: date | None = None,
    by: Actor = ADMIN,
) -> Step:
    """``to`` defaults to two weeks after the current due date; ``today`` to the last step."""
    def command(case: Case) -> None:
        due = open_deadline(case.deadlines, obligation)
        new_due = to or (due.due_on + timedelta(days=14) if due else case.last_activity_on)
        case.extend_deadline(obligation, to=new_due, reason=reason, by=by,
                             today=today or case.last_activity_on)
    return _step(command)


# ---- resolving steps into events --------------------------------------------------------

def replay(events: Iterable[Case.Event]) -> Case | None:
    """The case the events describe, rebuilt the way a repository does."""
    case = None
    for past in events:
        case = past.mutate(case)
    return case


def events(*steps: Step | Case.Event) -> list[Case.Event]:
    """The events of the steps, each produced by the real command after the ones before."""
    produced: list[Case.Event] = []
    for step in steps:
        produced.append(step if isinstance(step, Case.Event) else step(replay(produced)))
    return produced
