"""The pool check the recorder installs (infrastructure/recorder.py): with pre-ping on, only
connections not handed out for a second are pinged, every time, and pre-ping off stays off."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from psycopg_pool import ConnectionPool

from infrastructure import recorder


class FakeConnection:
    pass


@pytest.fixture
def pings(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    calls: list[object] = []
    monkeypatch.setattr(ConnectionPool, "check_connection", staticmethod(calls.append))
    return calls


def datastore(pre_ping: bool) -> SimpleNamespace:
    return SimpleNamespace(pool=SimpleNamespace(_check=ConnectionPool.check_connection if pre_ping else None))


def test_a_connection_is_pinged_only_when_idle_for_a_while(monkeypatch, pings) -> None:
    store, clock = datastore(pre_ping=True), [100.0]
    monkeypatch.setattr(recorder, "monotonic", lambda: clock[0])
    recorder.ping_only_idle_connections(store, idle_for=1.0)  # type: ignore[arg-type]
    first, second = FakeConnection(), FakeConnection()

    store.pool._check(first)  # never handed out before: pinged
    clock[0] += 0.5
    store.pool._check(first)  # handed out half a second ago: not pinged
    store.pool._check(second)
    clock[0] += 1.0
    store.pool._check(first)  # idle for a second: pinged again

    assert pings == [first, second, first]


def test_without_pre_ping_nothing_is_checked(pings) -> None:
    store = datastore(pre_ping=False)
    recorder.ping_only_idle_connections(store)  # type: ignore[arg-type]
    assert store.pool._check is None
