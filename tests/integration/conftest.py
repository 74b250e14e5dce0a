"""Fixtures for tests against PostgreSQL: migrated databases and applications on them."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import pytest

from application.cases import QualityMarkCases
from infrastructure.bootstrap import application_env
from infrastructure.database import create_database, drop_database
from infrastructure.migrations import migrate
from infrastructure.settings import replace_dbname

MakeDatabase = Callable[[], str]
MakeApp = Callable[..., QualityMarkCases]


@pytest.fixture(scope="session")
def migrated_database_url(database_url: str) -> str:
    """The session's database after ``migrate()``; tests share it, so use fresh cases."""
    migrate(database_url)
    return database_url


@pytest.fixture
def make_database(postgres_server_url: str) -> Iterator[MakeDatabase]:
    """Creates empty databases that are dropped after the test (for tests needing fresh
    tables: the append-only triggers forbid TRUNCATE, so a new database is the clean way)."""
    names: list[str] = []

    def make() -> str:
        name = f"pqasso_it_{secrets.token_hex(6)}"
        create_database(postgres_server_url, name)
        names.append(name)
        return replace_dbname(postgres_server_url, name)

    yield make
    for name in names:
        drop_database(postgres_server_url, name)


@pytest.fixture
def fresh_migrated_url(make_database: MakeDatabase) -> str:
    url = make_database()
    migrate(url)
    return url


@pytest.fixture
def make_app() -> Iterator[MakeApp]:
    """Builds ``QualityMarkCases`` instances (each with its own pool), closed after the test."""
    apps: list[QualityMarkCases] = []

    def make(database_url: str | None, **env: str) -> QualityMarkCases:
        app = QualityMarkCases(env={**application_env(database_url), **env})
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()
