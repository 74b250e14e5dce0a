"""Browser sessions in PostgreSQL (table ``web_sessions``): given a migrated database, when
sessions start, are used, idle, age or end, possibly in another server process, then each
process sees the same sessions, expired ones are refused, and no token is ever stored."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from urllib.parse import quote

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from starlette.types import ASGIApp, Receive, Scope, Send

from application.cases import QualityMarkCases
from domain.participants import Actor, Role
from infrastructure.http import create_api
from infrastructure.http.memory import EventStoreDeadlines
from infrastructure.migrations import REPORTING_ROLE, SERVICE_ROLE
from infrastructure.settings import parse_database_url
from infrastructure.tokens import TokenStore, token_hash
from infrastructure.web import create_web_app, with_web_pages
from infrastructure.web.sessions import IDLE_SECONDS, LIFETIME_SECONDS, session_key
from infrastructure.web.sessions_postgres import PostgresSessionStore
from tests.databases import migrated_database
from tests.unit.test_web_client import Browser

pytestmark = pytest.mark.integration

REVIEWER = Actor("reviewer-1", Role.LEAD_REVIEWER)
A_TOKEN_HASH = token_hash("pqa_" + "r" * 43)


@pytest.fixture(scope="module")
def url(postgres_server_url: str) -> Iterator[str]:
    with migrated_database(postgres_server_url, "pqasso_it_sessions") as database_url:
        yield database_url


@pytest.fixture
def stores(url: str) -> Iterator[list[PostgresSessionStore]]:
    """Two stores on one database, as two ``pqasso serve`` processes would have; no sessions yet."""
    with psycopg.connect(url) as conn:
        conn.execute("DELETE FROM web_sessions")
    made = [PostgresSessionStore(url, timeout=2.0), PostgresSessionStore(url, timeout=2.0)]
    yield made
    for store in made:
        store.close()


def age(url: str, column: str, seconds: float) -> None:
    """Move every session's ``column`` back by ``seconds``, as if that much time had passed."""
    with psycopg.connect(url) as conn:
        conn.execute(sql.SQL("UPDATE web_sessions SET {0} = {0} - make_interval(secs => %s)").format(
            sql.Identifier(column)), (seconds,))


def rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT * FROM web_sessions").fetchall()


def test_a_session_is_found_by_its_id_until_it_ends(stores):
    store, _ = stores

    session_id, started = store.start(REVIEWER, A_TOKEN_HASH)

    found = store.get(session_id)
    assert found is not None and (found.actor, found.token_hash) == (REVIEWER, A_TOKEN_HASH)
    assert found.csrf_token == started.csrf_token and len(found.csrf_token) >= 43
    assert found.started == started.started and found.last_seen >= started.last_seen
    assert len(session_id) >= 43 and len(store) == 1
    store.end(session_id)
    assert store.get(session_id) is None and len(store) == 0


def test_each_sign_in_gets_its_own_id_and_csrf_token(stores):
    store, _ = stores

    (first_id, first), (second_id, second) = store.start(REVIEWER, A_TOKEN_HASH), store.start(REVIEWER, A_TOKEN_HASH)

    assert first_id != second_id and first.csrf_token != second.csrf_token and len(store) == 2


def test_a_session_started_in_one_process_is_known_to_another(stores):
    one, other = stores
    session_id, started = one.start(REVIEWER, A_TOKEN_HASH)

    found = other.get(session_id)

    assert found is not None and found.csrf_token == started.csrf_token and found.actor == REVIEWER
    other.end(session_id)
    assert one.get(session_id) is None


def test_unknown_or_malformed_ids_find_nothing(stores):
    store, _ = stores
    store.start(REVIEWER, A_TOKEN_HASH)

    for session_id in (None, "", "x" * 101, secrets.token_urlsafe(32), "'; DROP TABLE web_sessions; --"):
        assert store.get(session_id) is None
        store.end(session_id)

    assert len(store) == 1


def test_using_a_session_restarts_its_idle_clock(stores, url):
    store, _ = stores
    session_id, _ = store.start(REVIEWER, A_TOKEN_HASH)

    for _ in range(3):  # 3 x 20 minutes, each with a request: never idle for 30
        age(url, "last_seen_at", 20 * 60)
        assert store.get(session_id) is not None


def test_a_session_idle_too_long_is_refused_and_deleted_at_the_next_sign_in(stores, url):
    store, other = stores
    session_id, _ = store.start(REVIEWER, A_TOKEN_HASH)

    age(url, "last_seen_at", IDLE_SECONDS + 1)

    assert store.get(session_id) is None and other.get(session_id) is None and len(store) == 0
    assert len(rows(url)) == 1  # refused, not yet deleted
    other.start(REVIEWER, A_TOKEN_HASH)
    assert [row[0] for row in rows(url)] != [session_key(session_id)] and len(rows(url)) == 1


def test_a_session_older_than_its_lifetime_is_refused_however_busy(stores, url):
    store, _ = stores
    session_id, _ = store.start(REVIEWER, A_TOKEN_HASH)

    age(url, "started_at", LIFETIME_SECONDS + 1)

    assert store.get(session_id) is None


def test_shorter_limits_can_be_set_per_store(url, stores):
    store, _ = stores
    session_id, _ = store.start(REVIEWER, A_TOKEN_HASH)
    strict = PostgresSessionStore(url, idle_seconds=60, lifetime_seconds=120)
    try:
        age(url, "last_seen_at", 90)
        assert strict.get(session_id) is None and store.get(session_id) is not None
        age(url, "started_at", 150)
        assert strict.get(session_id) is None and store.get(session_id) is not None
    finally:
        strict.close()


def test_the_table_holds_neither_the_token_nor_the_session_id(stores, url):
    store, _ = stores
    token = "pqa_" + secrets.token_urlsafe(32)

    session_id, _ = store.start(REVIEWER, token_hash(token))

    dump = repr(rows(url))
    assert token not in dump and token.removeprefix("pqa_") not in dump and session_id not in dump
    assert token_hash(token) in dump and session_key(session_id) in dump


@pytest.fixture
def service_login_url(url: str, postgres_server_url: str) -> Iterator[str]:
    """A throwaway LOGIN role that is a member of pqasso_service (as a deployment would have)."""
    role = f"pqasso_it_login_{secrets.token_hex(4)}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE {}").format(
            sql.Identifier(role), sql.Identifier(SERVICE_ROLE)))
    parts = parse_database_url(url)
    yield (f"postgresql://{quote(role)}@/{quote(parts.dbname)}"
           f"?host={quote(parts.host, safe='')}&port={parts.port}")
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_the_service_role_keeps_sessions_and_cannot_truncate_them(stores, service_login_url, url):
    store = PostgresSessionStore(service_login_url, timeout=2.0)
    try:
        session_id, _ = store.start(REVIEWER, A_TOKEN_HASH)
        age(url, "last_seen_at", IDLE_SECONDS + 1)
        store.start(REVIEWER, A_TOKEN_HASH)  # deletes the expired one
        assert store.get(session_id) is None and len(store) == 1
    finally:
        store.close()
    with psycopg.connect(service_login_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("TRUNCATE web_sessions")


@pytest.mark.parametrize("statement", [
    "SELECT * FROM web_sessions",
    "DELETE FROM web_sessions",
    "UPDATE web_sessions SET last_seen_at = now()",
])
def test_the_reporting_role_cannot_touch_sessions(url, statement):
    with psycopg.connect(url) as conn:
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(REPORTING_ROLE)))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


# ---- through the pages: two server processes over one database --------------------------------

@pytest.fixture
def tokens(url: str) -> Iterator[TokenStore]:
    store = TokenStore(url, max_connections=1)
    yield store
    store.close()


def a_server(tokens: TokenStore, sessions: PostgresSessionStore) -> ASGIApp:
    """The API and the pages as one ``pqasso serve`` process builds them."""
    cases = QualityMarkCases()
    read_side = EventStoreDeadlines(cases)
    api = create_api(cases, tokens, read_side, read_side)
    return with_web_pages(api, create_web_app(cases, tokens, read_side, read_side, sessions=sessions))


def taking_turns(*servers: ASGIApp) -> ASGIApp:
    """Each request to the next server in turn, as processes sharing one socket would take them."""
    turns = itertools.cycle(servers)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await next(turns)(scope, receive, send)

    return app


def test_a_browser_stays_signed_in_whichever_process_answers_until_its_token_is_revoked(stores, tokens):
    principal = f"auditor-{secrets.token_hex(3)}"
    token = tokens.add("auditor", principal)
    browser = Browser(TestClient(taking_turns(*(a_server(tokens, s) for s in stores)), base_url="https://testserver"))

    assert browser.sign_in(token).status_code == 303  # the form from one process, posted to the other
    assert [browser.get("/ui/").status_code for _ in range(4)] == [200] * 4

    tokens.revoke(next(t.id for t in tokens.list() if t.principal == principal))

    assert browser.get("/ui/").status_code == 303  # to the sign-in page
    assert browser.get("/ui/").status_code == 303 and len(stores[0]) == 0
