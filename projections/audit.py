"""The audit view: every event of every case, in the order it was recorded.

One row per stored event, keyed by its notification id (the store's total order), with who
did it (principal and role), when it was recorded, the day it happened in the process and
its data as JSON (``application.views.event_data``, as the history API shows it). Indexed for
the auditor's filters: by case, by actor, by event type, by recording time.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from functools import cache
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composable, Identifier
from psycopg.types.json import Jsonb
from pydantic_core import SchemaSerializer, core_schema

from application.views import EVENT_BOOKKEEPING, event_type
from domain.case import Case
from projections.base import (
    CaseProjection,
    EventWithTracking,
    PostgresReadModel,
    ReadModel,
    copy_rows,
    qualified,
)
from projections.facts import business_date

_COLUMNS = (
    ("notification_id", "bigint"), ("case_id", "uuid"), ("version", "integer"),
    ("event_type", "text"), ("actor_principal", "text"), ("actor_role", "text"),
    ("recorded_at", "timestamptz"), ("business_date", "date"), ("data", "jsonb"),
)
_INDEXES = {  # index suffix -> columns
    "case": ("case_id", "notification_id"),
    "actor": ("actor_principal", "notification_id"),
    "type": ("event_type", "notification_id"),
    "recorded": ("recorded_at",),
}
MAX_LIMIT = 1000


@dataclass(frozen=True)
class AuditActor:
    """Who did it: a principal acting in a role."""

    principal: str | None
    role: str | None


@dataclass(frozen=True)
class AuditEntry:
    """One recorded event, as the auditor reads it."""

    notification_id: int
    case_id: UUID
    version: int
    event_type: str
    actor: AuditActor
    recorded_at: datetime
    business_date: date | None
    data: dict[str, Any]


class AuditView(ReadModel):
    """The recorded events of every case, filterable."""

    @abstractmethod
    def events(
        self, case_id: UUID | None = None, actor: str | None = None, event_type: str | None = None,
        since: datetime | None = None, until: datetime | None = None, limit: int = 100,
        after: int | None = None,
    ) -> list[AuditEntry]:
        """Events in recorded order matching every filter given: ``actor`` is a principal,
        ``since``/``until`` bound the recording time (inclusive/exclusive), ``after`` is the
        ``notification_id`` of the last entry of the previous page."""


class PostgresAuditView(PostgresReadModel, AuditView):
    """The audit view in PostgreSQL: ``<name>_events``."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        table = self.events_table = self.table("events")
        self.primary_key(table, "notification_id")
        self.sql_create_statements.append(SQL(
            "CREATE TABLE IF NOT EXISTS {} (notification_id bigint PRIMARY KEY, case_id uuid "
            "NOT NULL, version integer NOT NULL, event_type text NOT NULL, actor_principal text, "
            "actor_role text, recorded_at timestamptz NOT NULL, business_date date, data jsonb "
            "NOT NULL)").format(qualified(table)))
        for suffix, columns in _INDEXES.items():
            index = f"{table[1]}_{suffix}_idx"
            self.index(index, SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({})").format(
                Identifier(index), qualified(table), SQL(", ").join(map(Identifier, columns))))

    def _prepare(self, curs: Cursor[DictRow], items: Sequence[EventWithTracking],
                 state: Any) -> list[tuple[Any, ...]]:
        return [_row(event, tracking.notification_id)
                for event, tracking in items if isinstance(event, Case.Event)]

    def _store(self, curs: Cursor[DictRow], rows: list[tuple[Any, ...]]) -> None:
        # Plain COPY, no upsert: exactly-once is guaranteed by the position check, and a
        # duplicate would violate the primary key and roll the whole batch back.
        copy_rows(curs, self.events_table, _COLUMNS, rows)

    def events(
        self, case_id: UUID | None = None, actor: str | None = None, event_type: str | None = None,
        since: datetime | None = None, until: datetime | None = None, limit: int = 100,
        after: int | None = None,
    ) -> list[AuditEntry]:
        filters: list[tuple[str, Any]] = [
            ("case_id = %s", case_id), ("actor_principal = %s", actor),
            ("event_type = %s", event_type), ("recorded_at >= %s", since),
            ("recorded_at < %s", until), ("notification_id > %s", after),
        ]
        given = [(condition, value) for condition, value in filters if value is not None]
        where: Composable = SQL(" AND ").join(SQL(c) for c, _ in given) if given else SQL("TRUE")
        statement = SQL("SELECT * FROM {} WHERE {} ORDER BY notification_id LIMIT %s").format(
            qualified(self.events_table), where)
        with self.datastore.transaction() as curs:
            curs.execute(statement, [v for _, v in given] + [max(1, min(limit, MAX_LIMIT))])
            rows = curs.fetchall()
        return [AuditEntry(
            row["notification_id"], row["case_id"], row["version"], row["event_type"],
            AuditActor(row["actor_principal"], row["actor_role"]), row["recorded_at"],
            row["business_date"], row["data"]) for row in rows]


def _as_is(text: str | bytes) -> str | bytes:
    return text


def _encode_value(value: Any) -> Any:
    if isinstance(value, date):  # and datetime
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, UUID):
        return str(value)
    names = _FIELDS.get(type(value))
    if names is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELDS[type(value)] = tuple(f.name for f in dataclasses.fields(value))
    if names is None:
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")
    return {name: getattr(value, name) for name in names}


_FIELDS: dict[type, tuple[str, ...]] = {}
_ENCODER = json.JSONEncoder(default=_encode_value, ensure_ascii=False)


def event_json(event: Any) -> str:
    """``json.dumps(application.views.event_data(event))``, several times faster (a test
    checks the two agree on every event type)."""
    return event_json_bytes(event).decode("utf-8")


def event_json_bytes(event: Any) -> bytes:
    """``event_json`` as UTF-8. Events whose fields are all of types pydantic-core writes
    as ``event_data`` does (text, numbers, dates, enums, UUIDs, tuples and dataclasses of
    them) are written by its Rust encoder, with a serializer made once per event class from
    its annotations (``_serializer``); others (a datetime: pydantic writes UTC as "Z") by the
    C encoder, which calls back for dates, enums and dataclasses."""
    serializer = _serializer(type(event))
    if serializer is not None:
        return serializer.to_json(vars(event), exclude=EVENT_BOOKKEEPING)
    data = {name: value for name, value in vars(event).items() if name not in EVENT_BOOKKEEPING}
    return _ENCODER.encode(data).encode("utf-8")


@cache
def _serializer(cls: type) -> SchemaSerializer | None:
    """pydantic-core's serializer of the events of ``cls``: a typed dict of its fields, each
    with a schema of its annotation, so that pydantic-core need not work out what each
    value is (for a dataclass, by reading its fields; for an enum, its ``value`` property)
    at every event. Any key it does not know (not annotated) is written as pydantic-core
    infers it, as without a schema; the bookkeeping is excluded by the caller. Same bytes as
    without a schema (tests compare every event type). None when a field's type is one that
    pydantic-core and ``_encode_value`` write differently, or an annotation does not resolve."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # an annotation that does not resolve: take no chances
        return None
    fields = {}
    for name, hint in hints.items():
        if name in EVENT_BOOKKEEPING or typing.get_origin(hint) is ClassVar:
            continue
        schema = _field_schema(hint, frozenset())
        if schema is None:
            return None
        fields[name] = core_schema.typed_dict_field(schema, required=False)
    return SchemaSerializer(core_schema.typed_dict_schema(fields, extra_behavior="allow"))


def _written_alike(cls: type) -> bool:
    """True when every field (bar the bookkeeping) of ``cls`` has a type that pydantic-core
    and ``_encode_value`` write alike."""
    return _serializer(cls) is not None


_INFERRED = core_schema.any_schema()
_PLAIN: dict[Any, core_schema.CoreSchema] = {  # exactly date: a datetime is not written alike
    str: core_schema.str_schema(), int: core_schema.int_schema(), bool: core_schema.bool_schema(),
    date: core_schema.date_schema(), UUID: core_schema.uuid_schema(),
    float: _INFERRED, type(None): _INFERRED,
}


def _field_schema(hint: Any, seen: frozenset[type]) -> core_schema.CoreSchema | None:
    """The schema pydantic-core writes a value of ``hint`` by, as ``_encode_value`` writes
    it (``_INFERRED``: as pydantic-core infers it, for floats, enums of mixed values, slotted
    dataclasses and a dataclass met again inside itself); None when the two write it
    differently (a datetime, a type neither knows)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is tuple:
        items = [_field_schema(arg, seen) for arg in args if arg is not Ellipsis]
        if any(item is None for item in items):
            return None
        if len(args) == 2 and args[1] is Ellipsis:
            return core_schema.tuple_schema(items, variadic_item_index=0)
        return core_schema.tuple_schema(items)
    if origin in (typing.Union, types.UnionType):
        others = [_field_schema(arg, seen) for arg in args if arg is not type(None)]
        if any(other is None for other in others):
            return None
        if len(others) == 1 and len(args) == 2:
            return core_schema.nullable_schema(others[0])
        return _INFERRED
    if hint in _PLAIN:
        return _PLAIN[hint]
    if isinstance(hint, type) and issubclass(hint, Enum):
        kinds = {type(member.value) for member in hint}
        if not kinds <= {str, int}:
            return None
        if len(kinds) == 1:
            return core_schema.enum_schema(hint, list(hint), sub_type="str" if str in kinds else "int")
        return _INFERRED
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if hint in seen:
            return _INFERRED
        try:
            inner = typing.get_type_hints(hint)
        except Exception:
            return None
        names = [f.name for f in dataclasses.fields(hint)]
        schemas = [_field_schema(inner[name], seen | {hint}) for name in names]
        if any(schema is None for schema in schemas):
            return None
        if hasattr(hint, "__slots__"):
            return _INFERRED
        return core_schema.dataclass_schema(hint, core_schema.dataclass_args_schema(
            hint.__name__, [core_schema.dataclass_field(name, schema)
                            for name, schema in zip(names, schemas, strict=True)]), names)
    return None


def _row(event: Case.Event, notification_id: int) -> tuple[Any, ...]:
    actor = getattr(event, "actor", None)
    return (
        notification_id, event.originator_id, event.originator_version, event_type(event),
        getattr(actor, "principal", None), getattr(getattr(actor, "role", None), "value", None),
        event.timestamp, business_date(event), Jsonb(event_json_bytes(event), _as_is),
    )


class AuditProjection(CaseProjection[AuditView]):
    """Keeps the audit view: table ``audit_events``, env prefix ``AUDIT_``."""

    name = "audit"
