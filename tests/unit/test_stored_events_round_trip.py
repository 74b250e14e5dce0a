"""Every event the demo records comes back from the event store equal to what was recorded."""

from datetime import date

from application.cases import QualityMarkCases
from application.demo import load_demo


def test_every_demo_event_survives_the_transcoder_unchanged():
    app = QualityMarkCases()
    cases = load_demo(app, today=date(2026, 11, 25))
    for demo in cases:
        for event in app.history(demo.case_id):
            stored = app.mapper.to_stored_event(event)
            assert app.mapper.to_domain_event(stored) == event, type(event).__name__


def test_a_case_rebuilt_from_stored_events_equals_the_live_case():
    app = QualityMarkCases()
    for demo in load_demo(app, today=date(2026, 11, 25)):
        live = app.get_case(demo.case_id)
        rebuilt = None
        for event in app.history(demo.case_id):
            rebuilt = app.mapper.to_domain_event(app.mapper.to_stored_event(event)).mutate(rebuilt)
        assert vars(rebuilt) == vars(live)


def test_loading_the_demo_twice_records_nothing_new():
    app = QualityMarkCases()
    load_demo(app, today=date(2026, 11, 25))
    head = app.recorder.max_notification_id()
    load_demo(app, today=date(2026, 11, 25))
    assert app.recorder.max_notification_id() == head
