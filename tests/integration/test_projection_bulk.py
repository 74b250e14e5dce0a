"""The bulk rebuild (projections/bulk.py) on PostgreSQL: in worker processes or in this one,
it makes exactly the rows the live path makes one event at a time; it keeps other writers
out while it runs; and whatever an interrupted rebuild leaves is cleared before anything
else is written."""

from __future__ import annotations

import random
import threading

import psycopg
import pytest
from eventsourcing.persistence import Tracking

from application.cases import QualityMarkCases
from projections import bulk
from projections.base import PositionConflict
from projections.runner import ProjectionSupervisor
from tests.integration.test_projection_histories import (
    READ_MODEL_TABLES,
    projection_database,
    record_history,
)
from tests.integration.test_projection_properties import project_one_by_one

pytestmark = pytest.mark.integration
TABLES = {**READ_MODEL_TABLES,
          "chain_heads": "SELECT * FROM chain_heads ORDER BY case_id",
          "chain_position": "SELECT notification_id FROM chain_tracking "
                            "WHERE application_name = 'cases'"}
# Every index of the read models' schemas, primary keys included, as PostgreSQL defines it.
INDEXES = ("SELECT schemaname, indexname, indexdef FROM pg_indexes "
           "WHERE schemaname IN ('public', 'reporting') ORDER BY 1, 2")
PRIMARY_KEYS = ("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE contype = 'p' ORDER BY 1")


@pytest.fixture(scope="module")
def history(postgres_server_url):
    """A database with random histories (every event type, lapses, extensions)."""
    with projection_database(postgres_server_url) as db:
        app = QualityMarkCases(env=db.env)
        record_history(app, random.Random(21), 500, save_every=7)
        app.close()
        yield db


def dump(db) -> dict:
    with psycopg.connect(db.url) as conn:
        return {name: conn.execute(query).fetchall() for name, query in TABLES.items()}


@pytest.fixture(scope="module")
def one_by_one(history):
    """The tables as the live path makes them: ``process_event`` per event."""
    with ProjectionSupervisor(history.env) as supervisor:
        supervisor.create_tables()
        for follower in supervisor.followers:
            follower.view.reset()
        project_one_by_one(supervisor, history.execute("SELECT count(*) FROM cases_events")[0][0])
    return dump(history)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_a_partitioned_rebuild_makes_the_rows_of_the_live_path(history, one_by_one, workers):
    indexes, keys = history.execute(INDEXES), history.execute(PRIMARY_KEYS)
    with ProjectionSupervisor(history.env, rebuild_workers=workers) as supervisor:
        head = supervisor.app.recorder.max_notification_id()
        assert supervisor.rebuild() == len(supervisor.followers) * head
        assert all(s.lag == 0 for s in supervisor.status())
    assert dump(history) == one_by_one
    assert history.execute(INDEXES) == indexes  # dropped and built again
    assert history.execute(PRIMARY_KEYS) == keys


def test_a_chunk_per_case_makes_the_same_rows(history, one_by_one, monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK_EVENTS", 1)  # every case its own chunk
    with ProjectionSupervisor(history.env, rebuild_workers=1) as supervisor:
        supervisor.rebuild()
    assert dump(history) == one_by_one


def test_a_failed_rebuild_leaves_empty_tables_with_their_indexes_and_a_rerun_works(
        history, one_by_one, monkeypatch):
    indexes, keys = history.execute(INDEXES), history.execute(PRIMARY_KEYS)
    with ProjectionSupervisor(history.env, rebuild_workers=1) as supervisor:
        deadlines = supervisor.view("deadlines")
        monkeypatch.setattr(type(deadlines), "_load", lambda self, curs, rows: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            supervisor.rebuild()
        assert history.execute("SELECT count(*) FROM audit_events") == [(0,)]
        assert history.execute(INDEXES) == indexes
        assert history.execute(PRIMARY_KEYS) == keys
        assert all(f.view.sync_position() is None for f in supervisor.followers)
        monkeypatch.undo()
        supervisor.rebuild()
    assert dump(history) == one_by_one


def test_a_rebuild_failing_among_its_index_builds_leaves_every_index_and_primary_key(
        history, one_by_one, monkeypatch):
    indexes, keys = history.execute(INDEXES), history.execute(PRIMARY_KEYS)
    build = bulk._in_parallel

    def half_then_fail(kwargs, statements):
        build(kwargs, statements[: len(statements) // 2])  # some built again, some not
        raise RuntimeError("the server went away")

    with ProjectionSupervisor(history.env, rebuild_workers=1) as supervisor:
        monkeypatch.setattr(bulk, "_in_parallel", half_then_fail)
        with pytest.raises(RuntimeError, match="went away"):
            supervisor.rebuild()
        assert history.execute("SELECT count(*) FROM audit_events") == [(0,)]
        assert history.execute(INDEXES) == indexes
        assert history.execute(PRIMARY_KEYS) == keys
        monkeypatch.undo()
        supervisor.rebuild()
    assert dump(history) == one_by_one


def test_rows_an_interrupted_rebuild_left_are_cleared_before_catching_up(history, one_by_one):
    indexes, keys = history.execute(INDEXES), history.execute(PRIMARY_KEYS)
    with ProjectionSupervisor(history.env) as supervisor:
        views = {f.name: f.view for f in supervisor.followers}
        # What a killed rebuild leaves: one partition's rows committed, no positions, and
        # the secondary indexes and primary keys dropped.
        with bulk._WriterLocks(views, bulk.events_table(supervisor.app)) as locks:
            head, _ = locks.reset()
            assert locks.rebuilding_indexes
            bulk.rebuild_cases(supervisor.app, list(views.values()), None,
                               bulk.UUID(int=1 << 127), head)
        assert history.execute("SELECT count(*) FROM audit_events")[0][0] > 0
        assert history.execute("SELECT to_regclass('audit_events_case_idx')") == [(None,)]
        assert history.execute("SELECT to_regclass('reporting.unmet_indicators_pkey')") == [(None,)]
        supervisor.catch_up()
    assert dump(history) == one_by_one
    assert history.execute(INDEXES) == indexes
    assert history.execute(PRIMARY_KEYS) == keys


def test_other_writers_wait_for_a_rebuild_and_then_find_the_position_moved(postgres_server_url):
    with projection_database(postgres_server_url) as db:
        app = QualityMarkCases(env=db.env)
        record_history(app, random.Random(22), 60, save_every=3)
        with ProjectionSupervisor(db.env) as supervisor, ProjectionSupervisor(db.env) as other:
            supervisor.rebuild()
            audit = other.view("audit")
            seen = audit.sync_position()
            record_history(app, random.Random(23), 5)  # the rebuild below goes further
            notification = app.recorder.select_notifications(seen + 1, limit=1)[0]
            event = app.mapper.to_domain_event(notification)
            outcome: list[BaseException | None] = []

            def write() -> None:  # another worker that saw ``seen``
                try:
                    audit.apply_batch([(event, Tracking("cases", notification.id))])
                    outcome.append(None)
                except BaseException as error:
                    outcome.append(error)

            views = {f.name: f.view for f in supervisor.followers}
            with bulk._WriterLocks(views, bulk.events_table(supervisor.app)) as locks:
                head, _ = locks.reset()
                writer = threading.Thread(target=write)
                writer.start()
                writer.join(1.0)
                assert writer.is_alive(), "a write went through while the rebuild held the locks"
                bulk._run(supervisor.app, views, [f.spec for f in supervisor.followers],
                          supervisor.env, 2, head, locks)
                locks.finish(head)
            writer.join(10)
            assert isinstance(outcome[0], PositionConflict)
            assert audit.sync_position() == head == app.recorder.max_notification_id()
            together = dump(db)
            supervisor.rebuild()
            assert dump(db) == together
        app.close()
