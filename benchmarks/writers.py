"""Appending: commands through the application, by one writer and by four, against raw
psycopg INSERT-and-COMMIT of rows of the same sizes into a table of the same shape.

Writers are separate processes (started once, then given rounds), each with its own
application and connection pool, writing to its own cases. They start as the service's
workers do: forked from a process that has imported the application (``writer_processes``).
A round runs one mode for a fixed time; the modes alternate round after round, so a burst of
noise on the shared machine hits all of them, and the ratios are taken per round. The modes:

- ``raw``: the baseline, one prepared INSERT (autocommit) of a stored event's topic and state;
- ``app``: the benchmark's commands through ``QualityMarkCases`` on PostgreSQL;
- ``bare``: the issue's starting point, a bare ``eventsourcing`` application saving one-event
  aggregates with the library's own recorder (benchmarks/bare_library.py);
- ``ceiling``: what this machine allows any Python application of ours: each command run by
  the same application with the library's in-memory recorder, then the raw INSERT of one row,
  in turn. Its ratio to ``raw`` is the most ``append_ratio_vs_raw_insert`` could be if a save
  cost PostgreSQL no more than the baseline's INSERT; it falls as the disk gets faster (the
  commit is then a smaller part of the baseline, the command's Python a larger one).

``raw`` also runs with four writers, whose speedup is the machine's own for the simplest
commit: a ceiling for ``append_speedup_4_writers`` as well.

Four writers' rate is also compared with the raw INSERT's (``append_4_writers_ratio_vs_raw_insert``):
the two append targets hold together only if that is at least 0.75 (0.5 x 1.5), and then only
while one writer's ratio lies between 0.5 and a 1.5th of it (BENCHMARKS.md, "Four writers").

Each round also reads how busy the machine's cores were (``/proc/stat``, all processes: the
writers, their PostgreSQL backends and anything else running): the CPU a command costs the
machine with one writer and with four, and so the speedup four writers would reach if they
kept every core busy at that cost (``append_speedup_4_writers_at_full_cpu``): what limits
``append_speedup_4_writers`` when it is the CPU, not a lock or the disk.
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.context
import os
import statistics
import time
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import psycopg

RAW_TABLE = "bench_raw_events"
# The library's events table (eventsourcing/postgres.py), without our triggers or hash chain.
RAW_DDL = (
    f"CREATE TABLE IF NOT EXISTS {RAW_TABLE} (originator_id uuid NOT NULL, "
    "originator_version bigint NOT NULL, topic text, state bytea, "
    "notification_id bigserial, PRIMARY KEY (originator_id, originator_version))",
    f"CREATE UNIQUE INDEX IF NOT EXISTS {RAW_TABLE}_notification_id_idx ON {RAW_TABLE} (notification_id)",
)
RAW_INSERT = (f"INSERT INTO {RAW_TABLE} (originator_id, originator_version, topic, state) "  # noqa: S608
              "VALUES (%s, 1, %s, %s)")


def insert_raw(conn: psycopg.Connection[Any], payloads: list[tuple[str, bytes]], i: int) -> None:
    """The baseline's ``i``-th INSERT: the topic and state of one of the journey's stored
    events, under a new case id."""
    topic, state = payloads[i % len(payloads)]
    conn.execute(RAW_INSERT, (uuid.uuid4(), topic, state), prepare=True)


# What a writer process runs, imported by the process that forks the writers
# (``writer_processes``), as ``pqasso serve`` imports the service before it forks its workers.
WRITER_MODULES = ("application.cases", "benchmarks.bare_library", "benchmarks.journeys",
                  "benchmarks.reads", "infrastructure.logging", "psycopg")


def writer_processes() -> multiprocessing.context.BaseContext:
    """How writer processes start: as the service's workers do (``pqasso serve --workers``,
    infrastructure/cli_service.py), forked from a process that has imported the application,
    so that they share its memory pages: here the standard library's fork server, which
    imports ``WRITER_MODULES`` and opens nothing else (no connection or thread to inherit).
    Spawned writers, each importing everything itself, cost four writers ~15% of their rate on
    two vCPUs (BENCHMARKS.md, "Four writers"). Spawned where there is no fork server."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(WRITER_MODULES))
    return context


def _writer(url: str, index: int, conn: Connection) -> None:
    """A writer process: runs rounds until told to stop (None)."""
    # As `pqasso serve`'s workers: what came from the fork server stays shared, the collector
    # won't walk it (and so copy its pages).
    gc.freeze()
    from application.cases import QualityMarkCases
    from benchmarks.bare_library import BareSaves
    from benchmarks.journeys import Journeys, in_memory_cases, stored_payloads
    from benchmarks.reads import bench_env
    from infrastructure.logging import configure_logging

    configure_logging("json", "WARNING")
    app = QualityMarkCases(env=bench_env(url))
    journeys = Journeys(app, index)
    in_memory = Journeys(in_memory_cases(), index)
    payloads = stored_payloads()
    bare = BareSaves(url, [len(state) for _, state in payloads]) if index == 0 else None
    raw = psycopg.connect(url, autocommit=True)
    conn.send("ready")
    while (task := conn.recv()) is not None:
        mode, start_at, seconds = task
        time.sleep(max(0.0, start_at - time.time()))
        end, done = time.perf_counter() + seconds, 0
        if mode == "raw":
            while time.perf_counter() < end:
                insert_raw(raw, payloads, done)
                done += 1
        elif mode == "bare":
            assert bare is not None, "only the first writer saves bare aggregates"
            while time.perf_counter() < end:
                bare.save_one()
                done += 1
        elif mode == "ceiling":
            while time.perf_counter() < end:
                in_memory.run_one()
                insert_raw(raw, payloads, done)
                done += 1
        else:
            while time.perf_counter() < end:
                journeys.run_one()
                done += 1
        conn.send(done)
    raw.close()
    app.close()
    in_memory.app.close()
    if bare is not None:
        bare.close()


def machine_cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) clock ticks of all this machine's cores since boot, from ``/proc/stat``
    (idle and waiting for I/O count as not busy); None where there is no such file."""
    try:
        with open("/proc/stat") as stat:
            ticks = [int(t) for t in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    total = sum(ticks[:8])  # user nice system idle iowait irq softirq steal (guest is in user)
    return total - ticks[3] - ticks[4], total


@dataclass(frozen=True)
class Round:
    per_s: float  # commands (or raw inserts) per second
    machine_busy: float | None  # the share of all cores' time that was busy, 0 to 1 (None: unknown)

    @property
    def cpu_measured(self) -> bool:
        return self.machine_busy is not None and self.per_s > 0

    def busy(self) -> float:
        """The share of all cores' time that was busy (of a round whose CPU was measured)."""
        assert self.machine_busy is not None, "this round's CPU was not measured"
        return self.machine_busy

    def cpu_us_per_command(self, cores: int) -> float:
        """The machine's CPU per command: busy cores over the rate, in microseconds."""
        return self.busy() * cores / self.per_s * 1e6


class Writers:
    """``count`` writer processes on database ``url``."""

    def __init__(self, url: str, count: int = 4) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            for statement in RAW_DDL:
                conn.execute(statement)
        context = writer_processes()
        self.pipes: list[Connection] = []
        self.processes = []
        for index in range(count):
            ours, theirs = context.Pipe()
            process = context.Process(target=_writer, args=(url, index, theirs), daemon=True)
            process.start()
            self.pipes.append(ours)
            self.processes.append(process)
        for pipe in self.pipes:
            if pipe.recv() != "ready":
                raise RuntimeError("a writer process did not start")

    def rate(self, mode: str, writers: int, seconds: float) -> float:
        """Commands (or raw inserts) per second of ``writers`` processes running together."""
        return self.round(mode, writers, seconds).per_s

    def round(self, mode: str, writers: int, seconds: float) -> Round:
        """A round of ``writers`` processes running together: their rate, and how busy the
        machine was while they ran (its ticks read at the round's start and end)."""
        start_at = time.time() + 0.1
        for pipe in self.pipes[:writers]:
            pipe.send((mode, start_at, seconds))
        time.sleep(max(0.0, start_at - time.time()))
        before = machine_cpu_ticks()
        done = sum(pipe.recv() for pipe in self.pipes[:writers])
        after = machine_cpu_ticks()
        busy = None
        if before is not None and after is not None and after[1] > before[1]:
            busy = (after[0] - before[0]) / (after[1] - before[1])
        return Round(done / seconds, busy)

    def close(self) -> None:
        for pipe in self.pipes:
            pipe.send(None)
        for process in self.processes:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()


@dataclass(frozen=True)
class AppendFigures:
    raw: list[float]
    one: list[Round]  # the one-writer and four-writer rounds: their rates, and how busy
    four: list[Round]  # the machine was
    ceiling: list[float]
    raw_four: list[float]
    bare: list[float]
    cores: int = 1

    def figures(self) -> dict[str, Any]:
        return {**self._rates(), **self._machine_cpu()}

    def _rates(self) -> dict[str, Any]:
        median, ratio = statistics.median, _median_ratio
        one, four = [r.per_s for r in self.one], [r.per_s for r in self.four]
        return {
            "raw_insert_per_s": median(self.raw),
            "append_per_s": median(one),
            "append_ratio_vs_raw_insert": ratio(one, self.raw),
            "append_per_s_4_writers": median(four),
            "append_speedup_4_writers": ratio(four, one),
            # Both append targets (one writer >= 0.5 of the raw INSERT, four >= 1.5 times one)
            # can hold together only if four writers reach 0.5 x 1.5 = 0.75 of the raw INSERT.
            "append_4_writers_ratio_vs_raw_insert": ratio(four, self.raw),
            "append_ceiling_per_s": median(self.ceiling),
            "append_ceiling_ratio_vs_raw_insert": ratio(self.ceiling, self.raw),
            "append_share_of_ceiling": ratio(one, self.ceiling),
            "raw_insert_per_s_4_writers": median(self.raw_four),
            "raw_insert_speedup_4_writers": ratio(self.raw_four, self.raw),
            "append_bare_library_per_s": median(self.bare),
            "append_bare_library_ratio_vs_raw_insert": ratio(self.bare, self.raw),
            "append_speedup_vs_bare_library": ratio(one, self.bare),
        }

    def _machine_cpu(self) -> dict[str, Any]:
        """How busy the machine was with one writer and with four, the CPU a command cost it,
        and the speedup four writers would reach at that cost with every core busy: per round
        (one writer's round, then four's), medians. Nothing where ``/proc/stat`` was missing
        or a round ran no command."""
        pairs = list(zip(self.one, self.four, strict=True))
        if not pairs or not all(one.cpu_measured and four.cpu_measured for one, four in pairs):
            return {}
        median, cores = statistics.median, self.cores
        return {
            "append_machine_busy_1_writer": median(one.busy() for one, _ in pairs),
            "append_machine_busy_4_writers": median(four.busy() for _, four in pairs),
            "append_machine_cpu_us_per_command": median(one.cpu_us_per_command(cores) for one, _ in pairs),
            "append_machine_cpu_us_per_command_4_writers": median(
                four.cpu_us_per_command(cores) for _, four in pairs),
            # four writers' rate scaled to every core busy, over one writer's
            "append_speedup_4_writers_at_full_cpu": median(
                four.per_s / four.busy() / one.per_s for one, four in pairs),
        }


def _median_ratio(these: list[float], those: list[float]) -> float:
    """The median of the per-round ratios: each round against its own baseline."""
    return statistics.median(a / b for a, b in zip(these, those, strict=True))


def measure(url: str, rounds: int, seconds: float) -> AppendFigures:
    writers = Writers(url)
    try:
        writers.rate("app", 4, min(seconds, 1.0))  # warm up: caches, prepared statements
        writers.rate("raw", 1, min(seconds, 0.5))
        writers.rate("ceiling", 1, min(seconds, 0.5))
        writers.rate("bare", 1, min(seconds, 0.5))
        raw, ceiling, raw_four, bare = [], [], [], []
        one: list[Round] = []
        four: list[Round] = []
        for _ in range(rounds):
            raw.append(writers.rate("raw", 1, seconds))
            one.append(writers.round("app", 1, seconds))
            four.append(writers.round("app", 4, seconds))
            ceiling.append(writers.rate("ceiling", 1, seconds))
            raw_four.append(writers.rate("raw", 4, seconds))
            bare.append(writers.rate("bare", 1, seconds))
        return AppendFigures(raw, one, four, ceiling, raw_four, bare, cores=os.cpu_count() or 1)
    finally:
        writers.close()
