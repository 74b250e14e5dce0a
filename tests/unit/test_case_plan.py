"""Steps 2 and 3: the improvement action plan, changes requested, and approval."""

from datetime import date

import pytest

from domain.case import Case
from domain.deadlines import Closure, Obligation, open_deadline
from domain.errors import (
    ActionOutOfOrder,
    IndicatorRowsMismatch,
    InvalidDate,
    InvalidIndicatorCode,
    InvalidInput,
    InvalidSignatory,
)
from domain.participants import Signatory
from domain.plans import PlanRow, RequestedChange
from domain.status import Status
from tests.builders import (
    ADMIN,
    CHAIR,
    EXAMPLE,
    J_SMITH,
    LEAD_REVIEWER,
    changes,
    changes_requested,
    plan_approved,
    plan_rows,
    plan_submitted,
    site_visit_held,
)
from tests.gwt import given, then

VISIT = date(2009, 4, 17)


def awaiting_plan():
    return given(site_visit_held(["3.1.4", "4.2.7"], visit_date=VISIT))


def submit(case, rows=("3.1.4", "4.2.7"), *, signed_by=J_SMITH, signed_on=date(2009, 4, 30),
           received_on=date(2009, 5, 1), today=None):
    rows = plan_rows(*rows) if all(isinstance(r, str) for r in rows) else tuple(rows)
    case.submit_plan(rows, signed_by, signed_on=signed_on, received_on=received_on, by=ADMIN, today=today)


# ---- plan submitted -------------------------------------------------------------------

def test_plan_submitted_records_the_signed_rows_and_both_dates():
    case = awaiting_plan()
    submit(case)
    then(case, Case.PlanSubmitted, rows=plan_rows("3.1.4", "4.2.7"), signed_by=J_SMITH,
         signed_on=date(2009, 4, 30), received_on=date(2009, 5, 1), actor=ADMIN)
    assert case.status is Status.PLAN_UNDER_REVIEW


def test_plan_submitted_sets_the_review_due_two_weeks_after_it_was_received():
    case = awaiting_plan()
    submit(case, received_on=date(2009, 5, 1))
    then(case, Case.PlanSubmitted, review_due_on=date(2009, 5, 15))
    assert open_deadline(case.deadlines, Obligation.PLAN_REVIEW).due_on == date(2009, 5, 15)


def test_plan_submitted_meets_the_plan_submission_deadline_on_the_received_date():
    case = awaiting_plan()
    submit(case, received_on=date(2009, 5, 1))
    (submission,) = [d for d in case.deadlines if d.obligation is Obligation.PLAN_SUBMISSION]
    assert (submission.closure, submission.met_on) == (Closure.MET, date(2009, 5, 1))


def test_late_plan_is_still_accepted_and_its_deadline_met_late():
    case = awaiting_plan()
    submit(case, signed_on=date(2009, 5, 20), received_on=date(2009, 5, 22))
    then(case, Case.PlanSubmitted, received_on=date(2009, 5, 22))
    (submission,) = [d for d in case.deadlines if d.obligation is Obligation.PLAN_SUBMISSION]
    assert submission.is_overdue_on(date(2009, 5, 21)) and not submission.is_overdue_on(date(2009, 5, 22))


def test_plan_rows_in_any_order_with_padded_codes_are_canonicalised():
    case = awaiting_plan()
    submit(case, rows=plan_rows(" 4.2.7", "03.1.4"))
    assert [row.indicator for row in case.plan] == ["4.2.7", "3.1.4"]


def test_plan_signed_by_the_chair_is_accepted():
    case = awaiting_plan()
    submit(case, signed_by=CHAIR)
    then(case, Case.PlanSubmitted, signed_by=CHAIR)


@pytest.mark.parametrize("position", ["treasurer", "Chief Executive", "", "secretary"])
def test_plan_signed_by_anyone_but_the_chief_executive_or_chair_is_refused(position):
    with pytest.raises(InvalidSignatory) as refused:
        Signatory("J Smith", position)
    assert refused.value.field == "signed_by.position"


def test_signatory_without_a_name_is_refused():
    with pytest.raises(InvalidInput) as refused:
        Signatory("  ", "chair")
    assert refused.value.field == "signed_by.name"


def test_plan_missing_an_unmet_indicator_is_refused_and_nothing_stored():
    case = awaiting_plan()
    with pytest.raises(IndicatorRowsMismatch) as refused:
        submit(case, rows=["3.1.4"])
    assert (refused.value.missing, refused.value.extra, refused.value.duplicated) == (("4.2.7",), (), ())
    then(case)
    assert case.status is Status.AWAITING_PLAN


def test_plan_with_a_row_for_an_indicator_that_was_met_is_refused():
    case = awaiting_plan()
    with pytest.raises(IndicatorRowsMismatch) as refused:
        submit(case, rows=["3.1.4", "4.2.7", "5.2.7"])
    assert (refused.value.missing, refused.value.extra, refused.value.duplicated) == ((), ("5.2.7",), ())
    then(case)


def test_plan_with_two_rows_for_one_indicator_is_refused():
    case = awaiting_plan()
    with pytest.raises(IndicatorRowsMismatch) as refused:
        submit(case, rows=["3.1.4", "4.2.7", "4.2.07"])
    assert (refused.value.missing, refused.value.extra, refused.value.duplicated) == ((), (), ("4.2.7",))
    assert refused.value.field == "rows"
    then(case)


def test_plan_with_a_malformed_indicator_code_names_the_row():
    case = awaiting_plan()
    with pytest.raises(InvalidIndicatorCode) as refused:
        submit(case, rows=["3.1.4", "4.2"])
    assert refused.value.field == "rows.1.indicator"
    then(case)


def test_plan_row_above_the_case_level_is_refused():
    case = given(site_visit_held(["3.1.4"], level=1))
    with pytest.raises(InvalidIndicatorCode):
        submit(case, rows=["3.2.1"])
    then(case)


@pytest.mark.parametrize("findings, improvement, field", [
    ("  ", "Develop a procedure.", "findings"),
    ("No procedure.", "", "improvement_required"),
    ("No procedure.", "x" * 4_001, "improvement_required"),
    ("f" * 4_001, "Develop a procedure.", "findings"),
])
def test_plan_row_with_a_blank_or_overlong_text_is_refused(findings, improvement, field):
    with pytest.raises(InvalidInput) as refused:
        PlanRow("4.2.7", findings, improvement)
    assert refused.value.field == field


def test_plan_row_at_the_length_limit_is_accepted():
    assert PlanRow("4.2.7", "f" * 4_000, "i" * 4_000).findings == "f" * 4_000


def test_plan_received_before_it_was_signed_is_refused():
    case = awaiting_plan()
    with pytest.raises(InvalidDate) as refused:
        submit(case, signed_on=date(2009, 4, 30), received_on=date(2009, 4, 29))
    assert refused.value.field == "received_on"
    then(case)


def test_plan_received_on_the_day_it_was_signed_is_accepted():
    case = awaiting_plan()
    submit(case, signed_on=date(2009, 4, 30), received_on=date(2009, 4, 30))
    then(case, Case.PlanSubmitted, received_on=date(2009, 4, 30))


def test_plan_signed_before_the_site_visit_is_refused():
    case = awaiting_plan()
    with pytest.raises(InvalidDate) as refused:
        submit(case, signed_on=date(2009, 4, 16), received_on=date(2009, 4, 20))
    assert refused.value.field == "signed_on"
    then(case)


def test_plan_signed_on_the_day_of_the_visit_is_accepted():
    case = awaiting_plan()
    submit(case, signed_on=VISIT, received_on=VISIT)
    then(case, Case.PlanSubmitted, signed_on=VISIT)


def test_plan_received_in_the_future_is_refused():
    case = awaiting_plan()
    with pytest.raises(InvalidDate) as refused:
        submit(case, received_on=date(2009, 5, 2), today=date(2009, 5, 1))
    assert refused.value.field == "received_on"
    then(case)


def test_plan_received_today_is_accepted():
    case = awaiting_plan()
    submit(case, received_on=date(2009, 5, 1), today=date(2009, 5, 1))
    then(case, Case.PlanSubmitted)


def test_second_plan_while_the_first_is_under_review_is_refused():
    case = given(site_visit_held(), plan_submitted())
    with pytest.raises(ActionOutOfOrder):
        submit(case, signed_on=date(2009, 5, 1), received_on=date(2009, 5, 2))
    then(case)


# ---- plan approved ----------------------------------------------------------------------

def test_plan_approval_sets_the_evidence_due_eight_weeks_later():
    case = given(site_visit_held(), plan_submitted(received_on=date(2009, 5, 1)))
    case.approve_plan(approved_on=date(2009, 5, 15), by=LEAD_REVIEWER)
    then(case, Case.PlanApproved, approved_on=date(2009, 5, 15), evidence_due_on=date(2009, 7, 10),
         actor=LEAD_REVIEWER)
    assert case.status is Status.AWAITING_EVIDENCE


def test_plan_approval_meets_the_review_deadline():
    case = given(site_visit_held(), plan_submitted(received_on=date(2009, 5, 1)))
    case.approve_plan(approved_on=date(2009, 5, 15), by=LEAD_REVIEWER)
    (review,) = [d for d in case.deadlines if d.obligation is Obligation.PLAN_REVIEW]
    assert review.met_on == date(2009, 5, 15)
    assert open_deadline(case.deadlines, Obligation.EVIDENCE_SUBMISSION).due_on == date(2009, 7, 10)


def test_approval_before_a_plan_is_refused_and_nothing_stored():
    case = given(site_visit_held())
    with pytest.raises(ActionOutOfOrder) as refused:
        case.approve_plan(approved_on=date(2009, 5, 1), by=LEAD_REVIEWER)
    assert refused.value.status == "awaiting_plan"
    assert refused.value.case_id == case.id
    then(case)


def test_approving_the_plan_twice_is_refused():
    case = given(site_visit_held(), plan_submitted(), plan_approved())
    with pytest.raises(ActionOutOfOrder):
        case.approve_plan(approved_on=date(2009, 6, 1), by=LEAD_REVIEWER)
    then(case)


def test_approval_dated_before_the_plan_was_received_is_refused():
    case = given(site_visit_held(), plan_submitted(received_on=date(2009, 5, 1)))
    with pytest.raises(InvalidDate) as refused:
        case.approve_plan(approved_on=date(2009, 4, 30), by=LEAD_REVIEWER)
    assert refused.value.field == "approved_on"
    then(case)


def test_approval_dated_in_the_future_is_refused():
    case = given(site_visit_held(), plan_submitted(received_on=date(2009, 5, 1)))
    with pytest.raises(InvalidDate):
        case.approve_plan(approved_on=date(2009, 5, 9), by=LEAD_REVIEWER, today=date(2009, 5, 8))
    then(case)


# ---- changes requested ------------------------------------------------------------------

def test_changes_requested_sets_the_revised_plan_due_two_weeks_later():
    case = given(site_visit_held(), plan_submitted(received_on=date(2009, 5, 1)))
    case.request_changes(changes("4.2.7"), requested_on=date(2009, 5, 14), by=LEAD_REVIEWER)
    then(case, Case.ChangesRequested, requested_on=date(2009, 5, 14), changes=changes("4.2.7"),
         resubmission_due_on=date(2009, 5, 28), actor=LEAD_REVIEWER)
    assert case.status is Status.CHANGES_REQUESTED


def test_changes_requested_meets_the_review_deadline():
    case = given(site_visit_held(), plan_submitted(received_on=date(2009, 5, 1)))
    case.request_changes(changes("4.2.7"), requested_on=date(2009, 5, 14), by=LEAD_REVIEWER)
    (review,) = [d for d in case.deadlines if d.obligation is Obligation.PLAN_REVIEW]
    assert review.met_on == date(2009, 5, 14)
    assert open_deadline(case.deadlines, Obligation.PLAN_RESUBMISSION).due_on == date(2009, 5, 28)


def test_changes_may_be_requested_on_every_indicator_with_a_comment_each():
    case = given(site_visit_held(), plan_submitted())
    case.request_changes(changes("4.2.7", "3.1.4"), requested_on=date(2009, 5, 14), by=LEAD_REVIEWER)
    then(case, Case.ChangesRequested, changes=changes("4.2.7", "3.1.4"))


def test_changes_requested_on_an_indicator_that_was_met_is_refused():
    case = given(site_visit_held(), plan_submitted())
    with pytest.raises(IndicatorRowsMismatch) as refused:
        case.request_changes(changes("5.2.7"), requested_on=date(2009, 5, 14), by=LEAD_REVIEWER)
    assert refused.value.extra == ("5.2.7",)
    assert refused.value.field == "changes"
    then(case)


def test_changes_requested_twice_on_one_indicator_is_refused():
    case = given(site_visit_held(), plan_submitted())
    with pytest.raises(IndicatorRowsMismatch) as refused:
        case.request_changes(changes("4.2.7", " 4.2.7"), requested_on=date(2009, 5, 14), by=LEAD_REVIEWER)
    assert refused.value.duplicated == ("4.2.7",)
    then(case)


def test_changes_requested_without_naming_an_indicator_is_refused():
    case = given(site_visit_held(), plan_submitted())
    with pytest.raises(InvalidInput) as refused:
        case.request_changes((), requested_on=date(2009, 5, 14), by=LEAD_REVIEWER)
    assert refused.value.field == "changes"
    then(case)


def test_requested_change_without_a_comment_is_refused():
    with pytest.raises(InvalidInput) as refused:
        RequestedChange("4.2.7", " ")
    assert refused.value.field == "comment"


def test_changes_requested_before_a_plan_is_refused():
    case = given(site_visit_held())
    with pytest.raises(ActionOutOfOrder):
        case.request_changes(changes("4.2.7"), requested_on=date(2009, 5, 14), by=LEAD_REVIEWER)
    then(case)


def test_approval_while_waiting_for_the_revised_plan_is_refused():
    case = given(site_visit_held(), plan_submitted(), changes_requested())
    with pytest.raises(ActionOutOfOrder) as refused:
        case.approve_plan(approved_on=date(2009, 6, 1), by=LEAD_REVIEWER)
    assert refused.value.status == "changes_requested"
    then(case)


def test_revised_plan_meets_the_resubmission_deadline_and_restarts_the_review():
    case = given(site_visit_held(), plan_submitted(received_on=date(2009, 5, 1)),
                 changes_requested(on=date(2009, 5, 14)))
    submit(case, signed_on=date(2009, 5, 20), received_on=date(2009, 5, 22))
    then(case, Case.PlanSubmitted, received_on=date(2009, 5, 22), review_due_on=date(2009, 6, 5))
    (resubmission,) = [d for d in case.deadlines if d.obligation is Obligation.PLAN_RESUBMISSION]
    assert resubmission.met_on == date(2009, 5, 22)
    assert case.plan_submissions == 2
    assert case.status is Status.PLAN_UNDER_REVIEW


def test_revised_plan_replaces_the_first():
    revised = (PlanRow("3.1.4", EXAMPLE["3.1.4"]["findings"], "Renew the insurance yearly."),
               *plan_rows("4.2.7"))
    case = given(site_visit_held(), plan_submitted(), changes_requested(["3.1.4"]),
                 plan_submitted(revised))
    assert case.plan == revised


def test_changes_loop_ends_with_the_revised_plan_approved():
    case = given(site_visit_held(), plan_submitted(), changes_requested(),
                 plan_submitted(received_on=date(2009, 5, 22)))
    case.approve_plan(approved_on=date(2009, 6, 5), by=LEAD_REVIEWER)
    then(case, Case.PlanApproved, evidence_due_on=date(2009, 7, 31))


def test_changes_may_be_requested_again_on_the_revised_plan():
    case = given(site_visit_held(), plan_submitted(), changes_requested(), plan_submitted())
    case.request_changes(changes("3.1.4"), requested_on=date(2009, 6, 1), by=LEAD_REVIEWER)
    then(case, Case.ChangesRequested, resubmission_due_on=date(2009, 6, 15))


def test_revised_plan_received_before_the_changes_were_requested_is_refused():
    case = given(site_visit_held(), plan_submitted(received_on=date(2009, 5, 1)),
                 changes_requested(on=date(2009, 5, 14)))
    with pytest.raises(InvalidDate) as refused:
        submit(case, signed_on=date(2009, 5, 10), received_on=date(2009, 5, 13))
    assert refused.value.field == "received_on"
    then(case)


def test_revised_plan_still_covers_exactly_the_unmet_indicators():
    case = given(site_visit_held(), plan_submitted(), changes_requested(["4.2.7"]))
    with pytest.raises(IndicatorRowsMismatch) as refused:
        submit(case, rows=["4.2.7"], signed_on=date(2009, 5, 20), received_on=date(2009, 5, 22))
    assert refused.value.missing == ("3.1.4",)
    then(case)
