"""The HTTP API on PostgreSQL: the guidance's example end to end, and requests racing on a case.

Tokens, events and idempotency records live in a freshly migrated database; overdue
obligations come from the real deadline projection, caught up before it is asked.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from uuid import UUID

import pytest
from eventsourcing.postgres import PostgresDatastore
from fastapi.testclient import TestClient

from application.cases import QualityMarkCases
from infrastructure.http import create_api
from infrastructure.http import examples as ex
from infrastructure.settings import parse_database_url
from infrastructure.tokens import TokenStore
from projections.catchup import catch_up
from projections.deadlines import PostgresDeadlinesView

pytestmark = pytest.mark.integration

ROLES = {"admin": "ces-admin-1", "organisation": "org-1", "lead_reviewer": "reviewer-1", "auditor": "auditor-1"}
RACERS = 8


class Lag:
    """Projection health as the service reports it: each view's position against the head."""

    def __init__(self, cases: QualityMarkCases, views: dict[str, PostgresDeadlinesView]) -> None:
        self.cases, self.views = cases, views

    def status(self) -> list[dict]:
        head = self.cases.recorder.max_notification_id() or 0
        return [{"name": name, "position": view.sync_position(), "head": head,
                 "lag": head - (view.sync_position() or 0)} for name, view in self.views.items()]


@dataclass
class Service:
    client: TestClient
    headers: dict[str, dict[str, str]]
    cases: QualityMarkCases
    deadlines: PostgresDeadlinesView

    def post(self, path: str, body: dict, who: str, **headers: str):
        return self.client.post(path, json=body, headers={**self.headers[who], **headers})


@pytest.fixture
def service(fresh_migrated_url: str, make_app) -> Iterator[Service]:
    cases = make_app(fresh_migrated_url)
    tokens = TokenStore(fresh_migrated_url)
    tokens.create_table()
    url = parse_database_url(fresh_migrated_url)
    datastore = PostgresDatastore(url.dbname, url.host, url.port, url.user, url.password or "", pool_size=2)
    deadlines = PostgresDeadlinesView(datastore, tracking_table_name="deadlines_tracking")
    deadlines.create_table()
    headers = {role: {"Authorization": f"Bearer {tokens.add(role, p)}"} for role, p in ROLES.items()}
    app = create_api(cases, tokens, deadlines, Lag(cases, {"deadlines": deadlines}),
                     clock=lambda: date(2009, 12, 31))
    # Enough worker threads for every racer to reach the database at once.
    with TestClient(app) as client:
        yield Service(client, headers, cases, deadlines)
    tokens.close()
    datastore.close()


def test_the_guidance_example_end_to_end_on_postgresql(service):
    case_id = service.post("/cases", ex.OPEN_CASE, "admin").json()["case_id"]
    revised = {**ex.PLAN, "signed_on": "2009-05-11", "received_on": "2009-05-12"}
    for n, (path, body, who) in enumerate((
        ("plan", ex.PLAN, "organisation"), ("plan/changes-requested", ex.CHANGES_REQUESTED, "lead_reviewer"),
        ("plan", revised, "organisation"), ("plan/approval", ex.APPROVAL, "lead_reviewer"),
        ("evidence", ex.EVIDENCE, "organisation"), ("evidence/judgement", ex.JUDGEMENT, "lead_reviewer"),
    )):
        answer = service.post(f"/cases/{case_id}/{path}", body, who, **{"Idempotency-Key": f"{case_id}-{n}"})
        assert answer.status_code == 200, answer.text
    state = service.client.get(f"/cases/{case_id}", headers=service.headers["organisation"]).json()
    assert (state["status"], state["version"]) == ("recommended", 7)
    history = service.client.get(f"/cases/{case_id}/history", headers=service.headers["auditor"]).json()
    assert [item["actor"]["principal"] for item in history] == [
        "ces-admin-1", "org-1", "reviewer-1", "org-1", "reviewer-1", "org-1", "reviewer-1"]

    replay = service.post(f"/cases/{case_id}/plan", ex.PLAN, "organisation",
                          **{"Idempotency-Key": f"{case_id}-0"})
    assert replay.json() == {"case_id": case_id, "version": 2}  # the first answer, nothing recorded
    assert len(service.cases.history(UUID(case_id))) == 7


def test_overdue_comes_from_the_deadline_projection(service):
    late = service.post("/cases", ex.OPEN_CASE, "admin").json()["case_id"]  # plan due 2009-05-01
    assert service.client.get("/health").json()["projections"][0]["lag"] == 1
    catch_up(service.cases, {"deadlines": service.deadlines})
    health = service.client.get("/health").json()
    assert health["database"] == "ok" and health["projections"][0]["lag"] == 0
    overdue = service.client.get("/overdue?on=2009-05-04", headers=service.headers["auditor"]).json()
    assert [(o["case_id"], o["obligation"], o["days_overdue"]) for o in overdue] == [(late, "plan_submission", 3)]
    assert overdue[0]["organisation"] == ex.OPEN_CASE["organisation"]
    upcoming = service.client.get("/upcoming?on=2009-04-20&days=14", headers=service.headers["auditor"])
    assert upcoming.headers["content-type"] == "application/json"
    assert [(o["case_id"], o["obligation"], o["days_left"]) for o in upcoming.json()] == [
        (late, "plan_submission", 11)]


@pytest.mark.parametrize("guard", [{"expected_version": 1}, {}], ids=["expected-version", "no-guard"])
def test_racing_requests_on_one_case_one_wins_the_rest_conflict(service, guard):
    case_id = service.post("/cases", ex.OPEN_CASE, "admin").json()["case_id"]
    start, answers = threading.Barrier(RACERS), []

    def submit(n: int) -> None:
        body = {**ex.PLAN, **guard, "rows": [{**row, "improvement_required": f"{row['improvement_required']} ({n})"}
                                              for row in ex.PLAN["rows"]]}
        start.wait()
        answers.append(service.post(f"/cases/{case_id}/plan", body, "organisation"))

    racers = [threading.Thread(target=submit, args=(n,)) for n in range(RACERS)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [409] * (RACERS - 1), [a.text for a in answers if a.status_code != 409]
    assert all(a.headers["content-type"] == "application/problem+json" for a in answers if a.status_code == 409)
    state = service.client.get(f"/cases/{case_id}", headers=service.headers["admin"]).json()
    assert state["version"] == 2 and state["plan"]["submissions"] == 1
