"""The spinning wait of ``make bench-costs`` (benchmarks/spinning.py): a connection that
spins answers as one that sleeps, and never sleeps."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import waiting

from benchmarks.journeys import COMMANDS_PER_JOURNEY, Journeys
from benchmarks.spinning import spin_while_waiting


def refuse_sleeping(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, psycopg's waits on a connection's socket fail (connecting is left alone)."""
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("waited on the socket")

    monkeypatch.setattr(waiting, "wait", refuse)


def test_a_spinning_connection_answers_and_fails_as_a_sleeping_one(database_url, monkeypatch) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        spin_while_waiting(conn)
        refuse_sleeping(monkeypatch)
        assert conn.execute("SELECT 1, pg_sleep(0.05)").fetchone() == (1, "")
        with pytest.raises(psycopg.errors.DivisionByZero):
            conn.execute("SELECT 1 / 0")
        assert conn.execute("SELECT %s::text", ["again"], prepare=True).fetchone() == ("again",)


def test_without_spinning_the_connection_waits_on_its_socket(database_url) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn, pytest.MonkeyPatch.context() as patch:
        refuse_sleeping(patch)
        with pytest.raises(AssertionError, match="socket"):
            conn.execute("SELECT 1")


def test_the_applications_saves_spin_on_a_spinning_pooled_connection(fresh_migrated_url, make_app) -> None:
    """The recorder's prepared save (infrastructure/prepared_statements.py) waits through the
    connection's ``wait``: the benchmark's spinning command spins for every save."""
    app = make_app(fresh_migrated_url, POSTGRES_POOL_SIZE="1", POSTGRES_MAX_OVERFLOW="0")
    journeys = Journeys(app, 0)
    journeys.run_one()  # the site visit: the pool's one connection is open, the save prepared
    with app.recorder.datastore.get_connection() as conn:
        spin_while_waiting(conn)
    with pytest.MonkeyPatch.context() as patch:
        refuse_sleeping(patch)
        for _ in range(COMMANDS_PER_JOURNEY - 1):
            journeys.run_one()
    (case_id,) = {n.originator_id for n in app.recorder.select_notifications(1, 100)}
    assert app.get_case(case_id).version == COMMANDS_PER_JOURNEY
