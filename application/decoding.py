"""Stored events to domain events, as the library's mapper does, in a fraction of the time.

``Mapper.to_domain_event`` decodes JSON through ``CaseTranscoder``: a Python callback per
JSON object that calls the registered transcoding (``EnumAsValue`` calls the enum class,
``DataclassAsDict`` sets each field with ``object.__setattr__``), then ``as_tuples`` walks
the whole result again to turn arrays into tuples. A rebuild decodes every event of the
store, so ``EventDecoder`` does the same work faster, two ways:

* For each event class whose fields all have types the transcoder writes in a known form
  (text, numbers, booleans, dates, datetimes, enums and frozen dataclasses of them, tuples,
  optionals), a pydantic-core validator of exactly that form, built once from the class's
  annotations, parses the stored JSON in Rust: every ``{"_type_": ..., "_data_": ...}``
  wrapper must carry the name the transcoder gives that type, every value its JSON type,
  and no key may be unknown. Dataclasses are made without ``__init__`` (as the transcoder
  makes them), arrays become tuples. Anything else fails validation.
* Otherwise (or if validation fails), the JSON decoder with the transcoder's callback, in
  one pass: arrays become tuples as objects are decoded, enums come from a dict,
  dataclasses get their ``__dict__`` at once, other transcodings are called as registered.

Either way the event equals the mapper's (tests check every event type, and that a stored
form the validator does not expect falls back); an event that is encrypted or compressed,
or whose class upcasts, or another transcoder, goes through the mapper itself.

``CaseMapper`` is the application's mapper: the library's, decoding with ``EventDecoder``, in
a little over half the time (26-28 µs an event against 46-53 on a slow host). Loading a case
(its snapshot and its events) then takes ~15% less CPU: a command whose case is not cached,
the pages, ``pqasso`` and the audit's state at a version (BENCHMARKS.md, "Overdue").
"""

from __future__ import annotations

import dataclasses
import json
import operator
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from functools import cache
from typing import Any, ClassVar

from eventsourcing.persistence import (
    DatetimeAsISO,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    Transcoding,
    find_id_convertor,
)
from eventsourcing.utils import resolve_topic
from pydantic_core import SchemaValidator, ValidationError, core_schema

from application.transcodings import (
    CaseTranscoder,
    DataclassAsDict,
    DateAsISO,
    EnumAsValue,
    as_tuples,
)


class EventDecoder:
    """``decode(topic, state, originator_id, originator_version)`` gives the domain event
    ``mapper.to_domain_event`` would give for that stored event."""

    def __init__(self, mapper: Mapper[Any]) -> None:
        self.mapper = mapper
        # What decodes the events this class does not: the mapper's own way (the library's
        # for a CaseMapper, which decodes with this class).
        self._slow = (super(CaseMapper, mapper).to_domain_event if isinstance(mapper, CaseMapper)
                      else mapper.to_domain_event)
        transcoder = mapper.transcoder
        self.fast = (mapper.cipher is None and mapper.compressor is None
                     and type(transcoder) is CaseTranscoder)
        self._by_topic: dict[str, tuple[Any, SchemaValidator | None]] = {}
        if self.fast:
            assert isinstance(transcoder, JSONTranscoder)
            self._names = transcoder.names
            self._transcodings = transcoder.types
            self._decoders = {name: _fast_decoder(t) for name, t in transcoder.names.items()}
            self._json = json.JSONDecoder(object_hook=self._object).decode

    def decode(self, topic: str, state: bytes, originator_id: Any, originator_version: int) -> Any:
        try:
            cls, validator = self._by_topic[topic]  # a rebuild asks a million times
        except KeyError:
            cls, validator = self._by_topic[topic] = self._decoding(topic)
        if cls is None:
            return self._slow(StoredEvent(originator_id, originator_version, topic, state))
        event_state = None
        if validator is not None:
            try:
                event_state = validator.validate_json(state)
            except ValidationError:
                pass
        if event_state is None:
            event_state = self._json(state.decode("utf8"))
            for key, value in event_state.items():  # CaseTranscoder.decode: tuples for arrays
                if type(value) is list or type(value) is dict:
                    event_state[key] = as_tuples(value)
        if "class_version" in event_state:  # written by an older class: upcast in the mapper
            return self._slow(StoredEvent(originator_id, originator_version, topic, state))
        event_state["originator_id"] = find_id_convertor(cls, type(originator_id))(originator_id)
        event_state["originator_version"] = originator_version
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", event_state)
        return event

    def _decoding(self, topic: str) -> tuple[Any, SchemaValidator | None]:
        """The class of ``topic``'s events and its validator (if its fields allow one), or
        (None, None) when they go through the mapper (not ``fast``, or an upcasting class)."""
        cls = _resolve(topic)
        if not self.fast or getattr(cls, "class_version", 1) != 1:
            return None, None
        return cls, self._validator(cls)

    def _validator(self, cls: type) -> SchemaValidator | None:
        """The validator of the stored form of ``cls``'s events, if its fields allow one."""
        try:
            hints = typing.get_type_hints(cls)
            fields = {name: core_schema.typed_dict_field(self._schema(hint), required=False)
                      for name, hint in hints.items()
                      if name not in _NOT_STORED and typing.get_origin(hint) is not ClassVar}
            return SchemaValidator(core_schema.typed_dict_schema(fields, extra_behavior="forbid"))
        except Exception:  # _NoSchema, or an annotation that does not resolve: the callback
            return None

    def _schema(self, hint: Any) -> core_schema.CoreSchema:
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return core_schema.tuple_schema([self._schema(args[0])], variadic_item_index=0,
                                                strict=True)
            return core_schema.tuple_schema([self._schema(arg) for arg in args], strict=True)
        if origin in (typing.Union, types.UnionType):
            others = [arg for arg in args if arg is not type(None)]
            if len(others) == 1 and len(args) == 2:
                return core_schema.nullable_schema(self._schema(others[0]))
            raise _NoSchema(hint)
        if hint in _PLAIN:
            return _PLAIN[hint]
        transcoding = self._transcodings.get(hint) if isinstance(hint, type) else None
        kind = type(transcoding)
        if kind is DateAsISO:
            inner = core_schema.date_schema(strict=True)
        elif kind is DatetimeAsISO:  # as the transcoder: datetime.fromisoformat's tzinfo
            inner = core_schema.no_info_after_validator_function(
                datetime.fromisoformat, core_schema.str_schema(strict=True))
        elif kind is EnumAsValue and all(type(m.value) is str for m in hint):
            inner = core_schema.enum_schema(hint, list(hint), sub_type="str")
        elif kind is DataclassAsDict and dataclasses.is_dataclass(hint) \
                and not hasattr(hint, "__slots__"):
            assert isinstance(transcoding, DataclassAsDict)
            hints = typing.get_type_hints(hint)
            names = list(transcoding.fields)
            inner = core_schema.dataclass_schema(
                hint, core_schema.dataclass_args_schema(
                    hint.__name__, [core_schema.dataclass_field(n, self._schema(hints[n]))
                                    for n in names], extra_behavior="ignore"),
                names, post_init=False, frozen=True, slots=False)
        else:
            raise _NoSchema(hint)
        assert transcoding is not None
        return core_schema.no_info_after_validator_function(_DATA, core_schema.typed_dict_schema(
            {"_type_": core_schema.typed_dict_field(core_schema.literal_schema([transcoding.name])),
             "_data_": core_schema.typed_dict_field(inner)}, extra_behavior="forbid"))

    def _object(self, d: dict[str, Any]) -> Any:
        if len(d) == 2 and "_type_" in d and "_data_" in d:
            name = d["_type_"]
            decoder = self._decoders.get(name)
            if decoder is None:
                self._names[name]  # noqa: B018 - raises as the transcoder would
            return decoder(d["_data_"])  # type: ignore[misc]
        return d  # a plain object: as_tuples() is applied by whoever holds it


class CaseMapper(Mapper[Any]):
    """The library's mapper, decoding stored events with ``EventDecoder``. A stored event the
    fast way cannot decode (a corrupt one, say) is decoded the library's way, which raises
    what the library raises (``MapperDeserialisationError``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.decoder = EventDecoder(self)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        try:
            return self.decoder.decode(stored_event.topic, stored_event.state,
                                        stored_event.originator_id, stored_event.originator_version)
        except Exception:
            return super().to_domain_event(stored_event)


def decoder_of(mapper: Mapper[Any]) -> EventDecoder:
    """The decoder of ``mapper``'s events: a ``CaseMapper``'s own (one set of validators per
    mapper), or a new one for another mapper."""
    return mapper.decoder if isinstance(mapper, CaseMapper) else EventDecoder(mapper)


class _NoSchema(Exception):
    """A type the validator does not know how the transcoder writes."""


_NOT_STORED = {"originator_id", "originator_version"}  # in the row, not in the JSON
_PLAIN = {str: core_schema.str_schema(strict=True), int: core_schema.int_schema(strict=True),
          bool: core_schema.bool_schema(strict=True)}
_DATA = operator.itemgetter("_data_")


@cache
def _resolve(topic: str) -> Any:
    return resolve_topic(topic)


def _fast_decoder(transcoding: Transcoding) -> Callable[[Any], Any]:
    kind = type(transcoding)
    if kind is EnumAsValue:
        assert isinstance(transcoding, EnumAsValue)
        members = {member.value: member for member in transcoding.type}
        call = transcoding.type

        def enum(data: Any) -> Any:
            try:
                return members[data]
            except (KeyError, TypeError):
                return call(data)
        return enum
    if kind is DataclassAsDict and not hasattr(transcoding.type, "__slots__"):
        assert isinstance(transcoding, DataclassAsDict)
        cls, fields = transcoding.type, transcoding.fields

        def dataclass(data: dict[str, Any]) -> Any:
            obj = object.__new__(cls)
            obj.__dict__.update({name: _tupled(data.get(name)) for name in fields})
            return obj
        return dataclass
    if kind is DateAsISO:
        return date.fromisoformat
    if kind is DatetimeAsISO:
        return datetime.fromisoformat
    return lambda data: as_tuples(transcoding.decode(data))


def _tupled(value: Any) -> Any:
    return as_tuples(value) if type(value) is list or type(value) is dict else value
