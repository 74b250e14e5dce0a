"""``python -m benchmarks.append_costs --parts``: what each part of the save costs PostgreSQL.

The append function (``cases_insert_event``, infrastructure/recorder.py) does more than the
raw INSERT it is compared with: the hash-chain row, ``lock_timeout``, the table lock (through
its SECURITY DEFINER function), NOTIFY. Here each part runs alone on top of the same INSERT in
a PL/pgSQL function of the same arguments, then all of them, then the recorder's own
statement; then two alternatives, measured and left (BENCHMARKS.md): an advisory lock instead
of the table lock, and the hash chain in the event's own row instead of a row of its own
(into ``bench_chained_events``, the events table's shape plus the two hashes). Each variant
runs on its own connection, the variants alternating round after round (a noisy moment hits
them all), medians over the rounds: wall time and the backend's CPU per save (from ``/proc``,
so for a server on this machine only). The variants' functions are created in the
benchmark's own throwaway database, and save a case's events in turn, as the journey does.
"""

from __future__ import annotations

import statistics
from contextlib import ExitStack
from functools import partial
from typing import Any

import psycopg
from psycopg import sql

from application.cases import QualityMarkCases
from benchmarks.journeys import stored_payloads
from benchmarks.measuring import CaseEvents, Variant, aligned, measure_round
from benchmarks.reads import bench_env
from benchmarks.writers import RAW_DDL, insert_raw
from infrastructure.audit_chain import EventChain
from infrastructure.recorder import CasesRecorder, lock_function_name, one_event_save

EVENTS_TABLE = "cases_events"
SCHEMA = "public"
CHAINED_EVENTS_TABLE = "bench_chained_events"
ADVISORY_LOCK_KEY = 4_242  # any constant: only this benchmark's variant takes it

ADVISORY_LOCK = sql.SQL("PERFORM pg_catalog.pg_advisory_xact_lock({});").format(sql.Literal(ADVISORY_LOCK_KEY))
_SAVE = one_event_save(SCHEMA, EVENTS_TABLE)  # the recorder's statements, by name
_INSERT = _SAVE["INSERT"]


def _parts() -> dict[str, sql.Composable]:
    """Each part of the append function's save, as the PL/pgSQL it runs: the recorder's own,
    but for ``lock_timeout``, a constant here (the variants take no timeout argument), and the
    table lock, taken without timing its wait."""
    return {
        "hash-chain row": _SAVE["hash-chain row"],
        "lock_timeout": sql.SQL("PERFORM pg_catalog.set_config('lock_timeout', '5s', true);"),
        "table lock": sql.SQL("PERFORM {}();").format(sql.Identifier(SCHEMA, lock_function_name(EVENTS_TABLE))),
        "NOTIFY": _SAVE["NOTIFY"],
    }


def chained_insert(table_name: str = CHAINED_EVENTS_TABLE) -> sql.Composable:
    """The alternative to the hash-chain row: the event's INSERT carries its hash (and the
    previous), linked to the case's latest event in the same table (one with the events
    table's columns and ``previous_hash`` and ``hash``)."""
    table = sql.Identifier(SCHEMA, table_name)
    previous = EventChain(SCHEMA, EVENTS_TABLE).previous("event_id", "event_version", table=table)
    return sql.SQL(
        "INSERT INTO {table} AS e (originator_id, originator_version, topic, state, previous_hash, hash) "
        "SELECT event_id, event_version, event_topic, event_state, link.previous, "
        "pg_catalog.sha256(event_digest || link.previous) FROM (SELECT {previous} AS previous) AS link "
        "RETURNING e.notification_id INTO notification_id;"
    ).format(table=table, previous=previous)


def _variant_bodies() -> dict[str, tuple[sql.Composable, sql.Composable]]:
    """Each variant's PL/pgSQL: (what it does before, its INSERT of the event)."""
    parts = _parts()
    bodies: dict[str, tuple[sql.Composable, sql.Composable]] = {"INSERT in PL/pgSQL": (sql.SQL(""), _INSERT)}
    bodies.update({f"+ {name}": (body, _INSERT) for name, body in parts.items()})
    bodies["+ all of them"] = (sql.SQL(" ").join(parts.values()), _INSERT)
    return bodies


def _alternative_bodies() -> dict[str, tuple[sql.Composable, sql.Composable]]:
    """The alternatives, after the recorder's save: compare each with the part it replaces."""
    return {
        "+ advisory lock (for the table lock)": (ADVISORY_LOCK, _INSERT),
        "hash chain in the event row (for + hash-chain row)": (sql.SQL(""), chained_insert()),
    }


def measure(url: str, rounds: int, operations: int) -> list[Variant]:
    with ExitStack() as resources:
        return _measure(url, rounds, operations, resources)


def _connect(url: str, resources: ExitStack) -> psycopg.Connection[Any]:
    return resources.enter_context(psycopg.connect(url, autocommit=True))


def _measure(url: str, rounds: int, operations: int, resources: ExitStack) -> list[Variant]:
    setup = _connect(url, resources)
    for statement in RAW_DDL:
        setup.execute(statement)
    setup.execute(sql.SQL(  # the events table's shape (benchmarks/writers.py), plus the hashes
        "CREATE TABLE IF NOT EXISTS {} (originator_id uuid NOT NULL, originator_version bigint NOT NULL, "
        "topic text, state bytea, notification_id bigserial UNIQUE, previous_hash bytea NOT NULL, "
        "hash bytea NOT NULL, PRIMARY KEY (originator_id, originator_version))").format(
            sql.Identifier(SCHEMA, CHAINED_EVENTS_TABLE)))
    payloads = stored_payloads()
    raw = _connect(url, resources)
    parts = [Variant("raw INSERT (baseline)", partial(insert_raw, raw, payloads), (raw.info.backend_pid,))]

    def function_variant(index: int, name: str, before: sql.Composable, insert: sql.Composable) -> Variant:
        function = sql.Identifier(f"bench_save_part_{index}")
        setup.execute(sql.SQL(
            "CREATE OR REPLACE FUNCTION {}(event_id uuid, event_version bigint, event_topic text, "
            "event_state bytea, event_digest bytea, OUT notification_id bigint) "
            "LANGUAGE plpgsql AS $body$ BEGIN {} {} END $body$").format(function, before, insert))
        return _saving(name, sql.SQL(
            "SELECT saved.notification_id FROM {}(%s::uuid, %s::bigint, %s::text, %s::bytea, "
            "%s::bytea) AS saved").format(function).as_bytes(setup), url, payloads, resources)

    variants = _variant_bodies()
    parts += [function_variant(index, name, *body) for index, (name, body) in enumerate(variants.items())]
    parts.append(_saving(f"{EVENTS_TABLE.removesuffix('_events')}_insert_event (the recorder's save)",
                         _recorder_statement(url), url, payloads, resources))
    parts += [function_variant(len(variants) + index, name, *body)
              for index, (name, body) in enumerate(_alternative_bodies().items())]
    for part in parts:  # warm: prepared statements, caches
        for i in range(min(operations, 300)):
            part.run(i)
    for _ in range(rounds):
        for part in parts:
            measure_round(part, operations)
    return parts


def _saving(name: str, statement: bytes, url: str, payloads: list[tuple[str, bytes]],
            resources: ExitStack) -> Variant:
    """A variant running ``statement`` with the journey's events on a connection of its own."""
    conn, events = _connect(url, resources), CaseEvents(payloads)
    return Variant(name, lambda i: conn.execute(statement, events.params(i), prepare=True),
                   (conn.info.backend_pid,))


def _recorder_statement(url: str) -> bytes:
    """The statement ``CasesRecorder`` sends for one event without an idempotency key."""
    app = QualityMarkCases(env=bench_env(url))
    try:
        assert isinstance(app.recorder, CasesRecorder)
        return app.recorder._append_statement(one=True, keyed=False, flush=False)  # noqa: SLF001
    finally:
        app.close()


def table(parts: list[Variant]) -> str:
    median = statistics.median
    base = next(p for p in parts if p.name == "INSERT in PL/pgSQL")
    base_wall = median(base.wall)
    base_backend = median(base.backend) if base.backend else None
    rows = [("per save (medians)", "wall µs", "backend CPU µs", "wall vs INSERT", "backend vs INSERT")]
    for part in parts:
        wall = median(part.wall)
        backend = median(part.backend) if part.backend else None
        rows.append((
            part.name, f"{wall:.0f}", "n/a" if backend is None else f"{backend:.0f}",
            f"{wall - base_wall:+.0f}",
            "n/a" if backend is None or base_backend is None else f"{backend - base_backend:+.0f}"))
    return aligned(rows)
