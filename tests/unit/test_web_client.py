"""Signing in to the pages, the session cookie, and CSRF: given the in-memory service behind
the pages, when a browser signs in, posts or signs out, then only what it may do happens.

``Site`` and ``Browser`` here are shared by the other ``test_web_*`` modules.
"""

from __future__ import annotations

import re
from datetime import date
from html import unescape
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from application.cases import QualityMarkCases
from infrastructure.http import create_api
from infrastructure.http import examples as ex
from infrastructure.http.memory import EventStoreDeadlines
from infrastructure.tokens import InMemoryTokenStore, token_hash
from infrastructure.web import create_web_app, with_web_pages
from infrastructure.web.sessions import SessionStore

TODAY = date(2009, 12, 31)
WHO = {
    "admin": ("admin", "ces-admin-1"), "organisation": ("organisation", "org-1"),
    "lead_reviewer": ("lead_reviewer", "reviewer-1"), "other_reviewer": ("lead_reviewer", "reviewer-2"),
    "auditor": ("auditor", "auditor-1"), "reporting": ("reporting", "reporting-job"),
}
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


class Site:
    """The JSON API and the pages over one in-memory service, with a token per role."""

    def __init__(self, *, secure: bool = True, today: date = TODAY) -> None:
        self.today = today
        self.cases, self.store = QualityMarkCases(), InMemoryTokenStore()
        self.tokens = {name: self.store.add(*who) for name, who in WHO.items()}
        self.sessions = SessionStore()
        read_side = EventStoreDeadlines(self.cases)
        api = create_api(self.cases, self.store, read_side, read_side, clock=lambda: self.today)
        web = create_web_app(self.cases, self.store, read_side, read_side, clock=lambda: self.today,
                             secure_cookies=secure, sessions=self.sessions)
        self.app = with_web_pages(api, web)
        self.base_url = "https://testserver" if secure else "http://testserver"

    def browser(self, who: str | None = None) -> Browser:
        browser = Browser(TestClient(self.app, base_url=self.base_url))
        if who is not None:
            answer = browser.sign_in(self.tokens[who])
            assert answer.status_code == 303, answer.text
        return browser

    def api(self, method: str, path: str, who: str = "admin", **kwargs):
        client = TestClient(self.app, base_url=self.base_url)
        return client.request(method, path, headers={"Authorization": f"Bearer {self.tokens[who]}"}, **kwargs)

    def open_case(self, body: dict = ex.OPEN_CASE) -> str:
        answer = self.api("POST", "/cases", json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()["case_id"]

    def step(self, case_id: str, path: str, body: dict, who: str) -> None:
        answer = self.api("POST", f"/cases/{case_id}/{path}", who, json=body)
        assert answer.status_code == 200, answer.text


class Browser:
    """A TestClient that behaves like a browser: it fills in a form's hidden fields from its page."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def get(self, path: str, **kwargs):
        return self.client.get(path, follow_redirects=False, **kwargs)

    def sign_in(self, token: str, next_path: str = "/ui/"):
        page = self.client.get("/ui/sign-in")
        return self.client.post("/ui/sign-in", data={**hidden(page.text), "token": token, "next": next_path},
                                follow_redirects=False)

    def submit(self, path: str, data: dict[str, str], **kwargs):
        """GET the form at ``path``, then POST what it holds, changed by ``data`` (as a person would)."""
        page = self.client.get(path)
        assert page.status_code == 200, page.text
        return self.client.post(path, data={**form_values(page.text), **data}, follow_redirects=False, **kwargs)

    def post(self, path: str, data: dict[str, str], **kwargs):
        return self.client.post(path, data=data, follow_redirects=False, **kwargs)


def hidden(html: str) -> dict[str, str]:
    """The hidden inputs of a page (the CSRF token, the version and idempotency key)."""
    return {name: unescape(value) for name, value in _HIDDEN.findall(html)}


class _FormReader(HTMLParser):
    """What a browser would send from a page's last form: inputs, checked radios, chosen options, textareas."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.values = {}
        elif tag == "input" and "name" in a and (a.get("type") != "radio" or "checked" in a):
            if a.get("type") != "submit":
                self.values[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.values[a["name"]] = ""
        elif tag == "select":
            self._select = a["name"]
            self.values[a["name"]] = ""
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data


def form_values(html: str) -> dict[str, str]:
    reader = _FormReader()
    reader.feed(html)
    return reader.values


def text(html: str) -> str:
    """A page's text, tags and surplus space removed, for asserting on what a person reads."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture
def site() -> Site:
    return Site()


# ---- signing in ------------------------------------------------------------------------------

def test_a_page_without_a_session_sends_the_browser_to_sign_in_and_back(site):
    browser = site.browser()
    answer = browser.get("/ui/?owed_by=organisation")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/sign-in?next=/ui/%3Fowed_by%3Dorganisation"
    signed_in = browser.sign_in(site.tokens["admin"], next_path="/ui/?owed_by=organisation")
    assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/ui/?owed_by=organisation")


def test_signing_in_sets_an_http_only_strict_secure_host_cookie_holding_no_token(site):
    answer = site.browser().sign_in(site.tokens["auditor"])
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("__Host-pqasso_session="))
    assert {"HttpOnly", "Path=/", "SameSite=strict", "Secure"} <= {p.strip() for p in cookie.split(";")}
    assert site.tokens["auditor"] not in cookie and "Max-Age" not in cookie
    assert len(site.sessions) == 1


def test_the_server_keeps_the_tokens_hash_never_the_token(site):
    site.browser("auditor")
    (session,) = site.sessions._sessions.values()
    assert session.token_hash == token_hash(site.tokens["auditor"])
    assert site.tokens["auditor"] not in repr(vars(site.sessions))


def test_an_unknown_token_is_refused_with_a_message_and_no_session(site):
    answer = site.browser().sign_in("pqa_" + "x" * 43)
    assert answer.status_code == 401
    assert "unknown or has been revoked" in text(answer.text)
    assert "pqasso_session" not in answer.headers.get("set-cookie", "")
    assert len(site.sessions) == 0


def test_a_sign_in_form_without_its_own_token_is_refused(site):
    answer = site.browser().post("/ui/sign-in", {"token": site.tokens["admin"], "csrf_token": "forged"})
    assert answer.status_code == 403 and len(site.sessions) == 0


def test_next_never_leads_to_another_site(site):
    answer = site.browser().sign_in(site.tokens["admin"], next_path="//evil.example/ui/")
    assert answer.headers["location"] == "/ui/"


def test_cookies_are_not_marked_secure_when_served_over_plain_http_for_development():
    site = Site(secure=False)
    answer = site.browser().sign_in(site.tokens["admin"])
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("pqasso_session="))
    assert "Secure" not in cookie and "HttpOnly" in cookie
    assert site.browser("admin").get("/ui/").status_code == 200


def test_signing_out_ends_the_session_on_the_server(site):
    browser = site.browser("admin")
    page = browser.get("/ui/")
    assert browser.post("/ui/sign-out", hidden(page.text)).status_code == 303
    assert len(site.sessions) == 0
    assert browser.get("/ui/").status_code == 303


def test_a_revoked_token_ends_its_sessions(site):
    browser = site.browser("admin")
    site.store.revoke(next(t.id for t in site.store.list() if t.principal == "ces-admin-1"))
    assert browser.get("/ui/").status_code == 303
    assert len(site.sessions) == 0


# ---- CSRF ------------------------------------------------------------------------------------

def test_a_form_without_the_sessions_csrf_token_is_refused_and_records_nothing(site):
    browser = site.browser("admin")
    data = {"organisation.id": "org-9", "organisation.name": "Nine", "level": "1",
            "visit_date": "2009-04-17", "lead_reviewer": "reviewer-1"}
    answer = browser.post("/ui/cases/new", data)
    assert answer.status_code == 403 and "Form refused" in answer.text
    other = site.browser("admin")
    stolen = hidden(other.get("/ui/cases/new").text)["csrf_token"]
    assert browser.post("/ui/cases/new", {**data, "csrf_token": stolen}).status_code == 403
    assert site.cases.recorder.max_notification_id() in (None, 0)


def test_a_form_posted_from_another_origin_is_refused(site):
    browser = site.browser("admin")
    answer = browser.submit("/ui/cases/new", {}, headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403


def test_pages_forbid_framing_and_scripts_and_caching(site):
    answer = site.browser("admin").get("/ui/")
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"


def test_sessions_expire_when_idle():
    now = [0.0]
    store = SessionStore(idle_seconds=60, clock=lambda: now[0])
    session_id, _ = store.start(actor=object(), token_hash="0" * 64)  # type: ignore[arg-type]
    now[0] = 59
    assert store.get(session_id) is not None
    now[0] = 120
    assert store.get(session_id) is None and len(store) == 0


def test_the_json_api_beside_the_pages_still_wants_its_bearer_token(site):
    assert site.browser("admin").client.get("/overdue").status_code == 401
    assert site.api("GET", "/overdue").status_code == 200
