"""The auditor's history: every event with who and when, and the case's state after a chosen
version beside the event that made it, with what that event changed picked out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from application.cases import QualityMarkCases
from application.views import case_state, history_item
from domain.case import Case
from infrastructure.whole_numbers import whole_number

_ALWAYS_CHANGE = {"version", "modified_at"}


@dataclass(frozen=True)
class HistoryPage:
    """The events, and (when a version is chosen or defaulted) that version's event and state."""

    items: list[dict[str, Any]]
    version: int | None = None
    event: dict[str, Any] | None = None
    state: dict[str, Any] | None = None
    changed: frozenset[str] = field(default_factory=frozenset)
    error: str = ""
    status: int = 200


def history_page(cases: QualityMarkCases, case: Case, version_text: str) -> HistoryPage:
    """The page for ``?version=`` (blank: the latest version)."""
    items = [history_item(event) for event in cases.history(case.id)]
    latest = len(items)
    text = version_text.strip()
    if not text:
        version = latest
    elif (number := whole_number(text, max_digits=9)) is not None and 1 <= number <= latest:
        version = number
    else:
        message = f"There is no version {text[:20]}: choose one from 1 to {latest}."
        return HistoryPage(items, error=message, status=404)
    state = case_state(cases.get_case(case.id, version))
    previous = case_state(cases.get_case(case.id, version - 1)) if version > 1 else {}
    changed = frozenset(key for key in state if state[key] != previous.get(key)) - _ALWAYS_CHANGE
    return HistoryPage(items, version, items[version - 1], state, changed)
