"""The benchmark's machinery on tiny sizes, so CI keeps it working (not its figures: no
benchmark is a pass/fail test). Every part runs: writer processes, the long case, the
generated data set, the projection rebuild, ``pqasso serve`` with the load generator."""

from __future__ import annotations

import json
import math

import psycopg
import pytest

from benchmarks import append_costs, report, save_parts, save_trade_offs
from benchmarks.config import SMOKE
from benchmarks.run import run_all

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REQUIRED = (
    "append_per_s", "append_ratio_vs_raw_insert", "append_per_s_4_writers", "append_speedup_4_writers",
    "append_ceiling_per_s", "append_ceiling_ratio_vs_raw_insert", "append_share_of_ceiling",
    "raw_insert_per_s_4_writers", "raw_insert_speedup_4_writers",
    "append_bare_library_per_s", "append_bare_library_ratio_vs_raw_insert", "append_speedup_vs_bare_library",
    "case_load_ms_1000_events", "case_load_ratio_vs_raw_select", "projection_catchup_events_per_s",
    "overdue_p50_ms_100k_cases", "overdue_p95_ms_100k_cases", "overdue_by_replay_ms_100k_cases",
    "http_commands_per_s_32_clients", "http_p95_ms_32_clients", "http_max_commands_per_s_32_clients",
    "http_p95_ms_at_max_32_clients", "serve_peak_rss_mb",
    "machine_python_us", "machine_python_us_spread", "machine_wakeup_us", "machine_syscall_ns",
)


def test_the_benchmarks_run_end_to_end_on_tiny_sizes(fresh_migrated_url, tmp_path) -> None:
    results = run_all(fresh_migrated_url, SMOKE, tmp_path, echo=lambda _: None, trace=tmp_path / "trace")

    assert set(REQUIRED) <= set(results)
    assert all(isinstance(v, int | float) and math.isfinite(v) for v in results.values())
    assert results["events_in_store"] >= SMOKE.min_events
    assert results["cases_in_store"] >= SMOKE.min_cases
    assert results["overdue_answers_agree"] == 1.0  # read model and replay give one answer
    assert results["overdue_replay_cases"] == SMOKE.replay_cases  # for the cases replayed
    assert results["http_errors"] == 0
    assert results["http_projection_backlog_s_after_max"] >= 0  # caught up before the open loop
    # The ceiling (the same commands in memory, each followed by the baseline's INSERT) and
    # the library's own application (the starting point) actually ran. Their figures
    # against the raw INSERT's are the benchmark's to report, not this test's to judge.
    assert results["append_ceiling_per_s"] > 0 and results["append_bare_library_per_s"] > 0
    # How busy the machine was while one writer and four ran (Linux: /proc/stat).
    assert 0 < results["append_machine_busy_1_writer"] <= 1 and 0 < results["append_machine_busy_4_writers"] <= 1
    assert results["append_machine_cpu_us_per_command_4_writers"] > 0
    assert results["append_speedup_4_writers_at_full_cpu"] > 0
    # How fast the host was: probed at the start and after each of the five stages.
    assert results["machine_probes"] == 6
    # The open-loop run sends on schedule: about its offered rate when the server keeps up.
    assert 0 < results["http_commands_per_s_32_clients"] <= 1.2 * results["http_offered_per_s_32_clients"]
    # Each command of the HTTP loads traced: (seconds since the start, latency, path, status).
    for loop in ("http_closed_loop", "http_open_loop"):
        commands = json.loads((tmp_path / "trace" / f"{loop}.json").read_text())["commands"]
        assert commands and all(latency > 0 and status in (200, 201) for _, latency, _, status in commands)
    assert 0 < results["http_p95_ms_worst_second_32_clients"]
    assert 0 <= results["http_seconds_p95_over_50_ms_32_clients"] <= SMOKE.http_seconds + 1
    report.write(results, tmp_path / "results.json")
    written = json.loads((tmp_path / "results.json").read_text())
    assert set(written) == set(results) and all(isinstance(v, int | float) for v in written.values())
    assert "append_ratio_vs_raw_insert" in report.table(results)


def test_the_append_costs_table_measures_every_variant(fresh_migrated_url) -> None:
    variants = append_costs.measure(fresh_migrated_url, rounds=1, operations=20)

    assert [v.name for v in variants] == [
        "raw INSERT (baseline)", "append function alone", "command in memory",
        "ceiling: in memory + raw INSERT", "command on PostgreSQL", "raw INSERT, spinning",
        "command on PostgreSQL, spinning"]
    assert all(len(v.wall) == 1 and v.wall[0] > 0 and len(v.client) == 1 for v in variants)
    table = append_costs.table(variants)
    assert table.count("\n") == len(variants) and "vs raw" in table


def test_the_save_parts_table_measures_each_part_and_the_recorders_save(fresh_migrated_url) -> None:
    parts = save_parts.measure(fresh_migrated_url, rounds=1, operations=20)

    assert [p.name for p in parts] == [
        "raw INSERT (baseline)", "INSERT in PL/pgSQL", "+ hash-chain row", "+ lock_timeout",
        "+ table lock", "+ NOTIFY", "+ all of them", "cases_insert_event (the recorder's save)",
        "+ advisory lock (for the table lock)", "hash chain in the event row (for + hash-chain row)"]
    assert all(len(p.wall) == 1 and p.wall[0] > 0 for p in parts)
    with psycopg.connect(fresh_migrated_url) as conn:
        # Every variant saved real events (a case's in turn) and, where it has one, its chain row.
        events, hashes = conn.execute(
            "SELECT (SELECT count(*) FROM cases_events), (SELECT count(*) FROM cases_event_hashes)").fetchone()
        chained = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE originator_version > 1 AND previous_hash = decode(repeat('00', 32), 'hex')) "
            "FROM bench_chained_events").fetchone()
    warm_and_measured = 20 + 20  # per variant: the warm-up (at most 300) and the round
    assert events == 8 * warm_and_measured
    assert hashes == 3 * warm_and_measured  # the chain row alone, all of them, the recorder's save
    # The chain in the event row links each case's events: only a case's first starts afresh.
    assert chained == (warm_and_measured, 0)
    table = save_parts.table(parts)
    assert table.count("\n") == len(parts) and "backend vs INSERT" in table


def test_the_trade_offs_put_each_variant_of_the_save_in_its_place_then_the_recorders_back(
        fresh_migrated_url) -> None:
    def append_functions(conn: psycopg.Connection) -> list[tuple[str]]:
        return conn.execute("SELECT prosrc FROM pg_catalog.pg_proc WHERE proname = 'cases_insert_event'").fetchall()

    with psycopg.connect(fresh_migrated_url) as conn:
        recorders = append_functions(conn)

    figures = save_trade_offs.measure(fresh_migrated_url, rounds=1, seconds=0.2)

    assert list(figures.ratios) == [
        "the recorder's save", "without the hash-chain row", "an advisory lock for the table lock",
        "the hash in the event's row for the chain row", "neither the chain row nor the table lock",
        "the INSERT alone"]
    assert all(len(ratios) == 1 and ratios[0] > 0 for ratios in figures.ratios.values())
    assert len(figures.ceiling) == len(figures.raw_per_s) == 1 and figures.ceiling[0] > 0
    with psycopg.connect(fresh_migrated_url) as conn:
        # Each variant replaced the one function (no overload beside it), and it is back.
        assert len(recorders) == 1 and append_functions(conn) == recorders
        chained, unchained, hashed_in_row = conn.execute(
            "SELECT count(*) FILTER (WHERE h.hash IS NOT NULL), count(*) FILTER (WHERE h.hash IS NULL), "
            "count(e.hash) FROM cases_events e LEFT JOIN cases_event_hashes h "
            "ON (h.originator_id, h.originator_version) = (e.originator_id, e.originator_version)").fetchone()
    # The variants did what they are named for: some saves chained, some not, some in the row.
    assert chained > 0 and unchained > 0 and hashed_in_row > 0
    table = save_trade_offs.table(figures)
    assert table.count("\n") == len(figures.ratios) + 2 and "the INSERT alone" in table
