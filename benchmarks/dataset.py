"""The benchmark's data set: generated fast, in parallel, and stored through the recorder.

How it is fast without being fake: worker processes run the domain's commands on cases in
memory (``simulation.py``) and turn each event into its stored form with the application's
own mapper (the JSON transcoder the service uses). The main process sorts every event by the
day it happened, so cases interleave in the notification log as they would have over the
years, and stores them through ``CasesRecorder.insert_events`` in large batches: the same
statements as the service (table lock, NOTIFY, hash chain, composite-array INSERT), only many
events per transaction instead of one.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import cache

from eventsourcing.persistence import Mapper, StoredEvent

from application.cases import QualityMarkCases
from benchmarks.config import Sizes
from benchmarks.simulation import simulate_case

SPAN_DAYS = 8 * 365  # site visits spread over the last eight years
Row = tuple[int, int, int, StoredEvent]  # (day ordinal, case index, version, stored event)


@dataclass(frozen=True)
class DataSet:
    cases: int
    events: int
    generate_seconds: float
    load_seconds: float


@cache
def _mapper() -> Mapper:
    """The service's mapper (transcoder, no cipher), in memory: no database needed."""
    return QualityMarkCases(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}).mapper


def generate_chunk(first: int, count: int, today: date) -> list[Row]:
    """Cases ``first`` to ``first + count - 1``: their events, stored form, with their day."""
    to_stored = _mapper().to_stored_event
    rows: list[Row] = []
    for index in range(first, first + count):
        for day, event in simulate_case(index, today, SPAN_DAYS):
            rows.append((day.toordinal(), index, event.originator_version, to_stored(event)))
    return rows


def generate(sizes: Sizes, today: date) -> tuple[list[Row], int]:
    """At least ``sizes.min_cases`` cases and ``sizes.min_events`` events, sorted by day."""
    rows: list[Row] = []
    cases = 0
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2, mp_context=context) as pool:
        while cases < sizes.min_cases or len(rows) < sizes.min_events:
            per_case = len(rows) / cases if cases else 7.4  # the simulation's mean, about
            wanted = max(sizes.min_cases - cases, int((sizes.min_events - len(rows)) / per_case) + 1)
            chunks = [(cases + start, min(sizes.chunk_cases, wanted - start))
                      for start in range(0, wanted, sizes.chunk_cases)]
            for chunk in pool.map(generate_chunk, *zip(*chunks, strict=True),
                                  [today] * len(chunks)):
                rows.extend(chunk)
            cases += wanted
    rows.sort(key=lambda row: row[:3])
    return rows, cases


def batches(rows: list[Row], size: int) -> Iterator[list[StoredEvent]]:
    for start in range(0, len(rows), size):
        yield [row[3] for row in rows[start:start + size]]


def build(app: QualityMarkCases, sizes: Sizes, today: date,
          echo: Callable[[str], None] = lambda _: None) -> DataSet:
    """Generate the data set and store it through ``app``'s recorder."""
    started = time.perf_counter()
    rows, cases = generate(sizes, today)
    generated = time.perf_counter()
    echo(f"generated {cases:,} cases, {len(rows):,} events in {generated - started:.1f} s; storing")
    for batch in batches(rows, sizes.load_batch):
        app.recorder.insert_events(batch)
    loaded = time.perf_counter()
    echo(f"stored {len(rows):,} events in {loaded - generated:.1f} s")
    return DataSet(cases, len(rows), generated - started, loaded - generated)
