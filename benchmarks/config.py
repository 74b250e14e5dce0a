"""How big and how long each benchmark is: the full run, the quick one, and CI's smoke test."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    """Sizes of one benchmark run."""

    name: str
    min_cases: int  # cases generated (at least)...
    min_events: int  # ...and events (generation goes on in chunks until both are reached)
    chunk_cases: int  # cases per generator task
    load_batch: int  # stored events per transaction when loading the generated data
    rounds: int  # append rounds, each: raw inserts, one writer, four writers
    round_seconds: float
    long_case_events: int  # the case rebuilt with and without snapshots
    load_repeats: int  # loads of that case (and raw SELECTs of its rows) per figure
    overdue_requests: int  # sequential GET /overdue (after a few unmeasured ones)
    http_clients: int
    http_rate: float  # commands/s offered in all by the open-loop run (the target's 500, +5%)
    http_seconds: float  # each command load runs this long...
    http_max_commands: int  # ...or until this many commands were answered
    # Overdue by loading every aggregate (None: all of them), or this many spread over the
    # store; either way checked against the read model's answer for the cases loaded.
    replay_cases: int | None
    serve_workers: int | None = None  # `pqasso serve --workers` (None: one per core)


FULL = Sizes(
    name="full", min_cases=100_000, min_events=1_000_000, chunk_cases=2_500, load_batch=1_000,
    rounds=7, round_seconds=2.0, long_case_events=1_000, load_repeats=30,
    overdue_requests=300, http_clients=32, http_rate=525.0, http_seconds=20.0, http_max_commands=50_000,
    replay_cases=None,
)

QUICK = Sizes(
    name="quick", min_cases=5_000, min_events=40_000, chunk_cases=1_000, load_batch=1_000,
    rounds=2, round_seconds=0.5, long_case_events=1_000, load_repeats=10,
    overdue_requests=50, http_clients=32, http_rate=525.0, http_seconds=4.0, http_max_commands=10_000,
    replay_cases=2_000,  # a third of the cases: replaying them all was a third of the run
)

# For tests/integration/test_benchmarks_smoke.py: every part runs, on tiny sizes.
SMOKE = Sizes(
    name="smoke", min_cases=100, min_events=600, chunk_cases=50, load_batch=200,
    rounds=1, round_seconds=0.2, long_case_events=60, load_repeats=2,
    overdue_requests=3, http_clients=4, http_rate=40.0, http_seconds=0.5, http_max_commands=100,
    replay_cases=60,  # of ~100 cases: the sampled replay, checked as in --quick
)

SIZES = {sizes.name: sizes for sizes in (FULL, QUICK, SMOKE)}
