"""Appending: commands through the application, by one writer and by four, against raw
psycopg INSERT-and-COMMIT of rows of the same sizes into a table of the same shape.

Writers are separate processes (started once, then given rounds), each with its own
application and connection pool, writing to its own cases. A round runs one mode for a fixed
time; the modes alternate (raw, one writer, four writers) round after round, so a burst of
noise on the shared machine hits all of them, and the ratios are taken per round.
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


def _writer(url: str, index: int, conn: Connection) -> None:
    """A writer process: runs rounds until told to stop (None)."""
    from application.cases import QualityMarkCases
    from benchmarks.journeys import Journeys, stored_payloads
    from benchmarks.reads import bench_env
    from infrastructure.logging import configure_logging

    configure_logging("json", "WARNING")
    app = QualityMarkCases(env=bench_env(url))
    journeys = Journeys(app, index)
    payloads = stored_payloads()
    raw = psycopg.connect(url, autocommit=True)
    conn.send("ready")
    while (task := conn.recv()) is not None:
        mode, start_at, seconds = task
        time.sleep(max(0.0, start_at - time.time()))
        end, done = time.perf_counter() + seconds, 0
        if mode == "raw":
            while time.perf_counter() < end:
                topic, state = payloads[done % len(payloads)]
                raw.execute(RAW_INSERT, (uuid.uuid4(), topic, state), prepare=True)
                done += 1
        else:
            while time.perf_counter() < end:
                journeys.run_one()
                done += 1
        conn.send(done)
    raw.close()
    app.close()


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

    def figures(self) -> dict[str, Any]:
        median = statistics.median
        return {
            "raw_insert_per_s": median(self.raw),
            "append_per_s": median(self.one),
            "append_ratio_vs_raw_insert": median(o / r for o, r in zip(self.one, self.raw, strict=True)),
            "append_per_s_4_writers": median(self.four),
            "append_speedup_4_writers": median(f / o for f, o in zip(self.four, self.one, strict=True)),
        }


def measure(url: str, rounds: int, seconds: float) -> AppendFigures:
    writers = Writers(url)
    try:
        writers.rate("app", 4, min(seconds, 1.0))  # warm up: caches, prepared statements
        writers.rate("raw", 1, min(seconds, 0.5))
        raw, one, four = [], [], []
        for _ in range(rounds):
            raw.append(writers.rate("raw", 1, seconds))
            one.append(writers.rate("app", 1, seconds))
            four.append(writers.rate("app", 4, seconds))
        return AppendFigures(raw, one, four)
    finally:
        writers.close()
