"""The save's statement with PostgreSQL's numbered placeholders, and its parameters in binary
form (infrastructure/prepared_statements.py)."""

from __future__ import annotations

from uuid import UUID

import pytest

from infrastructure.prepared_statements import int8, numbered_placeholders, uuid_bytes


def test_placeholders_are_numbered_in_order() -> None:
    statement = b'SELECT f(%s::uuid, %s::bigint, NULL, %s::text, 5) AS "x"'

    assert numbered_placeholders(statement) == b'SELECT f($1::uuid, $2::bigint, NULL, $3::text, 5) AS "x"'


def test_a_statement_with_any_other_percent_sign_is_refused() -> None:
    with pytest.raises(ValueError, match="%"):
        numbered_placeholders(b"SELECT f(%s) WHERE x LIKE 'a%'")


def test_binary_forms_are_postgresqls() -> None:
    assert int8(1) == b"\x00" * 7 + b"\x01"
    assert int8(-1) == b"\xff" * 8
    assert int8(2**63 - 1) == b"\x7f" + b"\xff" * 7
    case = UUID("12345678-1234-5678-1234-567812345678")
    assert uuid_bytes(case) == bytes.fromhex("12345678123456781234567812345678")
