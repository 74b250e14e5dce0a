"""Property: projecting events one by one (the live path), then catching up the rest in
batches, gives the same tables as a rebuild in batches (any page size, any memory bound),
and they agree with the aggregates."""

from __future__ import annotations

import random

import pytest
from eventsourcing.persistence import Tracking
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.cases import QualityMarkCases
from projections import catchup, rows
from projections.runner import ProjectionSupervisor
from tests.integration.test_projection_histories import projection_database, record_history

pytestmark = pytest.mark.integration


def project_one_by_one(supervisor: ProjectionSupervisor, count: int) -> None:
    """The live path without the runner's threads: ``process_event`` per event, in order."""
    app = supervisor.app
    projections = [f.spec.projection_class(view=f.view) for f in supervisor.followers]
    for notification in app.recorder.select_notifications(1, limit=count):
        event = app.mapper.to_domain_event(notification)
        for projection in projections:
            projection.process_event(event, Tracking("cases", notification.id))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), steps=st.integers(1, 80), save_every=st.integers(1, 6),
       page_size=st.sampled_from([1, 2, 7, 40, 1000]), stage_from=st.sampled_from([1, 64, 10**6]),
       one_by_one=st.floats(0, 1), remembered=st.sampled_from([2, 10**6]))
def test_one_by_one_then_batches_equals_rebuild(postgres_server_url, monkeypatch, seed, steps,
                                                save_every, page_size, stage_from, one_by_one,
                                                remembered):
    # Both ways of writing rows (one INSERT from arrays; COPY through a staging table), and
    # a catch-up that must often drop its memory of cases and read them back.
    monkeypatch.setattr(rows, "STAGE_FROM_ROWS", stage_from)
    monkeypatch.setattr(catchup, "MAX_REMEMBERED_CASES", remembered)
    with projection_database(postgres_server_url) as db:
        app = QualityMarkCases(env=db.env)
        cases = record_history(app, random.Random(seed), steps, save_every)
        with ProjectionSupervisor(db.env, page_size=page_size) as supervisor:
            supervisor.create_tables()
            events = app.recorder.max_notification_id()
            project_one_by_one(supervisor, round(one_by_one * events))
            supervisor.catch_up()  # cases opened before are read back from the tables
            incremental = db.dump()
            supervisor.rebuild()
            assert db.dump() == incremental
            deadlines, reporting = supervisor.view("deadlines"), supervisor.view("reporting")
            for case_id, case in cases.items():
                assert [(o.obligation, o.opened_on, o.due_on, o.closed_on, o.closure)
                        for o in deadlines.obligations_for_case(case_id)] == [
                    (d.obligation, d.opened_on, d.due_on, d.closed_on, d.closure)
                    for d in case.deadlines]
            statuses = dict(db.execute("SELECT case_id, status FROM reporting.cases"))
            assert statuses == {case_id: case.status.value for case_id, case in cases.items()}
            assert len(db.execute("SELECT 1 FROM audit_events")) == sum(
                c.version for c in cases.values())
            assert reporting.report()["cases_by_status_level"]
        app.close()
