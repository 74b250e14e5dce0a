"""Notification ids stay in commit order under concurrent writer processes, with the
recorder's insert as the benchmarks measure it (the whole transaction in one pipeline).

Four processes run commands through their own ``QualityMarkCases`` (the benchmark's writers)
while this test tails the notification log as a subscriber does: it never finds, later, an
id at or below a position it has already passed, nor a gap. The writers contend for the
table lock, so their saves mix both ways of committing (inside the lock, and flushing outside
it: ``CasesRecorder.flush_outside_lock``); PostgreSQL's own count of calls shows every save
went through the one-event append function or procedure (see
test_append_procedure.py). (That one transaction's ids are
contiguous is the library's ``NonInterleavingNotificationIDsBaseCase``, run against our
recorder in test_library_recorder_cases.py.)
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from benchmarks.reads import uncached
from benchmarks.writers import Writers

pytestmark = pytest.mark.integration


def calls(url: str, expected: int) -> dict[str, int]:
    """Calls of the append functions and procedure, once the writers' sessions have reported
    them (as many as ``expected``, of the functions)."""
    deadline, counted = time.monotonic() + 10, {}
    while time.monotonic() < deadline:
        with psycopg.connect(url, autocommit=True) as conn:
            counted = dict(conn.execute(
                "SELECT funcname, calls FROM pg_stat_user_functions WHERE funcname IN "
                "('cases_insert_event', 'cases_append_event')").fetchall())
        if sum(counted.values()) >= expected:
            break
        time.sleep(0.2)
    return counted


def test_a_tailing_reader_never_misses_an_id_committed_behind_its_position(fresh_migrated_url) -> None:
    with psycopg.connect(fresh_migrated_url, autocommit=True) as conn:  # for the writers' sessions
        conn.execute(f"ALTER DATABASE \"{conn.info.dbname}\" SET track_functions = 'pl'")
    writers = Writers(fresh_migrated_url, count=4)
    reader = uncached(fresh_migrated_url)
    done, rates = threading.Event(), []

    def write() -> None:
        try:
            rates.append(writers.rate("app", 4, 3.0))
        finally:
            done.set()

    position, seen, polls = 0, set(), 0
    thread = threading.Thread(target=write)
    thread.start()
    try:
        while not done.is_set():
            for notification in reader.recorder.select_notifications(position + 1, 500):
                seen.add(notification.id)
                position = max(position, notification.id)
            polls += 1
        thread.join()
        everything = {n.id for n in reader.recorder.select_notifications(1, 1_000_000)}
    finally:
        writers.close()
        reader.close()

    assert rates and rates[0] > 0 and polls > 10
    behind = sorted(i for i in everything - seen if i <= position)
    assert behind == [], f"ids {behind[:10]} were committed after the reader had passed them"
    assert everything == set(range(1, len(everything) + 1))  # gap-free
    # Each command saved one event, in one call (the writers have exited): of the one-event
    # function, or of the one-event procedure once the writers' contention was seen (how many
    # depends on the server's disk: test_concurrency.py mixes both ways on purpose).
    counted = calls(fresh_migrated_url, len(everything))
    assert sum(counted.values()) == len(everything), counted
    assert counted.get("cases_insert_event", 0) > 0, counted
