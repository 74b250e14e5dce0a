"""``migrate()``: numbered steps once each, safe to run again, privileges re-applied."""

from __future__ import annotations

import threading

import psycopg
import pytest

from infrastructure import migrations
from infrastructure.migrations import SERVICE_ROLE, STEPS, grant_service_on, migrate
from tests.integration.conftest import MakeDatabase

pytestmark = pytest.mark.integration


def privileges(conn: psycopg.Connection, table: str) -> set[str]:
    rows = conn.execute(
        "SELECT privilege_type FROM information_schema.role_table_grants "
        "WHERE grantee = %s AND table_name = %s", (SERVICE_ROLE, table)).fetchall()
    return {row[0] for row in rows}


def test_a_new_database_gets_every_step_and_a_second_run_changes_nothing(
    make_database: MakeDatabase,
) -> None:
    url = make_database()

    first = migrate(url)
    second = migrate(url)

    assert [line for line in first if line.startswith("applied step")] == [
        f"applied step {s.version}: {s.description}" for s in STEPS
    ]
    assert not any(line.startswith("applied step") for line in second)
    assert f"schema already at step {STEPS[-1].version}" in second
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT version, description FROM schema_migrations ORDER BY 1")
        assert rows.fetchall() == [(s.version, s.description) for s in STEPS]
        tables = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
        assert {"cases_events", "cases_snapshots", "cases_idempotency"} <= tables
        schemas = {r[0] for r in conn.execute("SELECT nspname FROM pg_namespace")}
        assert "reporting" in schemas


def test_privileges_granted_by_hand_are_taken_back_by_the_next_run(
    fresh_migrated_url: str,
) -> None:
    with psycopg.connect(fresh_migrated_url, autocommit=True) as conn:
        assert privileges(conn, "cases_events") == {"SELECT", "INSERT"}
        conn.execute("GRANT UPDATE, DELETE, TRUNCATE ON cases_events TO pqasso_service")

        migrate(fresh_migrated_url)

        assert privileges(conn, "cases_events") == {"SELECT", "INSERT"}
        assert privileges(conn, "cases_idempotency") == {"SELECT", "INSERT"}
        assert privileges(conn, "schema_migrations") == set()


def test_the_service_may_keep_web_sessions_but_not_truncate_them_and_no_one_else_may_read_them(
    fresh_migrated_url: str,
) -> None:
    with psycopg.connect(fresh_migrated_url, autocommit=True) as conn:
        assert privileges(conn, "web_sessions") == {"SELECT", "INSERT", "UPDATE", "DELETE"}
        conn.execute("GRANT TRUNCATE ON web_sessions TO pqasso_service")
        conn.execute("GRANT SELECT ON web_sessions TO pqasso_reporting, PUBLIC")

        migrate(fresh_migrated_url)

        assert privileges(conn, "web_sessions") == {"SELECT", "INSERT", "UPDATE", "DELETE"}
        can_read = {role: conn.execute("SELECT has_table_privilege(%s, 'web_sessions', 'SELECT')",
                                       (role,)).fetchone()[0] for role in ("pqasso_reporting", "public")}
        assert can_read == {"pqasso_reporting": False, "public": False}


def test_concurrent_runs_apply_each_step_once(make_database: MakeDatabase) -> None:
    url = make_database()
    results: list[list[str]] = []
    threads = [threading.Thread(target=lambda: results.append(migrate(url))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    applied = [line for result in results for line in result if line.startswith("applied step")]
    assert len(results) == 3 and len(applied) == len(STEPS)


def test_projection_tables_get_full_dml_for_the_service(fresh_migrated_url: str) -> None:
    with psycopg.connect(fresh_migrated_url) as conn:
        conn.execute("CREATE TABLE reporting.overdue (id bigserial PRIMARY KEY, case_id uuid)")
        grant_service_on(conn, "overdue", schema="reporting")
        conn.execute("SET LOCAL ROLE pqasso_service")
        conn.execute("INSERT INTO reporting.overdue (case_id) VALUES (gen_random_uuid())")
        conn.execute("UPDATE reporting.overdue SET case_id = gen_random_uuid()")
        conn.execute("DELETE FROM reporting.overdue")
        conn.execute("TRUNCATE reporting.overdue")
        conn.rollback()


def test_a_database_migrated_before_the_append_procedure_gets_it_from_step_8(
    make_database: MakeDatabase, monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = make_database()
    monkeypatch.setattr(migrations, "STEPS", STEPS[:7])
    migrate(url)
    with psycopg.connect(url, autocommit=True) as conn:
        # Step 1 made no procedure (nor functions) before they existed: as a database
        # migrated back then.
        conn.execute("DROP PROCEDURE cases_append_events, cases_append_event")
        conn.execute("DROP FUNCTION cases_insert_event, cases_insert_events")
    monkeypatch.undo()

    done = migrate(url)

    assert [line for line in done if line.startswith("applied step")] == [
        f"applied step {s.version}: {s.description}" for s in STEPS[7:]]  # 8, and any later
    with psycopg.connect(url) as conn:
        signature = conn.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.proname = 'cases_append_events' "
            "AND p.prokind = 'p'").fetchone()
        one = conn.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.proname = 'cases_append_event' "
            "AND p.prokind = 'p'").fetchone()
        assert one is not None
        assert signature is not None
        can = {role: conn.execute("SELECT has_function_privilege(%s, %s, 'EXECUTE')",
                                  (role, signature[0])).fetchone()[0]
               for role in (SERVICE_ROLE, "pqasso_reporting")}
        assert can == {SERVICE_ROLE: True, "pqasso_reporting": False}
        functions = [row[0] for row in conn.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.proname IN "
            "('cases_insert_event', 'cases_insert_events') AND p.prokind = 'f' ORDER BY 1")]
        assert len(functions) == 2  # step 10's
        for function in [*functions, one[0]]:
            assert {role: conn.execute("SELECT has_function_privilege(%s, %s, 'EXECUTE')",
                                       (role, function)).fetchone()[0]
                    for role in (SERVICE_ROLE, "pqasso_reporting", "public")} == {
                SERVICE_ROLE: True, "pqasso_reporting": False, "public": False}
        # The service role saves an event with it (in a transaction: no COMMIT inside).
        conn.execute("SET LOCAL ROLE pqasso_service")
        ids = conn.execute(
            "CALL cases_append_events(ARRAY[gen_random_uuid()], ARRAY[1::bigint], ARRAY['t'], "
            "ARRAY['x'::bytea], ARRAY[sha256('x')], NULL, NULL, NULL, NULL, NULL, 1, false, NULL)"
        ).fetchone()
        assert ids == ([1],)


def test_a_database_migrated_before_web_sessions_gets_the_table_and_its_grants_from_step_9(
    make_database: MakeDatabase, monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = make_database()
    monkeypatch.setattr(migrations, "STEPS", STEPS[:8])
    migrate(url)  # the grants of a database without the table pass over it
    monkeypatch.undo()

    done = migrate(url)

    assert [line for line in done if line.startswith("applied step")] == [
        f"applied step {s.version}: {s.description}" for s in STEPS[8:]]  # 9, and any later
    with psycopg.connect(url) as conn:
        assert privileges(conn, "web_sessions") == {"SELECT", "INSERT", "UPDATE", "DELETE"}
