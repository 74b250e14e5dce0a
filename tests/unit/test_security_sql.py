"""Point 4: nothing reaches SQL unparameterised.

Every statement the service sends is a literal, or composed with ``psycopg.sql`` (identifiers
quoted, values as ``%s`` parameters). This reads the source of every production module and
fails on any statement text built with an f-string, ``%``, ``+`` or ``str.format`` from
anything but constants: where a statement is passed to ``execute``/``executemany``/``copy``,
or made into ``SQL(...)``. A reviewed exception (the text is built from constants of this
package, never from data) must say so with ``# noqa: S608`` on its line, as ruff's S608 asks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "application", "infrastructure", "projections")
STATEMENT_TAKERS = {"execute", "executemany", "copy", "SQL", "Composed"}


def _constant(node: ast.expr) -> bool:
    """A literal, or literals combined: nothing that could carry data."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.BinOp):
        return _constant(node.left) and _constant(node.right)
    return False


def _built_from_data(node: ast.expr) -> str | None:
    if isinstance(node, ast.JoinedStr):
        return "an f-string"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add) and not _constant(node):
        return "% or + on text"
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "format" and isinstance(node.func.value, ast.Constant)
            and isinstance(node.func.value.value, str)):
        return "str.format"
    return None


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def unparameterised(source: str, filename: str = "<source>") -> list[str]:
    """Each place where a statement is built from non-constant text, as ``file:line: why``."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call) or _name(node.func) not in STATEMENT_TAKERS:
            continue
        statement = node.args[0] if node.args else next(
            (k.value for k in node.keywords if k.arg in ("query", "statement", "obj")), None)
        why = _built_from_data(statement) if statement is not None else None
        if why and "noqa: S608" not in lines[node.lineno - 1]:
            found.append(f"{filename}:{node.lineno}: statement built with {why}")
    return found


def production_modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def test_no_statement_is_built_from_data() -> None:
    problems = [problem for path in production_modules()
                for problem in unparameterised(path.read_text(), str(path.relative_to(ROOT)))]
    assert problems == []


def test_every_production_module_was_read() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in production_modules()}
    assert {"infrastructure/recorder.py", "infrastructure/audit_chain.py", "infrastructure/tokens.py",
            "projections/base.py", "infrastructure/migrations.py"} <= names


@pytest.mark.parametrize("code", [
    'cur.execute(f"SELECT * FROM t WHERE name = \'{name}\'")',
    'conn.execute("SELECT * FROM t WHERE id = " + case_id)',
    'conn.execute("SELECT * FROM t WHERE id = %s" % case_id)',
    'conn.execute("DELETE FROM {} WHERE x = {}".format(table, value))',
    'SQL(f"SELECT {column} FROM t")',
    'sql.SQL("SELECT * FROM " + table)',
    'cur.executemany(query=f"INSERT INTO t VALUES ({v})", params=[])',
    'cur.copy(f"COPY {table} FROM STDIN")',
])
def test_the_check_catches_statements_built_from_data(code: str) -> None:
    assert unparameterised(code)


@pytest.mark.parametrize("code", [
    'cur.execute("SELECT * FROM t WHERE id = %s", (case_id,))',
    'cur.execute(SQL("SELECT * FROM {} WHERE id = %s").format(Identifier(table)), (case_id,))',
    'SQL("\'\\\\x" + "00" * 32 + "\'::bytea")',
    'SQL("%s::" + pg_type + "[]")  # noqa: S608 (constants of this package)',
    'cur.execute(statement, params)',
])
def test_parameters_and_composed_sql_pass(code: str) -> None:
    assert unparameterised(code) == []
