"""The deadline view on PostgreSQL: the guidance's example case, day boundaries, indexes."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta

import psycopg
import pytest

from application.cases import QualityMarkCases
from application.commands import ApprovePlan, CommandContext
from domain.deadlines import Closure, Obligation, Party
from domain.participants import Organisation
from infrastructure.http.routes_queries import OVERDUE_ITEMS, UPCOMING_ITEMS
from projections.deadlines import ObligationRecord, OrganisationRef, OverdueItem
from projections.registry import create_read_models, read_model
from projections.runner import ProjectionSupervisor
from tests.builders import ADMIN, LEAD_REVIEWER
from tests.integration.support import TODAY, ctx, open_case_with_plan, run_example, site_visit
from tests.integration.test_projection_histories import projection_database

pytestmark = pytest.mark.integration
RIVERSIDE = OrganisationRef("org-1", "Riverside Community Trust")
EXAMPLE_ENV: dict = {}  # the example database's env, for opening a read model alone


@pytest.fixture(scope="module")
def example(postgres_server_url):
    """The guidance's example, projected: plan due 1 May 2009, received 5 May (late)."""
    with projection_database(postgres_server_url) as db:
        EXAMPLE_ENV["env"] = db.env
        app = QualityMarkCases(env=db.env)
        case_id, _ = run_example(app)
        # A second case: plan approved 29 May 2009, so its evidence is due 24 July; none comes.
        waiting = open_case_with_plan(app)
        app.execute(ApprovePlan(waiting, date(2009, 5, 29)), ctx(LEAD_REVIEWER))
        with ProjectionSupervisor(db.env) as supervisor:
            supervisor.create_tables()
            supervisor.catch_up()
            yield app, supervisor.view("deadlines"), case_id, waiting
        app.close()


def test_obligations_of_the_example_are_those_of_the_case(example):
    app, view, case_id, _ = example
    rows = view.obligations_for_case(case_id)
    assert [(r.obligation, r.opened_on, r.due_on, r.closed_on, r.closure) for r in rows] == [
        (d.obligation, d.opened_on, d.due_on, d.closed_on, d.closure)
        for d in app.get_case(case_id).deadlines]
    assert rows[0] == ObligationRecord(case_id, 10, Obligation.PLAN_SUBMISSION,
                                       Party.ORGANISATION, date(2009, 4, 17), date(2009, 5, 1),
                                       date(2009, 5, 5), Closure.MET)
    assert all(r.closure is Closure.MET for r in rows)


def test_an_obligation_is_not_overdue_on_its_due_date(example):
    _, view, case_id, _ = example
    assert [i for i in view.overdue_on(date(2009, 5, 1)) if i.case_id == case_id] == []


def test_an_obligation_met_late_was_overdue_from_the_day_after_due_until_it_was_met(example):
    _, view, case_id, _ = example
    overdue = {day: [i for i in view.overdue_on(day) if i.case_id == case_id]
               for day in (date(2009, 5, d) for d in range(1, 7))}
    assert [day.day for day, items in overdue.items() if items] == [2, 3, 4]
    assert overdue[date(2009, 5, 2)] == [OverdueItem(
        case_id, RIVERSIDE, Obligation.PLAN_SUBMISSION, Party.ORGANISATION, date(2009, 5, 1),
        days_overdue=1, lead_reviewer="reviewer-1", level=2)]
    assert overdue[date(2009, 5, 4)][0].days_overdue == 3


def test_evidence_never_sent_is_overdue_from_the_day_after_it_was_due(example):
    _, view, _, waiting = example
    assert waiting not in view.evidence_overdue_cases(date(2009, 7, 24))
    assert view.evidence_overdue_cases(date(2009, 7, 25)) == [waiting]
    (item,) = [i for i in view.overdue_on(date(2009, 8, 3)) if i.case_id == waiting]
    assert (item.obligation, item.owed_by, item.days_overdue) == (
        Obligation.EVIDENCE_SUBMISSION, Party.ORGANISATION, 10)


def test_upcoming_lists_what_is_open_that_day_and_due_within_the_window(example):
    _, view, case_id, _ = example
    mine = [i for i in view.upcoming(date(2009, 5, 20), 7) if i.case_id == case_id]
    assert [(i.obligation, i.due_on, i.days_left) for i in mine] == [
        (Obligation.PLAN_RESUBMISSION, date(2009, 5, 26), 6)]
    assert [i for i in view.upcoming(date(2009, 5, 20), 5) if i.case_id == case_id] == []
    # Met on 22 May: no longer upcoming on that day, although still due on the 26th.
    assert [i for i in view.upcoming(date(2009, 5, 22), 7) if i.case_id == case_id] == []


def test_the_deadline_lists_as_json_are_what_the_api_answer_writes_of_the_items(example):
    """``overdue_json`` and ``upcoming_json`` skip the items: the same bytes all the same,
    on every third day from the site visit to long after the evidence was due."""
    _, view, _, _ = example
    listed = {"overdue": 0, "upcoming": 0}
    for day in (date(2009, 4, 17) + timedelta(days=n) for n in range(0, 130, 3)):
        for name, answer, items, as_json in (
            ("overdue", OVERDUE_ITEMS, view.overdue_on(day), view.overdue_json(day)),
            ("upcoming", UPCOMING_ITEMS, view.upcoming(day, 14), view.upcoming_json(day, 14)),
        ):
            assert as_json == answer.dump_json(answer.validate_python(items, from_attributes=True))
            listed[name] += len(items)
    assert listed["overdue"] >= 5 and listed["upcoming"] >= 5, listed


def test_the_deadline_lists_as_json_write_any_name_as_the_api_answer_does(postgres_server_url):
    odd = Organisation("org-\"quoted\"", 'Café "Ünïcödé" \\ Trust \u2603\n')
    with projection_database(postgres_server_url) as db:
        app = QualityMarkCases(env=db.env)
        case_id = app.open_case(replace(site_visit(), organisation=odd), ctx(ADMIN)).case_id
        with ProjectionSupervisor(db.env) as supervisor:
            supervisor.create_tables()
            supervisor.catch_up()
            view = supervisor.view("deadlines")
            day = date(2009, 5, 5)
            items = view.overdue_on(day)
            assert [(i.case_id, i.organisation) for i in items] == [
                (case_id, OrganisationRef(odd.id, odd.name))]
            assert view.overdue_json(day) == OVERDUE_ITEMS.dump_json(
                OVERDUE_ITEMS.validate_python(items, from_attributes=True))
            assert json.loads(view.overdue_json(day))[0]["organisation"] == {"id": odd.id, "name": odd.name}
            assert view.overdue_json(date(2009, 5, 1)) == b"[]"
        app.close()


@pytest.mark.parametrize("query, args", [
    ("overdue_on", (date(2009, 5, 2),)),
    ("upcoming", (date(2009, 5, 20), 7)),
    ("evidence_overdue_cases", (date(2009, 7, 25),)),
    ("overdue_json", (date(2009, 5, 2),)),
    ("upcoming_json", (date(2009, 5, 20), 7)),
])
def test_deadline_queries_are_answered_from_an_index(example, monkeypatch, query, args):
    _, view, _, _ = example
    captured = []
    original = view._select
    monkeypatch.setattr(view, "_select", lambda statement, params, **kwargs: captured.append(
        (statement, params)) or original(statement, params, **kwargs))
    getattr(view, query)(*args)
    (statement, params), = captured
    with view.datastore.transaction() as curs:
        curs.execute("SET LOCAL enable_seqscan = off")
        curs.execute(psycopg.sql.SQL("EXPLAIN ") + statement, params)
        plan = "\n".join(row["QUERY PLAN"] for row in curs.fetchall())
    assert "Index" in plan and "Seq Scan" not in plan, plan


def test_a_case_opened_with_nothing_unmet_has_no_obligations(postgres_server_url):
    from application.commands import HoldSiteVisit
    from tests.builders import CHARITY, LEAD_REVIEWER_ID, VISIT_DATE

    with projection_database(postgres_server_url) as db:
        app = QualityMarkCases(env=db.env)
        case_id = app.open_case(HoldSiteVisit(CHARITY, 1, VISIT_DATE, LEAD_REVIEWER_ID, ()),
                                CommandContext(ADMIN, today=TODAY)).case_id
        with ProjectionSupervisor(db.env) as supervisor:
            supervisor.create_tables()
            supervisor.catch_up()
            assert supervisor.view("deadlines").obligations_for_case(case_id) == []
            assert db.execute("SELECT status FROM deadlines_cases") == [("recommended",)]
            assert supervisor.view("deadlines").overdue_on(VISIT_DATE + timedelta(days=99)) == []
        app.close()



def test_a_read_model_opens_on_its_own_for_queries(example):
    _, view, case_id, _ = example
    alone = read_model(EXAMPLE_ENV["env"], "deadlines")
    try:
        assert alone.overdue_on(date(2009, 5, 2)) == view.overdue_on(date(2009, 5, 2))
        assert alone.obligations_for_case(case_id) == view.obligations_for_case(case_id)
    finally:
        alone.datastore.close()


def test_create_read_models_names_every_table_for_the_grants(postgres_server_url):
    with projection_database(postgres_server_url) as db:
        tables = create_read_models(db.env)
        assert {("public", "deadlines_obligations"), ("public", "deadlines_tracking"),
                ("public", "audit_events"), ("reporting", "cases"),
                ("reporting", "unmet_indicators"), ("public", "reporting_tracking")} <= set(tables)
        assert create_read_models(db.env) == tables  # idempotent
