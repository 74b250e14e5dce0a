"""How the `pqasso` command prints: readable tables by default, JSON with --json."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO


def print_json(value: Any, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    json.dump(value, out, indent=2, ensure_ascii=False, default=str)
    out.write("\n")


def print_table(rows: Iterable[Sequence[Any]], headers: Sequence[str], out: TextIO | None = None) -> None:
    """A plain text table; cells are shown with str(), None as an empty cell."""
    out = out or sys.stdout
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out.write(line.rstrip() + "\n" + "  ".join("-" * w for w in widths) + "\n")
    for row in cells:
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
    if not cells:
        out.write("(none)\n")


def print_fields(pairs: Iterable[tuple[str, Any]], out: TextIO | None = None) -> None:
    out = out or sys.stdout
    pairs = list(pairs)
    width = max((len(k) for k, _ in pairs), default=0)
    for key, value in pairs:
        out.write(f"{key.ljust(width)}  {_cell(value)}\n")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    # One line per row: control characters keyed into free texts must not break the table.
    return "".join(ch if ch.isprintable() else " " for ch in text)
