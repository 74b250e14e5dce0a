"""The command fast path answers every request exactly as the FastAPI route would.

Given two services over their own stores, one with the fast path and one without, when the
same requests (well-formed commands, and every kind of refusal) go to both, then both give
the same status, headers and body (case ids aside), and record the same events. And the
fast path really takes the well-formed commands: FastAPI never sees them.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date
from typing import Any

import pytest
import structlog
from fastapi.testclient import TestClient

from application.cases import QualityMarkCases
from domain.participants import Actor, Role
from infrastructure.http import create_api
from infrastructure.http import examples as ex
from infrastructure.http.command_fast_path import CommandFastPath
from infrastructure.http.memory import EventStoreDeadlines
from infrastructure.tokens import InMemoryTokenStore

TODAY = date(2009, 12, 31)
MAX_BODY = 10_000
UNKNOWN = "0b6f5a4e-2c1d-4e8f-9a7b-3c2d1e0f9a8b"
PRINCIPALS = (("admin", "ces-admin-1"), ("organisation", "org-1"), ("lead_reviewer", "reviewer-1"),
              ("organisation", "org-2"), ("lead_reviewer", "reviewer-2"), ("reporting", "reports-1"))


class Service:
    """One service (fast path on or off), its tokens, and the cases it opened, by name."""

    def __init__(self, fast: bool, sharing: Service | None = None) -> None:
        if sharing is None:
            self.cases, self.store = QualityMarkCases(), InMemoryTokenStore()
            self.tokens = {principal: self.store.add(role, principal) for role, principal in PRINCIPALS}
        else:  # the same store and tokens as another service
            self.cases, self.store, self.tokens = sharing.cases, sharing.store, sharing.tokens
        read_side = EventStoreDeadlines(self.cases)
        self.app = create_api(self.cases, self.store, read_side, read_side, clock=lambda: TODAY,
                              max_body_bytes=MAX_BODY, fast_commands=fast)
        self.client = TestClient(self.app)
        self.named: dict[str, str] = {}

    def post(self, who: str, path: str, body: Any = None, *, raw: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
        for name, case_id in self.named.items():
            path = path.replace("{" + name + "}", case_id)
        sent = {"Authorization": f"Bearer {self.tokens[who]}", **(headers or {})}
        if raw is None:
            answer = self.client.post(path, json=body, headers=sent)
        else:
            answer = self.client.post(path, content=raw, headers=sent)
        kept = {k: v for k, v in answer.headers.items()
                if k in ("content-type", "location", "idempotent-replayed", "www-authenticate")}
        return answer.status_code, kept, answer.json() if answer.content else None

    def normalised(self, answer: tuple[int, dict[str, str], Any]) -> str:
        """The answer as text, with this service's case ids as their names."""
        status, headers, body = answer
        if isinstance(body, dict):
            body = {k: v for k, v in body.items() if k != "request_id"}
        text = json.dumps([status, headers, body], sort_keys=True)
        for name, case_id in self.named.items():
            text = text.replace(case_id, "{" + name + "}")
        return text

    def events(self) -> list[tuple[str, int, str]]:
        names = {case_id: name for name, case_id in self.named.items()}
        return [(names.get(str(n.originator_id), "?"), n.originator_version, n.topic)
                for n in self.cases.recorder.select_notifications(1, 10_000)]


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


# (name the answer's case as, who, path, body or raw bytes, extra headers)
KEY = {"Idempotency-Key": "plan-2009-04-30"}
JSON = {"Content-Type": "application/json"}
REQUESTS: list[tuple[str | None, str, str, Any, dict[str, str]]] = [
    ("a", "ces-admin-1", "/cases", ex.OPEN_CASE, {}),
    ("b", "ces-admin-1", "/cases", {**ex.OPEN_CASE, "organisation": {"id": "org-2", "name": "Hillside"},
                                    "lead_reviewer": "reviewer-2"}, {"Idempotency-Key": "open-b"}),
    (None, "ces-admin-1", "/cases", {**ex.OPEN_CASE, "organisation": {"id": "org-2", "name": "Hillside"},
                                     "lead_reviewer": "reviewer-2"}, {"Idempotency-Key": "open-b"}),  # a repeat
    (None, "ces-admin-1", "/cases", ex.OPEN_CASE, {"Idempotency-Key": "open-b"}),  # key reused, other body
    (None, "org-1", "/cases", ex.OPEN_CASE, {}),  # the organisation may not open a case
    (None, "reviewer-2", "/cases", ex.OPEN_CASE, {}),  # a reviewer names only themselves
    (None, "ces-admin-1", "/cases", {**ex.OPEN_CASE, "level": 7}, {}),  # invalid body
    (None, "ces-admin-1", "/cases", {**ex.OPEN_CASE, "visit_date": "2010-01-05"}, {}),  # a rule
    (None, "reviewer-1", "/cases/{a}/plan/approval", ex.APPROVAL, {}),  # out of order
    (None, "org-1", "/cases/{a}/plan", {**ex.PLAN, "rows": ex.PLAN["rows"][:1]}, {}),  # breaks a rule
    (None, "org-1", "/cases/{a}/plan", {**ex.PLAN, "signed_on": "30/04/2009"}, {}),  # invalid field
    (None, "org-1", "/cases/{a}/plan", {**ex.PLAN, "expected_version": 5}, {}),  # version conflict
    (None, "org-2", "/cases/{a}/plan", ex.PLAN, {}),  # not their case
    (None, "reviewer-1", "/cases/{a}/plan", ex.PLAN, {}),  # not their action
    (None, "reports-1", "/cases/{a}/plan", ex.PLAN, {}),  # a role with no commands
    (None, "org-1", f"/cases/{UNKNOWN}/plan", ex.PLAN, {}),  # no such case
    (None, "org-1", "/cases/not-a-case/plan", ex.PLAN, {}),  # a malformed id: unknown too
    (None, "org-1", "/cases/{a}/plan", b'{"rows": [', JSON),  # not JSON
    (None, "org-2", "/cases/{a}/plan", b'{"rows": [', JSON),  # not JSON, and not theirs (JSON first)
    (None, "org-2", "/cases/{a}/plan", {"rows": 3}, {}),  # not theirs, and invalid (theirs first)
    (None, "org-1", "/cases/{a}/plan", deep(5_000), JSON),  # nested too deep to parse
    (None, "org-1", "/cases/{a}/plan", b"\xff\xfe\x00", JSON),  # no Unicode at all
    (None, "org-1", "/cases/{a}/plan", b"[1, 2]", JSON),  # JSON, not an object
    (None, "org-1", "/cases/{a}/plan", b"", JSON),  # no body
    (None, "org-1", "/cases/{a}/plan", json.dumps(ex.PLAN).encode(),
     {"Content-Type": "application/vnd.pqasso+json"}),  # JSON by another name: FastAPI's
    (None, "org-1", "/cases/{a}/plan", json.dumps(ex.PLAN).encode(), {"Content-Type": "text/plain"}),
    (None, "org-1", "/cases/{a}/plan", b"x" * (MAX_BODY + 1), JSON),  # too large
    (None, "org-1", "/cases/{a}/plan", ex.PLAN, {"Idempotency-Key": "has space"}),  # a bad key
    (None, "org-1", "/cases/{a}/plan", ex.PLAN, {"Idempotency-Key": "k" * 201}),  # a key too long
    (None, "org-1", "/cases/{a}/plan", ex.PLAN, KEY),
    (None, "org-1", "/cases/{a}/plan", {**ex.PLAN}, KEY),  # a repeat: the first answer
    (None, "org-1", "/cases/{a}/plan", {**ex.PLAN, "signed_on": "2009-05-01"}, KEY),  # key reused
    (None, "org-1", "/cases/{a}/plan/", ex.PLAN, {}),  # a trailing slash: the router's
    (None, "org-1", "/cases/{a}/plan?x=1", ex.PLAN, {}),  # a query: ignored by both
    *[(None, {"organisation": "org-1", "lead_reviewer": "reviewer-1", "admin": "ces-admin-1"}[role],
       f"/cases/{{a}}/{path}", body, {}) for path, body, role, _ in ex.HAPPY_PATH[1:]],
    (None, "ces-admin-1", "/cases/{a}/award", ex.AWARD, {}),  # awarded already: ended
    (None, "org-2", "/cases/{b}/plan", {**ex.PLAN, "expected_version": 1}, {}),
]


@pytest.fixture(scope="module")
def both() -> tuple[Service, Service, list[tuple[str, str]]]:
    fast, plain = Service(fast=True), Service(fast=False)
    answers = []
    for name, who, path, body, headers in REQUESTS:
        raw = body if isinstance(body, bytes) else None
        given = [service.post(who, path, None if raw is not None else body, raw=raw, headers=headers)
                 for service in (fast, plain)]
        if name is not None:
            for service, (_, _, answer) in zip((fast, plain), given, strict=True):
                service.named[name] = answer["case_id"]
        answers.append((fast.normalised(given[0]), plain.normalised(given[1])))
    return fast, plain, answers


@pytest.mark.parametrize("index", range(len(REQUESTS)))
def test_the_fast_path_answers_as_the_route_does(both, index):
    _, _, answers = both
    fast, plain = answers[index]
    assert fast == plain


def test_both_record_the_same_events(both):
    fast, plain, _ = both
    assert fast.events() == plain.events()
    assert len(fast.events()) == 2 + len(ex.HAPPY_PATH) + 1


def test_the_statuses_cover_success_and_every_refusal(both):
    _, _, answers = both
    statuses = {json.loads(plain)[0] for _, plain in answers}
    assert statuses >= {200, 201, 403, 404, 409, 413, 415, 422}


# The fast path's own choices, against an inner application that records what reaches it.

class Inner:
    """Stands for FastAPI behind the fast path: records each request and its body."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes]] = []

    async def __call__(self, scope, receive, send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.seen.append((scope["path"], body))
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def call(fast_path: CommandFastPath, path: str, chunks: list[bytes], *, content_type: bytes = b"application/json",
         actor: Any = None) -> int:
    messages = [{"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
                for i, chunk in enumerate(chunks)]
    sent: list[dict] = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "root_path": "", "query_string": b"",
             "headers": [(b"content-type", content_type)], "state": {"actor": actor}}
    asyncio.run(fast_path(scope, receive, send))
    return sent[0]["status"]


@pytest.fixture
def opened():
    service = Service(fast=True)
    _, _, answer = service.post("ces-admin-1", "/cases", ex.OPEN_CASE)
    inner = Inner()
    fast_path = CommandFastPath(inner, cases=service.cases, clock=lambda: TODAY,
                                handlers=service.app.exception_handlers)
    return fast_path, inner, answer["case_id"], Actor("org-1", Role.ORGANISATION)


def test_well_formed_commands_never_reach_fastapi(opened):
    fast_path, inner, case_id, org = opened
    body = json.dumps(ex.PLAN).encode()
    assert call(fast_path, f"/cases/{case_id}/plan", [body[:50], body[50:]], actor=org) == 200
    assert inner.seen == []


def test_anything_else_reaches_fastapi_with_the_body_it_sent(opened):
    fast_path, inner, case_id, org = opened
    assert call(fast_path, f"/cases/{case_id}/plan", [b'{"rows": ', b"3}"], actor=org) == 299
    assert call(fast_path, f"/cases/{case_id}/plan", [b"{", b"}"], content_type=b"text/json", actor=org) == 299
    assert call(fast_path, f"/cases/{case_id}", [b"{}"], actor=org) == 299  # not a command
    assert inner.seen == [(f"/cases/{case_id}/plan", b'{"rows": 3}'), (f"/cases/{case_id}/plan", b"{}"),
                          (f"/cases/{case_id}", b"{}")]



def test_a_repeat_is_a_repeat_whichever_way_each_came():
    """The fast path's request hash is the route's: a command sent one way and repeated the
    other (a service mid-upgrade, a request that fell back) is answered as a repeat."""
    fast = Service(fast=True)
    plain = Service(fast=False, sharing=fast)
    _, _, opened = fast.post("ces-admin-1", "/cases", ex.OPEN_CASE)
    fast.named["a"] = plain.named["a"] = opened["case_id"]
    first = fast.post("org-1", "/cases/{a}/plan", ex.PLAN, headers=KEY)
    again = plain.post("org-1", "/cases/{a}/plan", ex.PLAN, headers=KEY)
    assert first[0] == again[0] == 200 and again[1].get("idempotent-replayed") == "true"
    first = plain.post("reviewer-1", "/cases/{a}/plan/approval", ex.APPROVAL, headers={"Idempotency-Key": "ok"})
    again = fast.post("reviewer-1", "/cases/{a}/plan/approval", ex.APPROVAL, headers={"Idempotency-Key": "ok"})
    assert first[0] == again[0] == 200 and again[1].get("idempotent-replayed") == "true"
    assert len(fast.events()) == 3


def test_the_command_runs_with_the_request_s_log_context(monkeypatch):
    """Its log lines (``command_recorded``...) carry the request id and the principal, as
    they do when the route runs it."""
    service = Service(fast=True)
    seen = []
    recorded = service.cases.open_case

    def open_case(*args):
        seen.append(structlog.contextvars.get_contextvars())
        return recorded(*args)

    monkeypatch.setattr(service.cases, "open_case", open_case)
    status, _, _ = service.post("ces-admin-1", "/cases", ex.OPEN_CASE, headers={"X-Request-ID": "req-7"})
    assert status == 201
    assert seen == [{"request_id": "req-7", "principal": "ces-admin-1", "role": "admin"}]
