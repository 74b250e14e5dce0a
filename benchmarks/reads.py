"""Reading: rebuilding one long case (snapshots on and off) against a raw SELECT of its rows,
and the overdue question answered the slow way, by loading every aggregate."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID

import psycopg

from application.cases import QualityMarkCases
from benchmarks.simulation import long_case
from infrastructure.bootstrap import application_env

OverdueItem = tuple[str, str, str]  # (case id, obligation, due on): what both answers list


class WithoutSnapshots(QualityMarkCases):
    """The same application (same tables) reading without its snapshots."""

    name = QualityMarkCases.name
    snapshotting_intervals: dict[Any, int] = {}


def bench_env(url: str, **env: str) -> dict[str, str]:
    """The service's environment, with a small pool: the machine's server is shared, and its
    connections too (each application otherwise opens five at once)."""
    return {**application_env(url), "POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "3", **env}


def uncached(url: str, cls: type[QualityMarkCases] = QualityMarkCases) -> QualityMarkCases:
    """An application without the aggregate cache: every load reads the database."""
    return cls(env=bench_env(url, AGGREGATE_CACHE_MAXSIZE=""))


def _median_ms(action: Callable[[], object], repeats: int) -> float:
    action()  # warm: prepared statements, pool
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def case_load(url: str, events: int, repeats: int) -> dict[str, float]:
    """Store a case with ``events`` events (with the snapshots the service takes), then time
    rebuilding it where that costs most: at the version before a snapshot, so from the
    previous snapshot and the most events after one. The ratio is against a raw SELECT of
    all the case's rows."""
    writer = uncached(url)
    case = long_case(events, date.today())
    writer.save(case)  # one transaction; then _take_snapshots() takes one per interval
    case_id, last = case.id, case.version
    with_snapshots, without = uncached(url), uncached(url, WithoutSnapshots)
    interval = QualityMarkCases.snapshotting_intervals[type(case)]
    worst = last - 1 if last % interval == 0 else last  # the most events after a snapshot
    select = ("SELECT originator_version, topic, state FROM cases_events "  # noqa: S608
              "WHERE originator_id = %s ORDER BY originator_version")
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            raw = _median_ms(lambda: conn.execute(select, (case_id,), prepare=True).fetchall(), repeats)
        worst_ms = _median_ms(lambda: with_snapshots.get_case(case_id, worst), repeats)
        figures = {
            "case_load_ms_1000_events": worst_ms,
            "case_load_ratio_vs_raw_select": worst_ms / raw,
            "raw_select_ms_1000_rows": raw,
            "case_load_ms_at_snapshot": _median_ms(lambda: with_snapshots.get_case(case_id), repeats),
            "case_load_ms_no_snapshots": _median_ms(lambda: without.get_case(case_id), max(3, repeats // 3)),
        }
        _check_same_state(with_snapshots, without, case_id, worst)
    finally:
        for app in (writer, with_snapshots, without):
            app.close()
    return figures


def _check_same_state(a: QualityMarkCases, b: QualityMarkCases, case_id: UUID, version: int) -> None:
    if vars(a.get_case(case_id, version)) != vars(b.get_case(case_id, version)):
        raise AssertionError("a case loaded from its snapshot differs from the case replayed")


def overdue_by_replay(url: str, day: date, limit: int | None = None) -> tuple[float, set[OverdueItem], set[str]]:
    """Load every case (no read model, no cache), or ``limit`` of them spread evenly over the
    store, and list what is overdue on ``day``: (milliseconds, the items, the ids of the cases
    loaded)."""
    app = uncached(url)
    started = time.perf_counter()
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            ids = [row[0] for row in conn.execute(
                "SELECT originator_id FROM cases_events WHERE originator_version = 1")]
        if limit is not None and limit < len(ids):
            ids = [ids[i * len(ids) // limit] for i in range(limit)]
        items = set()
        for case_id in ids:
            for deadline in app.get_case(case_id).deadlines:
                if deadline.is_overdue_on(day):
                    items.add((str(case_id), deadline.obligation.value, deadline.due_on.isoformat()))
    finally:
        app.close()
    return (time.perf_counter() - started) * 1000, items, {str(case_id) for case_id in ids}
