"""Every event the demo records comes back from the event store equal to what was recorded."""

from datetime import date

from application.cases import QualityMarkCases
from application.demo import load_demo
from domain.case import Case


def test_every_demo_event_survives_the_transcoder_unchanged(monkeypatch):
    app = QualityMarkCases()
    # given every event as the domain made it, kept as it goes to the store (never decoded)
    made: list[Case.Event] = []
    to_stored_event = app.mapper.to_stored_event

    def keeping(event):
        if isinstance(event, Case.Event):
            made.append(event)
        return to_stored_event(event)

    monkeypatch.setattr(app.mapper, "to_stored_event", keeping)
    cases = load_demo(app, today=date(2026, 11, 25))
    assert made
    # then each comes back from the store equal to what was made, case by case, in order
    for demo in cases:
        recorded = [event for event in made if event.originator_id == demo.case_id]
        assert recorded and list(app.history(demo.case_id)) == recorded, demo.title
    assert sum(len(list(app.history(demo.case_id))) for demo in cases) == len(made)


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
