"""Events and snapshots written as the library's JSON transcoder writes them, in a fraction of
its time.

``JSONTranscoder.encode`` runs ``json.JSONEncoder`` (compact separators, ``ensure_ascii``
off) with a ``default`` callback: for every value JSON has no type for (a date, an enum, a
frozen dataclass of the domain's), the C encoder calls back into Python, the callback finds
the registered transcoding, which returns a plain value (a dataclass's dict of fields), and
the encoder walks that in turn. It was a fifth of the instructions of a command on
PostgreSQL (BENCHMARKS.md, "Appending, one writer").

``TextWriter`` writes the same text directly: a string through the C function the encoder
itself uses (``json.encoder.encode_basestring``), a number by its ``repr``, a registered
transcoding as ``{"_type_":<name>,"_data_":<its data>}``, with a writer made once per type:
a dataclass's fields read in one go, an enum's members written in advance, a date as its ISO
text (``Shape`` says which transcodings allow which). It follows the C encoder's rules for
what is what: ``None``, ``True`` and ``False`` first, then subclasses of ``str``, ``int``,
``float``, ``list``/``tuple`` and ``dict`` as those (never their transcodings), and only then
the transcoding registered for the value's exact type. What it does not write the same way
for sure (a dict key that is not a string, a type with no transcoding) it refuses
(``NotWritten``), and ``CaseTranscoder`` hands the whole object to the library's encoder,
which writes it or raises its own error. tests/unit/test_event_encoding.py checks the two
give the same bytes, for every kind of event of a simulated store, a snapshot, and values
made up to find differences.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from json.encoder import encode_basestring
from operator import add, attrgetter
from typing import Any

from eventsourcing.persistence import Transcoding

Writer = Callable[[Any], str]
_INFINITY = float("inf")


class NotWritten(Exception):
    """A value this writer does not write as the library's encoder would, for sure."""


@dataclass(frozen=True)
class Shape:
    """What a transcoding's data is, when it is one of a few known forms (else: anything)."""

    fields: tuple[str, ...] | None = None  # a dict of these attributes of the value, in order
    members: type[Enum] | None = None  # the member's ``value`` (of this enum)
    text: Callable[[Any], str] | None = None  # this text, which JSON writes with no escape


def _float(value: float) -> str:
    """As the C encoder writes a float (``allow_nan`` on, as the library leaves it)."""
    if value != value:
        return "NaN"
    if value == _INFINITY:
        return "Infinity"
    if value == -_INFINITY:
        return "-Infinity"
    return float.__repr__(value)


def _null(_: None) -> str:
    return "null"


def _boolean(value: bool) -> str:
    return "true" if value else "false"


class TextWriter:
    """JSON text of values, as ``json.JSONEncoder(separators=(",", ":"), ensure_ascii=False,
    default=<the transcoder's>)`` writes it, for the transcodings in ``transcodings`` (the
    transcoder's own dict, by type; ``shape_of`` tells a transcoding's ``Shape``, if known).
    Call ``forget()`` after a transcoding is registered."""

    def __init__(self, transcodings: Mapping[type, Transcoding],
                 shape_of: Callable[[Transcoding], Shape | None]) -> None:
        self._transcodings, self._shape_of = transcodings, shape_of
        self._writers: dict[type, Writer] = {}
        writers, writer_for = self._writers, self._writer_for

        def write(value: Any) -> str:
            writer = writers.get(type(value))
            if writer is None:
                writer = writer_for(type(value))
            return writer(value)

        self.write = write
        self.forget()

    def forget(self) -> None:
        """Drop the writers made for transcodings (and other types) seen so far."""
        self._writers.clear()
        self._writers.update({
            str: encode_basestring, int: int.__repr__, float: _float, type(None): _null,
            bool: _boolean, list: self._array, tuple: self._array, dict: self._object,
        })

    def _array(self, values: Iterable[Any]) -> str:
        return "[" + ",".join(map(self.write, values)) + "]"

    def _object(self, values: Mapping[Any, Any]) -> str:
        try:
            keys = list(map(encode_basestring, values.keys()))
        except TypeError:  # a key that is not a string
            raise NotWritten("a dict key that is not a string") from None
        return "{" + ",".join(map("{}:{}".format, keys, map(self.write, values.values()))) + "}"

    def _writer_for(self, kind: type) -> Writer:
        """How the C encoder writes values of ``kind`` (not one of the exact types above)."""
        if issubclass(kind, str):
            writer: Writer = encode_basestring
        elif issubclass(kind, int):  # not bool: bool cannot be subclassed
            writer = int.__repr__
        elif issubclass(kind, float):
            writer = _float
        elif issubclass(kind, list | tuple):
            writer = self._array
        elif issubclass(kind, dict):
            writer = self._object
        else:
            transcoding = self._transcodings.get(kind)
            if transcoding is None:
                raise NotWritten(f"no transcoding for {kind.__name__}")
            writer = self._transcoded(transcoding)
        self._writers[kind] = writer
        return writer

    def _transcoded(self, transcoding: Transcoding) -> Writer:
        """``{"_type_":<name>,"_data_":<data>}``, as the transcoder's ``default`` returns."""
        head = '{"_type_":' + encode_basestring(transcoding.name) + ',"_data_":'
        shape = self._shape_of(transcoding) or Shape()
        write = self.write
        if shape.members is not None:  # every member written once
            return {member: head + write(member.value) + "}" for member in shape.members}.__getitem__
        if shape.text is not None:
            text = shape.text
            return lambda value: head + '"' + text(value) + '"}'
        if shape.fields is None:
            encode = transcoding.encode
            return lambda value: head + write(encode(value)) + "}"
        return self._fields(head, shape.fields)

    def _fields(self, head: str, fields: tuple[str, ...]) -> Writer:
        """A dataclass's fields as a JSON object, in order, read from the value itself."""
        if not fields:
            return lambda _: head + "{}}"
        write = self.write
        keys = [encode_basestring(name) + ":" for name in fields]
        if len(fields) == 1:
            (key,), (name,) = keys, fields
            return lambda value: head + "{" + key + write(getattr(value, name)) + "}}"
        values = attrgetter(*fields)
        return lambda value: head + "{" + ",".join(map(add, keys, map(write, values(value)))) + "}}"
