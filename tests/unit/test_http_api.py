"""The HTTP API on the in-memory application: the guidance's example, the loops, the guards.

Given a case driven through the API, when a request is sent, then the answer (and
the case's history) is what api-v1.md says.
"""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from application.cases import QualityMarkCases
from infrastructure.http import create_api
from infrastructure.http import examples as ex
from infrastructure.http.memory import EventStoreDeadlines
from infrastructure.tokens import InMemoryTokenStore

WHO = {
    "admin": ("admin", "ces-admin-1"), "organisation": ("organisation", "org-1"),
    "lead_reviewer": ("lead_reviewer", "reviewer-1"), "auditor": ("auditor", "auditor-1"),
    "reporting": ("reporting", "reporting-job"),
}


class Api:
    """A client on a fresh in-memory service, with a token per role and a settable today."""

    def __init__(self) -> None:
        self.today = date(2009, 12, 31)
        self.cases = QualityMarkCases()
        tokens = InMemoryTokenStore()
        self.headers = {name: {"Authorization": f"Bearer {tokens.add(*w)}"} for name, w in WHO.items()}
        read_side = EventStoreDeadlines(self.cases)
        self.client = TestClient(create_api(self.cases, tokens, read_side, read_side, clock=lambda: self.today))

    def post(self, path: str, body: dict, who: str = "admin", **headers: str):
        return self.client.post(path, json=body, headers={**self.headers[who], **headers})

    def get(self, path: str, who: str = "admin"):
        return self.client.get(path, headers=self.headers[who])

    def open_case(self, body: dict = ex.OPEN_CASE) -> str:
        answer = self.post("/cases", body)
        assert answer.status_code == 201, answer.text
        return answer.json()["case_id"]

    def step(self, case_id: str, path: str, body: dict, who: str, **headers: str) -> dict:
        answer = self.post(f"/cases/{case_id}/{path}", body, who, **headers)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def history(self, case_id: str) -> list[dict]:
        return self.get(f"/cases/{case_id}/history", "auditor").json()


@pytest.fixture
def api() -> Api:
    return Api()


REVISED_PLAN = {**ex.PLAN, "signed_on": "2009-05-11", "received_on": "2009-05-12"}


def test_the_guidance_example_from_site_visit_to_recommendation(api):
    case_id = api.open_case()
    answers = [
        api.step(case_id, "plan", ex.PLAN, "organisation"),
        api.step(case_id, "plan/changes-requested", ex.CHANGES_REQUESTED, "lead_reviewer"),
        api.step(case_id, "plan", REVISED_PLAN, "organisation"),
        api.step(case_id, "plan/approval", ex.APPROVAL, "lead_reviewer"),
        api.step(case_id, "evidence", ex.EVIDENCE, "organisation"),
        api.step(case_id, "evidence/judgement", ex.JUDGEMENT, "lead_reviewer"),
    ]
    assert answers == [{"case_id": case_id, "version": v} for v in range(2, 8)]
    state = api.get(f"/cases/{case_id}", "organisation").json()
    assert state["status"] == "recommended" and state["version"] == 7
    assert state["outcome"]["recommendation"] == "recommended" and state["outcome"]["gaps"] == []
    assert state["organisation"] == ex.OPEN_CASE["organisation"] and state["level"] == 2
    assert {(d["obligation"], d["met_on"]) for d in state["deadlines"]} >= {
        ("plan_submission", "2009-05-01"), ("evidence_submission", "2009-06-22"),
        ("evidence_judgement", "2009-07-01")}
    history = api.history(case_id)
    assert [item["type"] for item in history] == [
        "SiteVisitHeld", "PlanSubmitted", "ChangesRequested", "PlanSubmitted", "PlanApproved",
        "EvidenceSubmitted", "EvidenceJudged"]
    assert [item["actor"]["principal"] for item in history] == [
        "ces-admin-1", "org-1", "reviewer-1", "org-1", "reviewer-1", "org-1", "reviewer-1"]
    assert history[1]["data"]["signed_by"] == ex.J_SMITH


def test_a_plan_goes_round_the_changes_loop_until_approved(api):
    case_id = api.open_case()
    api.step(case_id, "plan", ex.PLAN, "organisation")
    for requested_on, signed_on, received_on in (("2009-05-04", "2009-05-06", "2009-05-07"),
                                                 ("2009-05-08", "2009-05-11", "2009-05-12")):
        api.step(case_id, "plan/changes-requested", {**ex.CHANGES_REQUESTED, "requested_on": requested_on},
                 "lead_reviewer")
        assert api.get(f"/cases/{case_id}").json()["status"] == "changes_requested"
        api.step(case_id, "plan", {**ex.PLAN, "signed_on": signed_on, "received_on": received_on}, "admin")
    api.step(case_id, "plan/approval", ex.APPROVAL, "lead_reviewer")
    state = api.get(f"/cases/{case_id}").json()
    assert state["status"] == "awaiting_evidence" and state["plan"]["submissions"] == 3


def test_further_details_then_a_gap_means_not_recommended(api):
    case_id = api.open_case()
    for path, body, who, _ in ex.HAPPY_PATH[:5]:
        api.step(case_id, path, body, who)
    judgement = {**ex.JUDGEMENT, "indicators": [
        ex.JUDGEMENT["indicators"][0], {"indicator": "4.2.7", "met": False, "comment": "Not yet in use."}]}
    api.step(case_id, "evidence/judgement", judgement, "lead_reviewer")
    state = api.get(f"/cases/{case_id}").json()
    assert state["status"] == "not_recommended" and state["outcome"]["gaps"] == ["4.2.7"]
    assert state["further_details"] == [{"request": ex.FURTHER_DETAILS_REQUEST["request"],
                                         "answer": ex.FURTHER_DETAILS["details"]}]


def test_the_whole_happy_path_ends_with_the_award(api):
    case_id = api.open_case()
    for path, body, who, status in ex.HAPPY_PATH:
        api.step(case_id, path, body, who)
        assert api.get(f"/cases/{case_id}").json()["status"] == status


def test_an_admin_extends_an_open_deadline(api):
    api.today = date(2009, 4, 28)
    case_id = api.open_case()
    api.step(case_id, "deadlines/plan_submission/extension", ex.EXTENSION, "admin")
    deadlines = api.get(f"/cases/{case_id}").json()["deadlines"]
    assert [(d["obligation"], d["due_on"]) for d in deadlines] == [("plan_submission", "2009-05-15")]
    assert api.history(case_id)[-1]["data"]["reason"] == ex.EXTENSION["reason"]


def test_a_case_with_no_unmet_indicator_is_recommended_at_once(api):
    case_id = api.open_case({**ex.OPEN_CASE, "unmet_indicators": []})
    assert api.get(f"/cases/{case_id}").json()["status"] == "recommended"


# ---- idempotency and optimistic concurrency ------------------------------------------------

def test_a_repeated_request_with_its_idempotency_key_answers_the_same_and_records_nothing(api):
    case_id = api.open_case()
    first = api.post(f"/cases/{case_id}/plan", ex.PLAN, "organisation", **{"Idempotency-Key": "plan-1"})
    reordered = dict(reversed(list(ex.PLAN.items())))  # the same JSON, keys in another order
    again = api.post(f"/cases/{case_id}/plan", reordered, "organisation", **{"Idempotency-Key": "plan-1"})
    assert (again.status_code, again.json()) == (first.status_code, first.json()) == (
        200, {"case_id": case_id, "version": 2})
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(api.history(case_id)) == 2


def test_opening_a_case_twice_with_one_key_opens_one_case(api):
    first = api.post("/cases", ex.OPEN_CASE, **{"Idempotency-Key": "visit-2009-04-17"})
    again = api.post("/cases", ex.OPEN_CASE, **{"Idempotency-Key": "visit-2009-04-17"})
    assert again.status_code == first.status_code == 201
    assert again.json() == first.json()
    assert len(EventStoreDeadlines(api.cases).overdue_on(date(2009, 5, 2))) == 1  # one case only


def test_an_idempotency_key_reused_for_another_body_is_refused(api):
    case_id = api.open_case()
    api.step(case_id, "plan", ex.PLAN, "organisation", **{"Idempotency-Key": "k1"})
    other = api.post(f"/cases/{case_id}/plan/approval", ex.APPROVAL, "organisation", **{"Idempotency-Key": "k1"})
    assert other.status_code == 403  # the organisation may not approve: authorization comes first
    other = api.post(f"/cases/{case_id}/plan", REVISED_PLAN, "organisation", **{"Idempotency-Key": "k1"})
    assert other.status_code == 409
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert len(api.history(case_id)) == 2


def test_expected_version_guards_against_lost_updates(api):
    case_id = api.open_case()
    stale = api.post(f"/cases/{case_id}/plan", {**ex.PLAN, "expected_version": 2}, "organisation")
    assert stale.status_code == 409 and stale.json()["type"] == "urn:pqasso:problem:version-conflict"
    assert stale.json()["errors"][0]["field"] == "expected_version"
    fresh = api.post(f"/cases/{case_id}/plan", {**ex.PLAN, "expected_version": 1}, "organisation")
    assert fresh.json() == {"case_id": case_id, "version": 2}


# ---- reads ---------------------------------------------------------------------------------

def test_the_state_after_the_first_n_events(api):
    case_id = api.open_case()
    api.step(case_id, "plan", ex.PLAN, "organisation")
    api.step(case_id, "plan/approval", ex.APPROVAL, "lead_reviewer")
    assert api.get(f"/cases/{case_id}?version=2", "auditor").json()["status"] == "plan_under_review"
    assert api.get(f"/cases/{case_id}?version=1", "lead_reviewer").json()["status"] == "awaiting_plan"
    missing = api.get(f"/cases/{case_id}?version=4", "auditor")
    assert missing.status_code == 404 and missing.json()["errors"][0]["field"] == "version"


def test_overdue_and_upcoming_obligations(api):
    case_id = api.open_case()  # plan due 2009-05-01
    overdue = api.get("/overdue?on=2009-05-03", "reporting").json()
    assert overdue == [{
        "case_id": case_id, "organisation": ex.OPEN_CASE["organisation"], "obligation": "plan_submission",
        "owed_by": "organisation", "due_on": "2009-05-01", "days_overdue": 2, "lead_reviewer": "reviewer-1"}]
    assert api.get("/overdue?on=2009-05-01", "auditor").json() == []
    upcoming = api.get("/upcoming?on=2009-04-24&days=7", "reporting").json()
    assert [(u["obligation"], u["days_left"]) for u in upcoming] == [("plan_submission", 7)]
    assert api.get("/upcoming?on=2009-04-24&days=6").json() == []


def test_overdue_defaults_to_today(api):
    api.open_case()
    api.today = date(2009, 5, 4)
    assert [item["days_overdue"] for item in api.get("/overdue").json()] == [3]
