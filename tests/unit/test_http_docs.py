"""What the API says about itself (/openapi.json) and about each request (access log, ids)."""

from __future__ import annotations

from datetime import date

import pytest
import structlog
from fastapi.testclient import TestClient

from application.cases import QualityMarkCases
from infrastructure.http import create_api
from infrastructure.http import examples as ex
from infrastructure.http.memory import EventStoreDeadlines
from infrastructure.tokens import InMemoryTokenStore

COMMANDS = {
    ("post", "/cases"), ("post", "/cases/{case_id}/plan"), ("post", "/cases/{case_id}/plan/changes-requested"),
    ("post", "/cases/{case_id}/plan/approval"), ("post", "/cases/{case_id}/evidence"),
    ("post", "/cases/{case_id}/evidence/judgement"), ("post", "/cases/{case_id}/evidence/further-details-request"),
    ("post", "/cases/{case_id}/evidence/further-details"), ("post", "/cases/{case_id}/award"),
    ("post", "/cases/{case_id}/deadlines/{obligation}/extension"),
}
READS = {("get", "/cases/{case_id}"), ("get", "/cases/{case_id}/history"), ("get", "/overdue"),
         ("get", "/upcoming"), ("get", "/health")}


@pytest.fixture(scope="module")
def served():
    cases, tokens = QualityMarkCases(), InMemoryTokenStore()
    token = tokens.add("admin", "ces-admin-1")
    read_side = EventStoreDeadlines(cases)
    client = TestClient(create_api(cases, tokens, read_side, read_side, clock=lambda: date(2009, 12, 31)))
    return client, token, client.get("/openapi.json").json()


def operations(schema):
    return {(method, path): op for path, ops in schema["paths"].items() for method, op in ops.items()}


def test_every_endpoint_is_described(served):
    _, _, schema = served
    assert set(operations(schema)) == COMMANDS | READS


@pytest.mark.parametrize(("method", "path"), sorted(COMMANDS))
def test_every_command_declares_its_body_answer_and_problems(served, method, path):
    _, _, schema = served
    op = operations(schema)[(method, path)]
    body = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert schema["components"]["schemas"][body]["examples"], f"{body} has no example"
    expected = ({"400", "401", "403", "409", "413", "415", "422", "503"}
                | ({"404"} if "{case_id}" in path else set()))
    assert expected <= set(op["responses"])
    success = op["responses"]["201" if path == "/cases" else "200"]
    assert "Idempotent-Replayed" in success["headers"]
    assert ("Location" in success["headers"]) == (path == "/cases")
    for status in expected:
        content = op["responses"][status]["content"]
        assert content == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert op["security"] == [{"bearer": []}]
    assert any(name == "Idempotency-Key" for name in (p["name"] for p in op["parameters"]))


@pytest.mark.parametrize(("method", "path"), sorted(READS - {("get", "/health")}))
def test_every_read_declares_that_a_database_outage_is_a_503(served, method, path):
    _, _, schema = served
    assert {"401", "403", "422", "503"} <= set(operations(schema)[(method, path)]["responses"])


def test_every_field_is_described(served):
    _, _, schema = served
    undescribed = [
        f"{name}.{field}" for name, model in schema["components"]["schemas"].items()
        for field, spec in model.get("properties", {}).items()
        if not {"description", "examples", "$ref"} & set(spec)
    ]
    assert undescribed == []


def test_the_problem_shape_and_the_guidance_example_are_documented(served):
    _, _, schema = served
    problem = schema["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "instance", "errors"} <= set(problem["properties"])
    assert schema["components"]["schemas"]["OpenCaseIn"]["examples"] == [ex.OPEN_CASE]
    plan = schema["components"]["schemas"]["PlanIn"]["examples"][0]
    assert [row["indicator"] for row in plan["rows"]] == ["3.1.4", "4.2.7"]
    assert plan["signed_by"] == {"name": "J Smith", "position": "chief_executive"}
    assert "security" not in operations(schema)[("get", "/health")]
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_each_request_is_logged_once_with_its_principal_and_never_the_token(served):
    client, token, _ = served
    with structlog.testing.capture_logs() as logs:
        answer = client.post("/cases", json=ex.OPEN_CASE, headers={
            "Authorization": f"Bearer {token}", "X-Request-ID": "req-42"})
    (access,) = [entry for entry in logs if entry["event"] == "http_request"]
    assert answer.headers["X-Request-ID"] == "req-42"
    assert access["request_id"] == "req-42" and access["method"] == "POST" and access["path"] == "/cases"
    assert access["status"] == 201 and access["principal"] == "ces-admin-1" and access["duration_ms"] >= 0
    assert token not in repr(logs)
    assert answer.headers["Cache-Control"] == "no-store"


def test_a_request_without_a_usable_id_gets_one(served):
    client, _, _ = served
    generated = client.get("/health").headers["X-Request-ID"]
    assert len(generated) == 32 and int(generated, 16) >= 0
    replaced = client.get("/health", headers={"X-Request-ID": "<script>"}).headers["X-Request-ID"]
    assert replaced != "<script>" and len(replaced) == 32


def test_refusals_carry_the_request_id(served):
    client, _, _ = served
    answer = client.get("/overdue", headers={"X-Request-ID": "req-43"})
    assert answer.status_code == 401 and answer.json()["request_id"] == "req-43"


def test_the_interactive_docs_need_no_token(served):
    client, _, _ = served
    assert client.get("/docs").status_code == 200
