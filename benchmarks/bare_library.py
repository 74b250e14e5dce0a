"""The issue's starting point, measured in the same run: a bare ``eventsourcing`` application
(the library's PostgreSQL recorder and defaults, nothing of ours) saving one-event aggregates.

On the issue's machine that managed ~530 saves a second against ~2,500 raw INSERTs (0.2); this
measures the same thing beside our baseline, so the append ratio can be read against where
the library itself starts on the same host (``append_bare_library_ratio_vs_raw_insert``).
Its table is ``barebench_events``, in the benchmark's throwaway database.
"""

from __future__ import annotations

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from infrastructure.settings import eventsourcing_env


class Note(Aggregate):
    """An aggregate whose one event carries ``text``."""

    def __init__(self, text: str) -> None:
        self.text = text


class BareBench(Application[object]):
    """The library's application as it comes: tables ``barebench_events`` (and snapshots)."""


def bare_application(url: str) -> BareBench:
    env = eventsourcing_env(url, pool_size=1, max_overflow=3)
    del env["POSTGRES_PRE_PING"]  # the library's default: off
    return BareBench(env={**env, "CREATE_TABLE": "true"})


class BareSaves:
    """One-event aggregates saved one after another, each with text of one of the journey's
    stored events' sizes (so rows of about the baseline's sizes)."""

    def __init__(self, url: str, sizes: list[int]) -> None:
        self.app = bare_application(url)
        self.texts = ["x" * size for size in sizes]
        self.done = 0

    def save_one(self) -> None:
        self.app.save(Note(self.texts[self.done % len(self.texts)]))
        self.done += 1

    def close(self) -> None:
        self.app.close()
