"""The pages that read: given cases driven through the JSON API, when a role opens the
dashboard, a case, its history or its plan's PDF, then it sees what the role matrix allows."""

from __future__ import annotations

import re
from datetime import date

import pytest

from domain.texts import TEXT_MAX
from infrastructure.http import examples as ex
from tests.unit.test_web_client import Site, text

OTHER_ORG = {**ex.OPEN_CASE, "organisation": {"id": "org-2", "name": "Hilltop <Advice> Centre"},
             "lead_reviewer": "reviewer-2", "level": 1,
             "unmet_indicators": [{"indicator": "5.1.7", "findings": "Some staff have no appraisal."}]}


@pytest.fixture
def site() -> Site:
    """Two cases on 1 June 2009: the guidance's example (plan under review, overdue), and a
    level 1 case of another organisation and lead reviewer (plan overdue)."""
    site = Site(today=date(2009, 6, 1))
    site.riverside = site.open_case()
    site.step(site.riverside, "plan", ex.PLAN, "organisation")
    site.hilltop = site.open_case({**OTHER_ORG, "visit_date": "2009-04-20"})
    return site


def rows(html: str) -> list[str]:
    return [text(row).strip() for row in re.findall(r"<tr>\s*<td class=\"num\">.*?</tr>", html, re.S)]


def test_the_dashboard_counts_and_lists_todays_overdue_obligations_linking_to_their_cases(site):
    page = site.browser("admin").get("/ui/")
    assert page.status_code == 200
    assert "2 overdue" in text(page.text) and "1 owed by organisations" in text(page.text)
    assert rows(page.text) == [
        "28 4 May 2009 Hilltop <Advice> Centre Submit the plan Organisation reviewer-2 1",
        "17 15 May 2009 Riverside Community Trust Review the plan Lead reviewer reviewer-1 2",
    ]
    assert f'href="/ui/cases/{site.riverside}"' in page.text
    assert "Hilltop &lt;Advice&gt; Centre" in page.text


@pytest.mark.parametrize(("query", "expected"), [
    ("owed_by=lead_reviewer", ["Riverside"]),
    ("lead_reviewer=reviewer-2", ["Hilltop"]),
    ("level=2", ["Riverside"]),
    ("min_days=20", ["Hilltop"]),
    ("sort=organisation&dir=asc", ["Hilltop", "Riverside"]),
    ("sort=days&dir=asc", ["Riverside", "Hilltop"]),
    ("sort=days", ["Hilltop", "Riverside"]),
    ("level=banana", ["Hilltop", "Riverside"]),
    ("on=9999-12-31&within=9", ["Hilltop", "Riverside"]),
])
def test_the_dashboard_filters_and_sorts(site, query, expected):
    page = site.browser("auditor").get(f"/ui/?{query}")
    assert [next(w for w in expected if w in row) for row in rows(page.text)] == expected


def test_upcoming_obligations_are_listed_apart(site):
    page = site.browser("admin").get("/ui/?on=2009-05-10&within=7")
    assert "Due in the next 7 days (1 shown)" in text(page.text)
    assert "5 15 May 2009 Riverside Community Trust Review the plan" in text(page.text.split("Due in the next")[1])


def test_a_lead_reviewer_sees_only_the_cases_they_lead_and_reporting_sees_rows_without_links(site):
    mine = site.browser("lead_reviewer").get("/ui/")
    assert [r.split(" ")[4] for r in rows(mine.text)] == ["Riverside"]
    reporting = site.browser("reporting").get("/ui/")
    assert len(rows(reporting.text)) == 2 and "/ui/cases/" not in reporting.text.split("Overdue")[1]


def test_the_case_page_shows_the_case_its_timeline_and_the_plan_as_in_the_template(site):
    page = site.browser("organisation").get(f"/ui/cases/{site.riverside}")
    words = text(page.text)
    assert page.status_code == 200
    assert "Riverside Community Trust" in words and "Plan under review" in words and "Not reached yet" in words
    svg = re.search(r"<svg class=\"timeline\".*?</svg>", page.text, re.S).group(0)
    assert '<title id="tl-title">' in svg and 'role="img"' in svg
    assert "Overdue 17 days: due 15 May 2009, still open on 1 Jun 2009" in svg
    assert "Met on 1 May 2009" in svg
    for heading in ("Indicator", "Peer reviewer findings", "Improvement required", "Action undertaken", "Evidence"):
        assert f">{heading}</th>" in page.text
    assert "Develop a complaints procedure." in words and "J Smith Signed" not in words
    assert "Signed J Smith" in words and "Position Chief Executive" in words and "Date 30 Apr 2009" in words


def test_the_case_page_offers_only_the_actions_this_user_may_take_now(site):
    reviewer = text(site.browser("lead_reviewer").get(f"/ui/cases/{site.riverside}").text)
    assert "Approve the plan" in reviewer and "Request changes to the plan" in reviewer
    admin = text(site.browser("admin").get(f"/ui/cases/{site.riverside}").text)
    assert "Approve the plan" not in admin and "Extend a deadline" in admin and "History of this case" in admin
    auditor = text(site.browser("auditor").get(f"/ui/cases/{site.riverside}").text)
    assert "Extend a deadline" not in auditor and "History of this case" in auditor


def test_the_plan_downloads_as_a_pdf(site):
    answer = site.browser("lead_reviewer").get(f"/ui/cases/{site.riverside}/plan.pdf")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF-") and b"%%EOF" in answer.content[-32:]
    assert 'filename="improvement-action-plan-org-1.pdf"' in answer.headers["content-disposition"]


@pytest.mark.parametrize("findings", [
    "Employers' liability insurance out of date. " * 90,  # 4,000 characters of words
    "x" * 4_000,  # one word as long as a text may be
], ids=["words", "one long word"])
def test_the_plan_of_texts_as_long_as_allowed_downloads_as_a_pdf(findings):
    site = Site(today=date(2009, 6, 1))
    body = {**ex.OPEN_CASE, "unmet_indicators": [
        {**row, "findings": findings[:TEXT_MAX]} for row in ex.OPEN_CASE["unmet_indicators"]]}
    case_id = site.open_case(body)
    answer = site.browser("admin").get(f"/ui/cases/{case_id}/plan.pdf")
    assert answer.status_code == 200 and answer.content.startswith(b"%PDF-")


def test_a_deadline_moved_to_the_calendars_last_year_leaves_the_case_page_readable():
    site = Site(today=date(2009, 4, 20))
    case_id = site.open_case()
    site.step(case_id, "deadlines/plan_submission/extension",
              {"new_due_on": "9999-06-01", "reason": "A mistyped year."}, "admin")
    page = site.browser("admin").get(f"/ui/cases/{case_id}")
    assert page.status_code == 200 and "1 Jun 9999" in text(page.text)


@pytest.mark.parametrize("version", ["²", "٣", "9" * 5_000, "-1", "1.0"])
def test_a_version_that_is_no_ascii_number_is_answered_with_the_list_and_a_message(site, version):
    page = site.browser("auditor").get(f"/ui/cases/{site.riverside}/history", params={"version": version})
    assert page.status_code == 404 and "There is no version" in text(page.text)


def test_further_details_are_awaited_until_the_evidence_is_judged_without_them():
    site = Site(today=date(2009, 7, 2))
    case_id = site.open_case()
    for path, body, who in (("plan", ex.PLAN, "organisation"), ("plan/approval", ex.APPROVAL, "lead_reviewer"),
                            ("evidence", ex.EVIDENCE, "organisation"),
                            ("evidence/further-details-request", ex.FURTHER_DETAILS_REQUEST, "lead_reviewer")):
        site.step(case_id, path, body, who)
    page = text(site.browser("admin").get(f"/ui/cases/{case_id}").text)
    assert "Awaited." in page
    site.step(case_id, "evidence/judgement", ex.JUDGEMENT, "lead_reviewer")
    page = text(site.browser("admin").get(f"/ui/cases/{case_id}").text)
    assert "Awaited." not in page and "Not given: the evidence was judged without it." in page


def test_the_history_shows_every_event_and_the_state_after_a_chosen_version(site):
    browser = site.browser("auditor")
    page = browser.get(f"/ui/cases/{site.riverside}/history")
    words = text(page.text)
    assert "Site visit held" in words and "Plan submitted" in words and "ces-admin-1" in words and "org-1" in words
    assert "The case after version 2" in words
    first = browser.get(f"/ui/cases/{site.riverside}/history?version=1")
    words = text(first.text)
    assert "Event 1: Site visit held" in words and "The case after version 1" in words
    state = first.text.split("The case after version 1")[1]
    assert "awaiting_plan" in state and "plan_under_review" not in state
    assert 'class="changed"' in state


def test_an_unknown_version_is_answered_with_the_list_and_a_message(site):
    page = site.browser("admin").get(f"/ui/cases/{site.riverside}/history?version=9")
    assert page.status_code == 404 and "There is no version 9: choose one from 1 to 2." in text(page.text)


@pytest.mark.parametrize(("who", "path"), [
    ("organisation", "/ui/cases/{hilltop}"),
    ("other_reviewer", "/ui/cases/{riverside}"),
    ("reporting", "/ui/cases/{riverside}"),
    ("lead_reviewer", "/ui/cases/{riverside}/history"),
    ("organisation", "/ui/cases/{riverside}/history"),
    ("organisation", "/ui/cases/{hilltop}/plan.pdf"),
])
def test_pages_a_role_may_not_read_are_refused(site, who, path):
    answer = site.browser(who).get(path.format(hilltop=site.hilltop, riverside=site.riverside))
    assert answer.status_code == 403 and "Not allowed" in answer.text


def test_an_unknown_case_is_not_found(site):
    browser = site.browser("admin")
    assert browser.get("/ui/cases/0b6f5a4e-2c1d-4e8f-9a7b-3c2d1e0f9a8b").status_code == 404
    assert browser.get("/ui/cases/not-a-case").status_code == 404
    assert browser.get("/ui/cases?id=not-a-case").status_code == 404
    assert browser.get(f"/ui/cases?id={site.riverside}").headers["location"] == f"/ui/cases/{site.riverside}"


def test_the_address_without_its_slash_and_the_stylesheet_need_no_more(site):
    browser = site.browser()
    assert browser.get("/ui").headers["location"].endswith("/ui/")
    style = browser.get("/ui/static/style.css")
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
