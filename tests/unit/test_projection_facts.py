"""What the read models take from events agrees with the aggregate, on random histories."""

from __future__ import annotations

import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from application.views import event_data
from projections.audit import event_json
from projections.facts import business_date, status_after
from projections.obligations import SEQ_PER_VERSION, OpenObligations
from tests.integration.test_projection_histories import CaseDriver


def histories(seed: int, steps: int) -> list[list]:
    """Per case, its events in order (from the domain's own commands)."""
    driver, produced = CaseDriver(random.Random(seed)), {}
    for _ in range(steps):
        case = driver.step()
        produced.setdefault(case.id, []).extend(case.collect_events())
    return list(produced.values())


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 120))
def test_status_after_each_event_is_the_status_of_the_replayed_case(seed, steps):
    for history in histories(seed, steps):
        case, status = None, None
        for event in history:
            case = event.mutate(case)
            status = status_after(event) or status
            assert status is case.status, type(event).__name__


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 120))
def test_folding_deadline_changes_gives_the_cases_deadlines(seed, steps):
    for history in histories(seed, steps):
        fold, case = OpenObligations(), None
        for event in history:
            case = event.mutate(case)
            fold.apply(event)
        assert list(fold.changed.values()) == list(case.deadlines)
        assert all(seq // SEQ_PER_VERSION <= len(history) for _, seq in fold.changed)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6))
def test_audit_json_is_event_data_and_every_event_has_a_business_date(seed):
    seen = set()
    for history in histories(seed, 150):
        for event in history:
            assert json.loads(event_json(event)) == event_data(event)
            assert business_date(event) is not None
            seen.add(type(event).__name__)
    assert {"SiteVisitHeld", "PlanSubmitted"} <= seen
