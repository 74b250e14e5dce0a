"""How the domain's values are written into stored events (JSON via the library's transcoder).

They live beside the application because the library builds an application's
transcoder inside ``Application.__init__`` (``register_transcodings``), in the
service and in every projection runner alike.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from enum import Enum
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Transcoding

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
            value = data.get(name)
            object.__setattr__(obj, name, tuple(value) if isinstance(value, list) else value)
        return obj


def register_domain_transcodings(transcoder: JSONTranscoder) -> None:
    transcoder.register(DateAsISO())
    for enum in ENUMS:
        transcoder.register(EnumAsValue(enum))
    for cls in VALUE_OBJECTS:
        transcoder.register(DataclassAsDict(cls))
