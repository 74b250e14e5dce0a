"""The append benchmark's figures from its rounds: how busy the machine was, what a command
cost it, and the speedup four writers would reach with every core busy at that cost."""

from __future__ import annotations

import multiprocessing
import sys

import pytest

from benchmarks.writers import (
    WRITER_MODULES,
    AppendFigures,
    Round,
    machine_cpu_ticks,
    writer_processes,
)


def figures(one: list[Round], four: list[Round], cores: int = 2) -> dict[str, float]:
    rates = [1.0] * len(one)
    return AppendFigures(rates, one, four, rates, rates, rates, cores=cores).figures()


def test_a_command_costs_the_machine_its_busy_cores_over_the_rate() -> None:
    # One writer: 1,000 commands/s with 2 cores 40% busy: 0.8 ms of CPU a command.
    # Four writers: 1,600/s with 2 cores 80% busy: 1 ms a command; with every core busy
    # at that cost, 2,000/s: twice one writer.
    results = figures([Round(1000.0, 0.4)], [Round(1600.0, 0.8)])

    assert results["append_machine_busy_1_writer"] == pytest.approx(0.4)
    assert results["append_machine_busy_4_writers"] == pytest.approx(0.8)
    assert results["append_machine_cpu_us_per_command"] == pytest.approx(800.0)
    assert results["append_machine_cpu_us_per_command_4_writers"] == pytest.approx(1000.0)
    assert results["append_speedup_4_writers_at_full_cpu"] == pytest.approx(2.0)
    assert results["append_speedup_4_writers"] == pytest.approx(1.6)


def test_each_round_is_compared_with_its_own_one_writer_round_and_the_median_taken() -> None:
    one = [Round(1000.0, 0.5), Round(500.0, 0.25), Round(1000.0, 0.5)]
    four = [Round(2000.0, 1.0), Round(2000.0, 1.0), Round(1000.0, 0.5)]

    results = figures(one, four, cores=1)

    # at full CPU: 1,000,000 / 500 µs = 2,000/s, over 1,000, 500 and 1,000/s
    assert results["append_speedup_4_writers_at_full_cpu"] == pytest.approx(2.0)
    assert results["append_machine_cpu_us_per_command_4_writers"] == pytest.approx(500.0)


def test_four_writers_are_compared_with_each_rounds_raw_insert_too() -> None:
    # Rounds of 2,000, 1,000 and 2,000 raw INSERTs/s; four writers 1,600, 900 and 1,400/s:
    # 0.8, 0.9 and 0.7 of their round's raw INSERT; the median is 0.8, above the 0.75 both
    # append targets need together (0.5 for one writer x 1.5 for four).
    raw = [2000.0, 1000.0, 2000.0]
    one = [Round(1000.0, 0.4), Round(500.0, 0.4), Round(1100.0, 0.4)]
    four = [Round(1600.0, 0.8), Round(900.0, 0.8), Round(1400.0, 0.8)]

    results = AppendFigures(raw, one, four, raw, raw, raw, cores=2).figures()

    assert results["append_4_writers_ratio_vs_raw_insert"] == pytest.approx(0.8)
    assert results["append_ratio_vs_raw_insert"] == pytest.approx(0.5)
    assert results["append_speedup_4_writers"] == pytest.approx(1.6)


def test_no_machine_figures_without_proc_stat() -> None:
    results = figures([Round(1000.0, None)], [Round(1600.0, None)])

    assert not any(name.startswith("append_machine") or name.endswith("_at_full_cpu") for name in results)
    assert results["append_speedup_4_writers"] == pytest.approx(1.6)


def test_no_machine_figures_when_a_round_ran_no_command() -> None:
    results = figures([Round(1000.0, 0.4), Round(1000.0, 0.4)], [Round(1600.0, 0.8), Round(0.0, 0.1)])

    assert not any(name.startswith("append_machine") or name.endswith("_at_full_cpu") for name in results)


def test_the_machine_ticks_grow_and_busy_never_exceeds_total() -> None:
    first = machine_cpu_ticks()
    if first is None:
        pytest.skip("no /proc/stat on this system")
    sum(i * i for i in range(300_000))
    second = machine_cpu_ticks()
    assert second is not None
    assert 0 <= first[0] <= first[1] and 0 <= second[0] <= second[1]
    assert second[1] >= first[1] and second[0] >= first[0]


def _report_imported(queue: multiprocessing.Queue[bool]) -> None:
    queue.put("application.cases" in sys.modules)


@pytest.mark.skipif("forkserver" not in multiprocessing.get_all_start_methods(), reason="no fork server here")
def test_writers_start_with_the_application_imported_as_the_services_workers_do() -> None:
    context = writer_processes()
    queue = context.Queue()
    process = context.Process(target=_report_imported, args=(queue,))
    process.start()
    try:
        assert context.get_start_method() == "forkserver"
        assert queue.get(timeout=60) is True  # imported by the fork server, before the fork
    finally:
        process.join(timeout=30)
    assert "application.cases" in WRITER_MODULES
