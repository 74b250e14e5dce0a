"""Dates are real calendar dates, and steps are recorded in the order they happened."""

from datetime import date, datetime

import pytest

from domain.case import Case
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
    case = given(*AWAITING_EVIDENCE)  # plan approved on 2009-05-15
    with pytest.raises(InvalidDate) as refused:
        case.record_evidence_deadline_missed(on=date(2009, 5, 14), by=DEADLINE_JOB)
    assert refused.value.field == "on" and "last recorded step" in str(refused.value)
    then(case)


def test_evidence_late_on_arrival_is_recorded_once_the_deadline_is_extended_past_its_arrival():
    # Given evidence due 2009-07-10 that arrived on 2009-07-11, and an administrator who on
    # 2009-07-13 extends the deadline to 2009-07-20 so that it can be accepted
    case = given(*AWAITING_EVIDENCE, deadline_extended(to=date(2009, 7, 20), today=date(2009, 7, 13)))
    # When the post of 2009-07-11 is recorded (after the extension, dated before it)
    case.submit_evidence(evidence_rows(*CODES), J_SMITH, signed_on=date(2009, 7, 9),
                         received_on=date(2009, 7, 11), by=ADMIN)
    # Then it is the evidence, received on time for the extended deadline
    (event,) = then(case, Case.EvidenceSubmitted)
    assert event.received_on == date(2009, 7, 11)
    evidence = [d for d in case.deadlines if d.obligation is Obligation.EVIDENCE_SUBMISSION]
    assert [(d.due_on, d.closed_on, d.closure.value) for d in evidence] == [
        (date(2009, 7, 20), date(2009, 7, 11), "met")]


def test_an_extension_sets_no_floor_but_the_steps_before_it_still_do():
    case = given(*AWAITING_EVIDENCE, deadline_extended(to=date(2009, 7, 20), today=date(2009, 7, 13)))
    with pytest.raises(InvalidDate) as refused:  # before the approval of 2009-05-15
        case.submit_evidence(evidence_rows(*CODES), J_SMITH, signed_on=date(2009, 5, 14),
                             received_on=date(2009, 5, 14), by=ADMIN)
    assert refused.value.field == "received_on" and "2009-05-15" in str(refused.value)
    then(case)


def test_an_extension_to_a_day_already_past_is_refused():
    case = given(*AWAITING_EVIDENCE)  # evidence due 2009-07-10
    with pytest.raises(InvalidDate) as refused:
        case.extend_deadline(Obligation.EVIDENCE_SUBMISSION, to=date(2009, 7, 15), reason="Post strike",
                             by=ADMIN, today=date(2009, 7, 20))
    assert refused.value.field == "new_due_on"
    then(case)
