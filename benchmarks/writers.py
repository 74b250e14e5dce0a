"""Appending: commands through the application, by one writer and by four, against raw
psycopg INSERT-and-COMMIT of rows of the same sizes into a table of the same shape.

Writers are separate processes (started once, then given rounds), each with its own
application and connection pool, writing to its own cases. A round runs one mode for a fixed
time; the modes alternate round after round, so a burst of noise on the shared machine hits
all of them, and the ratios are taken per round. The modes:

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
"""

from __future__ import annotations

import multiprocessing
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


def _writer(url: str, index: int, conn: Connection) -> None:
    """A writer process: runs rounds until told to stop (None)."""
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


class Writers:
    """``count`` writer processes on database ``url``."""

    def __init__(self, url: str, count: int = 4) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            for statement in RAW_DDL:
                conn.execute(statement)
        context = multiprocessing.get_context("spawn")
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
        start_at = time.time() + 0.1
        for pipe in self.pipes[:writers]:
            pipe.send((mode, start_at, seconds))
        return sum(pipe.recv() for pipe in self.pipes[:writers]) / seconds

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
    one: list[float]
    four: list[float]
    ceiling: list[float]
    raw_four: list[float]
    bare: list[float]

    def figures(self) -> dict[str, Any]:
        median = statistics.median

        def ratio(these: list[float], those: list[float]) -> float:
            return median(a / b for a, b in zip(these, those, strict=True))

        return {
            "raw_insert_per_s": median(self.raw),
            "append_per_s": median(self.one),
            "append_ratio_vs_raw_insert": ratio(self.one, self.raw),
            "append_per_s_4_writers": median(self.four),
            "append_speedup_4_writers": ratio(self.four, self.one),
            "append_ceiling_per_s": median(self.ceiling),
            "append_ceiling_ratio_vs_raw_insert": ratio(self.ceiling, self.raw),
            "append_share_of_ceiling": ratio(self.one, self.ceiling),
            "raw_insert_per_s_4_writers": median(self.raw_four),
            "raw_insert_speedup_4_writers": ratio(self.raw_four, self.raw),
            "append_bare_library_per_s": median(self.bare),
            "append_bare_library_ratio_vs_raw_insert": ratio(self.bare, self.raw),
            "append_speedup_vs_bare_library": ratio(self.one, self.bare),
        }


def measure(url: str, rounds: int, seconds: float) -> AppendFigures:
    writers = Writers(url)
    try:
        writers.rate("app", 4, min(seconds, 1.0))  # warm up: caches, prepared statements
        writers.rate("raw", 1, min(seconds, 0.5))
        writers.rate("ceiling", 1, min(seconds, 0.5))
        writers.rate("bare", 1, min(seconds, 0.5))
        raw, one, four, ceiling, raw_four, bare = [], [], [], [], [], []
        for _ in range(rounds):
            raw.append(writers.rate("raw", 1, seconds))
            one.append(writers.rate("app", 1, seconds))
            four.append(writers.rate("app", 4, seconds))
            ceiling.append(writers.rate("ceiling", 1, seconds))
            raw_four.append(writers.rate("raw", 4, seconds))
            bare.append(writers.rate("bare", 1, seconds))
        return AppendFigures(raw, one, four, ceiling, raw_four, bare)
    finally:
        writers.close()
