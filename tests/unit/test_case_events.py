"""The events themselves: immutable facts that say who acted, and replay to the same case."""

from dataclasses import FrozenInstanceError
from datetime import date, timedelta

import pytest

from domain.case import Case
from domain.deadlines import DeadlinePolicy
from domain.participants import Role
from domain.status import Recommendation, Status
from tests.builders import (
    ADMIN,
    CHARITY,
    DEADLINE_JOB,
    EXAMPLE,
    J_SMITH,
    LEAD_REVIEWER,
    ORGANISATION,
    changes,
    changes_requested,
    deadline_extended,
    events,
    evidence_deadline_missed,
    evidence_judged,
    evidence_rows,
    evidence_submitted,
    further_details_provided,
    further_details_requested,
    judgements,
    on_site_report,
    plan_approved,
    plan_rows,
    plan_submitted,
    quality_mark_awarded,
    replay,
    site_visit_held,
)
from tests.gwt import given, then

EVERY_EVENT = events(
    site_visit_held(), plan_submitted(), changes_requested(), plan_submitted(), plan_approved(),
    deadline_extended(), evidence_submitted(), further_details_requested(),
    further_details_provided(), evidence_judged(), quality_mark_awarded(),
)
LAPSED = events(site_visit_held(), plan_submitted(), plan_approved(), evidence_deadline_missed())


@pytest.mark.parametrize("event", EVERY_EVENT + LAPSED[-1:], ids=lambda e: type(e).__name__)
def test_events_are_immutable(event):
    with pytest.raises(FrozenInstanceError):
        event.actor = ADMIN
    with pytest.raises(FrozenInstanceError):
        event.originator_version = 99


@pytest.mark.parametrize("event", EVERY_EVENT + LAPSED[-1:], ids=lambda e: type(e).__name__)
def test_every_event_says_who_acted(event):
    assert event.actor.role in {Role.ADMIN, Role.LEAD_REVIEWER, Role.ORGANISATION, Role.SYSTEM}


def test_the_deadline_job_is_the_actor_of_a_missed_deadline():
    assert LAPSED[-1].actor == DEADLINE_JOB


def test_given_events_belong_to_one_case_in_version_order():
    assert {e.originator_id for e in EVERY_EVENT} == {EVERY_EVENT[0].originator_id}
    assert [e.originator_version for e in EVERY_EVENT] == list(range(1, len(EVERY_EVENT) + 1))


def test_event_topics_name_the_nested_event_classes():
    assert {type(e).__qualname__ for e in EVERY_EVENT} >= {
        "Case.SiteVisitHeld", "Case.PlanSubmitted", "Case.ChangesRequested", "Case.PlanApproved",
        "Case.DeadlineExtended", "Case.EvidenceSubmitted", "Case.FurtherDetailsRequested",
        "Case.FurtherDetailsProvided", "Case.EvidenceJudged", "Case.QualityMarkAwarded",
    }
    assert all(type(e).__module__ == "domain.case" for e in EVERY_EVENT)


def test_replaying_the_events_rebuilds_the_case_at_each_version():
    case = replay(EVERY_EVENT[:5])
    assert (case.version, case.status) == (5, Status.AWAITING_EVIDENCE)
    assert replay(EVERY_EVENT).status is Status.AWARDED


def test_the_guidance_example_from_site_visit_to_quality_mark():
    """Seed example: 3.1.4 and 4.2.7 unmet; plan signed 30/04/2009, evidence 30/07/2009 by J Smith."""
    case = Case.hold_site_visit(
        organisation=CHARITY, level=2, visit_date=date(2009, 4, 17),
        lead_reviewer=LEAD_REVIEWER.principal, unmet_indicators=on_site_report("3.1.4", "4.2.7"),
        policy=DeadlinePolicy(), by=ADMIN,
    )
    case.submit_plan(plan_rows("3.1.4", "4.2.7"), J_SMITH, signed_on=date(2009, 4, 30),
                     received_on=date(2009, 5, 1), by=ADMIN)
    case.request_changes(changes("4.2.7"), requested_on=date(2009, 5, 14), by=LEAD_REVIEWER)
    case.submit_plan(plan_rows("3.1.4", "4.2.7"), J_SMITH, signed_on=date(2009, 5, 20),
                     received_on=date(2009, 5, 22), by=ADMIN)
    case.approve_plan(approved_on=date(2009, 6, 5), by=LEAD_REVIEWER)
    case.submit_evidence(evidence_rows("3.1.4", "4.2.7"), J_SMITH, signed_on=date(2009, 7, 30),
                         received_on=date(2009, 7, 31), by=ADMIN)
    case.request_further_details("Who approved the procedure?", requested_on=date(2009, 8, 7),
                                 by=LEAD_REVIEWER)
    case.provide_further_details("The board, 12/08/2009.", received_on=date(2009, 8, 14),
                                 by=ORGANISATION)
    case.judge_evidence(judgements(["3.1.4", "4.2.7"]), "Both indicators are now met.",
                        judged_on=date(2009, 8, 20), by=LEAD_REVIEWER)
    case.award_quality_mark(awarded_on=date(2009, 9, 1), by=ADMIN)
    then(case,
         (Case.SiteVisitHeld, {"plan_due_on": date(2009, 5, 1)}),
         (Case.PlanSubmitted, {"review_due_on": date(2009, 5, 15)}),
         (Case.ChangesRequested, {"resubmission_due_on": date(2009, 5, 28)}),
         (Case.PlanSubmitted, {"review_due_on": date(2009, 6, 5)}),
         (Case.PlanApproved, {"evidence_due_on": date(2009, 7, 31)}),
         (Case.EvidenceSubmitted, {"judgement_due_on": date(2009, 8, 14)}),
         (Case.FurtherDetailsRequested, {"details_due_on": date(2009, 8, 21)}),
         (Case.FurtherDetailsProvided, {"judgement_due_on": date(2009, 8, 28)}),
         (Case.EvidenceJudged, {"recommendation": Recommendation.RECOMMENDED, "gaps": ()}),
         (Case.QualityMarkAwarded, {"awarded_on": date(2009, 9, 1)}))
    assert case.evidence[1].action_undertaken == EXAMPLE["4.2.7"]["action_undertaken"]
    days = [date(2009, 4, 17) + timedelta(days=n) for n in range(150)]
    assert not any(d.is_overdue_on(day) for d in case.deadlines for day in days)


def test_a_case_that_lapses_is_recorded_with_every_step_before_it():
    case = given(*LAPSED)
    assert case.version == 4
    assert case.status is Status.NOT_RECOMMENDED

