"""A prepared statement run through libpq with binary parameters, for the recorder's save of
one event: the save of nearly every command, made without psycopg's cursor.

The cursor adapts each parameter, looks the statement up in its cache of prepared ones,
keeps its results and makes the row: about 9 µs of a writer's CPU a save, 4% of one writer's
rate and 3% of four writers' (BENCHMARKS.md, "Appending"). Here the caller gives the
parameters already in PostgreSQL's binary form (``int8``, ``uuid_bytes``, text encoded in the
connection's encoding, bytes as they are), and gets the row's values back as text.

It uses the connection's own lock and wait (``Connection.wait`` with psycopg's ``execute``
generator, as its cursor does: the GIL is released while the server answers), and an error
is raised as the cursor raises it (``psycopg.errors.error_from_result``), so the library's
``get_connection`` maps it as before (a duplicate version or key: ``IntegrityError``).
psycopg 3.2 and 3.3 (pyproject.toml) both have them.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from psycopg import Connection, errors, pq
from psycopg.generators import execute
from psycopg.pq.abc import PGresult

_INT8 = struct.Struct(">q").pack
_TUPLES_OK = pq.ExecStatus.TUPLES_OK
_COMMAND_OK = pq.ExecStatus.COMMAND_OK
_UNDEFINED_PREPARED_STATEMENT = b"26000"  # e.g. after a DISCARD ALL on the connection


def int8(value: int) -> bytes:
    """A ``bigint`` parameter in binary form."""
    return _INT8(value)


def uuid_bytes(value: UUID) -> bytes:
    """A ``uuid`` parameter in binary form."""
    return value.bytes


def numbered_placeholders(statement: bytes) -> bytes:
    """``%s`` placeholders (psycopg's) as ``$1``, ``$2``... (PostgreSQL's). The statement must
    have no other ``%``."""
    *parts, last = statement.split(b"%s")
    if b"%" in last or any(b"%" in part for part in parts):
        raise ValueError("a statement with % other than its placeholders")
    return b"".join(part + b"$%d" % number for number, part in enumerate(parts, 1)) + last


class _Prepared:
    """What one connection has prepared of these statements, and its text encoding."""

    __slots__ = ("encoding", "names")

    def __init__(self, conn: Connection[Any]) -> None:
        self.names: set[bytes] = set()
        self.encoding = conn.info.encoding


def prepared_on(conn: Connection[Any]) -> _Prepared:
    try:
        return conn._pqasso_prepared  # type: ignore[attr-defined,no-any-return]
    except AttributeError:
        prepared = conn._pqasso_prepared = _Prepared(conn)  # type: ignore[attr-defined]
        return prepared


def text_encoding(conn: Connection[Any]) -> str:
    """The Python codec of the connection's client encoding, for text parameters."""
    return prepared_on(conn).encoding


def run_prepared(conn: Connection[Any], name: bytes, statement: bytes,
                 params: Sequence[bytes | None]) -> list[bytes | None]:
    """The values (as text) of the first row of ``statement`` (with ``$n`` placeholders),
    prepared on this connection under ``name`` the first time, run with ``params`` in binary
    form. Prepared again if the server forgot it."""
    prepared = prepared_on(conn)
    for attempt in (1, 2):
        result = _run(conn, prepared, name, statement, params)
        if result.status == _TUPLES_OK:
            return [result.get_value(0, column) for column in range(result.nfields)]
        if attempt == 1 and result.error_field(pq.DiagnosticField.SQLSTATE) == _UNDEFINED_PREPARED_STATEMENT:
            prepared.names.discard(name)
            continue
        raise errors.error_from_result(result, encoding=prepared.encoding)
    raise AssertionError("unreachable")


def _run(conn: Connection[Any], prepared: _Prepared, name: bytes, statement: bytes,
         params: Sequence[bytes | None]) -> PGresult:
    pgconn = conn.pgconn
    with conn.lock:
        if name not in prepared.names:
            pgconn.send_prepare(name, statement)
            (result,) = conn.wait(execute(pgconn))
            if result.status != _COMMAND_OK:
                raise errors.error_from_result(result, encoding=prepared.encoding)
            prepared.names.add(name)
        pgconn.send_query_prepared(name, params, param_formats=[pq.Format.BINARY] * len(params))
        results = conn.wait(execute(pgconn))
    return results[-1]
