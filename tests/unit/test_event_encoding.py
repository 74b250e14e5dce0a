"""Events and snapshots are written as the library's JSON transcoder writes them, to the byte
(application/encoding.py: ``CaseTranscoder.encode`` through ``TextWriter``)."""

from __future__ import annotations

import math
from collections import OrderedDict, namedtuple
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum, IntEnum
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import JSONTranscoder, Transcoding, TranscodingNotRegisteredError
from hypothesis import given
from hypothesis import strategies as st

from application.encoding import NotWritten, TextWriter
from application.transcodings import ENUMS, CaseTranscoder
from benchmarks.simulation import long_case, simulate_case
from domain.case import Case
from domain.deadlines import Deadline, Obligation
from domain.participants import Actor, Role

TODAY = date(2026, 11, 27)
transcoder = CaseTranscoder()


def the_librarys(obj: Any) -> bytes:
    """What the library's JSONTranscoder writes, with the same transcodings."""
    return JSONTranscoder.encode(transcoder, obj)


def written(obj: Any) -> bytes:
    """What ``CaseTranscoder.encode`` writes through ``TextWriter`` itself, never by falling back
    to the library's encoder (a ``NotWritten`` here fails the test)."""
    written_bytes = transcoder._text.write(obj).encode("utf-8")
    assert transcoder.encode(obj) == written_bytes
    return written_bytes


def state_of(event: Any) -> dict[str, Any]:
    """An event's state as the mapper encodes it (without its id and version)."""
    state = dict(vars(event))
    del state["originator_id"], state["originator_version"]
    return state


def test_every_event_of_simulated_cases_is_written_as_the_library_writes_it() -> None:
    kinds = set()
    for index in range(400):
        for _, event in simulate_case(index, TODAY, 8 * 365):
            kinds.add(type(event))
            assert written(state_of(event)) == the_librarys(state_of(event))
    every_kind = {Case.SiteVisitHeld} | {kind for kind in vars(Case).values()
                                         if isinstance(kind, type) and issubclass(kind, Case.Event)
                                         and kind not in (Case.Event, Case.Created)}  # the library's
    assert kinds == every_kind


def test_a_snapshot_of_a_long_case_is_written_as_the_library_writes_it() -> None:
    case = long_case(200, TODAY)
    snapshot = state_of(Snapshot.take(case))
    assert len(snapshot["state"]["deadlines"]) > 100
    assert written(snapshot) == the_librarys(snapshot)


class Colour(Enum):
    RED = "red"


class Level(IntEnum):
    TWO = 2


class Code(str, Enum):
    A = "a"


class Text(str):
    pass


Point = namedtuple("Point", "x y")  # noqa: PYI024


@pytest.mark.parametrize("value", [
    "", 'quote " backslash \\ slash / newline \n tab \t', "\x00\x1f\x7f", "é ü ß — “” €", "😀 𝄞",
    0, -1, 2**70, -(2**70), True, False, None,
    0.0, -0.0, 0.1, 1e300, -1e-300, math.inf, -math.inf, math.nan,
    [], (), {}, [1, [2, (3, {})]], {"a": {"b": ["c", None]}},
    Level.TWO, Code.A, Text("sub"), Point(1, "y"), OrderedDict([("z", 1), ("a", 2)]),
    Decimal("1.10"), UUID(int=7), datetime(2026, 11, 27, 10, 0, tzinfo=UTC), TODAY, Role.ADMIN,
    Actor("reviewer-1", Role.LEAD_REVIEWER),
    Deadline(Obligation.PLAN_SUBMISSION, TODAY, TODAY),
    {"actors": (Actor("a", Role.ADMIN), Actor("b", Role.ORGANISATION)), "on": TODAY},
], ids=repr)
def test_each_kind_of_value_is_written_as_the_library_writes_it(value: Any) -> None:
    assert written(value) == the_librarys(value)
    assert written({"value": value}) == the_librarys({"value": value})


@pytest.mark.parametrize("value", [
    {1: "an int key"}, {(1, 2): "a tuple key"}, {"nested": {None: 1}}, Colour.RED, {"x": object()},
], ids=repr)
def test_what_the_writer_does_not_write_the_library_writes_or_refuses(value: Any) -> None:
    with pytest.raises(NotWritten):
        TextWriter(transcoder.types, lambda _: None).write(value)
    try:
        expected: Any = the_librarys(value)
    except (TypeError, TranscodingNotRegisteredError) as error:
        with pytest.raises(type(error)):
            transcoder.encode(value)
    else:
        assert transcoder.encode(value) == expected


def test_a_circular_structure_is_refused_as_the_library_refuses_it() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        transcoder.encode(loop)


def test_a_string_the_utf8_codec_refuses_fails_as_in_the_library() -> None:
    with pytest.raises(UnicodeEncodeError):
        the_librarys("\ud800")
    with pytest.raises(UnicodeEncodeError):
        transcoder.encode("\ud800")


def test_a_transcoding_registered_after_use_is_written_with() -> None:
    later = CaseTranscoder()
    assert later.encode({"before": TODAY}) == the_librarys({"before": TODAY})

    class ColourAsName(Transcoding):
        type, name = Colour, "colour"

        def encode(self, obj: Colour) -> str:
            return obj.name

        def decode(self, data: str) -> Colour:
            return Colour[data]

    with pytest.raises(TranscodingNotRegisteredError):
        later.encode(Colour.RED)
    later.register(ColourAsName())
    assert later.encode({"c": Colour.RED}) == b'{"c":{"_type_":"colour","_data_":"RED"}}'
    assert later._text.write({"c": Colour.RED}) == '{"c":{"_type_":"colour","_data_":"RED"}}'
    assert later.decode(later.encode({"c": Colour.RED})) == {"c": Colour.RED}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text()
    | st.dates() | st.sampled_from([member for enum in ENUMS for member in enum]),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_any_mix_of_json_values_and_the_domain_s_is_written_as_the_library_writes_it(value: Any) -> None:
    try:
        expected = the_librarys(value)
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            transcoder.encode(value)
        return
    assert written(value) == expected
