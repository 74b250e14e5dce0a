"""The supervisor on PostgreSQL: follow, recover from lost notifications, dead listeners,
crashes mid-batch and killed workers, and run two at once without corrupting anything.
(The live path in detail, with concurrent writers: test_projection_live.py.)"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from application.cases import QualityMarkCases
from projections import deadlines, leadership
from projections.base import upsert
from projections.runner import ProjectionSupervisor
from tests.integration.test_projection_histories import projection_database, record_history

pytestmark = pytest.mark.integration
FAST = dict(watchdog_interval=0.1, backoff=(0.1, 1.0))


@pytest.fixture
def db(postgres_server_url):
    with projection_database(postgres_server_url) as database:
        yield database


@pytest.fixture
def app(db):
    application = QualityMarkCases(env=db.env)
    yield application
    application.close()


def following(supervisor: ProjectionSupervisor, timeout: float = 20) -> bool:
    """Every read model caught up and followed live."""
    deadline = time.monotonic() + timeout
    while {s.state for s in supervisor.status()} != {"following"}:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return supervisor.wait_until_caught_up(timeout)


def rebuilt(db) -> dict:
    """The tables as a clean rebuild makes them."""
    with ProjectionSupervisor(db.env) as supervisor:
        supervisor.rebuild()
    return db.dump()


def test_catches_up_then_follows_new_events_as_they_are_notified(db, app):
    record_history(app, random.Random(1), 40, save_every=3)
    with ProjectionSupervisor(db.env, watchdog_interval=60) as supervisor:
        supervisor.start()
        assert following(supervisor)
        record_history(app, random.Random(2), 20)
        # Well within the interval of the fallback poll: the NOTIFY was enough.
        assert supervisor.wait_until_caught_up(timeout=10)
        statuses = supervisor.status()
        assert {s.state for s in statuses} == {"following"}
        assert {s.lag for s in statuses} == {0} and {s.restarts for s in statuses} == {0}
        followed = db.dump()
    assert followed == rebuilt(db)


def test_a_lost_notify_is_caught_up_by_the_fallback_poll(db, app):
    with ProjectionSupervisor(db.env, watchdog_interval=1.0, backoff=(0.1, 1.0)) as supervisor:
        supervisor.start()
        assert following(supervisor)
        # The NOTIFYs are lost (the event store NOTIFYs in SQL: lose them as they arrive).
        supervisor.listener.wait = lambda timeout: supervisor._stopping.wait(max(0.0, timeout)) and False
        record_history(app, random.Random(3), 10)
        started = time.monotonic()
        assert supervisor.wait_until_caught_up(timeout=15)
        assert time.monotonic() - started < 1.0 + 5  # the next tick's pass (slack: a busy machine)
        statuses = supervisor.status()  # nothing failed: nothing restarted
        assert {(s.state, s.restarts, s.last_problem) for s in statuses} == {("following", 0, None)}
        del supervisor.listener.wait
        record_history(app, random.Random(4), 5)  # and it follows the NOTIFY afterwards
        assert supervisor.wait_until_caught_up(timeout=10)


def kill_sessions(db) -> int:
    """Terminate the supervisors' sessions (the LISTEN and the leader locks)."""
    return len(db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                          "datname = current_database() AND application_name = %s",
                          (leadership.APPLICATION_NAME,)))


def test_a_killed_listener_connection_is_replaced_and_counted_as_a_restart(db, app):
    with ProjectionSupervisor(db.env, watchdog_interval=60, backoff=(0.1, 1.0)) as supervisor:
        supervisor.start()
        assert following(supervisor)
        assert kill_sessions(db) == 1  # one session (LISTEN and leader locks) per supervisor
        deadline = time.monotonic() + 10  # noticed at once, not at the next tick (60 s)
        while any(s.restarts == 0 for s in supervisor.status()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert following(supervisor, timeout=10)  # leads and LISTENs again
        statuses = supervisor.status()
        assert all(s.restarts == 1 and "session lost" in s.last_problem for s in statuses), statuses
        record_history(app, random.Random(5), 10)  # followed through the new LISTEN
        assert supervisor.wait_until_caught_up(timeout=10)


def test_a_supervisor_holds_no_more_connections_than_its_threads_use_at_once(db, app):
    """Every connection counts against the server's max_connections, shared with every other
    client: with spare ones in its pools, two supervisors (this file's test of two at once)
    held over half of a default server's, and under a busy test suite the server refused
    new ones (pools timing out, "couldn't get a connection after 5.00 sec"). The budget: two
    for the application (the follow thread or a catch-up's page reader, and a status() from
    elsewhere), three per view (a catch-up's two threads, or the follow thread, and a
    reader), and the session (LISTEN, leader locks). Losing the session adds none; closing
    releases all. And one thread follows, whatever the number of read models."""
    record_history(app, random.Random(13), 30, save_every=2)
    since = db.execute("SELECT now()")[0][0]

    def held() -> int:  # opened by the supervisor (after ``since``), still open
        return db.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                          "AND backend_type = 'client backend' AND pid <> pg_backend_pid() "
                          "AND backend_start >= %s", (since,))[0][0]

    def eventually(check, timeout: float = 10) -> bool:  # a closed connection's backend
        deadline = time.monotonic() + timeout              # exits soon, not at once
        while not check():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    threads = set(threading.enumerate())
    with ProjectionSupervisor(db.env, exclusive=False, **FAST) as supervisor:
        budget = 2 + len(supervisor.followers) * 3 + 1
        supervisor.start()
        assert following(supervisor)
        for _ in range(3):  # the session lost; the next one opened at once
            assert eventually(lambda: held() <= budget), (held(), budget)
            started = [t.name for t in set(threading.enumerate()) - threads]  # but the pools'
            assert [name for name in started if not name.startswith("pool-")] == ["projection-follower"]
            restarts = {s.name: s.restarts for s in supervisor.status()}
            assert kill_sessions(db) == 1
            # noticed (counted: the states may be back to "following" before a poll sees them)
            assert eventually(lambda before=restarts: all(s.restarts > before[s.name] for s in supervisor.status()), 5)
            assert following(supervisor)
        assert eventually(lambda: held() <= budget), (held(), budget)
        supervisor.stop()  # stopping alone releases the session
        assert eventually(lambda: held() <= budget - 1), (held(), budget)
        assert {t for t in threading.enumerate() if not t.name.startswith("pool-")} <= threads
    assert eventually(lambda: held() == 0), held()


def test_a_crash_in_the_middle_of_a_batch_writes_nothing_and_a_rerun_converges(db, app,
                                                                               monkeypatch):
    record_history(app, random.Random(6), 60, save_every=4)
    with ProjectionSupervisor(db.env, page_size=25) as supervisor:
        supervisor.create_tables()

        def upsert_then_crash(curs, table, *args, **kwargs):
            if table[1] == "deadlines_obligations":  # deadlines_cases rows are written by now
                raise RuntimeError("worker died")
            upsert(curs, table, *args, **kwargs)

        monkeypatch.setattr(deadlines, "upsert", upsert_then_crash)
        with pytest.raises(RuntimeError, match="worker died"):
            supervisor.catch_up()
        assert db.execute("SELECT count(*) FROM deadlines_cases") == [(0,)]
        assert supervisor.view("deadlines").sync_position() is None
        monkeypatch.undo()
        supervisor.catch_up()
        resumed = db.dump()
    assert resumed == rebuilt(db)


WORKER = """
import json, os, time
from projections import base
from projections.runner import ProjectionSupervisor

write = base.PostgresReadModel._write
def slow_write(self, items, last):  # slow enough to be killed part way
    time.sleep(0.01)
    write(self, items, last)
base.PostgresReadModel._write = slow_write
with ProjectionSupervisor(json.loads(os.environ["PJ_ENV"]), page_size=5) as supervisor:
    supervisor.catch_up()
"""


def test_a_worker_killed_mid_catch_up_leaves_tables_a_restart_completes(db, app):
    record_history(app, random.Random(7), 400, save_every=2)
    head = app.recorder.max_notification_id()
    with ProjectionSupervisor(db.env) as supervisor:
        supervisor.create_tables()
    worker = subprocess.Popen([sys.executable, "-c", WORKER], cwd=os.getcwd(),
                              env={**os.environ, "PJ_ENV": json.dumps(db.env)})
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            positions = db.execute("SELECT notification_id FROM audit_tracking "
                                   "WHERE application_name = 'cases'")
            if positions and positions[0][0] > head // 4:
                break
            time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.wait()
    assert db.execute("SELECT notification_id FROM audit_tracking WHERE application_name = "
                      "'cases'")[0][0] < head, "the worker finished before it could be killed"
    with ProjectionSupervisor(db.env) as supervisor:
        supervisor.catch_up()
        resumed = db.dump()
    assert resumed == rebuilt(db)


@pytest.mark.parametrize("exclusive", [False, True])
def test_two_supervisors_at_once_end_consistent(db, app, exclusive):
    record_history(app, random.Random(8), 100, save_every=3)
    one = ProjectionSupervisor(db.env, page_size=7, exclusive=exclusive, **FAST)
    two = ProjectionSupervisor(db.env, page_size=11, exclusive=exclusive, **FAST)
    try:
        one.start(), two.start()
        writer = threading.Thread(target=record_history, args=(app, random.Random(9), 150))
        writer.start()
        both = [threading.Thread(target=s.catch_up) for s in (one, two)]  # racing batches
        for thread in both:
            thread.start()
        for thread in [writer, *both]:
            thread.join()
        assert one.wait_until_caught_up(timeout=30) and two.wait_until_caught_up(timeout=30)
        if exclusive:  # each projection led by exactly one of them, once things settle
            deadline = time.monotonic() + 20
            while True:
                states = [sorted((a.state, b.state)) for a, b in zip(one.status(), two.status(), strict=True)]
                if all(pair == ["following", "standby"] for pair in states):
                    break
                assert time.monotonic() < deadline, states
                time.sleep(0.05)
            leader, stand_by = (one, two) if one.status()[0].state == "following" else (two, one)
            leader.close()  # its session ends, its locks go: the other takes over
            record_history(app, random.Random(10), 20)
            assert stand_by.wait_until_caught_up(timeout=30)
            assert following(stand_by), stand_by.status()
        together = db.dump()
    finally:
        one.close(), two.close()
    assert together == rebuilt(db)


def test_rebuild_while_following_ends_where_it_started(db, app):
    record_history(app, random.Random(11), 80, save_every=5)
    with ProjectionSupervisor(db.env, **FAST) as supervisor:
        supervisor.start()
        assert supervisor.wait_until_caught_up(timeout=20)
        before = db.dump()
        assert supervisor.rebuild() == len(supervisor.followers) * app.recorder.max_notification_id()
        assert db.dump() == before
        record_history(app, random.Random(12), 10)
        assert supervisor.wait_until_caught_up(timeout=15)
