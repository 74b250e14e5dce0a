"""Point 7: back up the event store with pg_dump, restore it into an empty database, rebuild
the read models: every case's state is identical, the chain verifies to the same digest, and
the restored service records new commands after the old ones (docs/reliability.md, "Backup
and restore", runs these very commands).
"""

from __future__ import annotations

import json
import subprocess

import psycopg
import pytest

from application.cases import QualityMarkCases
from application.views import case_state
from infrastructure.bootstrap import application_env
from infrastructure.embedded_postgres import find_binaries
from infrastructure.settings import parse_database_url
from tests.builders import ADMIN
from tests.integration.support import ctx, run_example, site_visit, submit_plan
from tests.reliability.support import dump_read_models, pqasso

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The event store: everything else is derived from it (read models) or issued anew (tokens
# may be backed up too: api_tokens holds only hashes).
EVENT_STORE = ("cases_events", "cases_event_hashes", "cases_idempotency", "api_tokens")


def pg_tool(url: str, name: str) -> str:
    """pg_dump/pg_restore of the server's major version."""
    with psycopg.connect(url) as conn:
        major = conn.info.server_version // 10000
    return find_binaries(("pg_ctl", "pgserver"), major=major).exe(name)


def libpq_args(url: str) -> list[str]:
    parts = parse_database_url(url)
    return ["-h", parts.host, "-p", str(parts.port), "-U", parts.user, "-d", parts.dbname]


def backup(url: str, path) -> None:
    """pg_dump -Fc --data-only of the event store tables (and their sequences)."""
    tables = [arg for table in EVENT_STORE for arg in ("--table", f"public.{table}")]
    subprocess.run([pg_tool(url, "pg_dump"), *libpq_args(url), "--format=custom", "--data-only",
                    *tables, "--file", str(path)], check=True, capture_output=True, timeout=120)


def restore(url: str, path) -> None:
    """Into a database `pqasso db migrate` has just made: rows only, in one transaction."""
    subprocess.run([pg_tool(url, "pg_restore"), *libpq_args(url), "--data-only", "--single-transaction",
                    "--exit-on-error", str(path)], check=True, capture_output=True, timeout=120)


def states(url: str) -> dict[str, dict]:
    app = QualityMarkCases(env={**application_env(url), "AGGREGATE_CACHE_MAXSIZE": "0"})
    try:
        with psycopg.connect(url) as conn:
            ids = [row[0] for row in conn.execute("SELECT DISTINCT originator_id FROM cases_events")]
        return {str(case_id): case_state(app.get_case(case_id)) for case_id in ids}
    finally:
        app.close()


def test_a_restore_into_an_empty_database_gives_identical_case_states(migrated_database, tmp_path) -> None:
    source, target = migrated_database().url, migrated_database().url
    app = QualityMarkCases(env=application_env(source))
    try:
        for _ in range(3):
            run_example(app)
        for n in range(4):
            opened = app.open_case(site_visit(), ctx(ADMIN, idempotency_key=f"open-{n}", request_hash="h"))
            if n % 2:
                app.execute(submit_plan(opened.case_id), ctx(ADMIN))
    finally:
        app.close()
    assert pqasso("projections", "rebuild", env={"PQASSO_DATABASE_URL": source}).returncode == 0
    before, read_models = states(source), dump_read_models(source)
    digest = json.loads(pqasso("audit", "verify", "--json", env={"PQASSO_DATABASE_URL": source}).stdout)["digest"]

    backup(source, tmp_path / "events.dump")
    restore(target, tmp_path / "events.dump")
    rebuilt = pqasso("projections", "rebuild", env={"PQASSO_DATABASE_URL": target})
    assert rebuilt.returncode == 0, rebuilt.stderr

    assert states(target) == before and len(before) == 7
    assert dump_read_models(target) == read_models
    verified = pqasso("audit", "verify", "--json", env={"PQASSO_DATABASE_URL": target})
    assert verified.returncode == 0 and json.loads(verified.stdout)["digest"] == digest
    # The restored store goes on: idempotency keys are remembered, new events follow the old.
    restored = QualityMarkCases(env=application_env(target))
    try:
        again = restored.open_case(site_visit(), ctx(ADMIN, idempotency_key="open-0", request_hash="h"))
        assert again.replayed
        new = restored.open_case(site_visit(), ctx(ADMIN))
        assert restored.get_case(new.case_id).version == 1
    finally:
        restored.close()
    with psycopg.connect(target) as conn, psycopg.connect(source) as old:
        newest = conn.execute("SELECT max(notification_id) FROM cases_events").fetchone()[0]
        assert newest > old.execute("SELECT max(notification_id) FROM cases_events").fetchone()[0]
