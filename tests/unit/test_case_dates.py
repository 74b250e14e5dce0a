"""Dates are real calendar dates, and steps are recorded in the order they happened."""

from datetime import date, datetime

import pytest

from domain.deadlines import Obligation
from domain.errors import InvalidDate
from tests.builders import (
    ADMIN,
    DEADLINE_JOB,
    J_SMITH,
    LEAD_REVIEWER,
    ORGANISATION,
    changes,
    deadline_extended,
    evidence_rows,
    evidence_submitted,
    further_details_requested,
    judgements,
    plan_approved,
    plan_rows,
    plan_submitted,
    site_visit_held,
)
from tests.gwt import given, then

CODES = ("3.1.4", "4.2.7")
GOOD = date(2009, 7, 1)
NOT_DATES = {"text": "2009-07-01", "datetime": datetime(2009, 7, 1, 9, 30), "none": None}
AWAITING_PLAN = [site_visit_held(CODES)]
UNDER_REVIEW = [*AWAITING_PLAN, plan_submitted()]
AWAITING_EVIDENCE = [*UNDER_REVIEW, plan_approved(on=date(2009, 5, 15))]
EVIDENCE_IN = [*AWAITING_EVIDENCE, evidence_submitted(received_on=date(2009, 6, 1))]

DATED_COMMANDS = {  # (the case it meets, the command with one date replaced, the field named)
    "plan signed_on": (AWAITING_PLAN, lambda case, d: case.submit_plan(
        plan_rows(*CODES), J_SMITH, signed_on=d, received_on=GOOD, by=ADMIN), "signed_on"),
    "plan received_on": (AWAITING_PLAN, lambda case, d: case.submit_plan(
        plan_rows(*CODES), J_SMITH, signed_on=date(2009, 4, 30), received_on=d, by=ADMIN),
        "received_on"),
    "changes requested_on": (UNDER_REVIEW, lambda case, d: case.request_changes(
        changes("3.1.4"), requested_on=d, by=LEAD_REVIEWER), "requested_on"),
    "approved_on": (UNDER_REVIEW, lambda case, d: case.approve_plan(
        approved_on=d, by=LEAD_REVIEWER), "approved_on"),
    "evidence received_on": (AWAITING_EVIDENCE, lambda case, d: case.submit_evidence(
        evidence_rows(*CODES), J_SMITH, signed_on=date(2009, 5, 20), received_on=d, by=ADMIN),
        "received_on"),
    "further details requested_on": (EVIDENCE_IN, lambda case, d: case.request_further_details(
        "More?", requested_on=d, by=LEAD_REVIEWER), "requested_on"),
    "further details received_on": ([*EVIDENCE_IN, further_details_requested()],
                                    lambda case, d: case.provide_further_details(
                                        "More.", received_on=d, by=ORGANISATION), "received_on"),
    "judged_on": (EVIDENCE_IN, lambda case, d: case.judge_evidence(
        judgements(CODES), "Report.", judged_on=d, by=LEAD_REVIEWER), "judged_on"),
    "deadline missed on": (AWAITING_EVIDENCE, lambda case, d: case.record_evidence_deadline_missed(
        on=d, by=DEADLINE_JOB), "on"),
    "extension new due date": (AWAITING_EVIDENCE, lambda case, d: case.extend_deadline(
        Obligation.EVIDENCE_SUBMISSION, to=d, reason="Illness.", by=ADMIN, today=GOOD),
        "new_due_on"),
    "extension today": (AWAITING_EVIDENCE, lambda case, d: case.extend_deadline(
        Obligation.EVIDENCE_SUBMISSION, to=date(2009, 8, 1), reason="Illness.", by=ADMIN, today=d),
        "today"),
}


@pytest.mark.parametrize("value", NOT_DATES.values(), ids=NOT_DATES)
@pytest.mark.parametrize("command", DATED_COMMANDS)
def test_a_date_that_is_not_a_calendar_date_is_refused_clearly(command, value):
    before, run, field = DATED_COMMANDS[command]
    case = given(*before)
    with pytest.raises(InvalidDate) as refused:
        run(case, value)
    assert refused.value.field == field
    then(case)


def test_the_deadline_job_cannot_date_a_lapse_before_the_last_recorded_step():
    case = given(*AWAITING_EVIDENCE,  # evidence due 2009-07-10, extended on 2009-07-08 to 2009-07-15
                 deadline_extended(to=date(2009, 7, 15), today=date(2009, 7, 8)))
    with pytest.raises(InvalidDate) as refused:
        case.record_evidence_deadline_missed(on=date(2009, 7, 7), by=DEADLINE_JOB)
    assert refused.value.field == "on"
    then(case)


def test_an_extension_to_a_day_already_past_is_refused():
    case = given(*AWAITING_EVIDENCE)  # evidence due 2009-07-10
    with pytest.raises(InvalidDate) as refused:
        case.extend_deadline(Obligation.EVIDENCE_SUBMISSION, to=date(2009, 7, 15), reason="Post strike",
                             by=ADMIN, today=date(2009, 7, 20))
    assert refused.value.field == "new_due_on"
    then(case)
