"""``python -m benchmarks.append_costs --trade-offs``: what the one writer's ratio would be if
the save gave up one of its guarantees.

``append_ratio_vs_raw_insert`` measured as the benchmark measures it (benchmarks/writers.py:
a writer process running the journey's commands, against the raw INSERT-and-COMMIT), first
with the recorder's own save, then with variants of it put in its place under the same name
and arguments (``cases_insert_event``: the writer's application sends the same statement).
Each variant leaves out something the service relies on:

- the hash-chain row: no tamper evidence for new events (``pqasso audit verify``);
- the table lock, for an advisory lock: ids still follow commit order while every writer
  takes the same key, but any role that can connect may take it too, and stall every writer;
- the hash-chain row, for a hash in the event's own row (two columns added to this
  database's events table): no second witness of a deletion, and every stored chain would
  need migrating;
- both the hash-chain row and the table lock (for the advisory lock);
- everything but the INSERT: no chain, no lock (ids may then interleave under concurrent
  writers: test_benchmarks_ordering.py), no NOTIFY, no ``lock_timeout``.

Rounds: the raw INSERT, the ceiling (the commands in memory, each followed by the raw INSERT),
then the variants, in turn; each ratio against its round's raw INSERT; medians and ranges.
Only in the benchmark's throwaway database; the recorder's function is put back at the end.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from benchmarks.measuring import aligned
from benchmarks.save_parts import ADVISORY_LOCK, EVENTS_TABLE, SCHEMA, chained_insert
from benchmarks.writers import Writers
from infrastructure.recorder import (
    ONE_EVENT_DECLARATIONS,
    append_function_definition,
    append_function_statements,
    one_event_save,
)

RECORDERS_SAVE = "the recorder's save"
NO_LOCK_WAIT = sql.SQL("lock_wait_ms := 0; ")  # the function still answers how long it waited


def _variants() -> dict[str, dict[str, sql.Composable]]:
    """Each variant's statements, by the names ``one_event_save`` gives the save's parts."""
    save = one_event_save(SCHEMA, EVENTS_TABLE)

    def changed(without: str = "", instead: dict[str, sql.Composable] | None = None) -> dict[str, sql.Composable]:
        assert set(instead or {}) <= set(save), "only parts of the save are replaced"
        variant = {"lock wait": NO_LOCK_WAIT, **save, **(instead or {})}
        if without:
            del variant[without]
        return variant

    chain_row, lock, insert = "hash-chain row", "table lock", "INSERT"
    in_row = {insert: chained_insert(EVENTS_TABLE)}
    return {
        RECORDERS_SAVE: dict(save),
        "without the hash-chain row": changed(chain_row),
        "an advisory lock for the table lock": changed(instead={lock: ADVISORY_LOCK}),
        "the hash in the event's row for the chain row": changed(chain_row, in_row),
        "neither the chain row nor the table lock": changed(chain_row, {lock: ADVISORY_LOCK}),
        "the INSERT alone": {"lock wait": NO_LOCK_WAIT, insert: save[insert]},
    }


def _definition(parts: dict[str, sql.Composable]) -> sql.Composed:
    return append_function_definition(SCHEMA, EVENTS_TABLE, ONE_EVENT_DECLARATIONS,
                                      sql.SQL(" ").join(parts.values()), one=True)


@dataclass
class TradeOffs:
    raw_per_s: list[float] = field(default_factory=list)
    ceiling: list[float] = field(default_factory=list)  # per round, over the raw INSERT
    ratios: dict[str, list[float]] = field(default_factory=dict)  # the same, per variant


def measure(url: str, rounds: int, seconds: float) -> TradeOffs:
    variants = {name: _definition(parts) for name, parts in _variants().items()}
    recorders = append_function_statements(SCHEMA, EVENTS_TABLE)[0]  # the function for one event
    figures = TradeOffs(ratios={name: [] for name in variants})
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS previous_hash bytea, "
                              "ADD COLUMN IF NOT EXISTS hash bytea").format(sql.Identifier(SCHEMA, EVENTS_TABLE)))
        writers = Writers(url, count=1)
        try:
            _run(admin.execute, writers, variants, figures, rounds, seconds)
        finally:
            writers.close()
            admin.execute(recorders)
    return figures


def _run(execute: Callable[[Any], object], writers: Writers, variants: dict[str, sql.Composed],
         figures: TradeOffs, rounds: int, seconds: float) -> None:
    warm = min(seconds, 0.3)
    writers.rate("raw", 1, warm)
    writers.rate("ceiling", 1, warm)
    for _ in range(rounds):
        raw = writers.rate("raw", 1, seconds)
        figures.raw_per_s.append(raw)
        figures.ceiling.append(writers.rate("ceiling", 1, seconds) / raw)
        for name, definition in variants.items():
            execute(definition)
            writers.rate("app", 1, warm)  # the writer's backend compiles the new function
            figures.ratios[name].append(writers.rate("app", 1, seconds) / raw)


def table(figures: TradeOffs) -> str:
    median = statistics.median
    ours = median(figures.ratios[RECORDERS_SAVE])
    rows = [("one writer's commands over the raw INSERT", "median", "lowest", "highest", "vs the recorder's")]
    for name, ratios in figures.ratios.items():
        rows.append((name, f"{median(ratios):.3f}", f"{min(ratios):.3f}", f"{max(ratios):.3f}",
                     f"{median(ratios) - ours:+.3f}"))
    ceiling = figures.ceiling
    rows.append(("ceiling: in memory + raw INSERT", f"{median(ceiling):.3f}", f"{min(ceiling):.3f}",
                 f"{max(ceiling):.3f}", f"{median(ceiling) - ours:+.3f}"))
    return (aligned(rows) + f"\nraw INSERTs per second (median of {len(figures.raw_per_s)} rounds): "
            f"{median(figures.raw_per_s):,.0f}")
