"""A full rebuild of every read model from tens of thousands of events reaches the head, and
how fast it went, to read (``PQASSO_PROJECTION_BENCH_EVENTS=50000 pytest -s -m slow -k
projection_speed``). The speed is printed, never asserted: the figure and its target belong to
the benchmark (``projection_catchup_events_per_s``, BENCHMARKS.md)."""

from __future__ import annotations

import os
import random
import time

import pytest

from application.cases import QualityMarkCases
from projections.runner import ProjectionSupervisor
from tests.integration.test_projection_histories import CaseDriver, projection_database

pytestmark = [pytest.mark.integration, pytest.mark.slow]
EVENTS = int(os.environ.get("PQASSO_PROJECTION_BENCH_EVENTS", "20000"))


def record_many(app: QualityMarkCases, events: int) -> None:
    """Random histories, saved 200 cases at a time (as fast as the store takes them)."""
    driver, pending, recorded = CaseDriver(random.Random(1), organisations=500), {}, 0
    while recorded < events:
        case = driver.step(0.15)
        pending[case.id] = case
        if len(pending) >= 200:
            recorded += len(app.save(*pending.values()))
            pending.clear()
    app.save(*pending.values())


def test_a_rebuild_of_many_events_reaches_the_head(postgres_server_url, capsys):
    with projection_database(postgres_server_url) as db:
        app = QualityMarkCases(env=db.env)
        record_many(app, EVENTS)
        head = app.recorder.max_notification_id()
        with ProjectionSupervisor(db.env) as supervisor:
            supervisor.create_tables()
            started = time.perf_counter()
            supervisor.rebuild()
            seconds = time.perf_counter() - started
            assert all(s.lag == 0 for s in supervisor.status())
            names = [f.name for f in supervisor.followers]
        app.close()
    assert head >= EVENTS
    rate = head / seconds
    with capsys.disabled():
        print(f"\nrebuilt {', '.join(names)} from {head} events in {seconds:.1f} s: "
              f"{rate:,.0f} events/s")
