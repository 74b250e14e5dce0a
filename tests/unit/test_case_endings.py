"""Steps 7 and 8, and the rule that nothing happens after a case has ended."""

from datetime import date

import pytest

from domain.case import Case
from domain.deadlines import Obligation
from domain.errors import ActionOutOfOrder, CaseEnded, InvalidDate
from domain.status import Recommendation, Status
from tests.builders import (
    ADMIN,
    DEADLINE_JOB,
    J_SMITH,
    LEAD_REVIEWER,
    ORGANISATION,
    changes,
    evidence_deadline_missed,
    evidence_judged,
    evidence_rows,
    evidence_submitted,
    further_details_requested,
    judgements,
    plan_approved,
    plan_rows,
    plan_submitted,
    quality_mark_awarded,
    site_visit_held,
)
from tests.gwt import given, then

CODES = ("3.1.4", "4.2.7")
LATER = date(2010, 1, 4)

EVERY_COMMAND = {
    "submit_plan": lambda case: case.submit_plan(
        plan_rows(*CODES), J_SMITH, signed_on=LATER, received_on=LATER, by=ADMIN),
    "request_changes": lambda case: case.request_changes(
        changes("3.1.4"), requested_on=LATER, by=LEAD_REVIEWER),
    "approve_plan": lambda case: case.approve_plan(approved_on=LATER, by=LEAD_REVIEWER),
    "submit_evidence": lambda case: case.submit_evidence(
        evidence_rows(*CODES), J_SMITH, signed_on=LATER, received_on=LATER, by=ADMIN),
    "request_further_details": lambda case: case.request_further_details(
        "More?", requested_on=LATER, by=LEAD_REVIEWER),
    "provide_further_details": lambda case: case.provide_further_details(
        "More.", received_on=LATER, by=ORGANISATION),
    "judge_evidence": lambda case: case.judge_evidence(
        judgements(CODES), "Report.", judged_on=LATER, by=LEAD_REVIEWER),
    "record_evidence_deadline_missed": lambda case: case.record_evidence_deadline_missed(
        on=LATER, by=DEADLINE_JOB),
    "award_quality_mark": lambda case: case.award_quality_mark(awarded_on=LATER, by=ADMIN),
    "extend_deadline": lambda case: case.extend_deadline(
        Obligation.EVIDENCE_SUBMISSION, to=LATER, reason="Late.", by=ADMIN, today=LATER),
}
ENDINGS = {
    "not recommended": [site_visit_held(CODES), plan_submitted(), plan_approved(),
                        evidence_submitted(), evidence_judged(met={"3.1.4"})],
    "lapsed": [site_visit_held(CODES), plan_submitted(), plan_approved(), evidence_deadline_missed()],
    "awarded": [site_visit_held(CODES), plan_submitted(), plan_approved(), evidence_submitted(),
                evidence_judged(), quality_mark_awarded()],
    "awarded at the visit": [site_visit_held([]), quality_mark_awarded()],
}


@pytest.mark.parametrize("ending", ENDINGS)
@pytest.mark.parametrize("command", EVERY_COMMAND)
def test_nothing_happens_after_the_case_has_ended(ending, command):
    case = given(*ENDINGS[ending])
    before = dict(vars(case))
    with pytest.raises(CaseEnded) as refused:
        EVERY_COMMAND[command](case)
    assert refused.value.case_id == case.id
    then(case)
    assert vars(case) == before


def test_case_ended_is_a_kind_of_action_out_of_order():
    assert issubclass(CaseEnded, ActionOutOfOrder)


def test_case_ended_says_how_the_case_ended():
    case = given(*ENDINGS["lapsed"])
    with pytest.raises(CaseEnded, match="not recommended") as refused:
        case.approve_plan(approved_on=LATER, by=LEAD_REVIEWER)
    assert refused.value.status == "not_recommended"


# ---- Quality Mark awarded -----------------------------------------------------------------

def test_quality_mark_awarded_on_a_recommendation_ends_the_case():
    case = given(site_visit_held(CODES), plan_submitted(), plan_approved(), evidence_submitted(),
                 evidence_judged(on=date(2009, 6, 20)))
    case.award_quality_mark(awarded_on=date(2009, 7, 1), by=ADMIN)
    then(case, Case.QualityMarkAwarded, awarded_on=date(2009, 7, 1), actor=ADMIN)
    assert (case.status, case.awarded_on) == (Status.AWARDED, date(2009, 7, 1))
    assert case.outcome.recommendation is Recommendation.RECOMMENDED


def test_quality_mark_may_be_awarded_to_a_case_closed_at_the_visit():
    case = given(site_visit_held([], visit_date=date(2009, 4, 17)))
    case.award_quality_mark(awarded_on=date(2009, 5, 1), by=ADMIN)
    then(case, Case.QualityMarkAwarded, awarded_on=date(2009, 5, 1))


@pytest.mark.parametrize("before", [
    [site_visit_held(CODES)],
    [site_visit_held(CODES), plan_submitted()],
    [site_visit_held(CODES), plan_submitted(), plan_approved()],
    [site_visit_held(CODES), plan_submitted(), plan_approved(), evidence_submitted()],
    [site_visit_held(CODES), plan_submitted(), plan_approved(), evidence_submitted(),
     further_details_requested()],
], ids=["awaiting plan", "plan under review", "awaiting evidence", "evidence under review",
        "awaiting further details"])
def test_quality_mark_without_a_recommendation_is_refused(before):
    case = given(*before)
    with pytest.raises(ActionOutOfOrder) as refused:
        case.award_quality_mark(awarded_on=LATER, by=ADMIN)
    assert not isinstance(refused.value, CaseEnded)
    then(case)


def test_quality_mark_for_an_organisation_not_recommended_is_refused():
    case = given(*ENDINGS["not recommended"])
    with pytest.raises(CaseEnded):
        case.award_quality_mark(awarded_on=LATER, by=ADMIN)
    then(case)


def test_quality_mark_awarded_before_the_recommendation_is_refused():
    case = given(site_visit_held(CODES), plan_submitted(), plan_approved(), evidence_submitted(),
                 evidence_judged(on=date(2009, 6, 20)))
    with pytest.raises(InvalidDate) as refused:
        case.award_quality_mark(awarded_on=date(2009, 6, 19), by=ADMIN)
    assert refused.value.field == "awarded_on"
    then(case)


def test_quality_mark_awarded_in_the_future_is_refused():
    case = given(site_visit_held([], visit_date=date(2009, 4, 17)))
    with pytest.raises(InvalidDate):
        case.award_quality_mark(awarded_on=date(2009, 5, 2), by=ADMIN, today=date(2009, 5, 1))
    then(case)
