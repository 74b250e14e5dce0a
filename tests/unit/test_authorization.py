"""The whole role and ownership matrix (api-v1.md), walked through the HTTP API.

Every role, on its own case and on someone else's, against every endpoint: exactly the
pairs in ALLOWED succeed; every other pair is refused with 403. The table below is
written out by hand from the contract, not derived from application.authorization.
"""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from application.authorization import RULES, Action, Scope, check_allowed
from application.cases import QualityMarkCases
from application.errors import NotAllowed
from domain.participants import Actor, Organisation, Role
from infrastructure.http import create_api
from infrastructure.http import examples as ex
from infrastructure.tokens import InMemoryTokenStore

# Callers: principals "org-1" and "reviewer-1" own the example case; the "_other" ones do not.
CALLERS = {
    "admin": ("admin", "ces-admin-1"),
    "auditor": ("auditor", "auditor-1"),
    "reporting": ("reporting", "reporting-job"),
    "organisation_own": ("organisation", "org-1"),
    "organisation_other": ("organisation", "org-2"),
    "lead_reviewer_own": ("lead_reviewer", "reviewer-1"),
    "lead_reviewer_other": ("lead_reviewer", "reviewer-2"),
}

# endpoint: (method, path, body, how many steps of ex.HAPPY_PATH the case needs first)
ENDPOINTS = {
    "open_case": ("POST", "/cases", ex.OPEN_CASE, None),
    "submit_plan": ("POST", "/cases/{id}/plan", ex.PLAN, 0),
    "request_changes": ("POST", "/cases/{id}/plan/changes-requested", ex.CHANGES_REQUESTED, 1),
    "approve_plan": ("POST", "/cases/{id}/plan/approval", ex.APPROVAL, 1),
    "submit_evidence": ("POST", "/cases/{id}/evidence", ex.EVIDENCE, 2),
    "request_further_details": (
        "POST", "/cases/{id}/evidence/further-details-request", ex.FURTHER_DETAILS_REQUEST, 3),
    "provide_further_details": ("POST", "/cases/{id}/evidence/further-details", ex.FURTHER_DETAILS, 4),
    "judge_evidence": ("POST", "/cases/{id}/evidence/judgement", ex.JUDGEMENT, 3),
    "award": ("POST", "/cases/{id}/award", ex.AWARD, 6),
    # An extension must still lie ahead on the day it is granted (the clock's 2009-12-31).
    "extend_deadline": ("POST", "/cases/{id}/deadlines/plan_submission/extension",
                        {**ex.EXTENSION, "new_due_on": "2010-01-15"}, 0),
    "read_case": ("GET", "/cases/{id}", None, 0),
    "read_history": ("GET", "/cases/{id}/history", None, 0),
    "read_overdue": ("GET", "/overdue?on=2009-06-01", None, None),
    "read_upcoming": ("GET", "/upcoming?days=30", None, None),
}

ALLOWED = {
    "open_case": {"admin", "lead_reviewer_own"},
    "submit_plan": {"admin", "organisation_own"},
    "request_changes": {"lead_reviewer_own"},
    "approve_plan": {"lead_reviewer_own"},
    "submit_evidence": {"admin", "organisation_own"},
    "request_further_details": {"lead_reviewer_own"},
    "provide_further_details": {"admin", "organisation_own"},
    "judge_evidence": {"lead_reviewer_own"},
    "award": {"admin"},
    "extend_deadline": {"admin"},
    "read_case": {"admin", "auditor", "organisation_own", "lead_reviewer_own"},
    "read_history": {"admin", "auditor"},
    "read_overdue": {"admin", "auditor", "reporting"},
    "read_upcoming": {"admin", "auditor", "reporting"},
}


class EmptyDeadlines:
    def overdue_on(self, day: date) -> list:
        return []

    def upcoming(self, day: date, days: int) -> list:
        return []

    def status(self) -> list:
        return []


@pytest.fixture(scope="module")
def api():
    tokens = InMemoryTokenStore()
    headers = {name: {"Authorization": f"Bearer {tokens.add(*who)}"} for name, who in CALLERS.items()}
    deadlines = EmptyDeadlines()
    app = create_api(QualityMarkCases(), tokens, deadlines, deadlines, clock=lambda: date(2009, 12, 31))
    return TestClient(app), headers


def case_after(api, steps: int) -> str:
    """A fresh example case, moved along the first ``steps`` steps of the happy path."""
    client, headers = api
    case_id = client.post("/cases", json=ex.OPEN_CASE, headers=headers["admin"]).json()["case_id"]
    actors = {"admin": "admin", "organisation": "organisation_own", "lead_reviewer": "lead_reviewer_own"}
    for path, body, who, _ in ex.HAPPY_PATH[:steps]:
        answer = client.post(f"/cases/{case_id}/{path}", json=body, headers=headers[actors[who]])
        assert answer.status_code == 200, answer.text
    return case_id


MATRIX = [(endpoint, caller) for endpoint in ENDPOINTS for caller in CALLERS]


@pytest.mark.parametrize(("endpoint", "caller"), MATRIX, ids=[f"{e}-{c}" for e, c in MATRIX])
def test_matrix(api, endpoint, caller):
    client, headers = api
    method, path, body, steps = ENDPOINTS[endpoint]
    if steps is not None:
        path = path.replace("{id}", case_after(api, steps))
    answer = client.request(method, path, json=body, headers=headers[caller])
    if caller in ALLOWED[endpoint]:
        assert answer.status_code in (200, 201), answer.text
    else:
        assert answer.status_code == 403, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"] == "urn:pqasso:problem:not-allowed"


def test_the_matrix_covers_every_endpoint_the_api_serves(api):
    client, _ = api
    served = {
        (method.upper(), path) for path, operations in client.get("/openapi.json").json()["paths"].items()
        for method in operations
    }
    tested = {(method, path.split("?")[0].replace("{id}", "{case_id}")) for method, path, _, _ in ENDPOINTS.values()}
    tested = {(m, p.replace("plan_submission", "{obligation}")) for m, p in tested}
    assert served - tested == {("GET", "/health")}


def test_a_lead_reviewer_may_not_open_a_case_naming_another_lead_reviewer(api):
    client, headers = api
    answer = client.post("/cases", json=ex.OPEN_CASE, headers=headers["lead_reviewer_other"])
    assert answer.status_code == 403
    assert "lead reviewer" in answer.json()["detail"]


def test_health_needs_no_token(api):
    client, _ = api
    assert client.get("/health").status_code == 200


# ---- the table itself, without HTTP ---------------------------------------------------------

class Parties:
    def __init__(self, organisation: str, lead_reviewer: str) -> None:
        self.organisation = Organisation(organisation, "Some charity")
        self.lead_reviewer = lead_reviewer


CASES = {"own": Parties("org-1", "reviewer-1"), "other": Parties("org-2", "reviewer-2"), "none": None}
ACTORS = {name: Actor(principal, Role(role)) for name, (role, principal) in {
    "admin": ("admin", "ces-admin-1"), "auditor": ("auditor", "auditor-1"),
    "reporting": ("reporting", "reporting-job"), "organisation": ("organisation", "org-1"),
    "lead_reviewer": ("lead_reviewer", "reviewer-1"), "system": ("system", "deadline-job"),
}.items()}
ACTION_OF = {endpoint: Action(endpoint) for endpoint in ALLOWED if endpoint != "award"}
ACTION_OF["award"] = Action.AWARD_QUALITY_MARK


def expected(endpoint: str, actor: str, case: str) -> bool:
    """From ALLOWED: "x_own" may act on its own case; plain roles on any case or none."""
    allowed = ALLOWED[endpoint]
    on_no_case = ENDPOINTS[endpoint][3] is None and endpoint != "open_case"
    if actor in allowed:
        return True
    if f"{actor}_own" in allowed:
        return case == "own" and not on_no_case
    return False


TABLE = [(e, a, c) for e in ALLOWED for a in ACTORS for c in CASES]


@pytest.mark.parametrize(("endpoint", "actor", "case"), TABLE, ids=["-".join(t) for t in TABLE])
def test_check_allowed_matches_the_contract(endpoint, actor, case):
    try:
        check_allowed(ACTORS[actor], ACTION_OF[endpoint], CASES[case])
        allowed = True
    except NotAllowed:
        allowed = False
    assert allowed is expected(endpoint, actor, case)


def test_every_action_has_a_rule_and_nothing_else_does():
    assert set(RULES) == set(Action) == set(ACTION_OF.values())
    assert all(Role.SYSTEM not in roles for roles in RULES.values())
    assert {a for a, roles in RULES.items() if Role.REPORTING in roles} == {
        Action.READ_OVERDUE, Action.READ_UPCOMING}  # the reporting job reads projections only
    assert all(a.value.startswith("read_") for a, roles in RULES.items() if Role.AUDITOR in roles)
    assert all(scope is Scope.NO_CASE for a in (Action.READ_OVERDUE, Action.READ_UPCOMING)
               for scope in RULES[a].values())
