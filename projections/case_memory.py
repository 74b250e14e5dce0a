"""What a batch needs to know about the cases it touches, beyond its own events."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from domain.case import Case
from domain.status import Status


def cases_to_load(events: Iterable[Any]) -> set[UUID]:
    """Cases with events in a batch but opened before it: their state is in the database."""
    opened, earlier = set(), set()
    for event in events:
        if isinstance(event, Case.SiteVisitHeld):
            opened.add(event.originator_id)
        elif isinstance(event, Case.Event) and event.originator_id not in opened:
            earlier.add(event.originator_id)
    return earlier


class CaseMemory(ABC):
    """What a catch-up remembers of the cases it touched, so that a batch can be prepared
    before the one before it is stored. Ended cases get no more events: once their last
    batch is stored they are forgotten, which keeps memory to the cases still open."""

    def __init__(self) -> None:
        self.ended: list[UUID] = []
        # True when each batch holds the whole histories of its cases and the tables hold
        # nothing of them (a rebuild, bulk.py): there is nothing to read back.
        self.whole_histories = False

    def cases_to_load(self, events: Iterable[Any]) -> Iterable[UUID]:
        """``cases_to_load(events)``, unless the batch holds whole histories."""
        return () if self.whole_histories else cases_to_load(events)

    def note_status(self, case_id: UUID, status: Status | None) -> None:
        if status is not None and status.has_ended:
            self.ended.append(case_id)

    def take_ended(self) -> list[UUID]:
        ended, self.ended = self.ended, []
        return ended

    @abstractmethod
    def forget(self, case_ids: Iterable[UUID]) -> None:
        """Drop what is remembered of ``case_ids`` (their rows are stored)."""

    @abstractmethod
    def __len__(self) -> int:
        """How many cases are remembered."""
