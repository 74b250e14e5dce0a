"""Why the domain refuses a command. Every message is written for a CES administrator."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID


class CaseError(Exception):
    """Raised when a command breaks a rule of the improvement action planning process.

    ``field`` names the part of the input that is wrong (dotted path, e.g.
    ``rows.1.indicator``) when there is one, so an edge can point at it.
    """

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def __str__(self) -> str:
        return self.message


class InvalidInput(CaseError):
    """Raised when a value is malformed: a blank text, a text too long, a number out of range."""


class InvalidIndicatorCode(InvalidInput):
    """Raised when an indicator code is not ``area.level.number`` within PQASSO's ranges."""


class IndicatorRowsMismatch(InvalidInput):
    """Raised when plan, evidence or judgement rows do not cover exactly the unmet indicators."""

    def __init__(
        self, message: str, *, missing: tuple[str, ...] = (), extra: tuple[str, ...] = (),
        duplicated: tuple[str, ...] = (), field: str | None = "rows",
    ) -> None:
        super().__init__(message, field=field, missing=missing, extra=extra, duplicated=duplicated)
        self.missing, self.extra, self.duplicated = missing, extra, duplicated


class InvalidSignatory(InvalidInput):
    """Raised when a plan or evidence is not signed by the chief executive or the chair."""


class InvalidDate(InvalidInput):
    """Raised when a date contradicts the case's timeline (received before signed, before the visit...)."""


class ActionOutOfOrder(CaseError):
    """Raised when an action is taken at the wrong point of the process (approval before a plan...)."""

    def __init__(self, message: str, *, case_id: UUID | None = None, status: str | None = None) -> None:
        super().__init__(message, case_id=case_id, status=status)
        self.case_id, self.status = case_id, status


class CaseEnded(ActionOutOfOrder):
    """Raised when anything is asked of a case that has ended (not recommended, or awarded)."""


class EvidenceOverdue(CaseError):
    """Raised when evidence arrives after its due date: the case lapses instead (guidance: 8 weeks)."""

    def __init__(self, message: str, *, due_on: date, received_on: date) -> None:
        super().__init__(message, field="received_on", due_on=due_on, received_on=received_on)
        self.due_on, self.received_on = due_on, received_on


class DeadlineNotOpen(CaseError):
    """Raised when an extension names an obligation that is not open on the case."""


class DeadlineNotPassed(CaseError):
    """Raised when the evidence deadline is recorded as missed before its due date has passed."""
