"""``python -m benchmarks.instructions`` counts a command's instructions under valgrind."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from benchmarks import instructions
from benchmarks.config import SMOKE

pytestmark = pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is missing")


def test_a_command_in_memory_costs_a_counted_number_of_instructions() -> None:
    per_command = instructions.per_command(9, "memory", "")  # runs of 9 and 27 commands
    # Hundreds of thousands: a command's Python, not Python's start (hundreds of millions).
    assert 50_000 < per_command < 5_000_000


def test_commands_on_postgresql_cost_more_than_in_memory(postgres_server_url) -> None:
    with ThreadPoolExecutor(2) as both:
        memory = both.submit(instructions.count, 9, "memory", "")
        postgres = both.submit(instructions.count, 9, "postgres", postgres_server_url)
        assert postgres.result() > memory.result() > 100_000_000


def test_a_rebuild_worker_spends_a_counted_number_of_instructions_on_an_event(postgres_server_url) -> None:
    # Given a small store (the smoke benchmark's ~100 cases), two workers load ranges of
    # about 100 and 300 of its events under valgrind
    per_event = instructions.per_rebuilt_event(100, postgres_server_url, SMOKE)
    # Then an event costs tens or hundreds of thousands of instructions (decoding it, its
    # rows in four read models, COPY), not a worker's start (hundreds of millions)
    assert 20_000 < per_event < 5_000_000
