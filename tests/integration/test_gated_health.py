"""GET /health asks PostgreSQL first, on the gate's one kept connection (GatedHealth)."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest

from infrastructure.availability import DatabaseGate, GatedHealth
from tests.reliability.support import free_port

pytestmark = pytest.mark.integration


class _Projections:
    """The supervisor's side of the health answer: counts how often it is asked."""

    def __init__(self) -> None:
        self.asked = 0

    def status(self) -> list[Any]:
        self.asked += 1
        return []


def _gate_connections(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity "
                           "WHERE application_name = 'pqasso-database-gate'").fetchone()
    assert row is not None
    return int(row[0])


def test_many_health_checks_at_once_use_one_connection(database_url, monkeypatch):
    # Given a gate on a live database, its thread running (and every connection counted)
    opened = []
    connect = psycopg.connect
    monkeypatch.setattr(psycopg, "connect", lambda *a, **k: opened.append(1) or connect(*a, **k))
    gate = DatabaseGate(database_url)
    gate.start()
    health = GatedHealth(_Projections(), gate)
    try:
        # When 8 threads ask for the health 25 times each, all at once
        errors: list[BaseException] = []

        def ask() -> None:
            try:
                for _ in range(25):
                    health.status()
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=ask) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        # Then every answer came, over one connection (the gate's) for all of them
        assert errors == [] and health.health.asked == 200
        assert len(opened) == 1 and _gate_connections(database_url) == 1
    finally:
        gate.stop()
    assert _gate_connections(database_url) == 0


def test_an_unreachable_database_is_reported_at_once():
    # Given a gate on a port where nothing listens (connections are refused), with a connect
    # timeout far longer than the answer may take
    gate = DatabaseGate(f"postgresql://postgres@127.0.0.1:{free_port()}/postgres", timeout=30)
    projections = _Projections()
    health = GatedHealth(projections, gate)

    # When the health is asked, then it fails at once without asking the read models
    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError):
        health.status()
    assert time.monotonic() - started < 10 and projections.asked == 0  # refused, not timed out
