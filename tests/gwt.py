"""Given events, when a command, then events (house style, "Tests")."""

from __future__ import annotations

from typing import Any

from domain.case import Case
from tests.builders import Step, events, replay


def given(*steps: Step | Case.Event) -> Case:
    """The case the events describe, replayed with ``event.mutate`` and no pending events."""
    case = replay(events(*steps))
    assert case is not None, "given() needs at least site_visit_held()"
    return case


def then(case: Case, *expected: type | tuple[type, dict[str, Any]], **fields: Any) -> list:
    """Assert the case's new events, by type and by the fields named; return them.

    ``then(case)``: nothing new. ``then(case, Case.PlanApproved, approved_on=d)``: one
    event. ``then(case, (Case.A, {...}), (Case.B, {...}))``: several, in order.
    """
    if fields:
        assert len(expected) == 1, "keyword fields describe a single expected event"
        expected = ((expected[0], fields),)
    wanted = [item if isinstance(item, tuple) else (item, {}) for item in expected]
    produced = case.collect_events()
    assert [type(e).__name__ for e in produced] == [cls.__name__ for cls, _ in wanted]
    for event, (cls, values) in zip(produced, wanted, strict=True):
        assert type(event) is cls
        assert {name: getattr(event, name) for name in values} == values
    return produced
