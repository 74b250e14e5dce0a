"""``python -m benchmarks.run [--quick]``: every benchmark, in a fresh database, in one run.

In order: appending (raw INSERTs, one writer, four writers), rebuilding a long case, building
the data set (100,000 cases, 1,000,000 events; --quick: 5,000 and 40,000), rebuilding every
read model from it (then VACUUM ANALYZE, as autovacuum would), then ``pqasso serve`` in its
own process (``--workers``, one per core): the overdue question over HTTP (and the same answer by loading every aggregate,
which must agree), commands from 32 clients (as fast as it answers, then at a fixed rate of
525/s), and the server's peak memory. Prints a table;
writes ``benchmarks/results.json``.

The database is created on the machine's PostgreSQL at 127.0.0.1:5432 (or ``--admin-url``),
or on an embedded server when that is down, and dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from benchmarks import host, reads, report, writers
from benchmarks.config import FULL, QUICK, SIZES, Sizes
from benchmarks.dataset import build
from benchmarks.service import Served, make_tokens
from infrastructure.bootstrap import application_env
from infrastructure.database import temporary_database
from infrastructure.embedded_postgres import EmbeddedPostgres
from infrastructure.logging import configure_logging
from infrastructure.migrations import migrate
from infrastructure.settings import redact
from projections.runner import ProjectionSupervisor

MACHINE_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
RESULTS = Path(__file__).with_name("results.json")
Echo = Callable[[str], None]


def _accepts(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


@contextmanager
def postgres_server(admin_url: str | None, echo: Echo) -> Iterator[str]:
    """An admin URL: the one given, the machine's server, or a durable embedded one."""
    if admin_url or _accepts(MACHINE_SERVER_URL):
        yield admin_url or MACHINE_SERVER_URL
        return
    echo("no PostgreSQL at 127.0.0.1:5432: starting an embedded server")
    with tempfile.TemporaryDirectory(prefix="pqasso-bench-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "postgres", dbname="postgres", tcp=True)
        try:
            yield server.start()
        finally:
            server.stop()


@contextmanager
def fresh_database(admin_url: str, keep: bool = False) -> Iterator[str]:
    name = f"pqasso_bench_{os.getpid()}_{secrets.token_hex(3)}"
    with temporary_database(admin_url, name, keep=keep) as url:
        migrate(url)
        yield url


def run_all(url: str, sizes: Sizes, workdir: Path, echo: Echo, trace: Path | None = None) -> dict[str, float]:
    """Every benchmark on the (migrated, empty) database ``url``; returns the figures. With
    ``trace``, the HTTP loads write every command's send time, latency, path and status there
    (``http_closed_loop.json``, ``http_open_loop.json``)."""
    results: dict[str, float] = {}
    today = date.today()
    if trace is not None:
        trace.mkdir(parents=True, exist_ok=True)
    probes = [host.probe()]  # how fast the host is, at the start and after each stage

    echo(f"appending: {sizes.rounds} rounds of raw INSERTs, one writer, four writers, the ceiling, four raw writers")
    results.update(writers.measure(url, sizes.rounds, sizes.round_seconds).figures())
    probes.append(host.probe())

    echo(f"rebuilding a case of {sizes.long_case_events} events")
    results.update(reads.case_load(url, sizes.long_case_events, sizes.load_repeats))
    probes.append(host.probe())

    echo(f"building the data set: at least {sizes.min_cases:,} cases, {sizes.min_events:,} events")
    app = reads.uncached(url)
    try:
        data = build(app, sizes, today, echo)
    finally:
        app.close()
    results.update(data_generation_s=data.generate_seconds, data_load_s=data.load_seconds)
    results.update(_store_size(url))
    probes.append(host.probe())

    echo(f"rebuilding every read model from {int(results['events_in_store']):,} events")
    with ProjectionSupervisor(application_env(url)) as supervisor:
        started = time.perf_counter()
        supervisor.rebuild()
        elapsed = time.perf_counter() - started
    results["projection_catchup_s"] = elapsed
    results["projection_catchup_events_per_s"] = results["events_in_store"] / elapsed
    probes.append(host.probe())

    echo("VACUUM ANALYZE, as autovacuum would have after a rebuild")
    results["vacuum_analyze_s"] = settle(url)

    results.update(_served(url, sizes, workdir, today, echo, trace))
    probes.append(host.probe())
    results.update(host.figures(probes))
    return results


def settle(url: str) -> float:
    """What autovacuum would have done after a bulk load (it is off on this machine's server,
    a CI setting): VACUUM ANALYZE the tables holding dead row versions (the rebuild upserts
    read-model rows several times), ANALYZE the rest. Returns the seconds it took."""
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        tables = conn.execute("SELECT schemaname, relname FROM pg_stat_user_tables "
                              "WHERE n_dead_tup > 0").fetchall()
        for schema, table in tables:
            conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(schema, table)))
        conn.execute("ANALYZE")
    return time.perf_counter() - started


def _store_size(url: str) -> dict[str, float]:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*), count(*) FILTER (WHERE originator_version = 1) "
                           "FROM cases_events").fetchone()
    assert row is not None
    return {"events_in_store": row[0], "cases_in_store": row[1]}


def _served(url: str, sizes: Sizes, workdir: Path, today: date, echo: Echo,
            trace: Path | None) -> dict[str, float]:
    workers = sizes.serve_workers or os.cpu_count() or 1
    echo(f"starting pqasso serve --workers {workers} (one per core)")
    tokens = make_tokens(url, sizes.http_clients)
    served = Served.start(url, workdir / "serve.log", workers=workers)
    try:
        echo(f"overdue over HTTP: {sizes.overdue_requests} requests")
        overdue = _load({"mode": "overdue", "url": served.url, "tokens": tokens,
                         "day": today.isoformat(), "requests": sizes.overdue_requests})
        echo("overdue by loading every aggregate" if sizes.replay_cases is None
             else f"overdue by loading {sizes.replay_cases:,} aggregates, spread over the store")
        replay_ms, replayed, loaded = reads.overdue_by_replay(url, today, sizes.replay_cases)
        answered = {tuple(item) for item in overdue["items"]}
        expected = {item for item in answered if item[0] in loaded}  # of the cases replayed
        if replayed != expected:
            echo(f"WARNING: the read model lists {len(expected)} overdue items of the "
                 f"{len(loaded):,} cases replayed, replaying them {len(replayed)}")
        commands = {"mode": "commands", "url": served.url, "tokens": tokens, "clients": sizes.http_clients,
                    "seconds": sizes.http_seconds, "max_commands": sizes.http_max_commands}
        echo(f"commands over HTTP, closed loop (saturation): {sizes.http_clients} clients, "
             f"{sizes.http_seconds:.0f} s")
        most = _load({**commands, "trace": str(trace / "http_closed_loop.json") if trace else None})
        echo(f"HTTP answers: {most['statuses']}")
        backlog_s = served.wait_for_projections()
        echo(f"the read models caught up with the closed loop {backlog_s:.1f} s after it")
        echo(f"commands over HTTP, open loop: {sizes.http_clients} clients offering "
             f"{sizes.http_rate:.0f}/s, {sizes.http_seconds:.0f} s")
        load = _load({**commands, "rate": sizes.http_rate,
                      "trace": str(trace / "http_open_loop.json") if trace else None})
        echo(f"HTTP answers: {load['statuses']}")
        memory = served.peak_memory_mb()
    finally:
        served.stop()
    return {
        "overdue_p50_ms_100k_cases": overdue["p50_ms"], "overdue_p95_ms_100k_cases": overdue["p95_ms"],
        "overdue_items": len(answered), "overdue_by_replay_ms_100k_cases": replay_ms,
        "overdue_replay_cases": len(loaded), "overdue_answers_agree": float(replayed == expected),
        "http_offered_per_s_32_clients": sizes.http_rate,
        "http_commands_per_s_32_clients": load["per_s"], "http_p50_ms_32_clients": load["p50_ms"],
        "http_p95_ms_32_clients": load["p95_ms"],
        "http_p95_ms_worst_second_32_clients": load["worst_second_p95_ms"],
        "http_seconds_p95_over_50_ms_32_clients": load["seconds_p95_over_50_ms"],
        "http_max_commands_per_s_32_clients": most["per_s"],
        "http_projection_backlog_s_after_max": backlog_s,
        "http_p50_ms_at_max_32_clients": most["p50_ms"], "http_p95_ms_at_max_32_clients": most["p95_ms"],
        "http_errors": load["commands"] - load["ok"] + most["commands"] - most["ok"],
        "serve_peak_rss_mb": memory["peak"], "serve_summed_rss_mb": memory["summed_rss"],
        "serve_workers": served.workers,
    }


def _load(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the load generator in its own process; return its results."""
    done = subprocess.run([sys.executable, "-m", "benchmarks.http_load"], input=json.dumps(spec),
                          capture_output=True, text=True, check=False, cwd=Path(__file__).parent.parent)
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{done.stderr}")
    return json.loads(done.stdout)


def machine() -> dict[str, float]:
    pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    return {"machine_cores": os.cpu_count() or 0, "machine_memory_gib": pages * page_size / 2**30}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    parser.add_argument("--sizes", choices=sorted(SIZES), help=argparse.SUPPRESS)
    parser.add_argument("--admin-url", help="a PostgreSQL URL to create the database on")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the figures")
    parser.add_argument("--keep-database", action="store_true", help="do not drop it at the end")
    parser.add_argument("--trace", type=Path, metavar="DIR",
                        help="write every HTTP command's send time and latency to DIR")
    args = parser.parse_args(argv)
    sizes = SIZES[args.sizes] if args.sizes else QUICK if args.quick else FULL
    configure_logging("json", "WARNING")
    started = time.perf_counter()

    def echo(message: str) -> None:
        sys.stderr.write(f"[{time.perf_counter() - started:6.1f}s] {message}\n")
        sys.stderr.flush()

    with postgres_server(args.admin_url, echo) as admin_url, \
            tempfile.TemporaryDirectory(prefix="pqasso-bench-") as workdir:
        with psycopg.connect(admin_url) as conn:
            server = conn.execute("SHOW server_version_num").fetchone()
        echo(f"{sizes.name} run on {redact(admin_url)}")
        with fresh_database(admin_url, args.keep_database) as url:
            results = run_all(url, sizes, Path(workdir), echo, args.trace)
    results.update(machine(), postgres_version_num=float(server[0]) if server else 0.0,
                   run_seconds=time.perf_counter() - started, run_started_unix=time.time() - (time.perf_counter() - started))
    report.write(results, args.output)
    sys.stdout.write(report.table(results) + "\n")
    echo(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
