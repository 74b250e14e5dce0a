"""Steps 4 to 6: evidence, further details, and the lead reviewer's judgement."""

from datetime import date

import pytest

from domain.case import Case
from domain.deadlines import Closure, Obligation, open_deadline
from domain.errors import (
    ActionOutOfOrder,
    EvidenceOverdue,
    IndicatorRowsMismatch,
    InvalidDate,
    InvalidIndicatorCode,
    InvalidInput,
)
from domain.plans import EvidenceItem, EvidenceRow, IndicatorJudgement
from domain.status import Recommendation, Status
from tests.builders import (
    ADMIN,
    CHAIR,
    EXAMPLE,
    J_SMITH,
    LEAD_REVIEWER,
    ORGANISATION,
    deadline_extended,
    evidence_rows,
    evidence_submitted,
    further_details_provided,
    further_details_requested,
    judgements,
    plan_approved,
    plan_submitted,
    site_visit_held,
)
from tests.gwt import given, then

APPROVED = date(2009, 5, 15)
EVIDENCE_DUE = date(2009, 7, 10)  # approval + 56 days
CODES = ("3.1.4", "4.2.7")


def awaiting_evidence(*more):
    return given(site_visit_held(CODES), plan_submitted(), plan_approved(on=APPROVED), *more)


def under_review(received_on=date(2009, 7, 1), *more):
    return awaiting_evidence(evidence_submitted(received_on=received_on), *more)


def submit(case, rows=CODES, *, signed_by=J_SMITH, signed_on=date(2009, 6, 30),
           received_on=date(2009, 7, 1), today=None):
    rows = evidence_rows(*rows) if all(isinstance(r, str) for r in rows) else tuple(rows)
    case.submit_evidence(rows, signed_by, signed_on=signed_on, received_on=received_on, by=ADMIN,
                         today=today)


def judge(case, met=CODES, *, codes=CODES, on=date(2009, 7, 10), report="Report.", today=None):
    case.judge_evidence(judgements(codes, met), report, judged_on=on, by=LEAD_REVIEWER, today=today)


# ---- evidence submitted -------------------------------------------------------------------

def test_evidence_submitted_records_action_undertaken_and_evidence_per_indicator():
    case = awaiting_evidence()
    submit(case)
    then(case, Case.EvidenceSubmitted, rows=evidence_rows(*CODES), signed_by=J_SMITH,
         signed_on=date(2009, 6, 30), received_on=date(2009, 7, 1), actor=ADMIN)
    assert case.status is Status.EVIDENCE_UNDER_REVIEW
    assert case.evidence[0].evidence == (EvidenceItem(EXAMPLE["3.1.4"]["evidence"]),)


def test_evidence_submitted_sets_the_judgement_due_two_weeks_after_it_was_received():
    case = awaiting_evidence()
    submit(case, received_on=date(2009, 7, 1))
    then(case, Case.EvidenceSubmitted, judgement_due_on=date(2009, 7, 15))
    assert open_deadline(case.deadlines, Obligation.EVIDENCE_JUDGEMENT).due_on == date(2009, 7, 15)


def test_evidence_submitted_meets_the_evidence_deadline():
    case = awaiting_evidence()
    submit(case, received_on=date(2009, 7, 1))
    (submission,) = [d for d in case.deadlines if d.obligation is Obligation.EVIDENCE_SUBMISSION]
    assert submission.met_on == date(2009, 7, 1)


def test_evidence_received_exactly_on_its_due_date_is_accepted():
    case = awaiting_evidence()
    submit(case, signed_on=EVIDENCE_DUE, received_on=EVIDENCE_DUE)
    then(case, Case.EvidenceSubmitted, received_on=EVIDENCE_DUE)


def test_evidence_received_the_day_after_its_due_date_is_refused_and_nothing_stored():
    case = awaiting_evidence()
    with pytest.raises(EvidenceOverdue) as refused:
        submit(case, signed_on=EVIDENCE_DUE, received_on=date(2009, 7, 11))
    assert (refused.value.due_on, refused.value.received_on) == (EVIDENCE_DUE, date(2009, 7, 11))
    assert refused.value.field == "received_on"
    assert "cannot be accepted" in str(refused.value)
    then(case)
    assert case.status is Status.AWAITING_EVIDENCE
    assert case.evidence == ()


def test_late_evidence_is_accepted_after_an_extension_moves_its_due_date():
    case = awaiting_evidence(
        deadline_extended(Obligation.EVIDENCE_SUBMISSION, to=date(2009, 7, 24), today=date(2009, 7, 3))
    )
    submit(case, signed_on=date(2009, 7, 20), received_on=date(2009, 7, 24))
    then(case, Case.EvidenceSubmitted, received_on=date(2009, 7, 24), judgement_due_on=date(2009, 8, 7))


def test_evidence_after_the_extended_due_date_is_still_refused():
    case = awaiting_evidence(deadline_extended(to=date(2009, 7, 24), today=date(2009, 7, 3)))
    with pytest.raises(EvidenceOverdue) as refused:
        submit(case, signed_on=date(2009, 7, 20), received_on=date(2009, 7, 25))
    assert refused.value.due_on == date(2009, 7, 24)
    then(case)


@pytest.mark.parametrize("before", [
    [site_visit_held(CODES)],
    [site_visit_held(CODES), plan_submitted()],
    [site_visit_held(CODES), plan_submitted(), plan_approved(), evidence_submitted()],
], ids=["awaiting plan", "plan under review", "evidence already in"])
def test_evidence_is_refused_unless_the_plan_is_approved_and_evidence_awaited(before):
    case = given(*before)
    with pytest.raises(ActionOutOfOrder):
        submit(case, signed_on=date(2009, 8, 1), received_on=date(2009, 8, 1))
    then(case)


def test_evidence_signed_by_the_chair_is_accepted():
    case = awaiting_evidence()
    submit(case, signed_by=CHAIR)
    then(case, Case.EvidenceSubmitted, signed_by=CHAIR)


@pytest.mark.parametrize("rows, missing, extra, duplicated", [
    (["3.1.4"], ("4.2.7",), (), ()),
    (["3.1.4", "4.2.7", "1.1.1"], (), ("1.1.1",), ()),
    (["3.1.4", "4.2.7", "4.2.7"], (), (), ("4.2.7",)),
    ([], ("3.1.4", "4.2.7"), (), ()),
])
def test_evidence_rows_must_cover_exactly_the_unmet_indicators(rows, missing, extra, duplicated):
    case = awaiting_evidence()
    with pytest.raises(IndicatorRowsMismatch) as refused:
        submit(case, rows=evidence_rows(*rows))
    assert (refused.value.missing, refused.value.extra, refused.value.duplicated) == (missing, extra, duplicated)
    then(case)


def test_evidence_row_with_a_bad_indicator_code_is_refused():
    case = awaiting_evidence()
    with pytest.raises(InvalidIndicatorCode) as refused:
        submit(case, rows=evidence_rows("3.1.4", "13.2.7"))
    assert refused.value.field == "rows.1.indicator"
    then(case)


def test_evidence_received_before_it_was_signed_is_refused():
    case = awaiting_evidence()
    with pytest.raises(InvalidDate) as refused:
        submit(case, signed_on=date(2009, 7, 2), received_on=date(2009, 7, 1))
    assert refused.value.field == "received_on"
    then(case)


def test_evidence_signed_before_the_site_visit_is_refused():
    case = awaiting_evidence()
    with pytest.raises(InvalidDate) as refused:
        submit(case, signed_on=date(2009, 4, 1), received_on=date(2009, 7, 1))
    assert refused.value.field == "signed_on"
    then(case)


def test_evidence_received_before_the_plan_was_approved_is_refused():
    case = awaiting_evidence()
    with pytest.raises(InvalidDate) as refused:
        submit(case, signed_on=date(2009, 5, 10), received_on=date(2009, 5, 14))
    assert refused.value.field == "received_on"
    then(case)


def test_evidence_received_in_the_future_is_refused():
    case = awaiting_evidence()
    with pytest.raises(InvalidDate):
        submit(case, received_on=date(2009, 7, 1), today=date(2009, 6, 30))
    then(case)


def test_evidence_row_without_action_undertaken_is_refused():
    with pytest.raises(InvalidInput) as refused:
        EvidenceRow("4.2.7", "  ", (EvidenceItem("Procedure"),))
    assert refused.value.field == "action_undertaken"


def test_evidence_row_without_any_evidence_item_is_refused():
    with pytest.raises(InvalidInput) as refused:
        EvidenceRow("4.2.7", "Procedure written.", ())
    assert refused.value.field == "evidence"


def test_evidence_row_with_too_many_items_is_refused():
    with pytest.raises(InvalidInput):
        EvidenceRow("4.2.7", "Procedure written.", tuple(EvidenceItem(f"Doc {i}") for i in range(101)))


def test_evidence_item_with_an_attached_file_records_its_content_hash():
    case = awaiting_evidence()
    attached = EvidenceItem("Documented complaints procedure.", "sha256:" + "ab" * 32)
    rows = (EvidenceRow("3.1.4", "Procedure written.", (attached, EvidenceItem("Minutes."))),
            *evidence_rows("4.2.7"))
    submit(case, rows)
    (event,) = then(case, Case.EvidenceSubmitted, rows=rows)
    for recorded_rows in (event.rows, case.evidence):  # in the event, and in the case's state
        attached_item, listed_item = recorded_rows[0].evidence
        assert attached_item.content_hash == "sha256:" + "ab" * 32
        assert listed_item.content_hash is None


@pytest.mark.parametrize("content_hash", ["md5:abc", "sha256:" + "AB" * 32, "sha256:" + "a" * 63, ""])
def test_evidence_item_with_a_malformed_content_hash_is_refused(content_hash):
    with pytest.raises(InvalidInput) as refused:
        EvidenceItem("Procedure", content_hash)
    assert refused.value.field == "evidence.content_hash"


@pytest.mark.parametrize("title", ["", "   ", "t" * 201])
def test_evidence_item_without_a_title_or_with_an_overlong_one_is_refused(title):
    with pytest.raises(InvalidInput) as refused:
        EvidenceItem(title)
    assert refused.value.field == "evidence.title"


# ---- further details ----------------------------------------------------------------------

def test_further_details_requested_are_due_two_weeks_later():
    case = under_review()
    case.request_further_details("Send the minutes.", requested_on=date(2009, 7, 6), by=LEAD_REVIEWER)
    then(case, Case.FurtherDetailsRequested, requested_on=date(2009, 7, 6), request="Send the minutes.",
         details_due_on=date(2009, 7, 20), actor=LEAD_REVIEWER)
    assert case.status is Status.AWAITING_FURTHER_DETAILS
    assert open_deadline(case.deadlines, Obligation.FURTHER_DETAILS).due_on == date(2009, 7, 20)


def test_asking_for_further_details_pauses_the_judgement_deadline():
    case = under_review(received_on=date(2009, 7, 1))
    case.request_further_details("Send the minutes.", requested_on=date(2009, 7, 6), by=LEAD_REVIEWER)
    assert open_deadline(case.deadlines, Obligation.EVIDENCE_JUDGEMENT) is None


def test_further_details_provided_restart_the_judgement_deadline_at_the_answer():
    case = under_review(date(2009, 7, 1), further_details_requested(on=date(2009, 7, 6)))
    case.provide_further_details("Minutes enclosed.", received_on=date(2009, 7, 13), by=ORGANISATION)
    then(case, Case.FurtherDetailsProvided, received_on=date(2009, 7, 13), details="Minutes enclosed.",
         judgement_due_on=date(2009, 7, 27), actor=ORGANISATION)
    assert case.status is Status.EVIDENCE_UNDER_REVIEW
    assert open_deadline(case.deadlines, Obligation.EVIDENCE_JUDGEMENT).due_on == date(2009, 7, 27)
    (details,) = [d for d in case.deadlines if d.obligation is Obligation.FURTHER_DETAILS]
    assert details.met_on == date(2009, 7, 13)


def test_further_details_record_the_question_and_its_answer():
    case = under_review(date(2009, 7, 1), further_details_requested("Who approved it?"),
                        further_details_provided("The board."))
    assert case.further_details == (("Who approved it?", "The board."),)


def test_the_judgement_deadline_restarts_at_the_latest_further_details_answer():
    case = under_review(
        date(2009, 7, 1),
        further_details_requested(on=date(2009, 7, 3)), further_details_provided(on=date(2009, 7, 8)),
        further_details_requested(on=date(2009, 7, 10)),
    )
    case.provide_further_details("Second answer.", received_on=date(2009, 7, 30), by=ORGANISATION)
    then(case, Case.FurtherDetailsProvided, judgement_due_on=date(2009, 8, 13))
    open_judgements = [d for d in case.deadlines
                       if d.obligation is Obligation.EVIDENCE_JUDGEMENT and d.is_open]
    assert [d.due_on for d in open_judgements] == [date(2009, 8, 13)]


def test_further_details_before_evidence_are_refused():
    case = awaiting_evidence()
    with pytest.raises(ActionOutOfOrder):
        case.request_further_details("Send more.", requested_on=date(2009, 6, 1), by=LEAD_REVIEWER)
    then(case)


def test_a_second_request_while_the_first_is_unanswered_is_refused():
    case = under_review(date(2009, 7, 1), further_details_requested())
    with pytest.raises(ActionOutOfOrder):
        case.request_further_details("And more.", requested_on=date(2009, 7, 20), by=LEAD_REVIEWER)
    then(case)


def test_further_details_provided_without_a_request_are_refused():
    case = under_review()
    with pytest.raises(ActionOutOfOrder):
        case.provide_further_details("Unasked.", received_on=date(2009, 7, 5), by=ORGANISATION)
    then(case)


@pytest.mark.parametrize("request_text", ["", "  \n ", "r" * 4_001])
def test_blank_or_overlong_further_details_request_is_refused(request_text):
    case = under_review()
    with pytest.raises(InvalidInput) as refused:
        case.request_further_details(request_text, requested_on=date(2009, 7, 6), by=LEAD_REVIEWER)
    assert refused.value.field == "request"
    then(case)


def test_blank_further_details_are_refused():
    case = under_review(date(2009, 7, 1), further_details_requested())
    with pytest.raises(InvalidInput) as refused:
        case.provide_further_details(" ", received_on=date(2009, 7, 20), by=ORGANISATION)
    assert refused.value.field == "details"
    then(case)


def test_further_details_received_before_they_were_requested_are_refused():
    case = under_review(date(2009, 7, 1), further_details_requested(on=date(2009, 7, 6)))
    with pytest.raises(InvalidDate) as refused:
        case.provide_further_details("Early.", received_on=date(2009, 7, 5), by=ORGANISATION)
    assert refused.value.field == "received_on"
    then(case)


def test_further_details_requested_before_the_evidence_arrived_are_refused():
    case = under_review(date(2009, 7, 1))
    with pytest.raises(InvalidDate) as refused:
        case.request_further_details("More.", requested_on=date(2009, 6, 30), by=LEAD_REVIEWER)
    assert refused.value.field == "requested_on"
    then(case)


# ---- evidence judged ----------------------------------------------------------------------

def test_evidence_judged_all_met_recommends_the_organisation():
    case = under_review()
    judge(case, met=CODES, on=date(2009, 7, 10), report="All indicators now met.")
    then(case, Case.EvidenceJudged, judged_on=date(2009, 7, 10), judgements=judgements(CODES),
         report="All indicators now met.", recommendation=Recommendation.RECOMMENDED, gaps=(),
         actor=LEAD_REVIEWER)
    assert case.status is Status.RECOMMENDED
    assert case.outcome.recommendation is Recommendation.RECOMMENDED
    assert case.report == "All indicators now met."


def test_evidence_judged_with_a_gap_does_not_recommend_and_lists_the_gaps():
    case = under_review()
    judge(case, met=["3.1.4"])
    then(case, Case.EvidenceJudged, recommendation=Recommendation.NOT_RECOMMENDED, gaps=("4.2.7",))
    assert case.status is Status.NOT_RECOMMENDED
    assert case.outcome.gaps == ("4.2.7",)
    assert "4.2.7" in case.outcome.reason


def test_evidence_judged_with_nothing_met_lists_every_indicator_as_a_gap():
    case = under_review()
    judge(case, met=[])
    then(case, Case.EvidenceJudged, recommendation=Recommendation.NOT_RECOMMENDED, gaps=CODES)


def test_evidence_judged_meets_the_judgement_deadline():
    case = under_review(date(2009, 7, 1))
    judge(case, on=date(2009, 7, 10))
    (judgement,) = [d for d in case.deadlines if d.obligation is Obligation.EVIDENCE_JUDGEMENT]
    assert judgement.met_on == date(2009, 7, 10)


def test_judgement_while_further_details_are_awaited_withdraws_that_request():
    case = under_review(date(2009, 7, 1), further_details_requested(on=date(2009, 7, 6)))
    judge(case, on=date(2009, 7, 12))
    then(case, Case.EvidenceJudged, recommendation=Recommendation.RECOMMENDED)
    (details,) = [d for d in case.deadlines if d.obligation is Obligation.FURTHER_DETAILS]
    assert (details.closure, details.closed_on) == (Closure.WITHDRAWN, date(2009, 7, 12))
    assert not any(d.is_open for d in case.deadlines)


@pytest.mark.parametrize("before", [
    [site_visit_held(CODES), plan_submitted()],
    [site_visit_held(CODES), plan_submitted(), plan_approved()],
], ids=["plan under review", "awaiting evidence"])
def test_judgement_before_evidence_is_refused(before):
    case = given(*before)
    with pytest.raises(ActionOutOfOrder):
        judge(case, on=date(2009, 8, 1))
    then(case)


@pytest.mark.parametrize("codes, missing, extra, duplicated", [
    (["3.1.4"], ("4.2.7",), (), ()),
    (["3.1.4", "4.2.7", "2.1.1"], (), ("2.1.1",), ()),
    (["3.1.4", "4.2.7", "3.1.4"], (), (), ("3.1.4",)),
])
def test_judgement_must_cover_exactly_the_unmet_indicators(codes, missing, extra, duplicated):
    case = under_review()
    with pytest.raises(IndicatorRowsMismatch) as refused:
        judge(case, codes=codes)
    assert (refused.value.missing, refused.value.extra, refused.value.duplicated) == (missing, extra, duplicated)
    assert refused.value.field == "indicators"
    then(case)


@pytest.mark.parametrize("report", ["", "   ", "r" * 50_001])
def test_judgement_without_a_report_or_with_an_overlong_one_is_refused(report):
    case = under_review()
    with pytest.raises(InvalidInput) as refused:
        judge(case, report=report)
    assert refused.value.field == "report"
    then(case)


def test_report_at_its_length_limit_is_accepted():
    case = under_review()
    judge(case, report="r" * 50_000)
    then(case, Case.EvidenceJudged)


def test_judgement_dated_before_the_evidence_arrived_is_refused():
    case = under_review(date(2009, 7, 1))
    with pytest.raises(InvalidDate) as refused:
        judge(case, on=date(2009, 6, 30))
    assert refused.value.field == "judged_on"
    then(case)


def test_judgement_dated_in_the_future_is_refused():
    case = under_review(date(2009, 7, 1))
    with pytest.raises(InvalidDate):
        judge(case, on=date(2009, 7, 10), today=date(2009, 7, 9))
    then(case)


@pytest.mark.parametrize("met, comment, field", [("yes", "Fine.", "met"), (True, " ", "comment")])
def test_indicator_judgement_needs_a_yes_or_no_and_a_comment(met, comment, field):
    with pytest.raises(InvalidInput) as refused:
        IndicatorJudgement("4.2.7", met, comment)
    assert refused.value.field == field
