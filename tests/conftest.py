"""Shared fixtures: one PostgreSQL server per test session, and a private database on it."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest

from infrastructure.database import temporary_database
from infrastructure.embedded_postgres import temporary

MACHINE_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _accepts_connections(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Admin URL of a PostgreSQL server for the whole session.

    In order: ``$PQASSO_TEST_DATABASE_URL``; the machine's server on 127.0.0.1:5432;
    a throwaway embedded server (so the suite runs, never skips, where none is running).
    Tests must not write here: use ``database_url``.
    """
    url = os.environ.get("PQASSO_TEST_DATABASE_URL")
    if url:
        yield url
    elif _accepts_connections(MACHINE_SERVER_URL):
        yield MACHINE_SERVER_URL
    else:
        with temporary(tmp_path_factory.mktemp("embedded-pg"), dbname="postgres") as server:
            yield server.url


@pytest.fixture(scope="session")
def database_url(postgres_server_url: str) -> Iterator[str]:
    """URL of a fresh database, unique to this session, dropped at the end.

    The pid and random suffix keep concurrent runs (and xdist workers) on one server apart.
    """
    with temporary_database(postgres_server_url, f"pqasso_test_{os.getpid()}_{secrets.token_hex(4)}") as url:
        yield url
