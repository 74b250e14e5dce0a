"""Point 4: hostile input, against the API on a real PostgreSQL (in process).

Every free-text field takes SQL metacharacters, control characters, Unicode edge cases and the
longest text allowed, and gives them back verbatim (state, history, the audit read model); NUL,
blank, lone surrogates and over-long texts are refused with 422 naming the field, recording
nothing. Bodies over the limit get 413; deep or huge JSON is refused without using much memory.
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator
from copy import deepcopy
from datetime import date
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from application.cases import QualityMarkCases
from domain.texts import IDENTIFIER_MAX, NAME_MAX, REPORT_MAX, TEXT_MAX
from infrastructure.bootstrap import application_env
from infrastructure.http import create_api
from infrastructure.http import examples as ex
from infrastructure.http.memory import EventStoreDeadlines
from infrastructure.tokens import TokenStore
from projections.runner import ProjectionSupervisor
from tests.databases import migrated_database
from tests.reliability.support import problem

pytestmark = pytest.mark.integration

HOSTILE = {
    "sql_drop": "'; DROP TABLE cases_events; --",
    "sql_tautology": "' OR '1'='1' --",
    "sql_stacked": "Robert'); DELETE FROM cases_idempotency WHERE ('1'='1",
    "placeholders": '"; \\ $1 $$ %s %(name)s {0} {} :name ? ?? \\x00 E\'\\n\'',
    "comment_and_quote": "/* */ -- ` \" ' ;",
    "newlines_tabs": "line 1\r\nline 2\ttab\x0b\x0c",
    "c0_c1_controls": "\x01\x02\x1b[31mred\x1b[0m\x7f\x85\x9f",
    "bidi_override": "\u202eevil\u202c and \u2066isolate\u2069",
    "zero_width": "zero\u200bwidth\u200djoiner\ufeffbom\u2060",
    "combining": "e\u0301 (NFD) vs \u00e9 (NFC), Z\u0351\u0352\u0353a\u0354lgo",
    "astral": "😀 👩‍👩‍👧‍👦 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \U0010fffd",
    "specials": "\ufffd replacement, \uffff non-character, \u2028 line and \u2029 paragraph separators",
    "markup": "<script>alert('x')</script> &amp; <!-- -->",
    "json_lookalike": '{"$gt": ""} [1, 2] null true',
    "longest": None,  # each field's maximum, in multi-byte characters
}
REFUSED = {
    "nul": "before\x00after",
    "blank": " \t\r\n ",
    "empty": "",
    "lone_surrogate": "bad \ud800 half",
    "too_long": None,  # each field's maximum plus one
}

# Where each probed text goes: (command, path inside its body, maximum, path in the case state).
FIELDS = {
    "organisation.name": ("open", ("organisation", "name"), NAME_MAX, ("organisation", "name")),
    "organisation.id": ("open", ("organisation", "id"), IDENTIFIER_MAX, ("organisation", "id")),
    "findings": ("open", ("unmet_indicators", 0, "findings"), TEXT_MAX,
                 ("unmet_indicators", 0, "findings")),
    "improvement_required": ("plan", ("rows", 1, "improvement_required"), TEXT_MAX,
                             ("plan", "rows", 1, "improvement_required")),
    "signed_by.name": ("plan", ("signed_by", "name"), NAME_MAX, ("plan", "signed_by", "name")),
    "action_undertaken": ("evidence", ("rows", 0, "action_undertaken"), TEXT_MAX,
                          ("evidence", "rows", 0, "action_undertaken")),
    "evidence.title": ("evidence", ("rows", 1, "evidence", 0), NAME_MAX,
                       ("evidence", "rows", 1, "evidence", 0, "title")),
    "comment": ("judgement", ("indicators", 0, "comment"), TEXT_MAX, ("judgements", 0, "comment")),
    "report": ("judgement", ("report",), REPORT_MAX, ("report",)),
}
COMMANDS = {  # command -> (path under /cases/{id} or None for opening, body, role)
    "open": (None, ex.OPEN_CASE, "admin"),
    "plan": ("plan", ex.PLAN, "admin"),
    "approval": ("plan/approval", ex.APPROVAL, "lead_reviewer"),
    "evidence": ("evidence", ex.EVIDENCE, "admin"),
    "judgement": ("evidence/judgement", ex.JUDGEMENT, "lead_reviewer"),
}
ORDER = ("open", "plan", "approval", "evidence", "judgement")


def longest(maximum: int) -> str:
    """``maximum`` characters mixing 1-, 2-, 3- and 4-byte UTF-8, quotes and backslashes."""
    return ("aé€😀'\\\"%"[::1] * maximum)[:maximum]


def put(body: dict[str, Any], path: tuple, value: Any) -> dict[str, Any]:
    body = deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


def get(document: Any, path: tuple) -> Any:
    for key in path:
        document = document[key]
    return document


class Api:
    def __init__(self, client: TestClient, headers: dict[str, dict[str, str]], url: str) -> None:
        self.client, self.headers, self.url = client, headers, url

    def run(self, bodies: dict[str, dict[str, Any]], until: str = "judgement"):
        """Open a case and take it through the commands up to ``until``; the last response."""
        case_id, response = None, None
        for command in ORDER[:ORDER.index(until) + 1]:
            path, _, role = COMMANDS[command]
            url = "/cases" if path is None else f"/cases/{case_id}/{path}"
            response = self.post(url, bodies[command], role)
            if response.status_code >= 300:
                return case_id, response
            case_id = response.json()["case_id"]
        return case_id, response

    def post(self, url: str, body: dict[str, Any], role: str):
        # json.dumps escapes a lone surrogate as "\ud800", as any JSON client may send it.
        return self.client.post(url, content=json.dumps(body), headers={
            **self.headers[role], "Content-Type": "application/json"})

    def events(self) -> int:
        with psycopg.connect(self.url) as conn:
            return conn.execute("SELECT count(*) FROM cases_events").fetchone()[0]


@pytest.fixture(scope="module")
def api(postgres_server_url: str) -> Iterator[Api]:
    with migrated_database(postgres_server_url, "pqasso_rel_hostile") as url:
        cases = QualityMarkCases(env=application_env(url))
        tokens = TokenStore(url)
        headers = {role: {"Authorization": f"Bearer {tokens.add(role, principal)}"}
                   for role, principal in (("admin", "ces-admin-1"), ("lead_reviewer", "reviewer-1"))}
        read_side = EventStoreDeadlines(cases)
        app = create_api(cases, tokens, read_side, read_side, clock=lambda: date(2009, 12, 31))
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Api(client, headers, url)
        tokens.close()
        cases.close()


def bodies_with(field: str, value: str) -> dict[str, dict[str, Any]]:
    bodies = {command: deepcopy(body) for command, (_, body, _) in COMMANDS.items()}
    command, path, _, _ = FIELDS[field]
    bodies[command] = put(bodies[command], path, value)
    return bodies


def all_fields(value: str | None) -> dict[str, dict[str, Any]]:
    """Every probed field of one journey set to ``value`` (or to its own longest text)."""
    bodies = {command: deepcopy(body) for command, (_, body, _) in COMMANDS.items()}
    for field, (command, path, maximum, _) in FIELDS.items():
        if field == "organisation.id":
            continue  # the organisation id is tried on its own: see below
        bodies[command] = put(bodies[command], path, value if value is not None else longest(maximum))
    return bodies


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_texts_are_stored_and_read_back_verbatim(api: Api, name: str) -> None:
    value = HOSTILE[name]
    case_id, response = api.run(all_fields(value))
    assert response.status_code == 200, response.text

    state = api.client.get(f"/cases/{case_id}", headers=api.headers["admin"]).json()
    for field, (_, _, maximum, where) in FIELDS.items():
        if field != "organisation.id":
            assert get(state, where) == (value if value is not None else longest(maximum)), field
    history = api.client.get(f"/cases/{case_id}/history", headers=api.headers["admin"])
    assert history.status_code == 200
    assert history.json()[-1]["data"]["report"] == (value if value is not None else longest(REPORT_MAX))

    organisation_case, opened = api.run(bodies_with("organisation.id", value or longest(IDENTIFIER_MAX)),
                                        until="open")
    assert opened.status_code == 201, opened.text
    shown = api.client.get(f"/cases/{organisation_case}", headers=api.headers["admin"]).json()
    assert shown["organisation"]["id"] == (value or longest(IDENTIFIER_MAX))


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("name", REFUSED)
def test_refused_texts_get_422_naming_the_field_and_record_nothing(api: Api, name: str, field: str) -> None:
    value = REFUSED[name] if REFUSED[name] is not None else longest(FIELDS[field][2] + 1)
    command = FIELDS[field][0]
    bodies = bodies_with(field, value)
    if command != "open":  # first a case at the stage where the command is due
        case_id, ready = api.run(bodies, until=ORDER[ORDER.index(command) - 1])
        assert ready.status_code < 300, ready.text
    events_before = api.events()

    _, response = api.run(bodies, until=command) if command == "open" else (None, api.post(
        f"/cases/{case_id}/{COMMANDS[command][0]}", bodies[command], COMMANDS[command][2]))

    assert response.status_code == 422, response.text
    fields = [error["field"] for error in problem(response)["errors"]]
    assert ".".join(map(str, FIELDS[field][1])) in fields, fields
    assert api.events() == events_before


def test_the_read_models_keep_hostile_texts_verbatim(api: Api) -> None:
    value = HOSTILE["c0_c1_controls"] + HOSTILE["sql_drop"] + HOSTILE["astral"]
    case_id, response = api.run(all_fields(value))
    assert response.status_code == 200
    with ProjectionSupervisor(application_env(api.url)) as supervisor:
        supervisor.catch_up()
    with psycopg.connect(api.url) as conn:
        report = conn.execute(
            "SELECT data->>'report' FROM audit_events WHERE case_id = %s AND event_type = 'EvidenceJudged'",
            (case_id,)).fetchone()
        name = conn.execute("SELECT organisation_name FROM deadlines_cases WHERE case_id = %s",
                            (case_id,)).fetchone()
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE tablename = 'cases_events'").fetchone()
    assert report == (value,) and name == (value,) and tables == (1,)


def test_hostile_principals_are_only_ever_parameters(api: Api) -> None:
    tokens = TokenStore(api.url, max_connections=1)
    try:
        for value in HOSTILE.values():
            principal = (value or longest(IDENTIFIER_MAX))[:IDENTIFIER_MAX]
            token = tokens.add("auditor", principal)
            actor = tokens.authenticate(token)
            assert actor is not None and actor.principal == principal
    finally:
        tokens.close()


def test_bodies_over_the_limit_get_413(api: Api) -> None:
    big = {**ex.OPEN_CASE, "padding": "x" * 2_000_000}
    declared = api.client.post("/cases", json=big, headers=api.headers["admin"])
    assert declared.status_code == 413 and problem(declared)["type"].endswith("body-too-large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams in
        yield b'{"padding": "'
        for _ in range(300):
            yield b"x" * 10_000
        yield b'"}'

    streamed = api.client.post("/cases", content=chunks(), headers={
        **api.headers["admin"], "Content-Type": "application/json"})
    assert streamed.status_code == 413


@pytest.mark.parametrize("body", [
    "[" * 200_000 + "]" * 200_000,
    '{"a":' * 100_000 + "1" + "}" * 100_000,
    json.dumps({**ex.OPEN_CASE, "unmet_indicators": [{"indicator": "1.1.1", "findings": "x"}] * 20_000}),
    json.dumps({**ex.OPEN_CASE, "organisation": {"id": "o", "name": "n", **{f"k{i}": i for i in range(60_000)}}}),
], ids=["deep-array", "deep-object", "many-rows", "many-keys"])
def test_deep_or_huge_json_is_refused_without_exhausting_memory(api: Api, body: str) -> None:
    assert len(body) < 1_000_000  # under the size limit: the parser and validation see it all
    tracemalloc.start()
    try:
        response = api.client.post("/cases", content=body, headers={
            **api.headers["admin"], "Content-Type": "application/json"})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code in (400, 422), response.text
    assert len(problem(response)["errors"]) <= 100 and len(response.content) < 20_000  # no echo
    assert peak < 100_000_000, f"peak {peak / 1e6:.0f} MB for a {len(body) / 1e6:.1f} MB body"
