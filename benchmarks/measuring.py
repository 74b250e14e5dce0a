"""What the cost tables (append_costs.py, save_parts.py) share: variants measured round by
round (wall time, the client thread's CPU, its backends' CPU from ``/proc``), the journey's
events as the append function's parameters, and text columns."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import StoredEvent

from infrastructure.audit_chain import EventChain


def backend_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process on this machine, or None if it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Variant:
    name: str
    run: Callable[[int], object]  # runs the i-th operation
    backend_pids: tuple[int, ...]  # the PostgreSQL backends it uses
    wall: list[float] = field(default_factory=list)  # µs per operation, a round each
    client: list[float] = field(default_factory=list)
    backend: list[float] = field(default_factory=list)


def _backends_cpu_seconds(pids: tuple[int, ...]) -> float | None:
    seconds = [backend_cpu_seconds(pid) for pid in pids]
    return None if not seconds or None in seconds else sum(s for s in seconds if s is not None)


def measure_round(variant: Variant, operations: int) -> None:
    """Run ``operations`` of ``variant``; add their wall time and CPU per operation."""
    backend_before = _backends_cpu_seconds(variant.backend_pids)
    client_before, started = time.thread_time(), time.perf_counter()
    for i in range(operations):
        variant.run(i)
    wall, client = time.perf_counter() - started, time.thread_time() - client_before
    backend_after = _backends_cpu_seconds(variant.backend_pids)
    variant.wall.append(wall / operations * 1e6)
    variant.client.append(client / operations * 1e6)
    if backend_before is not None and backend_after is not None:
        variant.backend.append((backend_after - backend_before) / operations * 1e6)


class CaseEvents:
    """The journey's stored events (``payloads``: topic and state) as the append function's
    parameters, a case's events one after another (so the hash chain finds the case's last
    hash), a new case whenever ``i`` starts the journey again."""

    def __init__(self, payloads: list[tuple[str, bytes]]) -> None:
        self.payloads, self.case_id = payloads, uuid.uuid4()

    def params(self, i: int) -> list[Any]:
        """The i-th save's (case id, version, topic, state, digest)."""
        version = i % len(self.payloads) + 1
        if version == 1:
            self.case_id = uuid.uuid4()
        topic, state = self.payloads[version - 1]
        digest = EventChain.digest(StoredEvent(self.case_id, version, topic, state))
        return [self.case_id, version, topic, state, digest]


def aligned(rows: list[tuple[str, ...]]) -> str:
    """Rows as text columns: the first left-aligned, the others (figures) right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                               for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
                     for row in rows)
