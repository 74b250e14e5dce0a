"""Step 1: the site visit opens the case with the On-site Report's unmet indicators."""

from dataclasses import FrozenInstanceError
from datetime import date

import pytest

from domain.case import Case
from domain.deadlines import Deadline, DeadlinePolicy, Obligation
from domain.errors import IndicatorRowsMismatch, InvalidDate, InvalidIndicatorCode, InvalidInput
from domain.indicators import UnmetIndicator
from domain.participants import Organisation
from domain.status import Recommendation, Status
from tests.builders import ADMIN, CHARITY, LEAD_REVIEWER_ID, on_site_report, site_visit_held
from tests.gwt import given, then

GUIDANCE_POLICY = DeadlinePolicy()


def hold_site_visit(unmet=("3.1.4", "4.2.7"), *, level=2, visit_date=date(2009, 4, 17),
                    policy=GUIDANCE_POLICY, today=None, **overrides):
    report = on_site_report(*unmet) if all(isinstance(u, str) for u in unmet) else tuple(unmet)
    arguments = dict(organisation=CHARITY, level=level, visit_date=visit_date,
                     lead_reviewer=LEAD_REVIEWER_ID, unmet_indicators=report, policy=policy,
                     by=ADMIN, today=today)
    return Case.hold_site_visit(**(arguments | overrides))


def test_site_visit_with_unmet_indicators_opens_the_case_awaiting_the_plan():
    case = hold_site_visit()
    then(case, Case.SiteVisitHeld, organisation=CHARITY, level=2, visit_date=date(2009, 4, 17),
         lead_reviewer=LEAD_REVIEWER_ID, unmet_indicators=on_site_report("3.1.4", "4.2.7"),
         policy=DeadlinePolicy(), actor=ADMIN)
    assert case.status is Status.AWAITING_PLAN
    assert case.outcome is None


def test_site_visit_sets_the_plan_due_two_weeks_after_the_visit():
    case = hold_site_visit(visit_date=date(2009, 4, 17))
    then(case, Case.SiteVisitHeld, plan_due_on=date(2009, 5, 1))
    assert case.deadlines == (Deadline(Obligation.PLAN_SUBMISSION, date(2009, 4, 17), date(2009, 5, 1)),)


def test_site_visit_without_unmet_indicators_closes_the_case_as_recommended_at_once():
    case = hold_site_visit(unmet=())
    then(case, Case.SiteVisitHeld, unmet_indicators=(), plan_due_on=None)
    assert case.status is Status.RECOMMENDED
    assert case.outcome.recommendation is Recommendation.RECOMMENDED
    assert case.outcome.decided_on == date(2009, 4, 17)
    assert case.outcome.gaps == ()
    assert case.deadlines == ()


def test_case_closed_at_the_visit_replays_to_the_same_recommendation():
    case = given(site_visit_held(unmet=[]))
    assert case.status is Status.RECOMMENDED
    assert case.deadlines == ()


def test_a_case_keeps_the_policy_it_was_opened_under():
    policy = DeadlinePolicy(plan_submission_days=21)
    case = hold_site_visit(policy=policy, visit_date=date(2009, 4, 17))
    then(case, Case.SiteVisitHeld, policy=policy, plan_due_on=date(2009, 5, 8))
    assert given(site_visit_held(policy=policy)).policy == policy


def test_unmet_indicator_codes_are_canonicalised():
    case = hold_site_visit(unmet=[UnmetIndicator(" 4.2.7 ", "No procedure.")])
    assert [row.indicator for row in case.unmet_indicators] == ["4.2.7"]


def test_on_site_report_listing_an_indicator_twice_is_refused():
    with pytest.raises(IndicatorRowsMismatch) as refused:
        hold_site_visit(unmet=[UnmetIndicator("4.2.7", "a"), UnmetIndicator("04.2.7", "b")])
    assert refused.value.duplicated == ("4.2.7",)
    assert refused.value.field == "unmet_indicators"


def test_unmet_indicator_above_the_case_level_is_refused():
    with pytest.raises(InvalidIndicatorCode) as refused:
        hold_site_visit(unmet=["3.1.4", "4.3.1"], level=2)
    assert refused.value.field == "unmet_indicators.1.indicator"


def test_malformed_unmet_indicator_code_is_refused():
    with pytest.raises(InvalidIndicatorCode):
        hold_site_visit(unmet=["4.2"])


def test_unmet_indicator_without_findings_is_refused():
    with pytest.raises(InvalidInput) as refused:
        hold_site_visit(unmet=[UnmetIndicator("3.1.4", "   ")])
    assert refused.value.field == "unmet_indicators.0.findings"


def test_unmet_indicator_with_overlong_findings_is_refused():
    with pytest.raises(InvalidInput) as refused:
        hold_site_visit(unmet=[UnmetIndicator("3.1.4", "x" * 4_001)])
    assert refused.value.field == "unmet_indicators.0.findings"


@pytest.mark.parametrize("level", [0, 4, -1, "2", 2.0, True, None])
def test_level_other_than_one_two_or_three_is_refused(level):
    with pytest.raises(InvalidInput) as refused:
        hold_site_visit(unmet=["3.1.4"], level=level)
    assert refused.value.field == "level"


@pytest.mark.parametrize("level", [1, 2, 3])
def test_each_pqasso_level_opens_a_case(level):
    assert hold_site_visit(unmet=["3.1.4"], level=level).level == level


@pytest.mark.parametrize("lead_reviewer", ["", "   ", "r" * 101, None])
def test_blank_or_overlong_lead_reviewer_is_refused(lead_reviewer):
    with pytest.raises(InvalidInput) as refused:
        hold_site_visit(lead_reviewer=lead_reviewer)
    assert refused.value.field == "lead_reviewer"


def test_visit_date_in_the_future_is_refused():
    with pytest.raises(InvalidDate) as refused:
        hold_site_visit(visit_date=date(2009, 4, 18), today=date(2009, 4, 17))
    assert refused.value.field == "visit_date"


def test_visit_date_today_is_accepted():
    assert hold_site_visit(visit_date=date(2009, 4, 17), today=date(2009, 4, 17)).visit_date == date(2009, 4, 17)


def test_visit_date_that_is_not_a_date_is_refused():
    with pytest.raises(InvalidDate):
        hold_site_visit(visit_date="2009-04-17")


@pytest.mark.parametrize("identifier, name, field", [
    ("", "Riverside", "organisation.id"),
    ("org-1", "  ", "organisation.name"),
    ("org-1", "n" * 201, "organisation.name"),
])
def test_organisation_without_an_id_or_name_is_refused(identifier, name, field):
    with pytest.raises(InvalidInput) as refused:
        Organisation(identifier, name)
    assert refused.value.field == field


def test_site_visit_held_event_is_immutable():
    case = hold_site_visit()
    (held,) = case.collect_events()
    with pytest.raises(FrozenInstanceError):
        held.level = 3
