"""The event decoder gives the library mapper's events, whatever the stored form, and so does
the application's mapper (which decodes with it); the audit JSON is written alike by
pydantic-core and by the C encoder."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime
from typing import Any

import pydantic_core
import pytest
from eventsourcing.cipher import AESCipher
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent
from eventsourcing.utils import get_topic
from hypothesis import given, settings
from hypothesis import strategies as st

from application.cases import QualityMarkCases
from application.decoding import CaseMapper, EventDecoder
from application.views import event_data
from domain.case import Case
from projections.audit import _ENCODER, _serializer, _written_alike, event_json, event_json_bytes
from tests.unit.test_projection_facts import histories

EVENT_CLASSES = [cls for cls in vars(Case).values()
                 if isinstance(cls, type) and issubclass(cls, Case.Event) and cls is not Case.Event]


def in_memory(**env: str) -> QualityMarkCases:
    return QualityMarkCases(env={"PERSISTENCE_MODULE": "eventsourcing.popo", **env})


def decoded(decoder: EventDecoder, stored: Any) -> Any:
    return decoder.decode(stored.topic, stored.state, stored.originator_id,
                          stored.originator_version)


def library(mapper: Mapper, stored: Any) -> Any:
    """What the library's own mapper makes of ``stored`` (with this mapper's transcoder,
    cipher and compressor)."""
    return Mapper.to_domain_event(mapper, stored)


def same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and vars(a) == vars(b) and all(
        type(x) is type(y) for x, y in zip(vars(a).values(), vars(b).values(), strict=True))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6))
def test_decoded_events_equal_the_mappers_for_every_event_type(seed):
    mapper = in_memory().mapper
    decoder, seen = EventDecoder(mapper), set()
    for history in histories(seed, 150):
        for event in history:
            stored = mapper.to_stored_event(event)
            event_, expected = decoded(decoder, stored), library(mapper, stored)
            assert same(event_, expected), type(event).__name__
            assert event_ == event
            seen.add(type(event))
    assert {Case.SiteVisitHeld, Case.PlanSubmitted, Case.EvidenceJudged} <= seen


def test_every_event_class_has_a_validator():
    decoder = EventDecoder(in_memory().mapper)
    for cls in EVENT_CLASSES:
        assert decoder._validator(cls) is not None, cls.__name__


@pytest.mark.parametrize("change", [
    lambda state: state.update(unknown_field=1),  # a key the class does not declare
    lambda state: state.update(level="2"),  # text where an int is declared
    lambda state: state["visit_date"].update(_type_="datetime_iso",
                                             _data_="2020-01-02T00:00:00+00:00"),
    lambda state: state["organisation"]["_data_"].pop("name"),  # a missing dataclass field
    lambda state: state["unmet_indicators"].append("4.2.7"),  # not the declared item type
    lambda state: state.pop("plan_due_on"),  # a missing field
])
def test_a_stored_form_the_validator_does_not_expect_is_decoded_as_the_mapper_does(change):
    mapper = in_memory().mapper
    decoder = EventDecoder(mapper)
    event = next(e for h in histories(3, 30) for e in h if isinstance(e, Case.SiteVisitHeld)
                 and e.unmet_indicators)
    stored = mapper.to_stored_event(event)
    state = json.loads(stored.state)
    change(state)
    stored = dataclasses.replace(stored, state=json.dumps(state).encode())
    assert same(decoded(decoder, stored), library(mapper, stored))


def test_encrypted_events_go_through_the_mapper():
    key = AESCipher.create_key(16)
    mapper = in_memory(CIPHER_TOPIC="eventsourcing.cipher:AESCipher", CIPHER_KEY=key).mapper
    decoder = EventDecoder(mapper)
    assert not decoder.fast
    for event in histories(5, 40)[0]:
        stored = mapper.to_stored_event(event)
        assert same(decoded(decoder, stored), library(mapper, stored))


def test_audit_json_is_written_alike_by_both_encoders():
    for history in histories(11, 200):
        for event in history:
            data = {k: v for k, v in vars(event).items()
                    if k not in ("originator_id", "originator_version", "timestamp",
                                 "originator_topic", "actor")}
            assert json.loads(event_json_bytes(event)) == json.loads(_ENCODER.encode(data))
            # and it is what an auditor reads of the event in the history (api-v1.md)
            assert json.loads(event_json(event)) == event_data(event)


def test_each_event_classs_serializer_writes_the_bytes_pydantic_core_infers():
    # Given every kind of event of simulated cases
    seen = set()
    for history in histories(11, 200):
        for event in history:
            seen.add(type(event))
            data = {k: v for k, v in vars(event).items()
                    if k not in ("originator_id", "originator_version", "timestamp",
                                 "originator_topic", "actor")}
            # Then the class's serializer writes what pydantic-core writes without a schema
            assert event_json_bytes(event) == pydantic_core.to_json(data)
    assert set(EVENT_CLASSES) - seen <= {Case.Created}  # the library's base of SiteVisitHeld


def test_a_serializer_writes_keys_it_was_not_made_for_as_pydantic_core_infers_them():
    # Given an event with an attribute its class does not annotate
    event = next(e for h in histories(3, 20) for e in h if isinstance(e, Case.PlanSubmitted))
    extra = dataclasses.replace(event)
    object.__setattr__(extra, "note", ("a", 1, date(2020, 1, 2)))
    # Then it is written, as without a schema, and the bookkeeping still is not
    written = json.loads(event_json_bytes(extra))
    assert written["note"] == ["a", 1, "2020-01-02"]
    assert not {"originator_id", "originator_version", "timestamp", "actor"} & set(written)


def test_events_with_a_type_pydantic_writes_differently_have_no_serializer():
    @dataclasses.dataclass(frozen=True)
    class Stamped:
        at: datetime

    class WithDatetime(Case.Event):
        stamp: Stamped

    assert _serializer(WithDatetime) is None
    assert all(_serializer(cls) is not None for cls in EVENT_CLASSES)


def test_types_pydantic_writes_differently_are_left_to_the_c_encoder():
    @dataclasses.dataclass(frozen=True)
    class Stamped:
        at: datetime  # pydantic writes UTC as "Z", isoformat() as "+00:00"

    class WithDatetime(Case.Event):
        stamp: Stamped

    class WithDates(Case.Event):
        on: date
        days: tuple[int, ...]

    assert not _written_alike(WithDatetime)
    assert _written_alike(WithDates)
    assert all(_written_alike(cls) for cls in EVENT_CLASSES)


def test_the_applications_mapper_decodes_every_event_as_the_librarys():
    mapper = in_memory().mapper
    assert type(mapper) is CaseMapper
    for history in histories(11, 60):
        for event in history:
            stored = mapper.to_stored_event(event)
            assert same(mapper.to_domain_event(stored), library(mapper, stored))


def test_the_applications_mapper_decodes_a_snapshot_as_the_librarys():
    mapper = in_memory().mapper
    history = max(histories(7, 60), key=len)
    case = None
    for event in history:
        case = event.mutate(case)
    stored = mapper.to_stored_event(Snapshot.take(case))

    snapshot = mapper.to_domain_event(stored)

    assert same(snapshot, library(mapper, stored))
    assert vars(snapshot.mutate(None)) == vars(case)


def test_a_stored_event_that_does_not_decode_raises_the_librarys_error():
    mapper = in_memory().mapper
    event = histories(5, 10)[0][0]
    stored = mapper.to_stored_event(event)
    for state in (b"not json", b'{"unmet_indicators": {"_type_": "no such type", "_data_": 1}}'):
        broken = StoredEvent(stored.originator_id, stored.originator_version, stored.topic, state)
        with pytest.raises(MapperDeserialisationError):
            mapper.to_domain_event(broken)


def test_the_environment_may_name_another_mapper():
    assert type(in_memory(MAPPER_TOPIC=get_topic(Mapper)).mapper) is Mapper
