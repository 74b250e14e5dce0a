"""The forms: given the in-memory service behind the pages, when a role fills in a form, then
the command is run as that user with the JSON API's own validation, and a refusal shows the
form again as typed, with each message next to its field."""

from __future__ import annotations

import re

import pytest

from infrastructure.http import examples as ex
from tests.unit.test_web_client import Site, form_values, hidden, text

SITE_VISIT = {
    "organisation.id": "org-1", "organisation.name": "Riverside Community Trust", "level": "2",
    "visit_date": "2009-04-17", "lead_reviewer": "reviewer-1",
    "unmet_indicators.0.indicator": "3.1.4",
    "unmet_indicators.0.findings": "Employers' liability insurance out of date.",
    "unmet_indicators.1.indicator": "4.2.7",
    "unmet_indicators.1.findings": "There is no documented complaints procedure.",
}
J_SMITH = {"signed_by.name": "J Smith", "signed_by.position": "chief_executive"}
PLAN = {**J_SMITH, "rows.0.improvement_required": ex.PLAN["rows"][0]["improvement_required"],
        "rows.1.improvement_required": "Develop a complaints procedure.",
        "signed_on": "2009-04-30", "received_on": "2009-05-01"}
EVIDENCE = {**J_SMITH, "rows.0.action_undertaken": "Previously unmet legal requirements have been put into place.",
            "rows.0.evidence": "Copy of employers' liability certificate.",
            "rows.1.action_undertaken": "Complaints procedure developed and communicated to staff.",
            "rows.1.evidence": "Documented complaints procedure.\nStaff briefing notes.",
            "signed_on": "2009-07-30", "received_on": "2009-07-31"}
JUDGEMENT = {"judged_on": "2009-08-10", "indicators.0.met": "yes", "indicators.0.comment": "Certificate current.",
             "indicators.1.met": "yes", "indicators.1.comment": "Procedure in use.",
             "report": "Both indicators are now met; recommended for the Quality Mark."}


@pytest.fixture
def site() -> Site:
    return Site()


def open_case(site: Site, who: str = "admin", **changes: str) -> str:
    answer = site.browser(who).submit("/ui/cases/new", {**SITE_VISIT, **changes})
    assert answer.status_code == 303, text(answer.text)
    case_id = re.fullmatch(r"/ui/cases/([0-9a-f-]{36})\?recorded=open_case", answer.headers["location"]).group(1)
    return case_id


def recorded(answer, case_id: str, action: str) -> None:
    assert answer.status_code == 303, text(answer.text)
    assert answer.headers["location"] == f"/ui/cases/{case_id}?recorded={action}"


def error_next_to(html: str, field_id: str) -> str:
    """The message shown with the input ``field_id`` (``f-rows-0-evidence``)."""
    match = re.search(rf'<div class="error-message" id="{field_id}-error">(.*?)</div>', html, re.S)
    assert match, f"no message by {field_id}"
    return text(match.group(1)).replace("Error: ", "").strip()


def test_the_guidance_example_from_site_visit_to_recommended_through_the_forms(site):
    case_id = open_case(site)
    admin, reviewer, org = site.browser("admin"), site.browser("lead_reviewer"), site.browser("organisation")
    base = f"/ui/cases/{case_id}"
    recorded(org.submit(f"{base}/plan", PLAN), case_id, "submit_plan")
    recorded(reviewer.submit(f"{base}/plan/changes", {"requested_on": "2009-05-12",
             "changes.0.comment": "Say who will check the legal requirements, and how often."}),
             case_id, "request_changes")
    recorded(admin.submit(f"{base}/plan", {"signed_on": "2009-05-20", "received_on": "2009-05-22"}),
             case_id, "submit_plan")
    recorded(reviewer.submit(f"{base}/plan/approval", {"approved_on": "2009-06-05"}), case_id, "approve_plan")
    recorded(admin.submit(f"{base}/evidence", EVIDENCE), case_id, "submit_evidence")
    recorded(reviewer.submit(f"{base}/evidence/judgement", JUDGEMENT), case_id, "judge_evidence")

    state = site.api("GET", f"/cases/{case_id}").json()
    assert state["status"] == "recommended" and state["version"] == 7
    assert state["plan"]["rows"][0]["findings"] == SITE_VISIT["unmet_indicators.0.findings"]
    assert state["evidence"]["rows"][1]["evidence"] == [
        {"title": "Documented complaints procedure.", "content_hash": None},
        {"title": "Staff briefing notes.", "content_hash": None}]
    history = site.api("GET", f"/cases/{case_id}/history", "auditor").json()
    assert [(h["type"], h["actor"]["principal"]) for h in history] == [
        ("SiteVisitHeld", "ces-admin-1"), ("PlanSubmitted", "org-1"), ("ChangesRequested", "reviewer-1"),
        ("PlanSubmitted", "ces-admin-1"), ("PlanApproved", "reviewer-1"), ("EvidenceSubmitted", "ces-admin-1"),
        ("EvidenceJudged", "reviewer-1")]
    page = text(reviewer.get(f"{base}?recorded=judge_evidence").text)
    assert "The judgement was recorded." in page and "Recommended on 10 Aug 2009" in page
    # The banner is the recorder's, while it is true: not another's, not a made-up link's
    assert "The judgement was recorded." not in text(admin.get(f"{base}?recorded=judge_evidence").text)
    assert "was recorded" not in text(reviewer.get(f"{base}?recorded=award_quality_mark").text)


def test_a_refused_site_visit_shows_each_message_by_its_field_and_keeps_what_was_typed(site):
    browser = site.browser("admin")
    answer = browser.submit("/ui/cases/new", {**SITE_VISIT, "organisation.name": "  ",
                                              "unmet_indicators.1.indicator": "13.2.7"})
    assert answer.status_code == 422
    assert error_next_to(answer.text, "f-organisation-name") == "must not be blank"
    assert "There is a problem" in answer.text and 'href="#f-organisation-name"' in answer.text
    assert 'value="13.2.7"' in answer.text and "There is no documented complaints procedure.</textarea>" in answer.text
    assert 'aria-invalid="true"' in answer.text
    fixed = browser.submit("/ui/cases/new", {**SITE_VISIT, "unmet_indicators.1.indicator": "13.2.7"})
    assert error_next_to(fixed.text, "f-unmet_indicators-1-indicator") == "Indicator 13.2.7: area must be 1 to 12."
    assert site.cases.recorder.max_notification_id() in (None, 0)


@pytest.mark.parametrize("changes", [
    {"level": "²"}, {"level": "9" * 5_000}, {"unmet_indicators.¹.indicator": "3.1.4", "organisation.name": " "},
], ids=["a superscript level", "a level of 5,000 digits", "a superscript row number"])
def test_numbers_in_no_ascii_digits_are_refused_by_the_field_not_with_a_500(site, changes):
    answer = site.browser("admin").submit("/ui/cases/new", {**SITE_VISIT, **changes})
    assert answer.status_code == 422, answer.text[:300]
    assert site.cases.recorder.max_notification_id() in (None, 0)


def test_an_expected_version_in_no_ascii_digits_is_ignored_not_a_500(site):
    case_id = open_case(site)
    answer = site.browser("organisation").submit(f"/ui/cases/{case_id}/plan", {**PLAN, "expected_version": "²"})
    assert answer.status_code == 303


def test_blank_rows_are_skipped_and_messages_follow_the_row_they_came_from(site):
    answer = site.browser("admin").submit("/ui/cases/new", {
        **SITE_VISIT, "unmet_indicators.0.indicator": "", "unmet_indicators.0.findings": "",
        "unmet_indicators.1.findings": ""})
    assert answer.status_code == 422
    assert error_next_to(answer.text, "f-unmet_indicators-1-findings") == "Must not be blank."


def test_another_row_can_be_added_without_losing_what_was_typed(site):
    answer = site.browser("admin").submit("/ui/cases/new", {**SITE_VISIT, "add_row": "1"})
    assert answer.status_code == 200 and 'name="unmet_indicators.3.indicator"' in answer.text
    assert 'value="Riverside Community Trust"' in answer.text
    assert site.cases.recorder.max_notification_id() in (None, 0)


def test_a_lead_reviewer_may_open_a_case_only_as_its_lead_reviewer(site):
    answer = site.browser("lead_reviewer").submit("/ui/cases/new", {**SITE_VISIT, "lead_reviewer": "reviewer-2"})
    assert answer.status_code == 403
    assert "only on cases they lead" in error_next_to(answer.text, "f-lead_reviewer")
    open_case(site, "lead_reviewer")


def test_dates_against_the_cases_timeline_are_refused_by_the_field(site):
    case_id = open_case(site)
    answer = site.browser("organisation").submit(f"/ui/cases/{case_id}/plan", {**PLAN, "signed_on": "2009-04-01"})
    assert answer.status_code == 422
    assert "before the site visit on 2009-04-17" in error_next_to(answer.text, "f-signed_on")
    assert 'value="2009-04-01"' in answer.text and 'value="J Smith"' in answer.text


def test_a_judgement_must_say_met_or_not_for_every_indicator(site):
    case_id = open_case(site)
    for path, body, who, _ in ex.HAPPY_PATH[:3]:
        site.step(case_id, path, body, who)
    answer = site.browser("lead_reviewer").submit(
        f"/ui/cases/{case_id}/evidence/judgement", {**JUDGEMENT, "indicators.1.met": "", "judged_on": "2009-07-01"})
    assert answer.status_code == 422
    assert error_next_to(answer.text, "f-indicators-1-met") == "This is required."
    assert "Procedure in use.</textarea>" in answer.text


def test_evidence_needs_at_least_one_document_and_must_arrive_in_time(site):
    case_id = open_case(site)
    site.step(case_id, "plan", ex.PLAN, "organisation")
    site.step(case_id, "plan/approval", ex.APPROVAL, "lead_reviewer")
    admin = site.browser("admin")
    answer = admin.submit(f"/ui/cases/{case_id}/evidence", {**EVIDENCE, "rows.0.evidence": " \n "})
    assert error_next_to(answer.text, "f-rows-0-evidence") == "Add at least one."
    late = admin.submit(f"/ui/cases/{case_id}/evidence",
                        {**EVIDENCE, "signed_on": "2009-08-01", "received_on": "2009-08-03"})
    assert late.status_code == 422
    assert "was due by 2009-07-15" in error_next_to(late.text, "f-received_on")


def test_a_form_for_a_case_that_has_moved_on_is_refused_with_a_reason(site):
    case_id = open_case(site)
    site.step(case_id, "plan", ex.PLAN, "organisation")
    reviewer = site.browser("lead_reviewer")
    stale = reviewer.get(f"/ui/cases/{case_id}/plan/approval").text
    site.step(case_id, "plan/changes-requested", ex.CHANGES_REQUESTED, "lead_reviewer")
    answer = reviewer.post(f"/ui/cases/{case_id}/plan/approval", {**hidden(stale), "approved_on": "2009-05-20"})
    assert answer.status_code == 409
    assert "The case changed while this form was open (it is now at version 3)." in text(answer.text)
    again = reviewer.post(f"/ui/cases/{case_id}/plan/approval", {**hidden(answer.text), "approved_on": "2009-05-20"})
    assert again.status_code == 409  # now checked against the case as it is: out of order
    assert "waiting for the organisation's revised plan" in text(again.text)
    fresh = reviewer.submit(f"/ui/cases/{case_id}/plan/approval", {"approved_on": "2009-05-20"})
    assert fresh.status_code == 409
    assert "Cannot approve the plan: this case is waiting for the organisation's revised plan." in text(fresh.text)


def test_a_form_refused_because_the_case_changed_keeps_what_was_typed_and_can_then_be_sent(site):
    case_id = open_case(site)
    admin = site.browser("admin")
    form = admin.get(f"/ui/cases/{case_id}/plan").text
    # another administrator extends the plan's deadline while this one keys in the plan
    site.step(case_id, "deadlines/plan_submission/extension",
              {"new_due_on": "2010-01-15", "reason": "Post strike."}, "admin")
    refused = admin.post(f"/ui/cases/{case_id}/plan", {**form_values(form), **PLAN})
    assert refused.status_code == 409 and "now at version 2" in text(refused.text)
    assert PLAN["rows.0.improvement_required"] in refused.text
    sent = admin.post(f"/ui/cases/{case_id}/plan", form_values(refused.text))
    assert sent.status_code == 303
    assert len(site.api("GET", f"/cases/{case_id}/history", "auditor").json()) == 3


def test_a_form_sent_twice_is_recorded_once(site):
    case_id = open_case(site)
    org = site.browser("organisation")
    form = {**form_values(org.get(f"/ui/cases/{case_id}/plan").text), **PLAN}
    first, again = org.post(f"/ui/cases/{case_id}/plan", form), org.post(f"/ui/cases/{case_id}/plan", form)
    assert first.status_code == again.status_code == 303
    assert len(site.api("GET", f"/cases/{case_id}/history", "auditor").json()) == 2


@pytest.mark.parametrize(("who", "path"), [
    ("auditor", "/ui/cases/new"), ("organisation", "/ui/cases/new"), ("reporting", "/ui/cases/new"),
    ("admin", "/ui/cases/{case}/plan/approval"), ("auditor", "/ui/cases/{case}/plan"),
    ("other_reviewer", "/ui/cases/{case}/plan/changes"), ("lead_reviewer", "/ui/cases/{case}/extension"),
])
def test_forms_a_role_may_not_use_are_refused_both_to_see_and_to_send(site, who, path):
    path = path.format(case=open_case(site))
    browser = site.browser(who)
    assert browser.get(path).status_code == 403
    token = hidden(browser.get("/ui/").text)["csrf_token"]
    answer = browser.post(path, {**SITE_VISIT, **PLAN, "csrf_token": token, "approved_on": "2009-05-20"})
    assert answer.status_code == 403 and "Not allowed" in answer.text
    assert site.cases.recorder.max_notification_id() == 1  # nothing recorded beyond the site visit


def test_an_admin_extends_an_open_deadline_through_the_form(site):
    site.today = site.today.replace(year=2009, month=4, day=28)
    case_id = open_case(site)
    answer = site.browser("admin").submit(f"/ui/cases/{case_id}/extension", {
        "obligation": "plan_submission", "new_due_on": "2009-05-15", "reason": "Chief executive ill; agreed."})
    recorded(answer, case_id, "extend_deadline")
    bad = site.browser("admin").submit(f"/ui/cases/{case_id}/extension", {
        "obligation": "nonsense", "new_due_on": "2009-05-20", "reason": "Again."})
    assert error_next_to(bad.text, "f-obligation") == "Choose one of the case's open deadlines."
