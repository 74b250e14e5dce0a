"""``python -m benchmarks.instructions``: the CPU instructions one writer's command costs its
process, counted by valgrind (callgrind), in memory and on PostgreSQL.

Times on this shared machine move by ±10% from minute to minute, more than most single
changes to a command's Python; an instruction count does not: the same code counts the same
to within ~200 instructions a command, whatever else the machine does. So a change is
measured here first, then in the full benchmark. (Instructions are not time: a command on
PostgreSQL runs them at less than half the speed of the same in memory, its caches cooled
while it waits; fewer of them still means less time.)

Each count is the difference between two runs of the benchmark's journey (``Journeys``: the
same commands as ``append_per_s``), one of ``--commands`` and one of three times as many,
over the extra commands: what starting Python and the application costs cancels out.
``PYTHONHASHSEED`` is fixed so that both runs lay out their dictionaries alike. Needs
valgrind (Debian's package); ~2 minutes.

``--rebuild``: the instructions a rebuild worker (``projections.bulk.rebuild_cases``, one of
the processes that load the read models from every event) spends on an event: a store of
the quick benchmark's cases is built first, then two workers load two disjoint ranges of its
cases, one of about ``--events`` events and one of about three times as many, and the
difference of their counts is divided by the difference of their events. ~2 minutes. Each
run's store has new case ids, so the same code counts within 1–2% from run to run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from benchmarks.config import QUICK, Sizes
from benchmarks.run import MACHINE_SERVER_URL

_COLLECTED = re.compile(r"Collected : (\d+)")


def _journeys(commands: int, where: str, admin_url: str) -> None:
    """Run ``commands`` of the journey, in memory or on a fresh database (the child's work)."""
    from application.cases import QualityMarkCases
    from benchmarks.journeys import Journeys, in_memory_cases
    from benchmarks.reads import bench_env
    from benchmarks.run import fresh_database
    from infrastructure.logging import configure_logging

    configure_logging("json", "WARNING")
    if where == "memory":
        journeys = Journeys(in_memory_cases(), 0)
        for _ in range(commands):
            journeys.run_one()
        return
    with fresh_database(admin_url) as url:
        app = QualityMarkCases(env=bench_env(url))
        journeys = Journeys(app, 0)
        for _ in range(commands):
            journeys.run_one()
        app.close()


def count(commands: int, where: str, admin_url: str) -> int:
    """Instructions of a whole run of ``commands`` (valgrind's callgrind, no output file)."""
    return _counted("--child", str(commands), where, admin_url)[0]


def _counted(*child: str) -> tuple[int, str]:
    """Instructions of a child run (``python -m benchmarks.instructions <child...>``) under
    valgrind's callgrind (no output file), and what it printed."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-m",
         "benchmarks.instructions", *child],
        env=env, capture_output=True, text=True, check=True)
    found = _COLLECTED.search(run.stderr)
    if found is None:
        raise RuntimeError(f"valgrind printed no count: {run.stderr[-500:]}")
    return int(found.group(1)), run.stdout


def _rebuild(url: str, lo: str, hi: str) -> None:
    """Load the read models' rows of the cases with ids in [lo, hi) (a rebuild worker's work,
    committed) and print how many events that was (the child's work)."""
    from uuid import UUID

    from infrastructure.bootstrap import application_env
    from infrastructure.logging import configure_logging
    from projections.bulk import rebuild_cases, worker_connections
    from projections.registry import ALL

    configure_logging("json", "WARNING")
    # Under valgrind a transaction runs ~50 times slower than the library's 5 s allows.
    env = {**application_env(url), "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "0"}
    with worker_connections(env, ALL) as (app, views):
        head = app.recorder.max_notification_id() or 0
        print(rebuild_cases(app, views, UUID(lo) if lo else None, UUID(hi) if hi else None, head))


def per_rebuilt_event(events: int, admin_url: str, sizes: Sizes | None = None) -> float:
    """A rebuild worker's instructions per event (``--rebuild``), on a store of ``sizes``
    (default: the quick benchmark's)."""
    from datetime import date
    from uuid import UUID

    import psycopg

    from benchmarks.dataset import build
    from benchmarks.reads import uncached
    from benchmarks.run import fresh_database

    with fresh_database(admin_url) as url:
        app = uncached(url)
        try:
            build(app, sizes or QUICK, date.today())
        finally:
            app.close()
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT count(*) FROM cases_events").fetchone()
        share = events / (row[0] if row else 1)  # case ids are random: a share of the range
        one, four = (str(UUID(int=min(int(f * (1 << 128)), (1 << 128) - 1))) for f in (share, 4 * share))
        with ThreadPoolExecutor(2) as both:  # one valgrind per core
            (few, printed_few), (many, printed_many) = both.map(
                lambda bounds: _counted("--child-rebuild", url, *bounds), (("", one), (one, four)))
    loaded_few, loaded_many = int(printed_few.split()[-1]), int(printed_many.split()[-1])
    return (many - few) / (loaded_many - loaded_few)


def per_command(commands: int, where: str, admin_url: str) -> float:
    with ThreadPoolExecutor(2) as both:  # one valgrind per core
        few, many = both.map(lambda n: count(n, where, admin_url), (commands, 3 * commands))
    return (many - few) / (2 * commands)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--commands", type=int, default=900,
                        help="commands in the shorter run (a multiple of the journey's 9)")
    parser.add_argument("--admin-url", default=MACHINE_SERVER_URL,
                        help="a PostgreSQL URL to create the database on")
    parser.add_argument("--rebuild", action="store_true",
                        help="count a rebuild worker's instructions per event instead")
    parser.add_argument("--events", type=int, default=3000,
                        help="with --rebuild: events in the smaller range")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--child-rebuild", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        commands, where, admin_url = args.child
        _journeys(int(commands), where, admin_url)
        return 0
    if args.child_rebuild:
        _rebuild(*args.child_rebuild)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is missing: apt-get install valgrind", file=sys.stderr)
        return 1
    if args.rebuild:
        print(f"a rebuild worker, per event: "
              f"{per_rebuilt_event(args.events, args.admin_url):,.0f} instructions")
        return 0
    for where in ("memory", "postgres"):
        print(f"a command {'in memory' if where == 'memory' else 'on PostgreSQL'}: "
              f"{per_command(args.commands, where, args.admin_url):,.0f} instructions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
