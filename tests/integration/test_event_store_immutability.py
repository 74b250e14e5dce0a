"""Stored events cannot be changed: triggers refuse it (even for the owner), and the service
role has no privilege to try; the application still works logged in as that role."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

from application.cases import QualityMarkCases
from application.errors import IdempotencyKeyReused
from infrastructure.bootstrap import application_env
from infrastructure.migrations import REPORTING_ROLE, SERVICE_ROLE
from infrastructure.settings import parse_database_url
from tests.builders import ADMIN
from tests.databases import migrated_database
from tests.integration.conftest import MakeApp
from tests.integration.support import ctx, run_example, site_visit

pytestmark = pytest.mark.integration

ALL_EVENTS = (
    "SELECT originator_id, originator_version, topic, state, notification_id "
    "FROM cases_events ORDER BY notification_id"
)


@pytest.fixture(scope="module")
def url(postgres_server_url: str) -> Iterator[str]:
    """A database of this module's own: if a trigger were missing, TRUNCATE would empty it."""
    with migrated_database(postgres_server_url, "pqasso_it_immutable") as database_url:
        yield database_url


@pytest.fixture(scope="module")
def recorded(url: str) -> list[tuple]:
    """Some events and an idempotency record, and the rows as stored."""
    app = QualityMarkCases(env=application_env(url))
    try:
        run_example(app)
        app.open_case(site_visit(), ctx(ADMIN, idempotency_key="k-1", request_hash="h"))
    finally:
        app.close()
    with psycopg.connect(url) as conn:
        return conn.execute(ALL_EVENTS).fetchall()


CHANGES = [
    "UPDATE cases_events SET topic = 'tampered'",
    "UPDATE cases_events SET state = state WHERE originator_version = 1",
    "DELETE FROM cases_events",
    "DELETE FROM cases_events WHERE originator_version > 9",
    "TRUNCATE cases_events",
    "TRUNCATE cases_events, cases_snapshots",
    "UPDATE cases_idempotency SET request_hash = 'tampered'",
    "DELETE FROM cases_idempotency",
    "TRUNCATE cases_idempotency",
]


@pytest.mark.parametrize("statement", CHANGES)
def test_the_owner_cannot_change_append_only_tables(url, recorded, statement) -> None:
    table = "cases_idempotency" if "idempotency" in statement else "cases_events"
    with psycopg.connect(url) as conn:
        with pytest.raises(psycopg.errors.RaiseException, match=f"{table} is append-only"):
            conn.execute(statement)
        conn.rollback()
        assert conn.execute(ALL_EVENTS).fetchall() == recorded
        assert conn.execute("SELECT count(*) FROM cases_idempotency").fetchone() == (1,)


def test_snapshots_may_be_deleted_but_never_updated(url) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO cases_snapshots VALUES (gen_random_uuid(), 1, 't', 'x')")
        with pytest.raises(psycopg.errors.RaiseException, match="cases_snapshots rows are immutable"):
            conn.execute("UPDATE cases_snapshots SET state = 'y'")
        conn.rollback()
        conn.execute("INSERT INTO cases_snapshots VALUES (gen_random_uuid(), 1, 't', 'x')")
        assert conn.execute("DELETE FROM cases_snapshots").rowcount == 1


def as_role(conn: psycopg.Connection, role: str, statement: str) -> psycopg.Cursor:
    """Run ``statement`` as ``role`` in a transaction that is rolled back afterwards."""
    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
    return conn.execute(statement)


# The recorder's saves (infrastructure/recorder.py): its functions, and its procedure without
# the COMMIT inside (these run in a transaction block, which a procedure cannot commit).
APPEND = ("CALL cases_append_events(ARRAY[gen_random_uuid()], ARRAY[1::bigint], ARRAY['t'], "
          "ARRAY['x'::bytea], ARRAY[sha256('x')], 'p', 'k-append', 'h', gen_random_uuid(), 1, 1, "
          "false, NULL)")
APPEND_ONE = ("CALL cases_append_event(gen_random_uuid(), 1, 't', 'x', sha256('x'), 'p', "
              "'k-append-one', 'h', gen_random_uuid(), 1, 1, false, NULL)")
INSERT_EVENT = ("SELECT * FROM cases_insert_event(gen_random_uuid(), 1, 't', 'x', sha256('x'), "
                "'p', 'k-insert-event', 'h', gen_random_uuid(), 1, 1)")
INSERT_EVENTS = ("SELECT * FROM cases_insert_events(ARRAY[gen_random_uuid()], ARRAY[1::bigint], "
                 "ARRAY['t'], ARRAY['x'::bytea], ARRAY[sha256('x')], NULL, NULL, NULL, NULL, NULL, 1)")
ALLOWED = [
    "SELECT count(*) FROM cases_events",
    "SELECT count(*) FROM cases_idempotency",
    "SELECT count(*) FROM cases_snapshots",
    "SELECT cases_lock_events()",
    "INSERT INTO cases_events (originator_id, originator_version, topic, state) "
    "VALUES (gen_random_uuid(), 1, 't', 'x') RETURNING notification_id",
    "INSERT INTO cases_idempotency (principal, key, request_hash, case_id, version) "
    "VALUES ('p', 'k', 'h', gen_random_uuid(), 1)",
    "INSERT INTO cases_snapshots VALUES (gen_random_uuid(), 1, 't', 'x')",
    APPEND,
    APPEND_ONE,
    INSERT_EVENT,
    INSERT_EVENTS,
]
REFUSED = [
    "UPDATE cases_events SET topic = 't'",
    "UPDATE cases_snapshots SET topic = 't'",
    "UPDATE cases_idempotency SET version = 2",
    "DELETE FROM cases_events",
    "DELETE FROM cases_idempotency",
    "DELETE FROM cases_snapshots",  # pruning snapshots is the owner's job
    "TRUNCATE cases_events",
    "TRUNCATE cases_idempotency",
    "TRUNCATE cases_snapshots",
    "ALTER TABLE cases_events DISABLE TRIGGER USER",
    "ALTER TABLE cases_events ADD COLUMN x int",
    "DROP TABLE cases_events",
    "DROP FUNCTION cases_lock_events()",
    "DROP PROCEDURE cases_append_events",
    "DROP PROCEDURE cases_append_event",
    "DROP FUNCTION cases_insert_event",
    "DROP FUNCTION cases_insert_events",
    # Why the lock goes through a function: LOCK ... EXCLUSIVE needs UPDATE/DELETE/TRUNCATE.
    "LOCK TABLE cases_events IN EXCLUSIVE MODE",
    "SELECT * FROM schema_migrations",
]


@pytest.mark.parametrize("statement", ALLOWED)
def test_the_service_role_can_read_append_and_lock(url, recorded, statement) -> None:
    with psycopg.connect(url) as conn:
        as_role(conn, SERVICE_ROLE, statement)
        conn.rollback()


@pytest.mark.parametrize("statement", REFUSED)
def test_the_service_role_can_change_nothing(url, recorded, statement) -> None:
    with psycopg.connect(url) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            as_role(conn, SERVICE_ROLE, statement)
        conn.rollback()
        assert conn.execute(ALL_EVENTS).fetchall() == recorded


def test_the_reporting_role_reads_the_reporting_schema_only(url) -> None:
    with psycopg.connect(url) as conn:
        # A table a later migration (run by the same owner) creates is readable at once.
        conn.execute("CREATE TABLE reporting.overdue_probe (n int)")
        probe = as_role(conn, REPORTING_ROLE, "SELECT count(*) FROM reporting.overdue_probe")
        assert probe.fetchone() == (0,)
        conn.rollback()
        for statement in ("SELECT * FROM cases_events", "SELECT cases_lock_events()", APPEND,
                          APPEND_ONE, INSERT_EVENT, INSERT_EVENTS, "CREATE TABLE reporting.mine (n int)"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                as_role(conn, REPORTING_ROLE, statement)
            conn.rollback()


@pytest.fixture
def service_login_url(url: str, postgres_server_url: str) -> Iterator[str]:
    """A throwaway LOGIN role that is a member of pqasso_service (as a deployment would have)."""
    role = f"pqasso_it_login_{secrets.token_hex(4)}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        conn.execute(sql.SQL("GRANT {} TO {}").format(
            sql.Identifier(SERVICE_ROLE), sql.Identifier(role)))
    parts = parse_database_url(url)
    yield (f"postgresql://{quote(role)}@/{quote(parts.dbname)}"
           f"?host={quote(parts.host, safe='')}&port={parts.port}")
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_the_application_runs_as_a_member_of_the_service_role(
    service_login_url: str, make_app: MakeApp, recorded
) -> None:
    app = make_app(service_login_url)

    case_id, results = run_example(app)
    keyed = ctx(ADMIN, idempotency_key="k-service", request_hash="h")
    first = app.open_case(site_visit(), keyed)

    assert results[-1].version == 10 and app.get_case(case_id).status.value == "awarded"
    assert app.open_case(site_visit(), keyed).case_id == first.case_id
    with pytest.raises(IdempotencyKeyReused):
        app.open_case(site_visit(), ctx(ADMIN, idempotency_key="k-service", request_hash="other"))
    with psycopg.connect(service_login_url) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM cases_events")
