"""The append functions and procedure (``cases_insert_event``, ``cases_insert_events``,
``cases_append_events``, infrastructure/recorder.py): a save is one statement from psycopg, a
SELECT of a function or, while saves wait for the table lock, a CALL of the procedure; the
ids come back in the events' order and stay gap-free; a refused save (a version or an
idempotency key already recorded) raises the library's IntegrityError and keeps nothing; the
lock honours the recorder's lock timeout, and its waits are reported."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresDatastore

from application.idempotency import IdempotencyRecord
from infrastructure import recorder as recorder_module
from infrastructure.audit_chain import GENESIS, event_hash, verify
from infrastructure.migrations import migrate
from infrastructure.recorder import CasesRecorder, FlushOutsideLock
from infrastructure.settings import parse_database_url

pytestmark = pytest.mark.integration

CALL_PREFIX = 'CALL "public"."cases_append_events"('
CALL_ONE_PREFIX = 'CALL "public"."cases_append_event"('
SELECT_ONE_PREFIX = 'SELECT saved.notification_id, saved.lock_wait_ms FROM "public"."cases_insert_event"('
SELECT_MANY_PREFIX = 'SELECT saved.notification_ids, saved.lock_wait_ms FROM "public"."cases_insert_events"('


def datastore(url: str, lock_timeout: int = 5) -> PostgresDatastore:
    parts = parse_database_url(url)
    return PostgresDatastore(parts.dbname, parts.host, parts.port, parts.user, parts.password or "",
                             pool_size=2, max_overflow=0, lock_timeout=lock_timeout)


@pytest.fixture
def recorder(fresh_migrated_url: str) -> Iterator[CasesRecorder]:
    store = datastore(fresh_migrated_url)
    yield CasesRecorder(store, events_table_name="cases_events")
    store.close()


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every statement sent in the test's thread from now on, through a psycopg cursor or as
    a prepared statement through libpq (the save of one event: ``run_prepared``); not those of
    the pool's workers, which set up its new connections meanwhile (the library's ``SET
    idle_in_transaction_session_timeout``) whenever the pool grows."""
    sent: list[str] = []
    execute, test_thread = psycopg.Cursor.execute, threading.get_ident()
    run_prepared = recorder_module.run_prepared

    def recording(self, query, params=None, **kwargs):  # type: ignore[no-untyped-def]
        if threading.get_ident() == test_thread:
            sent.append(query.decode() if isinstance(query, bytes) else str(query))
        return execute(self, query, params, **kwargs)

    def recording_prepared(conn, name, statement, params):  # type: ignore[no-untyped-def]
        if threading.get_ident() == test_thread:
            sent.append(statement.decode())
        return run_prepared(conn, name, statement, params)

    monkeypatch.setattr(psycopg.Cursor, "execute", recording)
    monkeypatch.setattr(recorder_module, "run_prepared", recording_prepared)
    return sent


def event(originator_id: UUID, version: int, state: bytes = b'{"n": 1}') -> StoredEvent:
    return StoredEvent(originator_id, version, "tests:Topic", state)


def hash_rows(url: str, originator_id: UUID) -> list[tuple[int, bytes, bytes]]:
    with psycopg.connect(url) as conn:
        return [(v, bytes(p), bytes(h)) for v, p, h in conn.execute(
            "SELECT originator_version, previous_hash, hash FROM cases_event_hashes "
            "WHERE originator_id = %s ORDER BY 1", (originator_id,))]


def procedure_calls(url: str, name: str) -> int:
    """Calls counted by PostgreSQL (with ``track_functions``; sessions report them as they end)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT calls FROM pg_stat_user_functions WHERE funcname = %s",
                           (name,)).fetchone()
    return row[0] if row else 0


@pytest.mark.parametrize("flush_outside_lock", ["never", "when_contended"])
def test_a_save_is_one_select_of_an_append_function(
    recorder: CasesRecorder, statements: list[str], flush_outside_lock: FlushOutsideLock
) -> None:
    recorder.flush_outside_lock = flush_outside_lock  # nothing waits here: the same
    case, other = uuid4(), uuid4()
    record = IdempotencyRecord("p", f"k-{uuid4()}", "h", case, 1)

    recorder.insert_events([event(case, 1)], idempotency=record)
    recorder.insert_events([event(case, 2)])
    recorder.insert_events([event(case, 3), event(other, 1)])

    assert [s[:len(SELECT_ONE_PREFIX)] for s in statements[:2]] == [SELECT_ONE_PREFIX] * 2
    assert len(statements) == 3 and statements[2].startswith(SELECT_MANY_PREFIX), statements
    assert [e.originator_version for e in recorder.select_events(case)] == [1, 2, 3]
    assert recorder.find_idempotency_record("p", record.key) == record


def test_flushing_outside_the_lock_a_save_is_one_call_of_the_procedure(
    recorder: CasesRecorder, statements: list[str]
) -> None:
    recorder.flush_outside_lock = "always"
    case, other = uuid4(), uuid4()
    record = IdempotencyRecord("p", f"k-{uuid4()}", "h", case, 1)

    ids = [recorder.insert_events([event(case, 1)], idempotency=record),
           recorder.insert_events([event(case, 2), event(other, 1)])]

    assert len(statements) == 2, statements
    assert statements[0].startswith(CALL_ONE_PREFIX) and statements[1].startswith(CALL_PREFIX)
    assert all(s.rstrip(")").endswith("true, NULL") for s in statements)
    assert [len(i or []) for i in ids] == [1, 2]
    assert [e.originator_version for e in recorder.select_events(case)] == [1, 2]
    assert recorder.find_idempotency_record("p", record.key) == record


HELD_AFTER_WAIT = 0.1  # seconds the lock stays held once another session waits for it


def _release_once_waited_on(holder: psycopg.Connection, held_after: float) -> None:
    """Roll ``holder`` back (releasing its locks) ``held_after`` seconds after another session
    of its database is seen waiting for a lock (or after 10 s, should none ever wait)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not holder.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()").fetchone()[0]:
        time.sleep(0.005)
    time.sleep(held_after)
    holder.rollback()


def test_saves_that_wait_for_the_lock_switch_to_flushing_outside_it(
    recorder: CasesRecorder, fresh_migrated_url: str, statements: list[str]
) -> None:
    """Another session holds the lock for a while, four times: each save reports the wait,
    and after the third the recorder remembers the contention and CALLs the procedure."""
    waits: list[float] = []
    observe = recorder.lock_contention.observe
    recorder.lock_contention.observe = lambda ms: (waits.append(ms), observe(ms))  # type: ignore[method-assign]
    case = uuid4()
    for version in (1, 2, 3, 4):
        with psycopg.connect(fresh_migrated_url) as holder:
            holder.execute("SELECT cases_lock_events()")
            release = threading.Thread(target=_release_once_waited_on, args=(holder, HELD_AFTER_WAIT))
            release.start()
            recorder.insert_events([event(case, version)])
            release.join()

    saves = [s for s in statements if s.startswith((SELECT_ONE_PREFIX, CALL_ONE_PREFIX))]
    # The saver was seen waiting, then the lock was held HELD_AFTER_WAIT longer: its wait, as
    # the server timed it, is at least that (however late the save reached the lock).
    assert len(waits) == 3 and all(HELD_AFTER_WAIT * 1000 <= ms < 5_000 for ms in waits), waits
    assert [s[:len(SELECT_ONE_PREFIX)] for s in saves[:3]] == [SELECT_ONE_PREFIX] * 3
    assert len(saves) == 4 and saves[3].startswith(CALL_ONE_PREFIX)
    assert [e.originator_version for e in recorder.select_events(case)] == [1, 2, 3, 4]


@pytest.mark.parametrize(("flush_outside_lock", "entry"), [
    ("never", "cases_insert_event"), ("always", "cases_append_event")])
def test_the_database_runs_one_call_per_save(
    make_database, flush_outside_lock: FlushOutsideLock, entry: str
) -> None:
    """Counted by PostgreSQL itself (track_functions): one call of the function (or procedure)
    per save, and the lock taken once per save, inside it."""
    url = make_database()
    migrate(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{conn.info.dbname}" SET track_functions = \'pl\'')
    store = datastore(url)
    try:
        recorder = CasesRecorder(store, events_table_name="cases_events")
        recorder.flush_outside_lock = flush_outside_lock
        for version in range(1, 6):
            recorder.insert_events([event(uuid4(), version)])
    finally:
        store.close()  # the sessions end and report their statistics
    deadline = time.monotonic() + 10
    while procedure_calls(url, entry) < 5 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert procedure_calls(url, entry) == 5
    assert procedure_calls(url, "cases_lock_events") == 5


def test_ids_come_back_in_the_events_order_and_the_chain_verifies(
    recorder: CasesRecorder, fresh_migrated_url: str
) -> None:
    a, b = uuid4(), uuid4()
    (first,) = recorder.insert_events([event(a, 1, b"a1")])  # type: ignore[misc]
    batch = [event(b, 1, b"b1"), event(a, 2, b"a2"), event(b, 2, b"b2"), event(a, 3, b"a3")]

    ids = recorder.insert_events(batch)

    assert ids == [first + 1, first + 2, first + 3, first + 4]
    notifications = recorder.select_notifications(first + 1, 10)
    assert [(n.id, n.originator_id, n.originator_version) for n in notifications] == [
        (i, e.originator_id, e.originator_version) for i, e in zip(ids, batch, strict=True)]
    previous = GENESIS
    for version, stored_previous, stored_hash in hash_rows(fresh_migrated_url, a):
        assert stored_previous == previous
        previous = event_hash(a, version, "tests:Topic", f"a{version}".encode(), previous)
        assert stored_hash == previous
    assert [v for v, _, _ in hash_rows(fresh_migrated_url, b)] == [1, 2]
    assert verify(fresh_migrated_url).ok


def test_a_version_already_recorded_keeps_nothing_of_the_save(
    recorder: CasesRecorder, fresh_migrated_url: str
) -> None:
    a, b = uuid4(), uuid4()
    recorder.insert_events([event(a, 1)])
    last = recorder.max_notification_id()
    record = IdempotencyRecord("p", f"k-{uuid4()}", "h", b, 1)

    with pytest.raises(IntegrityError):
        recorder.insert_events([event(b, 1), event(a, 1)], idempotency=record)
    with pytest.raises(IntegrityError):
        recorder.insert_events([event(a, 1)])

    assert recorder.select_events(b) == []
    assert hash_rows(fresh_migrated_url, b) == []
    assert [v for v, _, _ in hash_rows(fresh_migrated_url, a)] == [1]
    assert recorder.find_idempotency_record("p", record.key) is None
    assert recorder.max_notification_id() == last
    assert recorder.insert_events([event(b, 1)]) == [last + 1]  # type: ignore[operator]


def test_a_repeated_idempotency_key_keeps_nothing_of_the_save(
    recorder: CasesRecorder, fresh_migrated_url: str
) -> None:
    first, second = uuid4(), uuid4()
    record = IdempotencyRecord("p", f"k-{uuid4()}", "h", first, 1)
    (recorded,) = recorder.insert_events([event(first, 1)], idempotency=record)  # type: ignore[misc]

    with pytest.raises(IntegrityError):
        recorder.insert_events([event(second, 1)],
                               idempotency=IdempotencyRecord("p", record.key, "other", second, 1))

    assert recorder.select_events(second) == []
    assert hash_rows(fresh_migrated_url, second) == []
    assert recorder.find_idempotency_record("p", record.key) == record
    assert recorder.insert_events([event(second, 1)]) == [recorded + 1]


def test_a_key_with_no_events_is_recorded(recorder: CasesRecorder) -> None:
    record = IdempotencyRecord("p", f"k-{uuid4()}", "h", uuid4(), 3)

    assert recorder.insert_events([], idempotency=record) == []
    assert recorder.insert_events([]) == []

    assert recorder.find_idempotency_record("p", record.key) == record
    with pytest.raises(IntegrityError):
        recorder.insert_events([], idempotency=record)


@pytest.mark.parametrize("flush_outside_lock", ["never", "always"])
def test_a_save_stuck_behind_the_lock_fails_after_the_lock_timeout(
    fresh_migrated_url: str, flush_outside_lock: FlushOutsideLock
) -> None:
    store = datastore(fresh_migrated_url, lock_timeout=1)
    recorder = CasesRecorder(store, events_table_name="cases_events")
    recorder.flush_outside_lock = flush_outside_lock
    case = uuid4()
    try:
        with psycopg.connect(fresh_migrated_url) as holder:
            holder.execute("SELECT cases_lock_events()")  # held until the end of the block
            started = time.monotonic()
            with pytest.raises(OperationalError, match="lock timeout"):
                recorder.insert_events([event(case, 1)],
                                       idempotency=IdempotencyRecord("p", "k", "h", case, 1))
            assert time.monotonic() - started < 10
            holder.rollback()
        assert recorder.select_events(case) == []
        assert hash_rows(fresh_migrated_url, case) == []
        assert recorder.find_idempotency_record("p", "k") is None
    finally:
        store.close()


@pytest.mark.parametrize("flush_outside_lock", ["never", "always"])
def test_a_save_of_one_event_sends_its_values_as_they_are(
    recorder: CasesRecorder, flush_outside_lock: FlushOutsideLock
) -> None:
    """The save of one event goes through libpq with binary parameters: what was saved is
    read back unchanged, texts with quotes, a backslash, a newline and non-ASCII letters
    included, and the largest version a bigint holds."""
    recorder.flush_outside_lock = flush_outside_lock
    case = uuid4()
    state = bytes(range(256)) * 4
    odd = "O'Brien \\ \"quoted\"\nline two: café, Ünïcødé, 日本"
    record = IdempotencyRecord(odd, f"{odd}-{uuid4()}", odd, case, 2**63 - 1)
    saved = StoredEvent(case, 2**63 - 1, f"tests:{odd}", state)

    (notification_id,) = recorder.insert_events([saved], idempotency=record)  # type: ignore[misc]

    assert recorder.select_events(case) == [saved]
    assert recorder.find_idempotency_record(odd, record.key) == record
    assert notification_id == recorder.max_notification_id()


def test_a_save_prepares_its_statement_again_if_the_server_forgot_it(
    recorder: CasesRecorder, statements: list[str]
) -> None:
    case = uuid4()
    recorder.insert_events([event(case, 1)])
    with recorder.datastore.get_connection() as conn:  # the pool hands out the one just used
        prepared = set(conn._pqasso_prepared.names)  # type: ignore[attr-defined]
        conn.execute("DEALLOCATE ALL")

    recorder.insert_events([event(case, 2)])

    with recorder.datastore.get_connection() as again:
        assert again is conn  # the same connection: prepared there once more
        names = [row["name"] for row in again.execute("SELECT name FROM pg_prepared_statements")]
    assert prepared == {b"pqasso_save_00"} and "pqasso_save_00" in names, names
    assert [e.originator_version for e in recorder.select_events(case)] == [1, 2]
    saves = [s for s in statements if s.startswith(SELECT_ONE_PREFIX)]
    assert len(saves) == 2 and all("$5::bytea" in s and "%s" not in s for s in saves), saves


@pytest.mark.parametrize("flush_outside_lock", ["never", "always"])
def test_a_save_after_a_version_the_store_does_not_hold_is_refused_as_a_version_taken(
    recorder: CasesRecorder, fresh_migrated_url: str, flush_outside_lock: FlushOutsideLock
) -> None:
    """A process that read events a crash then lost (they were visible before they were on
    disk: the procedure flushes outside the lock) must not record after them: its save
    finds no hash at the version before its own and fails, as on a version taken, so the
    command runs again on the case as it is stored."""
    recorder.flush_outside_lock = flush_outside_lock
    case = uuid4()
    recorder.insert_events([event(case, 1)])
    for batch in ([event(case, 3)], [event(case, 3), event(case, 4)]):
        with pytest.raises(IntegrityError):
            recorder.insert_events(batch)
    assert [e.originator_version for e in recorder.select_events(case)] == [1]
    recorder.insert_events([event(case, 2)])
    recorder.insert_events([event(case, 3), event(case, 4)])
    assert [e.originator_version for e in recorder.select_events(case)] == [1, 2, 3, 4]
    rows = hash_rows(fresh_migrated_url, case)
    assert [v for v, _, _ in rows] == [1, 2, 3, 4] and rows[0][1] == GENESIS
    assert all(rows[i][1] == rows[i - 1][2] for i in range(1, 4))  # each links to the one before
