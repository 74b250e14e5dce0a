"""Notification ids stay in commit order under concurrent writer processes, with the
recorder's insert as the benchmarks measure it (the whole transaction in one pipeline).

Four processes run commands through their own ``QualityMarkCases`` (the benchmark's writers)
while this test tails the notification log as a subscriber does: it never finds, later, an
id at or below a position it has already passed. (That one transaction's ids are
contiguous is the library's ``NonInterleavingNotificationIDsBaseCase``, run against our
recorder in test_library_recorder_cases.py.)
"""

from __future__ import annotations

import threading

import pytest

from benchmarks.reads import uncached
from benchmarks.writers import Writers

pytestmark = pytest.mark.integration


def test_a_tailing_reader_never_misses_an_id_committed_behind_its_position(fresh_migrated_url) -> None:
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
