"""Every refusal answers the right status with an RFC 9457 problem naming the field; no
request, however malformed, gets a 500."""

from __future__ import annotations

import asyncio
import json
from datetime import date

import pytest
from fastapi.testclient import TestClient

from application.cases import QualityMarkCases
from infrastructure.http import create_api
from infrastructure.http import examples as ex
from infrastructure.http.memory import EventStoreDeadlines
from infrastructure.tokens import InMemoryTokenStore

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "errors"}


class Unreachable:
    """A read side whose database is down."""

    def overdue_on(self, day):
        raise OSError("connection refused")

    def status(self):
        raise OSError("connection refused")


@pytest.fixture(scope="module")
def setup():
    cases, tokens = QualityMarkCases(), InMemoryTokenStore()
    headers = {role: {"Authorization": f"Bearer {tokens.add(role, principal)}"} for role, principal in (
        ("admin", "ces-admin-1"), ("organisation", "org-1"), ("lead_reviewer", "reviewer-1"))}
    read_side = EventStoreDeadlines(cases)
    app = create_api(cases, tokens, read_side, read_side, clock=lambda: date(2009, 12, 31), max_body_bytes=10_000)
    return TestClient(app), headers, tokens


@pytest.fixture
def client(setup):
    return setup[0]


@pytest.fixture
def admin(setup):
    return setup[1]["admin"]


def problem(answer, status: int) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert PROBLEM_KEYS <= set(body) and body["status"] == status
    return body


def fields(body: dict) -> list[str | None]:
    return [error["field"] for error in body["errors"]]


def new_case(client, admin) -> str:
    return client.post("/cases", json=ex.OPEN_CASE, headers=admin).json()["case_id"]


def rows(*codes: str) -> list[dict]:
    return [{"indicator": c, "findings": "Findings.", "improvement_required": "Improve."} for c in codes]


# (what, path under the case, body) -> (status, field at fault)
REFUSALS = [
    ("approval before a plan", "plan/approval", ex.APPROVAL, 409, None),
    ("evidence before approval", "evidence", ex.EVIDENCE, 409, None),
    ("a plan missing an indicator", "plan", {**ex.PLAN, "rows": rows("3.1.4")}, 422, "rows"),
    ("a plan with an extra indicator", "plan", {**ex.PLAN, "rows": rows("3.1.4", "4.2.7", "1.1.1")}, 422, "rows"),
    ("an indicator in no quality area", "plan", {**ex.PLAN, "rows": rows("3.1.4", "13.2.7")}, 422, "rows.1.indicator"),
    ("an indicator above the case's level", "plan", {**ex.PLAN, "rows": rows("3.1.4", "4.3.7")}, 422,
     "rows.1.indicator"),
    ("a treasurer's signature", "plan", {**ex.PLAN, "signed_by": {"name": "A B", "position": "treasurer"}}, 422,
     "signed_by.position"),
    ("received before signed", "plan", {**ex.PLAN, "received_on": "2009-04-29"}, 422, "received_on"),
    ("signed before the visit", "plan", {**ex.PLAN, "signed_on": "2009-04-01"}, 422, "signed_on"),
    ("received in the future", "plan", {**ex.PLAN, "received_on": "2010-01-05"}, 422, "received_on"),
    ("blank findings", "plan", {**ex.PLAN, "rows": [{**rows("3.1.4")[0], "findings": "  "}, *rows("4.2.7")]}, 422,
     "rows.0.findings"),
    ("a date written the British way", "plan", {**ex.PLAN, "signed_on": "30/04/2009"}, 422, "signed_on"),
    ("a date as a number", "plan", {**ex.PLAN, "signed_on": 20090430}, 422, "signed_on"),
    ("an unknown field", "plan", {**ex.PLAN, "expected_versoin": 1}, 422, "expected_versoin"),
    ("a version as text", "plan", {**ex.PLAN, "expected_version": "1"}, 422, "expected_version"),
    ("no rows", "plan", {**ex.PLAN, "rows": []}, 422, "rows"),
    ("a body that is a list", "plan", [ex.PLAN], 422, "body"),
    ("an empty body", "plan", None, 422, "body"),
    ("extending a deadline that is not open", "deadlines/evidence_submission/extension",
     {**ex.EXTENSION, "new_due_on": "2010-03-01"}, 422, "obligation"),
    ("extending an obligation that does not exist", "deadlines/tea_break/extension", ex.EXTENSION, 422, "obligation"),
]


@pytest.mark.parametrize(("path", "body", "status", "field"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_a_refused_command_names_the_field_and_records_nothing(setup, client, admin, path, body, status, field):
    case_id = new_case(client, admin)
    who = setup[1]["lead_reviewer"] if path == "plan/approval" else admin
    answer = client.post(f"/cases/{case_id}/{path}", json=body, headers=who)
    assert field in fields(problem(answer, status))
    assert len(client.get(f"/cases/{case_id}/history", headers=admin).json()) == 1


def test_nothing_happens_to_a_case_that_has_ended(client, admin, setup):
    reviewer = setup[1]["lead_reviewer"]
    case_id = new_case(client, admin)
    client.post(f"/cases/{case_id}/plan", json=ex.PLAN, headers=admin)
    client.post(f"/cases/{case_id}/plan/approval", json=ex.APPROVAL, headers=reviewer)
    client.post(f"/cases/{case_id}/evidence", json=ex.EVIDENCE, headers=admin)
    judged = {**ex.JUDGEMENT, "indicators": [{**i, "met": False} for i in ex.JUDGEMENT["indicators"]]}
    assert client.post(f"/cases/{case_id}/evidence/judgement", json=judged, headers=reviewer).status_code == 200
    body = problem(client.post(f"/cases/{case_id}/award", json=ex.AWARD, headers=admin), 409)
    assert body["type"] == "urn:pqasso:problem:case-ended"


def test_opening_a_case_with_bad_input_names_each_field(client, admin):
    body = {**ex.OPEN_CASE, "level": 4, "visit_date": "2009-02-30",
            "unmet_indicators": [{"indicator": "3.1.4", "findings": ""}]}
    answer = problem(client.post("/cases", json=body, headers=admin), 422)
    assert {"level", "visit_date", "unmet_indicators.0.findings"} <= set(fields(answer))
    assert all(error["message"] for error in answer["errors"])


@pytest.mark.parametrize("case_id", ["nope", "0" * 200, "00000000-0000-0000-0000-000000000000", "%00", "1;DROP"])
def test_an_unknown_or_malformed_case_id_is_not_found(client, admin, case_id):
    assert problem(client.get(f"/cases/{case_id}", headers=admin), 404)["errors"][0]["field"] == "case_id"
    problem(client.post(f"/cases/{case_id}/plan", json=ex.PLAN, headers=admin), 404)


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Basic YWRtaW46YWRtaW4=", "Bearer pqa_unknown-token-000000000000", "Bearer " + "x" * 5000])
def test_no_token_or_a_bad_one_is_unauthenticated(client, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}
    answer = client.post("/cases", json=ex.OPEN_CASE, headers=headers)
    problem(answer, 401)
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("length", ["²".encode("latin-1"), b"9" * 5_000, b"-1", b"12abc"])
def test_a_content_length_that_is_no_number_of_bytes_is_a_400(client, admin, length):
    answer = client.post("/cases", content=b"{}", headers={
        **admin, "Content-Type": "application/json", "Content-Length": length})
    assert "whole number" in problem(answer, 400)["detail"]


@pytest.mark.parametrize("headers", [
    {"Content-Type": "text/plain"},  # else a 415
    {"Content-Type": "application/json", "Content-Length": "2000000"},  # else a 413
], ids=["wrong type", "too large"])
def test_no_token_is_a_401_whatever_else_is_wrong_with_the_request(client, headers):
    answer = client.post("/cases", content=b"x", headers=headers)
    problem(answer, 401)


def test_a_revoked_token_is_unauthenticated(setup):
    client, _, tokens = setup
    token = tokens.add("auditor", "auditor-9")
    assert client.get("/overdue", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    tokens.revoke(tokens.list()[-1].id)
    problem(client.get("/overdue", headers={"Authorization": f"Bearer {token}"}), 401)


def test_a_role_that_may_not_act_is_forbidden(client, setup):
    body = problem(client.post("/cases", json=ex.OPEN_CASE, headers=setup[1]["organisation"]), 403)
    assert "organisation" in body["detail"]


@pytest.mark.parametrize(("raw", "why"), [
    (b'{"rows": [', "not valid JSON"), (b"NaN", "valid dictionary"),
    (b"\xff\xfe", "not valid JSON"), (b'{"level":"\xff"}', "not UTF-8"),
    (b"[" * 4_000 + b"]" * 4_000, "nested too deeply"),
    (b'{"level": ' + b"9" * 5000 + b"}", "too many digits"),
], ids=["cut short", "NaN", "a BOM of UTF-16", "a byte of Latin-1", "nested", "a long number"])
def test_a_body_that_cannot_be_read_as_json_is_invalid_input_saying_why(client, admin, raw, why):
    answer = client.post("/cases", content=raw, headers={**admin, "Content-Type": "application/json"})
    body = problem(answer, 422)
    assert fields(body) == ["body"] and why in body["errors"][0]["message"], body


def test_a_body_that_is_not_json_is_unsupported(client, admin):
    problem(client.post("/cases", content=b"level=2", headers={**admin, "Content-Type": "text/plain"}), 415)
    problem(client.post("/cases", data={"level": "2"}, headers=admin), 415)


def test_a_body_over_the_limit_is_refused_by_its_declared_length(client, admin):
    big = json.dumps({**ex.OPEN_CASE, "padding": "x" * 20_000})
    problem(client.post("/cases", content=big, headers={**admin, "Content-Type": "application/json"}), 413)


def test_a_body_over_the_limit_is_refused_as_it_streams_in(client, admin):
    chunks = (b"[" + b" " * 1000 for _ in range(20))  # no Content-Length: sent chunked
    answer = client.post("/cases", content=chunks, headers={**admin, "Content-Type": "application/json"})
    problem(answer, 413)


def test_a_body_longer_than_its_content_length_is_refused(setup):
    client, headers, _ = setup
    status, body = asyncio.run(raw_request(client.app, headers["admin"], declared=100, sent=20_000))
    assert status == 413 and json.loads(body)["status"] == 413


async def raw_request(app, headers: dict, *, declared: int, sent: int) -> tuple[int, bytes]:
    """Call the ASGI app directly: a client may lie about Content-Length."""
    messages = [{"type": "http.request", "body": b" " * 1000, "more_body": True} for _ in range(sent // 1000)]
    messages.append({"type": "http.request", "body": b"", "more_body": False})
    answer: dict = {"body": b""}

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()] + [
        (b"content-type", b"application/json"), (b"content-length", str(declared).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/cases", "raw_path": b"/cases", "query_string": b"",
             "root_path": "", "headers": raw_headers, "client": ("test", 1), "server": ("test", 80)}
    await app(scope, receive, send)
    return answer["status"], answer["body"]


def test_unknown_paths_and_methods_answer_problems(client, admin):
    problem(client.get("/nowhere", headers=admin), 404)
    answer = client.delete("/cases", headers=admin)
    problem(answer, 405)
    assert "POST" in answer.headers["Allow"]


def test_bad_query_parameters_are_invalid_input(client, admin):
    assert fields(problem(client.get("/overdue?on=yesterday", headers=admin), 422)) == ["on"]
    assert fields(problem(client.get("/upcoming?days=-1", headers=admin), 422)) == ["days"]
    case_id = new_case(client, admin)
    assert fields(problem(client.get(f"/cases/{case_id}?version=0", headers=admin), 422)) == ["version"]


def test_a_look_ahead_past_the_calendars_last_day_is_invalid_input_not_an_outage(client, admin):
    body = problem(client.get("/upcoming?on=9999-12-31&days=1", headers=admin), 422)
    assert fields(body) == ["days"] and "9999-12-31" in body["errors"][0]["message"]
    assert client.get("/upcoming?on=9999-12-31&days=0", headers=admin).json() == []


def test_a_read_model_fault_that_is_not_the_database_is_a_500_not_an_outage():
    class Faulty(Unreachable):
        def overdue_on(self, day):
            raise KeyError("a bug of ours")

    down, tokens = Faulty(), InMemoryTokenStore()
    admin = {"Authorization": f"Bearer {tokens.add('admin', 'ces-admin-1')}"}
    client = TestClient(create_api(QualityMarkCases(), tokens, down, down), raise_server_exceptions=False)
    answer = client.get("/overdue", headers=admin)
    assert answer.status_code == 500 and "Retry-After" not in answer.headers
    assert "database" not in answer.text


def test_a_bad_idempotency_key_is_invalid_input(client, admin):
    case_id = new_case(client, admin)
    answer = client.post(f"/cases/{case_id}/plan", json=ex.PLAN, headers={**admin, "Idempotency-Key": "a b"})
    assert fields(problem(answer, 422)) == ["Idempotency-Key"]


def test_health_is_unavailable_when_the_database_is_unreachable():
    down = Unreachable()
    client = TestClient(create_api(QualityMarkCases(), InMemoryTokenStore(), down, down))
    answer = client.get("/health")
    problem(answer, 503)
    assert answer.headers["Retry-After"] == "5"
