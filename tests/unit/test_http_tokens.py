"""API tokens in memory: the same behaviour the PostgreSQL store is checked for."""

from __future__ import annotations

import pytest

from domain.participants import Actor, Role
from infrastructure.tokens import InMemoryTokenStore, token_hash


def test_a_new_token_speaks_for_its_principal_in_its_role():
    tokens = InMemoryTokenStore()
    token = tokens.add("lead_reviewer", "reviewer-1")
    assert token.startswith("pqa_") and len(token) > 40
    assert tokens.authenticate(token) == Actor("reviewer-1", Role.LEAD_REVIEWER)


def test_only_the_hash_is_kept():
    tokens = InMemoryTokenStore()
    token = tokens.add("admin", "ces-admin-1")
    assert token not in repr(vars(tokens)) and token_hash(token) in repr(vars(tokens))
    (info,) = tokens.list()
    assert (info.role, info.principal, info.revoked_at) == (Role.ADMIN, "ces-admin-1", None)


def test_a_revoked_token_no_longer_authenticates():
    tokens = InMemoryTokenStore()
    token = tokens.add("auditor", "auditor-1")
    (info,) = tokens.list()
    assert tokens.revoke(str(info.id)) is True
    assert tokens.revoke(info.id) is False  # already revoked
    assert tokens.authenticate(token) is None
    assert tokens.list()[0].revoked_at is not None


@pytest.mark.parametrize("token", ["", "pqa_", "pqa_short", "not-ours-at-all-0000000000000000000000", "pqa_" + "a" * 500])
def test_anything_else_is_no_one(token):
    tokens = InMemoryTokenStore()
    tokens.add("admin", "ces-admin-1")
    assert tokens.authenticate(token) is None


@pytest.mark.parametrize(("role", "principal"), [("system", "deadline-job"), ("owner", "x"), ("admin", " "), ("admin", "x" * 101)])
def test_tokens_are_only_for_api_roles_and_real_principals(role, principal):
    with pytest.raises(ValueError):
        InMemoryTokenStore().add(role, principal)


def test_unknown_ids_are_not_revoked():
    tokens = InMemoryTokenStore()
    assert tokens.revoke(7) is False and tokens.revoke("seven") is False


def test_a_tokens_hash_speaks_for_the_same_principal_until_the_token_is_revoked():
    tokens = InMemoryTokenStore()
    token = tokens.add("organisation", "org-1")
    digest = token_hash(token)
    assert tokens.authenticate_hash(digest) == tokens.authenticate(token) == Actor("org-1", Role.ORGANISATION)
    tokens.revoke(tokens.list()[0].id)
    assert tokens.authenticate_hash(digest) is None


@pytest.mark.parametrize("digest", ["", "0" * 64, "A" * 64, "a" * 63, "pqa_" + "a" * 60, None])
def test_anything_but_the_hash_of_a_live_token_is_no_one(digest):
    tokens = InMemoryTokenStore()
    token = tokens.add("admin", "ces-admin-1")
    assert tokens.authenticate_hash(digest) is None
    assert tokens.authenticate_hash(token) is None  # the token itself is not its hash
