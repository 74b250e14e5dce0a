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
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

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
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-m",
         "benchmarks.instructions", "--child", str(commands), where, admin_url],
        env=env, capture_output=True, text=True, check=True)
    found = _COLLECTED.search(run.stderr)
    if found is None:
        raise RuntimeError(f"valgrind printed no count: {run.stderr[-500:]}")
    return int(found.group(1))


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
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        commands, where, admin_url = args.child
        _journeys(int(commands), where, admin_url)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is missing: apt-get install valgrind", file=sys.stderr)
        return 1
    for where in ("memory", "postgres"):
        print(f"a command {'in memory' if where == 'memory' else 'on PostgreSQL'}: "
              f"{per_command(args.commands, where, args.admin_url):,.0f} instructions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
