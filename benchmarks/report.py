"""The figures: targets, the printed table and ``benchmarks/results.json``."""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Target:
    figure: str
    compare: Callable[[float, float], bool]
    limit: float
    text: str


TARGETS = {target.figure: target for target in (
    Target("append_ratio_vs_raw_insert", operator.ge, 0.5, ">= 0.5"),
    Target("append_speedup_4_writers", operator.ge, 1.5, ">= 1.5"),
    Target("case_load_ratio_vs_raw_select", operator.le, 3.0, "<= 3"),
    Target("projection_catchup_events_per_s", operator.ge, 20_000, ">= 20,000"),
    Target("overdue_p95_ms_100k_cases", operator.le, 20.0, "<= 20 ms"),
    Target("http_commands_per_s_32_clients", operator.ge, 500, ">= 500"),
    Target("http_p95_ms_32_clients", operator.le, 50.0, "<= 50 ms"),
    Target("serve_peak_rss_mb", operator.le, 200.0, "<= 200 MiB"),
)}

# The order of the table; figures not listed here follow, as context.
ORDER = (
    "raw_insert_per_s", "append_per_s", "append_ratio_vs_raw_insert", "append_per_s_4_writers",
    "append_speedup_4_writers", "append_4_writers_ratio_vs_raw_insert", "append_ceiling_per_s", "append_ceiling_ratio_vs_raw_insert",
    "append_share_of_ceiling", "append_bare_library_per_s", "append_bare_library_ratio_vs_raw_insert",
    "append_speedup_vs_bare_library", "raw_insert_per_s_4_writers", "raw_insert_speedup_4_writers",
    "append_machine_busy_1_writer", "append_machine_busy_4_writers", "append_machine_cpu_us_per_command",
    "append_machine_cpu_us_per_command_4_writers", "append_speedup_4_writers_at_full_cpu",
    "raw_select_ms_1000_rows", "case_load_ms_1000_events",
    "case_load_ratio_vs_raw_select", "case_load_ms_at_snapshot", "case_load_ms_no_snapshots",
    "events_in_store", "cases_in_store", "projection_catchup_events_per_s",
    "overdue_p50_ms_100k_cases", "overdue_p95_ms_100k_cases", "overdue_items",
    "overdue_by_replay_ms_100k_cases", "http_offered_per_s_32_clients",
    "http_commands_per_s_32_clients", "http_p50_ms_32_clients", "http_p95_ms_32_clients",
    "http_p95_ms_worst_second_32_clients", "http_seconds_p95_over_50_ms_32_clients",
    "http_max_commands_per_s_32_clients", "http_p50_ms_at_max_32_clients",
    "http_p95_ms_at_max_32_clients", "http_errors", "serve_peak_rss_mb",
)


def verdict(figure: str, value: float) -> str:
    target = TARGETS.get(figure)
    if target is None:
        return ""
    return "holds" if target.compare(value, target.limit) else "MISSED"


def table(results: Mapping[str, float]) -> str:
    names = [n for n in ORDER if n in results] + sorted(set(results) - set(ORDER))
    rows = [("figure", "value", "target", "")]
    for name in names:
        target = TARGETS.get(name)
        rows.append((name, _format(results[name]), target.text if target else "", verdict(name, results[name])))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(width) if i != 1 else cell.rjust(width)
                       for i, (cell, width) in enumerate(zip(row, widths, strict=True))).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _format(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer() and abs(value) >= 100:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def write(results: Mapping[str, float], path: Path) -> None:
    """One flat JSON object: figure name to number."""
    clean = {name: (round(value, 4) if isinstance(value, float) else value) for name, value in results.items()}
    path.write_text(json.dumps(clean, indent=2, sort_keys=True) + "\n")
