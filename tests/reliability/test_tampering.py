"""Point 3: tamper evidence beyond the triggers.

A database superuser switches the append-only triggers off and alters, deletes, reorders and
inserts stored events (and hash records); `pqasso audit verify` names every case touched, and
how, and exits 1; the untouched cases verify; the chain heads are projected.
"""

from __future__ import annotations

import json
from uuid import UUID

import psycopg
import pytest

from application.cases import QualityMarkCases
from infrastructure.audit_chain import GENESIS, event_hash, verify
from infrastructure.bootstrap import application_env
from infrastructure.migrations import migrate
from projections.runner import ProjectionSupervisor
from tests.integration.support import run_example
from tests.reliability.support import pqasso

pytestmark = pytest.mark.integration

# What the superuser does to each case (the events are the guidance's example, 10 per case).
TAMPERING = {
    "altered_state": ["UPDATE cases_events SET state = overlay(state placing '\\x20'::bytea from 5) "
                      "WHERE originator_id = %(id)s AND originator_version = 3"],
    "altered_topic": ["UPDATE cases_events SET topic = replace(topic, 'PlanApproved', 'PlanSubmitted') "
                      "WHERE originator_id = %(id)s AND originator_version = 5"],
    "deleted_middle": ["DELETE FROM cases_events WHERE originator_id = %(id)s AND originator_version = 4"],
    "deleted_tail_and_hashes": [
        "DELETE FROM cases_events WHERE originator_id = %(id)s AND originator_version > 8",
        "DELETE FROM cases_event_hashes WHERE originator_id = %(id)s AND originator_version > 8"],
    "deleted_case": ["DELETE FROM cases_events WHERE originator_id = %(id)s",
                     "DELETE FROM cases_event_hashes WHERE originator_id = %(id)s"],
    "reordered_versions": [
        "UPDATE cases_events SET originator_version = -2 WHERE originator_id = %(id)s AND originator_version = 2",
        "UPDATE cases_events SET originator_version = 2 WHERE originator_id = %(id)s AND originator_version = 3",
        "UPDATE cases_events SET originator_version = 3 WHERE originator_id = %(id)s AND originator_version = -2"],
    "reordered_notifications": [  # versions 6 and 7 swap places in the store's total order
        "UPDATE cases_events SET notification_id = -notification_id "
        "WHERE originator_id = %(id)s AND originator_version IN (6, 7)",
        "UPDATE cases_events e SET notification_id = (SELECT -o.notification_id FROM cases_events o "
        "WHERE o.originator_id = e.originator_id AND o.originator_version = 13 - e.originator_version) "
        "WHERE originator_id = %(id)s AND originator_version IN (6, 7)"],
    "inserted": ["INSERT INTO cases_events (originator_id, originator_version, topic, state) "
                 "SELECT originator_id, 11, topic, state FROM cases_events "
                 "WHERE originator_id = %(id)s AND originator_version = 10"],
    "hash_rewritten": ["UPDATE cases_event_hashes SET previous_hash = hash "
                       "WHERE originator_id = %(id)s AND originator_version = 6"],
}
EXPECTED_KINDS = {
    "altered_state": {"altered"}, "altered_topic": {"altered"}, "deleted_middle": {"deleted"},
    "deleted_tail_and_hashes": {"deleted"}, "deleted_case": {"deleted"},
    "reordered_versions": {"reordered"}, "reordered_notifications": {"reordered"},
    "inserted": {"inserted"}, "hash_rewritten": {"altered"},
}


@pytest.fixture
def recorded(migrated_database) -> tuple[str, dict[str, UUID], UUID]:
    """A database with one example case per kind of tampering, plus one left alone, and the
    chain heads projected."""
    url = migrated_database().url
    env = application_env(url)
    app = QualityMarkCases(env=env)
    try:
        cases = {name: run_example(app)[0] for name in TAMPERING}
        untouched = run_example(app)[0]
    finally:
        app.close()
    with ProjectionSupervisor(env) as supervisor:
        supervisor.catch_up()
    return url, cases, untouched


def tamper(url: str, cases: dict[str, UUID]) -> None:
    """As a superuser: the triggers off (two ways), then the changes."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE cases_events DISABLE TRIGGER USER")
        try:
            conn.execute("SET session_replication_role = replica")  # and for cases_event_hashes
            for name, statements in TAMPERING.items():
                for statement in statements:
                    conn.execute(statement, {"id": cases[name]})
        finally:
            conn.execute("ALTER TABLE cases_events ENABLE TRIGGER USER")


def test_the_chain_is_recorded_with_the_events_and_verifies(recorded) -> None:
    url, cases, untouched = recorded
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT e.originator_version, e.topic, e.state, h.previous_hash, h.hash FROM cases_events e "
            "JOIN cases_event_hashes h USING (originator_id, originator_version) "
            "WHERE originator_id = %s ORDER BY 1", (untouched,)).fetchall()
        head = conn.execute("SELECT version, hash FROM chain_heads WHERE case_id = %s",
                            (untouched,)).fetchone()
    previous = GENESIS
    for version, topic, state, previous_hash, digest in rows:
        assert previous_hash == previous
        assert digest == event_hash(untouched, version, topic, state, previous)
        previous = digest
    assert len(rows) == 10 and head == (10, previous)
    result = verify(url)
    assert result.ok and len(result.cases) == len(cases) + 1 and result.heads_projected


def test_every_change_by_a_superuser_without_triggers_is_reported(recorded) -> None:
    url, cases, untouched = recorded
    digest_before = verify(url).digest
    tamper(url, cases)

    checked = pqasso("audit", "verify", "--json", env={"PQASSO_DATABASE_URL": url})

    assert checked.returncode == 1, checked.stderr
    report = json.loads(checked.stdout)
    assert not report["ok"] and report["digest"] != digest_before
    found = {UUID(r["case_id"]): {f["kind"] for f in r["findings"]} for r in report["reports"]}
    names = {case_id: name for name, case_id in cases.items()}
    assert {names.get(case_id, str(case_id)): kinds for case_id, kinds in found.items()} == EXPECTED_KINDS

    one = pqasso("audit", "verify", str(cases["altered_state"]), env={"PQASSO_DATABASE_URL": url})
    assert one.returncode == 1 and "altered    version 3" in one.stdout, one.stdout
    fine = pqasso("audit", "verify", str(untouched), env={"PQASSO_DATABASE_URL": url})
    assert fine.returncode == 0 and "every case is intact" in fine.stdout, fine.stdout


def test_findings_say_which_versions(recorded) -> None:
    url, cases, _ = recorded
    tamper(url, cases)
    reports = {r.case_id: r for r in verify(url).damaged}

    def findings(name: str) -> set[tuple[str, int | None]]:
        return {(f.kind, f.version) for f in reports[cases[name]].findings}

    assert findings("altered_state") == {("altered", 3)}
    assert findings("altered_topic") == {("altered", 5)}
    assert findings("deleted_middle") == {("deleted", 4)}
    assert findings("deleted_tail_and_hashes") == {("deleted", 9)}
    assert findings("deleted_case") == {("deleted", None)}
    assert {kind for kind, _ in findings("reordered_versions")} == {"reordered"}
    assert ("reordered", 2) in findings("reordered_versions")
    assert findings("inserted") == {("inserted", 11)}
    assert findings("hash_rewritten") == {("altered", 6)}


def test_the_hash_records_are_append_only_even_for_the_owner(recorded) -> None:
    url, _, _ = recorded
    for statement in ("UPDATE cases_event_hashes SET hash = hash", "DELETE FROM cases_event_hashes",
                      "TRUNCATE cases_event_hashes"):
        with psycopg.connect(url) as conn, pytest.raises(
                psycopg.errors.RaiseException, match="cases_event_hashes is append-only"):
            conn.execute(statement)
    assert verify(url).ok


def test_the_migration_chains_events_recorded_before_the_chain_existed(recorded) -> None:
    url, _, _ = recorded
    with psycopg.connect(url, autocommit=True) as conn:  # as if step 6 had never run
        conn.execute("SET session_replication_role = replica")
        conn.execute("DELETE FROM cases_event_hashes")
        conn.execute("DELETE FROM schema_migrations WHERE version = 6")
    assert not verify(url).ok

    assert "applied step 6: event hash chain: append-only table, and hashes for events " \
           "recorded before it" in migrate(url)
    assert verify(url).ok
