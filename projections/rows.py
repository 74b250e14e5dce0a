"""Writing and reading read-model rows in bulk: COPY, upserts from arrays or a staging table.

Identifiers go through ``psycopg.sql.Identifier``; values are always parameters or COPY data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any
from uuid import UUID

from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composable, Composed, Identifier

Table = tuple[str, str]  # (schema, name)
Columns = Sequence[tuple[str, str]]  # (name, PostgreSQL type): constants of this package
STAGE_FROM_ROWS = 64  # from this many rows, COPY through a staging table beats one INSERT


def qualified(table: Table) -> Identifier:
    return Identifier(*table)


def _names(columns: Iterable[str]) -> Composed:
    return SQL(", ").join(map(Identifier, columns))


def copy_rows(curs: Cursor[DictRow], table: Table | Identifier, columns: Columns,
              rows: Iterable[Sequence[Any]]) -> None:
    """Append ``rows`` (tuples in ``columns`` order) with a binary COPY: an order of
    magnitude faster than INSERT for thousands of rows."""
    target = table if isinstance(table, Identifier) else qualified(table)
    with curs.copy(SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            target, _names(name for name, _ in columns))) as copy:
        copy.set_types([pg_type for _, pg_type in columns])
        for row in rows:
            copy.write_row(row)


def upsert(
    curs: Cursor[DictRow], table: Table, columns: Columns, rows: Iterable[Sequence[Any]], *,
    key: Sequence[str], update: Sequence[str] = (),
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order); on a key conflict overwrite the
    ``update`` columns, or keep the row when ``update`` is empty (re-applying is harmless).

    Few rows (the live path): one INSERT from ``unnest`` of one array per column. Many
    (catch-up): COPY into a session-local staging table, then one INSERT ... SELECT."""
    rows = rows if isinstance(rows, list) else list(rows)
    if not rows:
        return
    few, stage, from_stage = _upsert_statements(table, tuple(columns), tuple(key), tuple(update))
    if len(rows) < STAGE_FROM_ROWS:
        curs.execute(few, [list(column) for column in zip(*rows, strict=True)])
        return
    curs.execute(stage)
    copy_rows(curs, Identifier(_stage_name(table)), columns, rows)
    curs.execute(from_stage)


def _stage_name(table: Table) -> str:
    return f"stage_{table[0]}_{table[1]}"[:63]


@cache
def _upsert_statements(table: Table, columns: Columns, key: tuple[str, ...],
                       update: tuple[str, ...]) -> tuple[bytes, bytes, bytes]:
    """The statements of ``upsert`` (from arrays; create the staging table; from it), made
    once: composing them cost the live projections a twentieth of their Python time. As
    bytes, which psycopg sends as they are (and prepares once they repeat)."""
    names = _names(name for name, _ in columns)
    action = SQL("NOTHING") if not update else SQL("UPDATE SET ") + SQL(", ").join(
        SQL("{0} = EXCLUDED.{0}").format(Identifier(name)) for name in update)
    conflict = SQL("ON CONFLICT ({}) DO {}").format(_names(key), action)
    # The array types are constants of this package, never data.
    arrays = SQL(", ").join(SQL("%s::" + pg_type + "[]") for _, pg_type in columns)  # noqa: S608
    stage = Identifier(_stage_name(table))
    return (
        SQL("INSERT INTO {} ({}) SELECT * FROM unnest({}) {}").format(
            qualified(table), names, arrays, conflict).as_bytes(),
        SQL("CREATE TEMP TABLE IF NOT EXISTS {} ON COMMIT DELETE ROWS AS "
            "SELECT {} FROM {} WITH NO DATA").format(stage, names, qualified(table)).as_bytes(),
        SQL("INSERT INTO {} ({}) SELECT {} FROM {} {}").format(
            qualified(table), names, names, stage, conflict).as_bytes(),
    )


def select_by_case(
    curs: Cursor[DictRow], table: Table, columns: Sequence[str], case_ids: Iterable[UUID],
    where: Composable | None = None,
) -> list[DictRow]:
    """The rows of ``table`` for ``case_ids`` (one statement, ``= ANY``)."""
    ids = list(case_ids)
    if not ids:
        return []
    condition = b"TRUE" if where is None else where.as_bytes(None)
    curs.execute(_select_by_case_statement(table, tuple(columns), condition), (ids,))
    return curs.fetchall()


@cache
def _select_by_case_statement(table: Table, columns: tuple[str, ...], condition: bytes) -> bytes:
    return SQL("SELECT {} FROM {} WHERE case_id = ANY(%s) AND ").format(
        _names(columns), qualified(table)).as_bytes() + condition
