"""Waiting for PostgreSQL's answer by spinning instead of sleeping: a diagnostic of what a
round trip's wait costs on this machine beyond the server's work (``make bench-costs``).

A client that sends a statement and waits in ``poll()`` lets its core go idle; the answer
then wakes it (on a VM, the virtual CPU halts and is woken by the host), and it resumes on
caches others have used meanwhile. Every round trip pays that, the raw INSERT's as much as a
command's. A connection whose ``wait`` spins (``spin_while_waiting``) asks libpq for the
answer again and again without sleeping, so neither its core nor its caches are given up.

Only for measuring: a spinning client burns its core for the whole wait, which four writers
or a server's workers on two cores cannot spare. The service never spins (BENCHMARKS.md,
"Appending, one writer").
"""

from __future__ import annotations

from typing import Any

from psycopg import Connection
from psycopg.abc import RV, PQGen
from psycopg.waiting import Ready


def spin(gen: PQGen[RV], *_args: Any, **_kwargs: Any) -> RV:
    """Drive one of psycopg's generators (as ``Connection.wait`` does) telling it the socket
    is always ready: its nonblocking reads and flushes then run in a loop until the answer
    has come. (Its generators read again after a ready that brought nothing.)"""
    try:
        next(gen)
        while True:
            gen.send(Ready.RW)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


def spin_while_waiting(conn: Connection[Any]) -> Connection[Any]:
    """``conn``, from now on spinning wherever it would wait for the server (its cursors'
    statements, commits, the recorder's prepared save). Returns it."""
    conn.wait = spin  # type: ignore[method-assign]
    return conn
