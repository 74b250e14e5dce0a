"""A save returns only once its events are on disk, both ways the recorder commits: inside the
table lock, waiting there for the WAL flush (the append function), or inside the lock without
waiting, and waiting for the flush afterwards (the append procedure), which it does while
saves contend for the lock (``CasesRecorder.flush_outside_lock``).

Evidence from PostgreSQL itself, on a private server with durable settings (nothing else
writes there): saves made one after another each need their own flush of the WAL to disk
(each must be flushed after it was written and before it returns, so no two can share one),
so ``pg_stat_wal.wal_sync`` grows by at least the number of saves. Were the flush skipped,
only the WAL writer would sync, every 200 ms: a handful of times for the whole test.
"""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent

from benchmarks.reads import uncached
from infrastructure.database import create_database
from infrastructure.embedded_postgres import EmbeddedPostgres
from infrastructure.migrations import migrate
from infrastructure.settings import replace_dbname

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SAVES = 40


def wal_syncs(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT wal_sync FROM pg_stat_wal").fetchone()
    assert row is not None
    return row[0]


@pytest.fixture
def durable_server(tmp_path):
    server = EmbeddedPostgres(tmp_path / "postgres", dbname="postgres", tcp=True,
                              server_options={"fsync": "on", "synchronous_commit": "on",
                                              "wal_sync_method": "fdatasync", "autovacuum": "off"})
    admin_url = server.start()  # pgserver's binaries are a dependency: no skipping without them
    try:
        yield admin_url
    finally:
        server.stop()


@pytest.mark.parametrize("flush_outside_lock", ["never", "always"])
def test_each_save_waits_for_its_own_wal_flush(durable_server, flush_outside_lock) -> None:
    create_database(durable_server, "cases")
    url = replace_dbname(durable_server, "cases")
    migrate(url)
    app = uncached(url)
    try:
        app.recorder.flush_outside_lock = flush_outside_lock
        app.recorder.insert_events([StoredEvent(uuid.uuid4(), 1, "t", b"{}")])  # warm up
        before = wal_syncs(url)
        for _ in range(SAVES):
            app.recorder.insert_events([StoredEvent(uuid.uuid4(), 1, "t", b"{}")])
    finally:
        app.close()  # its sessions end, and report their statistics
    deadline = time.monotonic() + 5
    while (synced := wal_syncs(url) - before) < SAVES and time.monotonic() < deadline:
        time.sleep(0.2)  # statistics reach pg_stat_wal with a delay
    assert synced >= SAVES
