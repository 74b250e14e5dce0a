"""The deadline job lapses cases whose evidence is overdue, once."""

from datetime import date, timedelta

import pytest

from application.cases import QualityMarkCases
from application.commands import CommandContext, RecordEvidenceDeadlineMissed
from application.deadline_job import DEADLINE_JOB, run_deadline_job
from application.demo import load_demo
from domain.errors import InvalidDate


class EvidenceOverdueFromStore:
    """Answers the deadline view's question by replaying every case (fine for a unit test)."""

    def __init__(self, app: QualityMarkCases, case_ids):
        self.app, self.case_ids = app, case_ids

    def evidence_overdue_cases(self, day):
        for case_id in self.case_ids:
            case = self.app.get_case(case_id)
            if any(d.obligation.value == "evidence_submission" and d.is_open and d.is_overdue_on(day)
                   for d in case.deadlines):
                yield case_id


class Naming:
    """A view that names the given cases whatever the day: stale, or racing another job."""

    def __init__(self, case_ids):
        self.case_ids = case_ids

    def evidence_overdue_cases(self, day):
        return list(self.case_ids)


TODAY = date(2026, 11, 25)


def test_evidence_overdue_case_lapses_and_a_second_run_records_nothing():
    app = QualityMarkCases()
    demo = {c.title: c.case_id for c in load_demo(app, today=TODAY)}
    late = demo["Evidence overdue (the deadline job will lapse it)"]
    view = EvidenceOverdueFromStore(app, list(demo.values()))

    first = run_deadline_job(app, view, TODAY, today=TODAY)
    assert first.lapsed == [late]
    assert app.get_case(late).status.value == "not_recommended"
    head = app.recorder.max_notification_id()

    assert list(view.evidence_overdue_cases(TODAY)) == []
    # A view that still names the lapsed case (stale, or a second job racing the first) is
    # refused by the domain: skipped, nothing recorded.
    second = run_deadline_job(app, Naming([late]), TODAY, today=TODAY)
    assert second.lapsed == [] and second.skipped == [late]
    assert app.recorder.max_notification_id() == head


def test_evidence_due_later_is_left_alone():
    app = QualityMarkCases()
    demo = {c.title: c.case_id for c in load_demo(app, today=TODAY)}
    due = demo["Evidence due in 16 days"]
    head = app.recorder.max_notification_id()
    # Even named by a view, a case whose evidence is not yet overdue is refused by the domain.
    early = run_deadline_job(app, Naming([due]), TODAY, today=TODAY)
    assert early.lapsed == [] and early.skipped == [due]
    assert app.get_case(due).status.value == "awaiting_evidence"
    assert app.recorder.max_notification_id() == head
    view = EvidenceOverdueFromStore(app, [due])
    assert run_deadline_job(app, view, TODAY + timedelta(days=17), today=TODAY + timedelta(days=17)).lapsed == [due]


def test_a_stale_view_naming_a_case_that_moved_on_is_skipped_not_failed():
    app = QualityMarkCases()
    demo = {c.title: c.case_id for c in load_demo(app, today=TODAY)}
    awarded = demo["The guidance's example (3.1.4, 4.2.7): recommended and awarded"]

    class StaleView:
        def evidence_overdue_cases(self, day):
            return [awarded]

    result = run_deadline_job(app, StaleView(), TODAY, today=TODAY)
    assert result.skipped == [awarded] and result.lapsed == []


def test_a_run_for_a_day_that_has_not_come_is_refused_before_anything_is_recorded():
    app = QualityMarkCases()
    demo = {c.title: c.case_id for c in load_demo(app, today=TODAY)}
    due = demo["Evidence due in 16 days"]
    head = app.recorder.max_notification_id()
    with pytest.raises(InvalidDate) as refused:
        run_deadline_job(app, Naming([due]), TODAY + timedelta(days=17), today=TODAY)
    assert refused.value.field == "on"
    assert app.get_case(due).status.value == "awaiting_evidence"
    assert app.recorder.max_notification_id() == head


def test_the_domain_refuses_a_missed_deadline_dated_after_today_whoever_asks():
    app = QualityMarkCases()
    demo = {c.title: c.case_id for c in load_demo(app, today=TODAY)}
    due = demo["Evidence due in 16 days"]
    later = TODAY + timedelta(days=17)
    with pytest.raises(InvalidDate) as refused:
        app.execute(RecordEvidenceDeadlineMissed(due, later), CommandContext(DEADLINE_JOB, today=TODAY))
    assert refused.value.field == "on" and "in the future" in str(refused.value)
    app.execute(RecordEvidenceDeadlineMissed(due, later), CommandContext(DEADLINE_JOB, today=later))
    assert app.get_case(due).status.value == "not_recommended"

