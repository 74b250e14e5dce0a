"""The pages in a real browser with JavaScript turned off: each role signs in, the guidance's
example is walked from site visit to recommended through the forms and leaves the overdue
dashboard, and forbidden pages and forms are refused. Every page is saved as a screenshot."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT
from tests.e2e.server import PRINCIPALS, RunningServer

pytestmark = pytest.mark.e2e
ORGANISATION = "Riverside Community Trust"
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}


class Person:
    """One signed-in browser window (its own cookies), with JavaScript off."""

    def __init__(self, chromium, server: RunningServer, who: str, shots: Path, viewport=DESKTOP) -> None:
        self.context = chromium.new_context(java_script_enabled=False, viewport=viewport, accept_downloads=True)
        self.context.set_default_timeout(10_000)
        self.page, self.server, self.shots = self.context.new_page(), server, shots
        self.page.goto(server.url + "/ui/")
        token = self.page.get_by_label("API token")
        token.fill(server.tokens[who])
        token.press("Enter")  # the keyboard submits the form
        self.page.wait_for_url(re.compile(r".*/ui/$"))

    def go(self, path: str):
        return self.page.goto(self.server.url + path)

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def fill(self, fields: dict[str, str]) -> None:
        for label, value in fields.items():
            self.page.get_by_label(label, exact=True).fill(value)

    def press(self, button: str) -> None:
        self.page.get_by_role("button", name=button, exact=True).click()
        self.page.wait_for_load_state()

    def heading(self) -> str:
        return self.page.get_by_role("heading", level=1).inner_text()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def people(chromium, server, screenshots):
    opened: list[Person] = []

    def sign_in(who: str, viewport=DESKTOP) -> Person:
        opened.append(Person(chromium, server, who, screenshots, viewport))
        return opened[-1]

    yield sign_in
    for person in opened:
        person.close()


def dashboard_rows(person: Person) -> list[str]:
    person.go("/ui/")
    return person.page.locator("#overdue-h + div table tbody tr").all_inner_texts()


@pytest.mark.parametrize("who", ["admin", "lead_reviewer", "organisation", "auditor", "reporting"])
def test_each_role_signs_in_with_its_token_and_sees_the_dashboard(people, who, screenshots):
    person = people(who)
    assert person.heading() == "Overdue and upcoming obligations"
    assert f"Signed in as {PRINCIPALS[who]}" in person.page.locator("header").inner_text()
    person.shot(f"dashboard-{who}")
    person.page.get_by_role("button", name="Sign out").click()
    assert person.heading() == "Sign in"


def test_the_sign_in_page_and_a_wrong_token(chromium, server, screenshots):
    context = chromium.new_context(java_script_enabled=False, viewport=DESKTOP)
    page = context.new_page()
    page.goto(server.url + "/ui/cases/new")
    page.screenshot(path=str(screenshots / "sign-in.png"))
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.get_by_label("API token").fill("pqa_not-a-real-token-at-all-0000000000000")
    page.get_by_role("button", name="Sign in").click()
    assert "unknown or has been revoked" in page.get_by_role("alert").inner_text()
    page.screenshot(path=str(screenshots / "sign-in-refused.png"))
    context.close()


def test_the_guidance_example_from_site_visit_to_recommended_leaves_the_dashboard(people, server, screenshots):
    admin, reviewer, auditor = people("admin"), people("lead_reviewer"), people("auditor")

    # Site visit held, keyed in by the administrator: the On-site Report's two unmet indicators.
    admin.go("/ui/cases/new")
    admin.fill({"Organisation id": "org-riverside-trust", "Organisation name": ORGANISATION,
                "Date of the site visit": "2009-04-17", "Lead reviewer's id": "reviewer-ahmed",
                "Indicator 1 (optional)": "3.1.4",
                "Peer reviewer findings for indicator 1 (optional)": "Employers' liability insurance out of date.",
                "Indicator 2 (optional)": "4.2.7",
                "Peer reviewer findings for indicator 2 (optional)": "There is no documented complaints procedure."})
    admin.page.get_by_label("PQASSO level assessed").select_option("2")
    admin.shot("form-site-visit")
    admin.press("Open the case")
    assert "The site visit was recorded" in admin.page.get_by_role("status").inner_text()
    case_path = re.search(r"/ui/cases/[0-9a-f-]{36}", admin.page.url).group(0)
    assert any(ORGANISATION in row and "Submit the plan" in row for row in dashboard_rows(admin))
    dashboard = admin.shot("dashboard-with-the-example-overdue")

    # The plan arrives by post; a date before the visit is refused next to its field.
    admin.go(case_path)
    admin.page.get_by_role("link", name="Record the improvement action plan").click()
    plan = {"Signed by": "J Smith", "Date signed": "2009-04-01", "Date received": "2009-05-01"}
    improvements = admin.page.get_by_label("Improvement required")
    improvements.nth(0).fill("Examine our present system for identifying legal requirements and set up a "
                             "process to ensure these legal requirements are met.")
    improvements.nth(1).fill("Develop a complaints procedure.")
    admin.fill(plan)
    admin.page.get_by_label("Chief Executive").check()
    admin.press("Record the plan")
    assert "before the site visit" in admin.page.locator("#f-signed_on-error").inner_text()
    assert admin.page.get_by_label("Date received").input_value() == "2009-05-01"
    admin.shot("form-plan-refused")
    admin.fill({"Date signed": "2009-04-30"})
    admin.press("Record the plan")
    assert "The plan was recorded." in admin.page.get_by_role("status").inner_text()

    # The lead reviewer asks for a change; the revised plan comes back; it is approved.
    reviewer.go(case_path + "/plan/changes")
    reviewer.fill({"Date requested": "2009-05-12"})
    comment = reviewer.page.get_by_role("textbox", name=re.compile(r"^3\.1\.4"))
    comment.fill("Say who will check the legal requirements.")
    reviewer.shot("form-changes")
    reviewer.press("Request changes")
    admin.go(case_path + "/plan")
    admin.fill({"Date signed": "2009-05-20", "Date received": "2009-05-22"})
    admin.press("Record the plan")
    reviewer.go(case_path)
    reviewer.page.get_by_role("link", name="Approve the plan").click()
    reviewer.fill({"Date approved": "2009-06-05"})
    reviewer.press("Approve the plan")
    assert reviewer.page.locator(".status").inner_text() == "Awaiting evidence"

    # The evidence arrives by post; the lead reviewer's judgement is then overdue.
    admin.go(case_path + "/evidence")
    actions, evidence = admin.page.get_by_label("Action undertaken"), admin.page.get_by_label("Evidence")
    actions.nth(0).fill("Previously unmet legal requirements have been put into place. Relevant people "
                        "have been informed. Ongoing process has been established to ensure legal "
                        "requirements are up-to-date.")
    evidence.nth(0).fill("Copy of employers' liability certificate.")
    actions.nth(1).fill("Complaints procedure developed and communicated to staff.")
    evidence.nth(1).fill("Documented complaints procedure.")
    admin.fill({"Date signed": "2009-07-30", "Date received": "2009-07-31"})
    admin.shot("form-evidence")
    admin.press("Record the evidence")
    assert any(ORGANISATION in r and "Judge the evidence" in r for r in dashboard_rows(admin))

    reviewer.go(case_path + "/evidence/judgement")
    reviewer.fill({"Date judged": "2009-08-10", "Report on the improvement actions":
                   "Both improvement actions were carried out and evidenced; recommended for the Quality Mark."})
    for i in range(2):
        reviewer.page.locator(f"#f-indicators-{i}-met-1").check()
        reviewer.page.locator(f"#f-indicators-{i}-comment").fill("The evidence shows the indicator is now met.")
    reviewer.shot("form-judgement")
    reviewer.press("Record the judgement")
    assert reviewer.page.locator(".status").inner_text() == "Recommended"
    reviewer.shot("case-recommended")

    assert not any(ORGANISATION in row for row in dashboard_rows(admin))
    admin.shot("dashboard-after")
    admin.go(case_path)
    case_page = admin.shot("case-page")
    with admin.page.expect_download() as download:
        admin.page.get_by_role("link", name="Download the plan as a PDF").click()
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF-")

    auditor.go(case_path + "/history")
    auditor.page.get_by_role("link", name="State after version 4").click()
    assert "Event 4: Plan submitted" in auditor.page.locator(".side-by-side").inner_text()
    auditor.shot("history-version-4")
    _for_the_readme(dashboard, case_page)


def test_forbidden_pages_and_forms_are_refused(people, server, screenshots):
    demo = {case.title.split(" (")[0].split(":")[0]: case.case_id for case in server.demo}
    example, plan_overdue = demo["The guidance's example"], demo["Plan overdue"]
    other = people("other_reviewer")
    other.go(f"/ui/cases/{example}")
    assert other.heading() == "Not allowed"
    other.shot("refused-another-reviewers-case")
    for who, path in (("lead_reviewer", f"/ui/cases/{example}/history"),
                      ("auditor", f"/ui/cases/{plan_overdue}/plan"),
                      ("organisation", f"/ui/cases/{plan_overdue}"),
                      ("admin", f"/ui/cases/{plan_overdue}/plan/approval"),
                      ("reporting", "/ui/cases/new")):
        person = people(who)
        answer = person.go(path)
        assert (answer.status, person.heading()) == (403, "Not allowed"), (who, path)
    forged = other.context.request.post(server.url + f"/ui/cases/{plan_overdue}/plan/approval",
                                        form={"approved_on": "2009-08-20"}, max_redirects=0)
    assert forged.status == 403 and "Form refused" in forged.text()


def test_pages_fit_a_phone(people, server, screenshots):
    phone = people("admin", viewport=PHONE)
    for name, path in (("phone-dashboard", "/ui/"), ("phone-case", f"/ui/cases/{server.demo[0].case_id}")):
        phone.go(path)
        assert phone.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        phone.shot(name)


def _for_the_readme(dashboard: Path, case_page: Path) -> None:
    """With PQASSO_UPDATE_DOCS_SCREENSHOTS=1, refresh docs/screenshots (a 64-colour PNG each)."""
    if not os.environ.get("PQASSO_UPDATE_DOCS_SCREENSHOTS"):
        return
    from PIL import Image

    docs = ROOT / "docs" / "screenshots"
    docs.mkdir(parents=True, exist_ok=True)
    for source, name in ((dashboard, "dashboard.png"), (case_page, "case-page.png")):
        with Image.open(source) as image:
            image.convert("RGB").quantize(colors=64).save(docs / name, optimize=True)
