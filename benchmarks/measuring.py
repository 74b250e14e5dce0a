"""Small helpers the cost tables share: a process's CPU time from ``/proc``, and text columns."""

from __future__ import annotations

import os


def backend_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process on this machine, or None if it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def aligned(rows: list[tuple[str, ...]]) -> str:
    """Rows as text columns: the first left-aligned, the others (figures) right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                               for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
                     for row in rows)
