"""What this host gives any program, measured during the benchmark's own run.

Hosts differ from session to session (BENCHMARKS.md, "The machine"), and the absolute figures
(events a second, milliseconds, commands a second) move with them far more than the ratios
do. Three probes say how fast the host is at what limits those figures, so that runs on
different hosts, or in slow and quick stretches of one host, can be told apart:

- ``machine_python_us``: a fixed piece of object-heavy Python (instances, dicts, strings,
  JSON), the kind of work a command, a projection and a request do, best of 5. It is fixed:
  change it and the figure no longer compares with earlier runs.
- ``machine_wakeup_us``: a byte sent to another process and a byte back, through pipes, each
  side blocking until the other answers: two wake-ups of a sleeping process, which every round
  trip to PostgreSQL pays as well (a client's statement wakes its backend, the answer wakes
  the client).
- ``machine_syscall_ns``: a system call that does nothing (``getppid``), net of the loop.

The run probes at the start and after each stage; each figure is the median of the probes,
and ``machine_python_us_spread`` is the slowest probe's Python over the quickest (how much the
host's speed changed during the run).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

PYTHON_REPEATS = 5
WAKEUPS = 2_000
SYSCALLS = 100_000


class _Item:
    def __init__(self, number: int, name: str) -> None:
        self.number = number
        self.name = name

    def as_dict(self) -> dict[str, object]:
        return {"number": self.number, "name": self.name, "tags": [self.name[:3], str(self.number % 7)]}


def _python_workload() -> int:
    """The fixed workload: 2,000 small objects made, turned into dicts, grouped, encoded."""
    items = [_Item(i, f"item-{i}") for i in range(2_000)]
    groups: dict[int, list[dict[str, object]]] = {}
    for item in items:
        groups.setdefault(item.number % 17, []).append(item.as_dict())
    return sum(len(json.dumps(group)) for group in groups.values())


def python_us() -> float:
    """The fixed workload's best time of ``PYTHON_REPEATS``, in µs."""
    times = []
    for _ in range(PYTHON_REPEATS):
        started = time.perf_counter()
        _python_workload()
        times.append(time.perf_counter() - started)
    return min(times) * 1e6


def wakeup_us(round_trips: int = WAKEUPS) -> float:
    """One byte to a child process and one back, through pipes, in µs per round trip."""
    child = subprocess.Popen([sys.executable, "-c", _ECHO], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, bufsize=0)
    assert child.stdin is not None and child.stdout is not None
    to_child, from_child = child.stdin.fileno(), child.stdout.fileno()
    try:
        os.write(to_child, b"x")  # the child is up and answering before the clock starts
        os.read(from_child, 1)
        started = time.perf_counter()
        for _ in range(round_trips):
            os.write(to_child, b"x")
            os.read(from_child, 1)
        return (time.perf_counter() - started) / round_trips * 1e6
    finally:
        child.stdin.close()  # the child's read then ends, and so does the child
        child.wait()
        child.stdout.close()


# The child: echo each byte until its input closes (started afresh, not forked from a
# process that may have threads).
_ECHO = "import os\nwhile os.read(0, 1):\n    os.write(1, b'x')\n"


def syscall_ns(calls: int = SYSCALLS) -> float:
    """``getppid`` in ns, net of the loop around it."""
    started = time.perf_counter()
    for _ in range(calls):
        os.getppid()
    with_calls = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(calls):
        pass
    loop = time.perf_counter() - started
    return max(0.0, with_calls - loop) / calls * 1e9


@dataclass(frozen=True)
class Probe:
    python_us: float
    wakeup_us: float
    syscall_ns: float


def probe() -> Probe:
    """All three, now (about a second at most)."""
    return Probe(python_us(), wakeup_us(), syscall_ns())


def describe(probe: Probe) -> str:
    """One line for a printed table: how fast this host is now."""
    return (f"host now: Python probe {probe.python_us:,.0f} µs, a wake-up round trip "
            f"{probe.wakeup_us:.0f} µs, getppid {probe.syscall_ns:.0f} ns (benchmarks/host.py)")


def figures(probes: list[Probe]) -> dict[str, float]:
    """Each probe's median over the run, and how far apart its slowest and quickest Python were."""
    if not probes:
        return {}
    pythons = [p.python_us for p in probes]
    return {
        "machine_python_us": statistics.median(pythons),
        "machine_python_us_spread": max(pythons) / min(pythons),
        "machine_wakeup_us": statistics.median(p.wakeup_us for p in probes),
        "machine_syscall_ns": statistics.median(p.syscall_ns for p in probes),
        "machine_probes": len(probes),
    }
