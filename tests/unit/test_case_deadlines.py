"""Deadlines: due dates, overdue, the policy a case keeps, extensions and the deadline job."""

from datetime import date, timedelta

import pytest

from domain.case import Case
from domain.deadlines import Closure, Deadline, DeadlinePolicy, Obligation, Party, open_deadline
from domain.errors import (
    ActionOutOfOrder,
    CaseEnded,
    DeadlineNotOpen,
    DeadlineNotPassed,
    InvalidDate,
    InvalidInput,
)
from domain.status import Recommendation, Status
from tests.builders import (
    ADMIN,
    DEADLINE_JOB,
    J_SMITH,
    LEAD_REVIEWER,
    deadline_extended,
    evidence_deadline_missed,
    evidence_judged,
    evidence_submitted,
    plan_approved,
    plan_rows,
    plan_submitted,
    site_visit_held,
)
from tests.gwt import given, then

CODES = ("3.1.4", "4.2.7")
APPROVED = date(2009, 5, 15)
EVIDENCE_DUE = date(2009, 7, 10)


def awaiting_evidence(*more):
    return given(site_visit_held(CODES), plan_submitted(), plan_approved(on=APPROVED), *more)


# ---- overdue ------------------------------------------------------------------------------

DUE = date(2009, 7, 10)


def test_an_open_deadline_is_not_overdue_on_its_due_date():
    assert not Deadline(Obligation.EVIDENCE_SUBMISSION, APPROVED, DUE).is_overdue_on(DUE)


def test_an_open_deadline_is_overdue_the_day_after_its_due_date():
    assert Deadline(Obligation.EVIDENCE_SUBMISSION, APPROVED, DUE).is_overdue_on(DUE + timedelta(days=1))


def test_a_deadline_met_on_time_is_never_overdue():
    met = Deadline(Obligation.EVIDENCE_SUBMISSION, APPROVED, DUE).close(DUE, Closure.MET)
    assert not any(met.is_overdue_on(DUE + timedelta(days=n)) for n in range(-1, 30))


def test_a_deadline_met_late_was_overdue_between_its_due_date_and_the_day_it_was_met():
    met_on = DUE + timedelta(days=3)
    late = Deadline(Obligation.EVIDENCE_SUBMISSION, APPROVED, DUE).close(met_on, Closure.MET)
    assert [late.is_overdue_on(DUE + timedelta(days=n)) for n in range(5)] == [
        False, True, True, False, False,
    ]
    assert late.met_on == met_on


def test_a_deadline_closed_otherwise_than_met_has_no_met_date():
    missed = Deadline(Obligation.EVIDENCE_SUBMISSION, APPROVED, DUE).close(DUE, Closure.MISSED)
    assert (missed.is_open, missed.met_on) == (False, None)


@pytest.mark.parametrize("obligation, party", [
    (Obligation.PLAN_SUBMISSION, Party.ORGANISATION),
    (Obligation.PLAN_REVIEW, Party.LEAD_REVIEWER),
    (Obligation.PLAN_RESUBMISSION, Party.ORGANISATION),
    (Obligation.EVIDENCE_SUBMISSION, Party.ORGANISATION),
    (Obligation.FURTHER_DETAILS, Party.ORGANISATION),
    (Obligation.EVIDENCE_JUDGEMENT, Party.LEAD_REVIEWER),
])
def test_each_obligation_is_owed_by_one_party(obligation, party):
    assert Deadline(obligation, APPROVED, DUE).owed_by is party


# ---- calendar arithmetic --------------------------------------------------------------------

def test_plan_due_two_weeks_after_a_mid_february_visit_in_a_leap_year_is_the_29th():
    case = given(site_visit_held(CODES, visit_date=date(2024, 2, 15)))
    assert open_deadline(case.deadlines, Obligation.PLAN_SUBMISSION).due_on == date(2024, 2, 29)


def test_plan_due_two_weeks_after_a_mid_february_visit_in_a_common_year_is_the_28th():
    case = given(site_visit_held(CODES, visit_date=date(2025, 2, 14)))
    assert open_deadline(case.deadlines, Obligation.PLAN_SUBMISSION).due_on == date(2025, 2, 28)


def test_evidence_due_eight_weeks_after_a_new_years_eve_approval_crosses_the_year():
    case = given(site_visit_held(CODES, visit_date=date(2023, 12, 1)), plan_submitted())
    case.approve_plan(approved_on=date(2023, 12, 31), by=LEAD_REVIEWER)
    then(case, Case.PlanApproved, evidence_due_on=date(2024, 2, 25))


def test_evidence_due_eight_weeks_after_a_january_31st_approval_counts_february_29th():
    case = given(site_visit_held(CODES, visit_date=date(2024, 1, 2)), plan_submitted())
    case.approve_plan(approved_on=date(2024, 1, 31), by=LEAD_REVIEWER)
    then(case, Case.PlanApproved, evidence_due_on=date(2024, 3, 27))


def test_review_due_two_weeks_after_a_plan_received_at_a_month_end():
    case = given(site_visit_held(CODES, visit_date=date(2009, 4, 20)))
    case.submit_plan(plan_rows(*CODES), J_SMITH, signed_on=date(2009, 4, 30),
                     received_on=date(2009, 4, 30), by=ADMIN)
    then(case, Case.PlanSubmitted, review_due_on=date(2009, 5, 14))


# ---- the policy a case keeps --------------------------------------------------------------

def test_a_custom_plan_submission_period_sets_the_plan_due_date():
    case = given(site_visit_held(CODES, visit_date=date(2009, 4, 17),
                                 policy=DeadlinePolicy(plan_submission_days=21)))
    assert open_deadline(case.deadlines, Obligation.PLAN_SUBMISSION).due_on == date(2009, 5, 8)


def test_later_deadlines_follow_the_policy_recorded_at_the_site_visit():
    policy = DeadlinePolicy(plan_review_days=7, evidence_submission_days=28)
    case = given(site_visit_held(CODES, policy=policy), plan_submitted(received_on=date(2009, 5, 1)))
    assert open_deadline(case.deadlines, Obligation.PLAN_REVIEW).due_on == date(2009, 5, 8)
    case.approve_plan(approved_on=date(2009, 5, 8), by=LEAD_REVIEWER)
    then(case, Case.PlanApproved, evidence_due_on=date(2009, 6, 5))


def test_the_default_policy_is_the_guidance_durations():
    policy = DeadlinePolicy()
    assert [policy.days_for(o) for o in Obligation] == [14, 14, 14, 56, 14, 14]


@pytest.mark.parametrize("days", [0, -14, 367, "14", 14.0, None])
def test_a_policy_period_outside_one_to_366_whole_days_is_refused(days):
    with pytest.raises(ValueError):
        DeadlinePolicy(evidence_submission_days=days)


# ---- extensions ---------------------------------------------------------------------------

def test_extension_moves_an_open_deadline_and_records_why():
    case = awaiting_evidence()
    case.extend_deadline(Obligation.EVIDENCE_SUBMISSION, to=date(2009, 7, 24), reason="Bereavement.",
                         by=ADMIN, today=date(2009, 7, 1))
    then(case, Case.DeadlineExtended, obligation=Obligation.EVIDENCE_SUBMISSION,
         previous_due_on=EVIDENCE_DUE, new_due_on=date(2009, 7, 24), reason="Bereavement.",
         extended_on=date(2009, 7, 1), actor=ADMIN)
    extended = open_deadline(case.deadlines, Obligation.EVIDENCE_SUBMISSION)
    assert (extended.opened_on, extended.due_on) == (APPROVED, date(2009, 7, 24))
    assert case.status is Status.AWAITING_EVIDENCE


def test_extension_after_the_due_date_has_passed_is_allowed():
    case = awaiting_evidence()
    case.extend_deadline(Obligation.EVIDENCE_SUBMISSION, to=date(2009, 7, 31), reason="Post strike.",
                         by=ADMIN, today=date(2009, 7, 15))
    then(case, Case.DeadlineExtended, previous_due_on=EVIDENCE_DUE, new_due_on=date(2009, 7, 31))


def test_extension_keyed_in_with_a_date_before_the_last_step_is_dated_at_the_last_step():
    case = awaiting_evidence()
    case.extend_deadline(Obligation.EVIDENCE_SUBMISSION, to=date(2009, 7, 24), reason="Illness.",
                         by=ADMIN, today=date(2009, 5, 1))
    then(case, Case.DeadlineExtended, extended_on=APPROVED)


def test_a_second_extension_moves_the_deadline_from_the_extended_date():
    case = awaiting_evidence(deadline_extended(to=date(2009, 7, 24), today=date(2009, 7, 1)))
    case.extend_deadline(Obligation.EVIDENCE_SUBMISSION, to=date(2009, 8, 7), reason="Still ill.",
                         by=ADMIN, today=date(2009, 7, 20))
    then(case, Case.DeadlineExtended, previous_due_on=date(2009, 7, 24), new_due_on=date(2009, 8, 7))


def test_the_lead_reviewers_deadline_may_be_extended_too():
    case = given(site_visit_held(CODES), plan_submitted(received_on=date(2009, 5, 1)))
    case.extend_deadline(Obligation.PLAN_REVIEW, to=date(2009, 5, 22), reason="Reviewer abroad.",
                         by=ADMIN, today=date(2009, 5, 5))
    assert open_deadline(case.deadlines, Obligation.PLAN_REVIEW).due_on == date(2009, 5, 22)


@pytest.mark.parametrize("obligation", [
    Obligation.PLAN_REVIEW, Obligation.PLAN_SUBMISSION, Obligation.EVIDENCE_JUDGEMENT,
    Obligation.FURTHER_DETAILS, Obligation.PLAN_RESUBMISSION,
])
def test_extending_a_deadline_that_is_not_open_is_refused(obligation):
    case = awaiting_evidence()
    with pytest.raises(DeadlineNotOpen) as refused:
        case.extend_deadline(obligation, to=date(2009, 8, 1), reason="Why not.", by=ADMIN,
                             today=date(2009, 6, 1))
    assert refused.value.field == "obligation"
    then(case)


@pytest.mark.parametrize("to", [EVIDENCE_DUE, EVIDENCE_DUE - timedelta(days=1)])
def test_extension_to_a_date_not_later_than_the_due_date_is_refused(to):
    case = awaiting_evidence()
    with pytest.raises(InvalidDate) as refused:
        case.extend_deadline(Obligation.EVIDENCE_SUBMISSION, to=to, reason="Illness.", by=ADMIN,
                             today=date(2009, 6, 1))
    assert refused.value.field == "new_due_on"
    then(case)


@pytest.mark.parametrize("reason", ["", "   ", "r" * 4_001])
def test_extension_without_a_reason_or_with_an_overlong_one_is_refused(reason):
    case = awaiting_evidence()
    with pytest.raises(InvalidInput) as refused:
        case.extend_deadline(Obligation.EVIDENCE_SUBMISSION, to=date(2009, 7, 24), reason=reason,
                             by=ADMIN, today=date(2009, 6, 1))
    assert refused.value.field == "reason"
    then(case)


def test_extension_on_a_case_that_has_ended_is_refused():
    case = awaiting_evidence(evidence_deadline_missed())
    with pytest.raises(CaseEnded):
        case.extend_deadline(Obligation.EVIDENCE_SUBMISSION, to=date(2009, 8, 1), reason="Too late.",
                             by=ADMIN, today=date(2009, 7, 20))
    then(case)


# ---- the deadline job ----------------------------------------------------------------------

def test_evidence_deadline_is_not_missed_on_its_due_date():
    case = awaiting_evidence()
    with pytest.raises(DeadlineNotPassed) as refused:
        case.record_evidence_deadline_missed(on=EVIDENCE_DUE, by=DEADLINE_JOB)
    assert refused.value.field == "on"
    then(case)
    assert case.status is Status.AWAITING_EVIDENCE


def test_evidence_deadline_missed_the_day_after_ends_the_case_not_recommended():
    case = awaiting_evidence()
    case.record_evidence_deadline_missed(on=date(2009, 7, 11), by=DEADLINE_JOB)
    then(case, Case.EvidenceDeadlineMissed, noticed_on=date(2009, 7, 11), due_on=EVIDENCE_DUE,
         actor=DEADLINE_JOB)
    assert case.status is Status.NOT_RECOMMENDED
    assert case.outcome.recommendation is Recommendation.NOT_RECOMMENDED
    assert case.outcome.decided_on == date(2009, 7, 11)


def test_a_lapsed_case_lists_every_unmet_indicator_as_a_gap():
    case = awaiting_evidence(evidence_deadline_missed())
    assert case.outcome.gaps == CODES
    assert "2009-07-10" in case.outcome.reason


def test_a_missed_evidence_deadline_is_closed_as_missed():
    case = awaiting_evidence(evidence_deadline_missed(on=date(2009, 7, 20)))
    (evidence,) = [d for d in case.deadlines if d.obligation is Obligation.EVIDENCE_SUBMISSION]
    assert (evidence.closure, evidence.closed_on) == (Closure.MISSED, date(2009, 7, 20))
    assert not any(d.is_open for d in case.deadlines)


def test_the_evidence_deadline_is_recorded_as_missed_only_once():
    case = awaiting_evidence(evidence_deadline_missed())
    with pytest.raises(CaseEnded):
        case.record_evidence_deadline_missed(on=date(2009, 7, 12), by=DEADLINE_JOB)
    then(case)


def test_the_deadline_job_respects_an_extension():
    case = awaiting_evidence(deadline_extended(to=date(2009, 7, 24), today=date(2009, 7, 1)))
    with pytest.raises(DeadlineNotPassed):
        case.record_evidence_deadline_missed(on=date(2009, 7, 11), by=DEADLINE_JOB)
    case.record_evidence_deadline_missed(on=date(2009, 7, 25), by=DEADLINE_JOB)
    then(case, Case.EvidenceDeadlineMissed, due_on=date(2009, 7, 24))


@pytest.mark.parametrize("before", [
    [site_visit_held(CODES)],
    [site_visit_held(CODES), plan_submitted()],
    [site_visit_held(CODES), plan_submitted(), plan_approved(), evidence_submitted()],
], ids=["awaiting plan", "plan under review", "evidence received"])
def test_the_deadline_job_does_nothing_unless_evidence_is_awaited(before):
    case = given(*before)
    with pytest.raises(ActionOutOfOrder):
        case.record_evidence_deadline_missed(on=date(2010, 1, 1), by=DEADLINE_JOB)
    then(case)


def test_evidence_judged_leaves_no_open_deadline():
    case = awaiting_evidence(evidence_submitted(), evidence_judged())
    assert not any(d.is_open for d in case.deadlines)
