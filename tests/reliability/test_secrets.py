"""Point 5 on PostgreSQL: tokens only as hashes, compared in constant time; the service role
cannot alter or drop tables (nor rewrite the record); the reporting role cannot write.

(The scan of a running service's logs for its database password and tokens is at the end of
test_crash.py, where `pqasso serve` runs as a login of the service role.)
"""

from __future__ import annotations

import hashlib
import hmac

import psycopg
import pytest

from infrastructure import tokens as tokens_module
from infrastructure.migrations import REPORTING_ROLE, SERVICE_ROLE
from infrastructure.tokens import TokenStore
from tests.databases import migrated_database
from tests.reliability.support import issue_token

pytestmark = pytest.mark.integration

# What the service must never be able to do, and the error PostgreSQL answers.
SERVICE_REFUSED = [
    "ALTER TABLE cases_events ADD COLUMN note text",
    "ALTER TABLE cases_event_hashes DROP CONSTRAINT cases_event_hashes_pkey",
    "ALTER TABLE deadlines_cases ADD COLUMN note text",
    "DROP TABLE cases_events",
    "DROP TABLE cases_event_hashes",
    "DROP TABLE cases_idempotency",
    "DROP TABLE audit_events",
    "DROP TABLE api_tokens",
    "CREATE TABLE public.intruder (x int)",
    "ALTER TABLE cases_events DISABLE TRIGGER USER",
    "UPDATE cases_events SET topic = topic",
    "DELETE FROM cases_events",
    "TRUNCATE cases_events",
    "UPDATE cases_event_hashes SET hash = hash",
    "DELETE FROM cases_event_hashes",
    "UPDATE cases_idempotency SET version = version",
    "UPDATE cases_snapshots SET topic = topic",
    "INSERT INTO api_tokens (token_hash, role, principal) VALUES (repeat('a', 64), 'admin', 'me')",
    "UPDATE api_tokens SET revoked_at = NULL",
    "DELETE FROM schema_migrations",
    "TRUNCATE web_sessions",
    "DROP TABLE web_sessions",
    "ALTER TABLE web_sessions ADD COLUMN token text",
]
REPORTING_REFUSED = [
    "INSERT INTO reporting.cases (case_id) VALUES (gen_random_uuid())",
    "UPDATE reporting.cases SET status = 'awarded'",
    "DELETE FROM reporting.cases",
    "TRUNCATE reporting.cases",
    "CREATE TABLE reporting.intruder (x int)",
    "DROP TABLE reporting.cases",
    "SELECT * FROM cases_events",
    "SELECT * FROM api_tokens",
    "SELECT * FROM web_sessions",
    "DELETE FROM web_sessions",
    "INSERT INTO cases_events (originator_id, originator_version, topic, state) "
    "VALUES (gen_random_uuid(), 1, 't', '')",
]


@pytest.fixture(scope="module")
def database(postgres_server_url: str):
    with migrated_database(postgres_server_url, "pqasso_rel_secrets") as url:
        yield url


def as_role(url: str, role: str, statement: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(psycopg.sql.SQL("SET ROLE {}").format(psycopg.sql.Identifier(role)))
        conn.execute(statement)


@pytest.mark.parametrize("statement", SERVICE_REFUSED)
def test_the_service_role_cannot_alter_drop_or_rewrite(database: str, statement: str) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_role(database, SERVICE_ROLE, statement)


@pytest.mark.parametrize("statement", REPORTING_REFUSED)
def test_the_reporting_role_cannot_write(database: str, statement: str) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_role(database, REPORTING_ROLE, statement)


def test_the_reporting_role_reads_its_schema(database: str) -> None:
    as_role(database, REPORTING_ROLE, "SELECT * FROM reporting.cases")


def test_tokens_are_stored_only_as_hashes(database: str) -> None:
    token = issue_token(database, "auditor", "auditor-7")
    with psycopg.connect(database) as conn:
        rows = conn.execute("SELECT * FROM api_tokens").fetchall()
        dump = repr(rows)
    assert token not in dump and token.removeprefix("pqa_") not in dump
    assert any(hashlib.sha256(token.encode()).hexdigest() in row for row in rows)


def test_tokens_are_compared_in_constant_time(database: str, monkeypatch) -> None:
    compared, compare_digest = [], hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return compare_digest(a, b)

    monkeypatch.setattr(tokens_module.hmac, "compare_digest", spy)
    store = TokenStore(database, max_connections=1)
    try:
        token = store.add("auditor", "auditor-8")
        assert store.authenticate(token) is not None
        digest = hashlib.sha256(token.encode()).hexdigest()
        assert compared == [(digest, digest)]
        assert store.authenticate(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    finally:
        store.close()
