"""``python -m benchmarks.append_costs --parts``: what each part of the save costs PostgreSQL.

The append function (``cases_insert_event``, infrastructure/recorder.py) does more than the
raw INSERT it is compared with: the hash-chain row, ``lock_timeout``, the table lock (through
its SECURITY DEFINER function), NOTIFY. Here each part runs alone on top of the same INSERT in
a PL/pgSQL function of the same arguments, then all of them, then the recorder's own
statement, each on its own connection, the variants alternating round after round (a noisy
moment hits them all), medians over the rounds: wall time and the backend's CPU per save
(from ``/proc``, so for a server on this machine only). The variants' functions are created in
the benchmark's own throwaway database, and save a case's events in turn, as the journey does.
"""

from __future__ import annotations

import statistics
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import psycopg
from eventsourcing.persistence import StoredEvent
from psycopg import sql

from benchmarks.journeys import stored_payloads
from benchmarks.measuring import aligned, backend_cpu_seconds
from benchmarks.reads import bench_env
from benchmarks.writers import RAW_DDL, insert_raw
from infrastructure.audit_chain import EventChain
from infrastructure.recorder import CasesRecorder, lock_function_name

EVENTS_TABLE = "cases_events"
SCHEMA = "public"

_INSERT = sql.SQL(
    "INSERT INTO {events} AS e (originator_id, originator_version, topic, state) "
    "VALUES (event_id, event_version, event_topic, event_state) "
    "RETURNING e.notification_id INTO notification_id;")


def _parts() -> dict[str, sql.Composable]:
    """Each part of the append function's save, as the PL/pgSQL it runs."""
    chain = EventChain(SCHEMA, EVENTS_TABLE)
    return {
        "hash-chain row": chain.plpgsql_one("event_id", "event_version", "event_digest"),
        "lock_timeout": sql.SQL("PERFORM pg_catalog.set_config('lock_timeout', '5s', true);"),
        "table lock": sql.SQL("PERFORM {}();").format(sql.Identifier(SCHEMA, lock_function_name(EVENTS_TABLE))),
        "NOTIFY": sql.SQL("NOTIFY {};").format(sql.Identifier(EVENTS_TABLE)),
    }


def _variant_bodies() -> dict[str, sql.Composable]:
    parts = _parts()
    bodies: dict[str, sql.Composable] = {"INSERT in PL/pgSQL": sql.SQL("")}
    bodies.update({f"+ {name}": body for name, body in parts.items()})
    bodies["+ all of them"] = sql.SQL(" ").join(parts.values())
    return bodies


@dataclass
class Part:
    name: str
    statement: Any  # the statement one save runs, with the event's five values as parameters
    conn: psycopg.Connection[Any]
    wall: list[float] = field(default_factory=list)
    backend: list[float] = field(default_factory=list)


def measure(url: str, rounds: int, operations: int) -> list[Part]:
    with ExitStack() as resources:
        return _measure(url, rounds, operations, resources)


def _connect(url: str, resources: ExitStack) -> psycopg.Connection[Any]:
    return resources.enter_context(psycopg.connect(url, autocommit=True))


def _measure(url: str, rounds: int, operations: int, resources: ExitStack) -> list[Part]:
    setup = _connect(url, resources)
    for statement in RAW_DDL:
        setup.execute(statement)
    events = sql.Identifier(SCHEMA, EVENTS_TABLE)
    parts = [Part("raw INSERT (baseline)", None, _connect(url, resources))]
    for index, (name, body) in enumerate(_variant_bodies().items()):
        function = sql.Identifier(f"bench_save_part_{index}")
        setup.execute(sql.SQL(
            "CREATE OR REPLACE FUNCTION {}(event_id uuid, event_version bigint, event_topic text, "
            "event_state bytea, event_digest bytea, OUT notification_id bigint) "
            "LANGUAGE plpgsql AS $body$ BEGIN {} {} END $body$").format(
                function, body, _INSERT.format(events=events)))
        parts.append(Part(name, sql.SQL(
            "SELECT saved.notification_id FROM {}(%s::uuid, %s::bigint, %s::text, %s::bytea, "
            "%s::bytea) AS saved").format(function).as_bytes(setup), _connect(url, resources)))
    recorder_statement = _recorder_statement(url)
    parts.append(Part(f"{EVENTS_TABLE.removesuffix('_events')}_insert_event (the recorder's save)",
                      recorder_statement, _connect(url, resources)))

    payloads = stored_payloads()
    for part in parts:  # warm: prepared statements, caches
        _run(part, payloads, min(operations, 300))
    for _ in range(rounds):
        for part in parts:
            pid = part.conn.info.backend_pid
            before, started = backend_cpu_seconds(pid), time.perf_counter()
            _run(part, payloads, operations)
            wall, after = time.perf_counter() - started, backend_cpu_seconds(pid)
            part.wall.append(wall / operations * 1e6)
            if before is not None and after is not None:
                part.backend.append((after - before) / operations * 1e6)
    return parts


def _recorder_statement(url: str) -> bytes:
    """The statement ``CasesRecorder`` sends for one event without an idempotency key."""
    from application.cases import QualityMarkCases

    app = QualityMarkCases(env=bench_env(url))
    try:
        assert isinstance(app.recorder, CasesRecorder)
        return app.recorder._append_statement(one=True, keyed=False, flush=False)  # noqa: SLF001
    finally:
        app.close()


def _run(part: Part, payloads: list[tuple[str, bytes]], operations: int) -> None:
    if part.statement is None:
        for i in range(operations):
            insert_raw(part.conn, payloads, i)
        return
    case_id = uuid.uuid4()
    for i in range(operations):
        version = i % len(payloads) + 1  # a case's events in turn (the chain finds the last hash)
        if version == 1:
            case_id = uuid.uuid4()
        topic, state = payloads[version - 1]
        digest = EventChain.digest(StoredEvent(case_id, version, topic, state))
        part.conn.execute(part.statement, [case_id, version, topic, state, digest], prepare=True)


def table(parts: list[Part]) -> str:
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
