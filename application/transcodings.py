"""How the domain's values are written into stored events (JSON via the library's transcoder).

They live beside the application because the library builds an application's
transcoder inside ``Application.__init__`` (``construct_transcoder``), in the
service and in every projection runner alike.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from enum import Enum
from operator import attrgetter
from typing import Any

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Transcoding,
    UUIDAsHex,
)

from application.encoding import NotWritten, Shape, TextWriter
from domain.deadlines import Closure, Deadline, DeadlinePolicy, Obligation, Party
from domain.indicators import UnmetIndicator
from domain.participants import Actor, Organisation, Role, Signatory, SignatoryPosition
from domain.plans import EvidenceItem, EvidenceRow, IndicatorJudgement, PlanRow, RequestedChange
from domain.status import Outcome, Recommendation, Status

VALUE_OBJECTS = (
    Actor, Organisation, Signatory, UnmetIndicator, DeadlinePolicy, Deadline, PlanRow,
    EvidenceItem, EvidenceRow, RequestedChange, IndicatorJudgement, Outcome,
)
ENUMS = (Role, SignatoryPosition, Obligation, Party, Closure, Status, Recommendation)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class EnumAsValue(Transcoding):
    def __init__(self, enum: type[Enum]) -> None:
        self.type, self.name = enum, enum.__name__

    def encode(self, obj: Enum) -> Any:
        return obj.value

    def decode(self, data: Any) -> Enum:
        return self.type(data)


class DataclassAsDict(Transcoding):
    """A frozen dataclass as a dict of its fields.

    Decoding bypasses ``__init__``: stored events are facts, and a rule tightened
    later must not make old events unreadable. JSON turns tuples into lists, so
    lists are turned back into tuples.
    """

    def __init__(self, cls: type) -> None:
        self.type, self.name = cls, cls.__name__
        self.fields = tuple(f.name for f in dataclasses.fields(cls))

    def encode(self, obj: Any) -> dict[str, Any]:
        return {name: getattr(obj, name) for name in self.fields}

    def decode(self, data: dict[str, Any]) -> Any:
        obj = object.__new__(self.type)
        for name in self.fields:
            object.__setattr__(obj, name, as_tuples(data.get(name)))
        return obj


class DeadlineAsList(Transcoding):
    """A deadline as ``[obligation, opened_on, due_on, closed_on, closure]``.

    Only snapshots hold deadlines, and a case keeps every deadline it ever had: a snapshot of
    a case with a thousand events holds about a thousand. As one plain list each, rather than
    a dict of typed values, it decodes in about half the time (BENCHMARKS.md). Registered
    after ``DataclassAsDict(Deadline)``, which still reads the form written before.
    """

    type = Deadline
    name = "deadline"

    def encode(self, obj: Deadline) -> list[Any]:
        return [obj.obligation.value, obj.opened_on.isoformat(), obj.due_on.isoformat(),
                obj.closed_on.isoformat() if obj.closed_on else None,
                obj.closure.value if obj.closure else None]

    def decode(self, data: list[Any]) -> Deadline:
        obligation, opened_on, due_on, closed_on, closure = data
        return Deadline(Obligation(obligation), date.fromisoformat(opened_on), date.fromisoformat(due_on),
                        date.fromisoformat(closed_on) if closed_on else None,
                        Closure(closure) if closure else None)


def as_tuples(value: Any) -> Any:
    """JSON arrays back to the tuples the domain uses (it never holds lists), also inside
    plain objects: a snapshot holds the case's attributes as one dict (its ``state``)."""
    if isinstance(value, list):
        return tuple(as_tuples(item) for item in value)
    if isinstance(value, dict):
        return {key: as_tuples(item) for key, item in value.items()}
    return value


class CaseTranscoder(JSONTranscoder):
    """The library's JSON transcoder, knowing the domain's values, giving tuples for arrays.

    Events and snapshots are rebuilt by assigning the decoded dict, with no
    constructor to turn lists back into tuples, so the decoder does it.

    It writes the same bytes as the library's, through ``TextWriter`` (application/encoding.py),
    in a fraction of the time; what that does not write, the library's encoder does.
    """

    def __init__(self) -> None:
        super().__init__()
        self._text = TextWriter(self.types, _shape)  # reads the transcodings registered below
        self.register(UUIDAsHex())
        self.register(DecimalAsStr())
        self.register(DatetimeAsISO())
        self.register(DateAsISO())
        for enum in ENUMS:
            self.register(EnumAsValue(enum))
        for cls in VALUE_OBJECTS:
            self.register(DataclassAsDict(cls))
        self.register(DeadlineAsList())  # writes deadlines; "Deadline" is still read

    def register(self, transcoding: Transcoding) -> None:
        super().register(transcoding)
        self._text.forget()

    def encode(self, obj: Any) -> bytes:
        try:
            text = self._text.write(obj)
        except (NotWritten, RecursionError):
            return super().encode(obj)
        return text.encode("utf8")

    def decode(self, data: bytes) -> Any:
        return as_tuples(super().decode(data))


def _shape(transcoding: Transcoding) -> Shape | None:
    """What these transcodings write (exactly these classes: a subclass may write otherwise),
    for ``TextWriter``: a dataclass's fields, an enum's values, or ISO text and hex digits,
    which JSON writes with no escape."""
    kind = type(transcoding)
    if kind is DataclassAsDict:
        return Shape(fields=transcoding.fields)  # type: ignore[attr-defined]
    if kind is EnumAsValue:
        return Shape(members=transcoding.type)
    if kind is DateAsISO:
        return Shape(text=date.isoformat)
    if kind is DatetimeAsISO:
        return Shape(text=datetime.isoformat)
    if kind is UUIDAsHex:
        return Shape(text=attrgetter("hex"))
    return None
