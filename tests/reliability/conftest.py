"""Fixtures for the reliability tests: fresh migrated databases on the session's server, and
a login role of the service's (with a password) to run `pqasso serve` as."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

from infrastructure.database import create_database, drop_database
from infrastructure.migrations import SERVICE_ROLE, migrate
from infrastructure.settings import parse_database_url, replace_dbname


def url_as(admin_url: str, user: str, password: str) -> str:
    """``admin_url`` with another user and password."""
    parts = parse_database_url(admin_url)
    return (f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@/"
            f"{quote(parts.dbname, safe='')}?host={quote(parts.host, safe='')}&port={parts.port}")


@dataclass(frozen=True)
class Database:
    """A migrated database: the owner's URL, and a URL of a login in the service role."""

    url: str
    service_url: str
    service_password: str


@pytest.fixture
def migrated_database(postgres_server_url: str) -> Iterator[Callable[[], Database]]:
    """Makes fresh migrated databases, each with a service login
    (a random password), dropped after the test."""
    made: list[tuple[str, str]] = []

    def make() -> Database:
        name, login = f"pqasso_rel_{secrets.token_hex(5)}", f"pqasso_rel_{secrets.token_hex(5)}"
        password = f"pw-{secrets.token_urlsafe(18)}"
        create_database(postgres_server_url, name)
        made.append((name, login))
        url = replace_dbname(postgres_server_url, name)
        migrate(url)  # in process: `pqasso db migrate` itself is run by test_outage.py
        with psycopg.connect(postgres_server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}").format(
                sql.Identifier(login), sql.Literal(password), sql.Identifier(SERVICE_ROLE)))
        return Database(url, url_as(url, login, password), password)

    yield make
    for name, login in made:
        drop_database(postgres_server_url, name)
        with psycopg.connect(postgres_server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))
