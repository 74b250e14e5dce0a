"""The host probes the benchmark takes at the start and after each stage: what each measures,
and the figures they give for a run."""

from __future__ import annotations

import math
import subprocess

import pytest

from benchmarks import host
from benchmarks.host import Probe


def test_a_runs_figures_are_each_probes_median_and_how_far_apart_its_python_times_were() -> None:
    probes = [Probe(python_us=1000.0, wakeup_us=20.0, syscall_ns=100.0),
              Probe(python_us=1500.0, wakeup_us=90.0, syscall_ns=300.0),
              Probe(python_us=1200.0, wakeup_us=30.0, syscall_ns=200.0)]

    figures = host.figures(probes)

    assert figures == {"machine_python_us": 1200.0, "machine_python_us_spread": 1.5,
                       "machine_wakeup_us": 30.0, "machine_syscall_ns": 200.0, "machine_probes": 3}


def test_no_probes_give_no_figures() -> None:
    assert host.figures([]) == {}


def test_the_python_workload_is_fixed_so_runs_on_different_hosts_compare() -> None:
    # The same work every time (its result pins it): change it, and earlier runs' figures no
    # longer compare with new ones.
    assert host._python_workload() == host._python_workload() == 119_780


def test_a_probe_measures_this_machine() -> None:
    probe = host.probe()

    assert all(math.isfinite(value) and value > 0 for value in (probe.python_us, probe.wakeup_us))
    # Net of its loop, which a busy machine may slow more than the calls: zero at the least.
    assert math.isfinite(probe.syscall_ns) and probe.syscall_ns >= 0


def test_a_system_call_is_timed_net_of_the_loop_around_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # The loop with the calls takes 5 s, the empty loop 2 s: (5 - 2) s over 1,000 calls.
    ticks = iter([10.0, 15.0, 20.0, 22.0])
    monkeypatch.setattr(host.time, "perf_counter", lambda: next(ticks))
    assert host.syscall_ns(1_000) == pytest.approx(3e6)
    # An empty loop slower than the calls' (a moment of preemption) gives zero, never less.
    ticks = iter([10.0, 11.0, 20.0, 22.0])
    assert host.syscall_ns(1_000) == 0


def test_the_wakeup_probe_leaves_no_child_behind(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[subprocess.Popen] = []
    real_popen = subprocess.Popen

    def popen(*args: object, **kwargs: object) -> subprocess.Popen:
        child = real_popen(*args, **kwargs)
        started.append(child)
        return child

    monkeypatch.setattr(host.subprocess, "Popen", popen)
    assert host.wakeup_us(round_trips=10) > 0
    (child,) = started
    assert child.returncode == 0  # it ended when its input closed, and was waited for


def test_a_probe_is_described_in_one_line_for_the_cost_tables() -> None:
    line = host.describe(Probe(python_us=4321.0, wakeup_us=87.4, syscall_ns=351.2))

    assert "\n" not in line
    assert "4,321 µs" in line and "87 µs" in line and "351 ns" in line
