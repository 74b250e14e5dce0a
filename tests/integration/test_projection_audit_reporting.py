"""The audit view and the reporting schema on PostgreSQL, from the guidance's example case."""

from __future__ import annotations

from datetime import date, timedelta

import psycopg
import pytest

from application.cases import QualityMarkCases
from application.commands import HoldSiteVisit
from application.views import event_data
from projections.audit import AuditActor
from projections.reporting_sql import REPORTING_ROLE, VIEWS
from projections.runner import ProjectionSupervisor
from tests.builders import ADMIN, CHARITY, LEAD_REVIEWER_ID, VISIT_DATE, on_site_report
from tests.integration.support import ctx, run_example
from tests.integration.test_projection_histories import projection_database

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def projected(postgres_server_url):
    with projection_database(postgres_server_url) as db:
        app = QualityMarkCases(env=db.env)
        case_id, _ = run_example(app)
        # A level 3 case still waiting for its plan, with one unmet indicator in area 4.
        other = app.open_case(HoldSiteVisit(CHARITY, 3, VISIT_DATE + timedelta(days=3),
                                            "reviewer-2", on_site_report("4.3.1")), ctx(ADMIN))
        with ProjectionSupervisor(db.env) as supervisor:
            supervisor.create_tables()
            supervisor.catch_up()
            yield db, app, supervisor, case_id, other.case_id
        app.close()


def test_audit_holds_every_event_in_order_with_actor_dates_and_data(projected):
    _, app, supervisor, case_id, _ = projected
    entries = supervisor.view("audit").events(case_id=case_id)
    history = app.history(case_id)
    assert [e.version for e in entries] == list(range(1, 11))
    assert [e.event_type for e in entries] == [type(e).__name__ for e in history]
    assert [e.data for e in entries] == [event_data(e) for e in history]
    assert [e.recorded_at for e in entries] == [e.timestamp for e in history]
    assert entries[0].business_date == VISIT_DATE
    assert entries[1].business_date == date(2009, 5, 5)  # the plan's received date
    assert entries[1].actor == AuditActor("ces-admin-1", "admin")
    ids = [e.notification_id for e in entries]
    assert ids == sorted(ids)


def test_audit_filters_by_actor_type_time_and_pages(projected):
    _, app, supervisor, case_id, other = projected
    audit = supervisor.view("audit")
    assert {e.actor.principal for e in audit.events(actor="reviewer-1")} == {"reviewer-1"}
    assert len(audit.events(case_id=case_id, event_type="PlanSubmitted")) == 2
    everything = audit.events(limit=1000)
    assert len(everything) == 11
    first_page = audit.events(limit=4)
    second_page = audit.events(limit=4, after=first_page[-1].notification_id)
    assert first_page + second_page == everything[:8]
    middle = everything[5].recorded_at
    assert audit.events(since=middle) == everything[5:]
    assert audit.events(until=middle) == everything[:5]
    assert [e.case_id for e in audit.events(case_id=other)] == [other]


def test_reporting_cases_row_of_the_example(projected):
    db, _, _, case_id, _ = projected
    (row,) = db.execute(
        "SELECT status, level, visit_date, recommendation, outcome_on, days_to_outcome, "
        "awarded_on, plan_submissions, organisation_name, lead_reviewer "
        "FROM reporting.cases WHERE case_id = %s", (case_id,))
    assert row == ("awarded", 2, VISIT_DATE, "recommended", date(2009, 7, 24), 98,
                   date(2009, 8, 7), 2, "Riverside Community Trust", LEAD_REVIEWER_ID)
    assert db.execute("SELECT indicator, quality_area, quality_area_name, indicator_level, "
                      "still_unmet FROM reporting.unmet_indicators WHERE case_id = %s "
                      "ORDER BY indicator", (case_id,)) == [
        ("3.1.4", 3, "Leadership and management", 1, False),
        ("4.2.7", 4, "User-centred service", 2, False)]


def test_report_summarises_status_outcomes_timeliness_and_unmet_indicators(projected):
    _, _, supervisor, _, _ = projected
    report = supervisor.view("reporting").report()
    assert set(report) == set(VIEWS)
    assert report["cases_by_status_level"] == [
        {"status": "awaiting_plan", "level": 3, "cases": 1},
        {"status": "awarded", "level": 2, "cases": 1}]
    (outcome,) = report["outcomes"]
    assert outcome["recommendation"] == "recommended" and outcome["awarded"] == 1
    assert outcome["mean_days_to_outcome"] == 98.0
    assert report["reviewer_timeliness"] == [{
        "lead_reviewer": "reviewer-1", "plan_reviews": 2, "plan_reviews_on_time": 2,
        "evidence_judgements": 2, "evidence_judgements_on_time": 2, "overdue_now": 0}]
    assert report["most_unmet_areas"][0] == {
        "quality_area": 4, "quality_area_name": "User-centred service", "unmet_indicators": 2,
        "cases": 2, "still_unmet_after_evidence": 0}
    assert [r["indicator"] for r in report["most_unmet_indicators"]] == ["3.1.4", "4.2.7", "4.3.1"]


def test_reporting_role_reads_the_reporting_schema_and_changes_nothing(projected):
    db, _, _, _, _ = projected
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("SET ROLE {}").format(psycopg.sql.Identifier(REPORTING_ROLE)))
        for name in (*VIEWS, "cases", "unmet_indicators", "obligations"):
            conn.execute(psycopg.sql.SQL("SELECT * FROM reporting.{}").format(
                psycopg.sql.Identifier(name))).fetchall()
        refused = [
            "INSERT INTO reporting.cases (case_id) VALUES (gen_random_uuid())",
            "UPDATE reporting.cases SET status = 'awarded'",
            "DELETE FROM reporting.unmet_indicators",
            "TRUNCATE reporting.cases",
            "CREATE TABLE reporting.mine (x int)",
            "CREATE TABLE public.mine (x int)",
            "CREATE VIEW reporting.mine AS SELECT 1",
            "SELECT * FROM audit_events",
            "SELECT * FROM deadlines_obligations",
            "INSERT INTO deadlines_tracking VALUES ('cases', 999)",
        ]
        for statement in refused:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
