"""The deadline timeline: given a case's deadlines, when drawn, then each window, closure and
overdue span is in the SVG with words a screen reader can say, and nothing typed is markup."""

from __future__ import annotations

from datetime import date

from infrastructure.web.timeline import draw

MET_LATE = {"obligation": "plan_submission", "owed_by": "organisation", "opened_on": "2009-04-17",
            "due_on": "2009-05-01", "closed_on": "2009-05-04", "state": "met"}
OPEN_LATE = {"obligation": "plan_review", "owed_by": "lead_reviewer", "opened_on": "2009-05-04",
             "due_on": "2009-05-18", "closed_on": None, "state": "open"}
ON_TIME = {"obligation": "evidence_submission", "owed_by": "organisation", "opened_on": "2009-05-04",
           "due_on": "2009-06-29", "closed_on": "2009-06-01", "state": "met"}


def test_late_obligations_are_marked_late_until_met_or_overdue_until_today():
    svg = draw([MET_LATE, OPEN_LATE], start=date(2009, 4, 17), today=date(2009, 5, 25), ended=False)
    assert svg.count('class="tl-overdue"') == 2
    # Met late: how late it was met (the domain counts it overdue until the day before)
    assert "3 days late: due 1 May 2009, met on 4 May 2009" in svg
    # Still open: overdue as many days as the overdue list says
    assert "Overdue 7 days: due 18 May 2009, still open on 25 May 2009" in svg
    assert "<title>Today, 25 May 2009</title>" in svg


def test_an_obligation_met_in_time_has_no_overdue_span():
    svg = draw([ON_TIME], start=date(2009, 4, 17), today=date(2009, 7, 1), ended=True)
    assert "tl-overdue" not in svg and "Met on 1 Jun 2009" in svg and "tl-today" not in svg


def test_the_picture_has_a_title_and_a_description_for_screen_readers():
    svg = draw([MET_LATE], start=date(2009, 4, 17), today=date(2009, 5, 25), ended=False)
    assert svg.startswith('<svg class="timeline"') and 'role="img"' in svg
    assert 'aria-labelledby="tl-title tl-desc"' in svg
    assert "Submit the plan due 1 May 2009, met 4 May 2009, 3 days late" in svg


def test_a_day_is_one_day():
    met_a_day_late = {**MET_LATE, "closed_on": "2009-05-02"}
    svg = draw([met_a_day_late, OPEN_LATE], start=date(2009, 4, 17), today=date(2009, 5, 19), ended=False)
    assert "met 2 May 2009, 1 day late" in svg and "1 day late: due 1 May 2009" in svg
    assert "Overdue 1 day: due 18 May 2009, still open on 19 May 2009" in svg


def test_a_case_with_no_deadlines_says_so():
    assert "nothing was owed" in draw([], start=date(2009, 4, 17), today=date(2009, 4, 17), ended=True)


def test_unknown_words_are_escaped():
    odd = {**MET_LATE, "obligation": "<script>alert(1)</script>"}
    svg = draw([odd], start=date(2009, 4, 17), today=date(2009, 5, 25), ended=False)
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_a_deadline_closed_late_otherwise_than_met_says_how_it_closed():
    missed = {**MET_LATE, "obligation": "evidence_submission", "closed_on": "2009-05-06", "state": "missed"}
    svg = draw([missed], start=date(2009, 4, 17), today=date(2009, 5, 25), ended=True)
    assert "5 days late: due 1 May 2009, missed on 6 May 2009" in svg and "met on" not in svg
