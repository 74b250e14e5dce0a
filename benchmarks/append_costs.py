"""``python -m benchmarks.append_costs``: where one writer's command goes, next to the raw
INSERT: wall time, the client thread's CPU and its PostgreSQL backend's CPU per operation.

One process, one connection per variant, the variants alternating round after round (so a
noisy moment hits them all), medians over the rounds. The variants:

- ``raw INSERT``: the baseline of ``append_ratio_vs_raw_insert`` (benchmarks/writers.py);
- ``append function alone``: ``SELECT ... FROM cases_insert_event(...)`` with its arguments
  ready, as the recorder sends it: the save's cost to PostgreSQL, with no Python around it;
- ``command in memory``: the benchmark's journey through the application with the library's
  in-memory recorder: the command's Python without PostgreSQL;
- ``ceiling``: that command, then the raw INSERT, in turn (``append_ceiling_per_s``);
- ``command on PostgreSQL``: the benchmark's one writer (``append_per_s``);
- ``raw INSERT, spinning`` and ``command on PostgreSQL, spinning``: the same two with a
  connection that spins instead of sleeping while the server answers (benchmarks/spinning.py):
  what each round trip's wait costs this machine beyond the server's work (the core's idle
  and wake-up, cooled caches), a diagnostic only (the service never spins).

The backend's CPU is read from ``/proc/<pid>/stat``, so only for a server on this machine
("n/a" otherwise). BENCHMARKS.md ("What this machine allows") reads the table.
"""

from __future__ import annotations

import argparse
import statistics
from contextlib import ExitStack
from functools import partial
from typing import Any

import psycopg

from application.cases import QualityMarkCases
from benchmarks import host, save_parts, save_trade_offs
from benchmarks.journeys import Journeys, in_memory_cases, stored_payloads
from benchmarks.measuring import CaseEvents, Variant, aligned, measure_round
from benchmarks.reads import bench_env
from benchmarks.run import fresh_database, postgres_server
from benchmarks.spinning import spin_while_waiting
from benchmarks.writers import RAW_DDL, insert_raw
from infrastructure.logging import configure_logging


def measure(url: str, rounds: int, operations: int) -> list[Variant]:
    with ExitStack() as resources:
        return _measure(url, rounds, operations, resources)


def _measure(url: str, rounds: int, operations: int, resources: ExitStack) -> list[Variant]:
    payloads = stored_payloads()
    raw = resources.enter_context(psycopg.connect(url, autocommit=True))
    for statement in RAW_DDL:
        raw.execute(statement)
    function = resources.enter_context(psycopg.connect(url, autocommit=True))
    app = QualityMarkCases(env=bench_env(url))
    resources.callback(app.close)
    spinning_app = QualityMarkCases(env=bench_env(url))
    resources.callback(spinning_app.close)
    spinning_raw = spin_while_waiting(resources.enter_context(psycopg.connect(url, autocommit=True)))
    in_memory = in_memory_cases()
    resources.callback(in_memory.close)
    on_postgres, in_memory_journeys = Journeys(app, 0), Journeys(in_memory, 1)
    spinning_journeys = Journeys(spinning_app, 2)
    save = app.recorder._append_statement(one=True, keyed=False, flush=False)  # noqa: SLF001

    raw_insert = partial(insert_raw, raw, payloads)
    events = CaseEvents(payloads)

    def function_alone(i: int) -> None:
        function.execute(save, events.params(i), prepare=True)

    def ceiling(i: int) -> None:
        in_memory_journeys.run_one()
        raw_insert(i)

    raw_pid, function_pid = raw.info.backend_pid, function.info.backend_pid
    variants = [
        Variant("raw INSERT (baseline)", raw_insert, (raw_pid,)),
        Variant("append function alone", function_alone, (function_pid,)),
        Variant("command in memory", lambda _: in_memory_journeys.run_one(), ()),
        Variant("ceiling: in memory + raw INSERT", ceiling, (raw_pid,)),
        Variant("command on PostgreSQL", lambda _: on_postgres.run_one(), ()),
        Variant("raw INSERT, spinning", partial(insert_raw, spinning_raw, payloads),
                (spinning_raw.info.backend_pid,)),
        Variant("command on PostgreSQL, spinning", lambda _: spinning_journeys.run_one(), ()),
    ]
    # The spinning application's pool holds one connection (bench_env), which a lone writer
    # keeps using (its pools hand out the connection given back last).
    with spinning_app.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
        spin_while_waiting(conn)
    for variant in variants:  # warm: prepared statements, caches
        for i in range(min(operations, 500)):
            variant.run(i)
    # Each application's backends: those its pool holds (each process's own).
    variants[4].backend_pids = _backends(app)
    variants[6].backend_pids = _backends(spinning_app)
    for _ in range(rounds):
        for variant in variants:
            measure_round(variant, operations)
    return variants


def _backends(app: QualityMarkCases) -> tuple[int, ...]:
    """The PostgreSQL backends of ``app``'s pooled connections (idle in its pool now)."""
    pool = app.recorder.datastore.pool  # type: ignore[attr-defined]
    return tuple(conn.info.backend_pid for conn in pool._pool)  # noqa: SLF001


def table(variants: list[Variant]) -> str:
    median = statistics.median
    baseline = median(variants[0].wall)
    rows = [("per operation (medians)", "wall µs", "client CPU µs", "backend CPU µs", "ops/s", "vs raw")]
    for v in variants:
        wall = median(v.wall)
        rows.append((v.name, f"{wall:.0f}", f"{median(v.client):.0f}",
                     f"{median(v.backend):.0f}" if v.backend else "n/a",
                     f"{1e6 / wall:,.0f}", f"{baseline / wall:.2f}"))
    return aligned(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.append_costs", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--operations", type=int, default=3000, help="operations per variant per round")
    parser.add_argument("--admin-url", help="a PostgreSQL URL to create the database on")
    parser.add_argument("--parts", action="store_true",
                        help="instead: what each part of the save costs PostgreSQL (benchmarks/save_parts.py)")
    parser.add_argument("--trade-offs", action="store_true",
                        help="instead: the one writer's ratio to the raw INSERT with the save giving up one of "
                             "its guarantees (benchmarks/save_trade_offs.py)")
    parser.add_argument("--seconds", type=float, default=2.0, help="seconds per variant per round (--trade-offs)")
    args: Any = parser.parse_args(argv)
    configure_logging("json", "WARNING")
    with postgres_server(args.admin_url, print) as admin_url, fresh_database(admin_url) as url:
        if args.trade_offs:
            print(save_trade_offs.table(save_trade_offs.measure(url, args.rounds, args.seconds)))
        elif args.parts:
            print(save_parts.table(save_parts.measure(url, args.rounds, args.operations)))
        else:
            print(table(measure(url, args.rounds, args.operations)))
    print(host.describe(host.probe()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
