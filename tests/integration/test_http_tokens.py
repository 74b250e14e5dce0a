"""API tokens in PostgreSQL (table ``api_tokens``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pytest

from domain.participants import Actor, Role
from infrastructure.tokens import TokenStore, token_hash

pytestmark = pytest.mark.integration


@pytest.fixture
def tokens(make_database) -> Iterator[TokenStore]:
    store = TokenStore(make_database())
    store.create_table()
    store.create_table()  # idempotent: `pqasso db migrate` runs it on every upgrade
    yield store
    store.close()


def test_a_token_authenticates_until_revoked(tokens):
    token = tokens.add("organisation", "org-1")
    assert tokens.authenticate(token) == Actor("org-1", Role.ORGANISATION)
    (info,) = tokens.list()
    assert info.principal == "org-1" and info.role is Role.ORGANISATION and info.revoked_at is None
    assert tokens.revoke(str(info.id)) is True and tokens.revoke(info.id) is False
    assert tokens.authenticate(token) is None
    assert tokens.list()[0].revoked_at is not None


def test_the_table_holds_the_hash_never_the_token(tokens, make_database):
    token = tokens.add("admin", "ces-admin-1")
    with tokens._pool.connection() as conn:
        rows = conn.execute("SELECT * FROM api_tokens").fetchall()
    assert token not in repr(rows) and rows[0]["token_hash"] == token_hash(token)


def test_a_tokens_hash_authenticates_as_the_token_does_until_revoked(tokens):
    token = tokens.add("auditor", "auditor-1")
    digest = token_hash(token)
    assert tokens.authenticate_hash(digest) == Actor("auditor-1", Role.AUDITOR)
    assert tokens.authenticate_hash(token_hash("pqa_" + "x" * 43)) is None
    assert tokens.authenticate_hash(token) is None and tokens.authenticate_hash("F" * 64) is None
    tokens.revoke(tokens.list()[0].id)
    assert tokens.authenticate_hash(digest) is None


@contextmanager
def issuing_and_serving(url: str, remember_for: float, clock: Callable[[], float] = time.monotonic,
                        ) -> Iterator[tuple[TokenStore, TokenStore]]:
    """The store that issues and revokes tokens (``pqasso tokens``), and one that serves requests,
    remembering live tokens for ``remember_for`` seconds: two processes' stores on one database."""
    issuer = TokenStore(url, max_connections=1)
    issuer.create_table()
    serving = TokenStore(url, max_connections=1, remember_for=remember_for, clock=clock)
    try:
        yield issuer, serving
    finally:
        serving.close()
        issuer.close()


def test_a_hash_check_uses_the_remembered_tokens(make_database):
    with issuing_and_serving(make_database(), remember_for=60) as (issuer, serving):
        token = issuer.add("lead_reviewer", "reviewer-1")
        # given a live token the serving store has checked by its hash
        assert serving.authenticate_hash(token_hash(token)) == Actor("reviewer-1", Role.LEAD_REVIEWER)
        # when another process revokes it, then both checks answer from memory alike
        assert issuer.revoke(issuer.list()[0].id)
        assert serving.remembered(token) == Actor("reviewer-1", Role.LEAD_REVIEWER)
        assert serving.authenticate_hash(token_hash(token)) == serving.authenticate(token)


def test_unknown_tokens_and_ids_are_no_one(tokens):
    tokens.add("auditor", "auditor-1")
    assert tokens.authenticate("pqa_" + "x" * 43) is None
    assert tokens.authenticate("Bearer nonsense") is None
    assert tokens.revoke(999) is False and tokens.revoke("not-an-id") is False


def test_the_table_refuses_roles_no_token_may_carry(tokens):
    with tokens._pool.connection() as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("INSERT INTO api_tokens (token_hash, role, principal) VALUES (%s, 'system', 'x')",
                     ("0" * 64,))
    with pytest.raises(ValueError):
        tokens.add("system", "deadline-job")


class Clock:
    """Seconds that pass only when the test says so."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_a_serving_store_remembers_live_tokens_for_a_while_and_no_longer(make_database):
    clock = Clock()
    with issuing_and_serving(make_database(), remember_for=2.0, clock=clock) as (issuer, serving):
        token = issuer.add("lead_reviewer", "reviewer-1")
        # given a live token the serving store has checked once
        assert serving.remembered(token) is None
        assert serving.authenticate(token) == Actor("reviewer-1", Role.LEAD_REVIEWER)
        assert serving.remembered(token) == Actor("reviewer-1", Role.LEAD_REVIEWER)
        # when another process revokes it
        assert issuer.revoke(issuer.list()[0].id)
        # then the serving store trusts it at most remember_for longer, then refuses it
        assert serving.authenticate(token) == Actor("reviewer-1", Role.LEAD_REVIEWER)
        clock.now += 1.9
        assert serving.authenticate(token) == Actor("reviewer-1", Role.LEAD_REVIEWER)
        clock.now += 0.2
        assert serving.remembered(token) is None and serving.authenticate(token) is None
        # and a token issued since works at once (refusals are never remembered)
        assert serving.authenticate("pqa_" + "y" * 43) is None
        fresh = issuer.add("auditor", "auditor-1")
        assert serving.authenticate(fresh) == Actor("auditor-1", Role.AUDITOR)


def test_a_revocation_through_the_serving_store_takes_effect_at_once(make_database):
    store = TokenStore(make_database(), max_connections=1, remember_for=60)
    store.create_table()
    try:
        token = store.add("organisation", "org-1")
        assert store.authenticate(token) is not None and store.remembered(token) is not None
        assert store.revoke(store.list()[0].id)
        assert store.remembered(token) is None and store.authenticate(token) is None
    finally:
        store.close()
