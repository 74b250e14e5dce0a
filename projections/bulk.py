"""Rebuilding read models from scratch: a bulk load, partitioned by case, on every core.

A catch-up (catchup.py) moves read models on page by page, in notification order, each
batch's rows and position in one transaction; a case's rows are upserted again at every
page that touches it. A rebuild starts from empty tables, which allows a much cheaper plan:

* **Partitioned by case.** Every row of every read model belongs to one case (the audit's to
  one event of a case), so the cases are split into ranges of ids, one per worker process
  (Python runs on one core per process). A worker reads its cases' events in case order,
  every case's whole history at once, so it computes each row once, from the case's state
  after its last event, with the read models' own ``_prepare``, and appends the rows with
  COPY (``_load``): no upserts, no rows written twice, no dead rows.
* **Decoded once, quickly.** ``EventDecoder`` gives the mapper's domain events in about
  two thirds of the time (or is the mapper itself when events are encrypted or compressed).
* **Indexes after.** If this role owns the tables, the secondary indexes and the primary
  keys are dropped with the rows and built again, on every core, once the rows are in: a
  sorted build each, instead of an index insertion per row (for the audit's primary key at a
  random place, since rows come in case order).
* **One transaction per worker; positions last.** While it runs, the rebuild holds every
  read model's writer lock (the advisory lock ``base.PostgresReadModel._lock`` takes) as
  a session lock, so no other worker writes meanwhile; it empties the tables and forgets
  the positions first, and writes the positions (the store's head when it started, checked
  to be still unset) only once every worker's rows are committed, then ANALYZEs the tables.

A crash part way leaves rows with no position. ``sync_position`` (catch-up, live path)
treats that as what it is, the remains of an interrupted rebuild, and empties the tables
under the writer lock before anything is written; rebuilding again empties them too.
Events recorded after the head are then caught up as usual (``ProjectionSupervisor.rebuild``).
"""

from __future__ import annotations

import gc
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from multiprocessing.connection import wait
from typing import TYPE_CHECKING, Any
from uuid import UUID

import psycopg
import structlog
from eventsourcing.persistence import Tracking
from psycopg.rows import dict_row, tuple_row
from psycopg.sql import SQL, Composed, Identifier

from application.cases import QualityMarkCases
from application.decoding import decoder_of
from projections.base import APPLICATION_NAME, PositionConflict, PostgresReadModel, qualified
from projections.case_memory import CaseMemory

if TYPE_CHECKING:
    from projections.registry import ProjectionSpec

log = structlog.get_logger(__name__)

CHUNK_EVENTS = 5_000  # events (whole cases) prepared and written together by a worker
FETCH_ROWS = 2_000  # rows per round trip of a worker's cursor
EVENTS_PER_WORKER = 20_000  # fewer events than this per process: not worth starting one
INDEX_BUILD_MEMORY = "256MB"  # maintenance_work_mem while building the indexes again


def rebuild(app: QualityMarkCases, views: Mapping[str, PostgresReadModel],
            specs: Sequence[ProjectionSpec], env: Mapping[str, str],
            workers: int | None = None) -> int:
    """Empty ``views`` and load them from every event recorded so far; return the events
    applied, summed over the views (as ``catchup.catch_up`` counts them). ``workers``:
    processes (default: one per core, fewer for a small store; 1 runs in this process)."""
    started = time.perf_counter()
    with _WriterLocks(views, events_table(app)) as locks:
        head, events = locks.reset()
        for name in views:
            log.info("projection_reset", projection=name)
        if workers is None:
            workers = max(1, min(os.cpu_count() or 1, events // EVENTS_PER_WORKER))
        try:
            reset = time.perf_counter()
            if head:
                loaded = _run(app, views, specs, env, max(1, workers), head, locks)
                assert loaded == events, (loaded, events)
            rows = time.perf_counter()
            locks.finish(head)
        except BaseException:
            locks.abandon()  # best effort; if this fails too, sync_position() clears them
            raise
    for view in views.values():
        view.position = head or None
    elapsed = time.perf_counter() - started
    log.info("projections_rebuilt", projections=sorted(views), events=events, workers=workers,
             seconds=round(elapsed, 2), events_per_second=round(events / max(elapsed, 1e-9)),
             reset_seconds=round(reset - started, 2), rows_seconds=round(rows - reset, 2),
             indexes_and_analyze_seconds=round(time.perf_counter() - rows, 2))
    return events * len(views)


class _WriterLocks:
    """A connection of its own holding every view's writer lock as a session lock."""

    def __init__(self, views: Mapping[str, PostgresReadModel], events: Identifier) -> None:
        self.views, self.events = list(views.values()), events
        self.rebuilding_indexes = False
        kwargs = self.views[0].datastore.pool.kwargs
        self.kwargs = {k: v for k, v in kwargs.items()
                       if k in ("dbname", "host", "port", "user", "password")}
        self.kwargs["application_name"] = "pqasso-projection-rebuild"
        self.conn = psycopg.connect(**self.kwargs, autocommit=True, row_factory=dict_row)
        self.pid = self.conn.info.backend_pid
        try:
            for view in self.views:
                self.conn.execute("SELECT pg_advisory_lock(hashtext(%s), hashtext(%s))",
                                  view.lock_key())
        except BaseException:
            self.conn.close()
            raise

    def __enter__(self) -> _WriterLocks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.close()  # ends the session: the locks go with it

    def reset(self) -> tuple[int, int]:
        """Empty every table, forget the positions, and drop the indexes (secondary, and
        primary keys) if this role owns the tables (``finish`` builds them again); return the
        store's head and how many events there are up to it."""
        with self.conn.transaction(), self.conn.cursor() as curs:
            for view in self.views:
                view.truncate(curs)
            self.rebuilding_indexes = self._owns_indexed_tables(curs)
            if self.rebuilding_indexes:
                for view in self.views:
                    for index in view.indexes:
                        curs.execute(index.drop)
            curs.execute(SQL("SELECT max(notification_id) AS head, count(*) AS events "
                             "FROM {}").format(self.events))
            row = curs.fetchone()
        assert row is not None
        return row["head"] or 0, row["events"]

    def abandon(self) -> None:
        """After a failure: empty the tables again and build the indexes dropped."""
        with self.conn.transaction(), self.conn.cursor() as curs:
            for view in self.views:
                view.truncate(curs)
            if self.rebuilding_indexes:
                for view in self.views:
                    view._restore_indexes(curs)  # those not built again yet

    def _owns_indexed_tables(self, curs: Any) -> bool:
        tables = [f"{schema}.{name}" for view in self.views if view.indexes
                  for schema, name in view.tables]
        curs.execute("SELECT coalesce(bool_and(pg_has_role(c.relowner, 'USAGE')), true) AS owns "
                     "FROM pg_class c WHERE c.oid = ANY(%s::regclass[])", (tables,))
        row = curs.fetchone()
        return bool(row and row["owns"])

    def finish(self, head: int) -> None:
        """Build the indexes dropped, then write every position (still unset: the locks kept
        other writers out), then ANALYZE the tables, as after any bulk load. The index builds
        and the ANALYZEs run on every core, each on a connection of its own."""
        if self.rebuilding_indexes:
            _in_parallel(self.kwargs, [index.create for view in self.views
                                       for index in view.indexes])
        with self.conn.transaction(), self.conn.cursor() as curs:
            for view in self.views:
                stored = view._max_tracking_id(APPLICATION_NAME, curs)
                if stored is not None:
                    raise PositionConflict(f"{view.name}: expected no position, found {stored}")
                if head:
                    view._insert_tracking(curs, Tracking(APPLICATION_NAME, head))
        _in_parallel(self.kwargs, [SQL("ANALYZE {}").format(qualified(table))
                                   for view in self.views for table in view.tables])


def _in_parallel(kwargs: Mapping[str, Any], statements: Sequence[Composed]) -> None:
    """Run ``statements`` (each in a transaction of its own) on up to one connection per core."""
    todo: queue.SimpleQueue[Composed] = queue.SimpleQueue()
    for statement in statements:
        todo.put(statement)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with psycopg.connect(**kwargs, autocommit=True) as conn:
                conn.execute("SELECT set_config('maintenance_work_mem', %s, false)",
                             (INDEX_BUILD_MEMORY,))
                while not errors:
                    try:
                        statement = todo.get_nowait()
                    except queue.Empty:
                        return
                    conn.execute(statement)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, name="pqasso-rebuild-ddl", daemon=True)
               for _ in range(min(os.cpu_count() or 1, len(statements)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _run(app: QualityMarkCases, views: Mapping[str, PostgresReadModel],
         specs: Sequence[ProjectionSpec], env: Mapping[str, str], workers: int,
         head: int, locks: _WriterLocks) -> int:
    if workers == 1:
        return rebuild_cases(app, list(views.values()), None, None, head)
    bounds = [UUID(int=(i << 128) // workers) for i in range(1, workers)]
    ranges = list(zip([None, *bounds], [*bounds, None], strict=True))
    # Processes of their own (``python -m projections.bulk``), not multiprocessing's: it
    # would fork a process that has threads, or (spawn) run the caller's main module again.
    child_env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    running: dict[Any, subprocess.Popen[bytes]] = {}
    total = 0
    try:
        for lo, hi in ranges:
            process = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, env=child_env)
            assert process.stdin is not None and process.stdout is not None
            # stdin stays open: the worker stops if it closes (this process died).
            process.stdin.write(pickle.dumps((dict(env), list(specs), lo, hi, head, locks.pid,
                                              len(views))))
            process.stdin.flush()
            running[process.stdout] = process
        while running:
            for out in wait(list(running)):
                process = running.pop(out)
                answer = out.read()  # type: ignore[union-attr]
                process.wait()
                try:
                    status, value = pickle.loads(answer)
                except Exception:
                    status, value = "error", RuntimeError(
                        f"a rebuild worker died (exit code {process.returncode})")
                if status != "ok":
                    raise value
                total += value
                _close(process)
    finally:
        for process in running.values():
            process.kill()  # its transaction rolls back as its connection drops
        for process in running.values():
            process.wait()
            _close(process)
    return total


def _close(process: subprocess.Popen[bytes]) -> None:
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            stream.close()


def _worker() -> None:
    """A worker process (``python -m projections.bulk``): its task is pickled on stdin;
    the count of events it loaded (or the error) goes back pickled on stdout."""
    answer = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything else printed goes to stderr
    stdin = sys.stdin.buffer
    env, specs, lo, hi, head, lock_pid, locks = pickle.load(stdin)
    # The rebuild holds the read models' locks; if it dies, stop at once (a rollback).
    threading.Thread(target=lambda: (stdin.read(), os._exit(3)), daemon=True).start()
    try:
        with worker_connections(env, specs) as (app, views):
            result: tuple[str, Any] = ("ok", rebuild_cases(app, views, lo, hi, head,
                                                           lock_holder=(lock_pid, locks)))
    except BaseException as error:
        result = ("error", error)
    try:
        data = pickle.dumps(result)
        pickle.loads(data)
    except Exception:  # an error that does not travel: send what it said
        data = pickle.dumps(("error", RuntimeError("".join(traceback.format_exception(result[1])))))
    answer.write(data)
    answer.close()
    sys.stderr.flush()
    os._exit(0)  # not a shutdown: the thread reading stdin would hold it up


@contextmanager
def worker_connections(env: Mapping[str, str], specs: Sequence[ProjectionSpec]
                       ) -> Iterator[tuple[QualityMarkCases, list[PostgresReadModel]]]:
    """A rebuild worker's application (one connection, tables not created) and the views of
    ``specs``, closed on leaving."""
    app = QualityMarkCases(env={**env, "CASES_POSTGRES_POOL_SIZE": "1",
                                "CASES_POSTGRES_MAX_OVERFLOW": "0", "CASES_CREATE_TABLE": "false"})
    views: list[PostgresReadModel] = []
    try:
        views.extend(spec.open_view(env, create_table=False) for spec in specs)
        yield app, views
    finally:
        for view in views:
            view.datastore.close()
        app.close()


def rebuild_cases(app: QualityMarkCases, views: Sequence[PostgresReadModel], lo: UUID | None,
                  hi: UUID | None, head: int, *, chunk_events: int | None = None,
                  lock_holder: tuple[int, int] | None = None) -> int:
    """Load the rows of the cases with ids in [lo, hi) (None: unbounded) from their events
    up to ``head`` into the (empty) tables of ``views``, in one transaction; return how
    many events that was. ``lock_holder``: (backend pid, locks) of the session holding
    the writer locks, checked to hold them still before committing."""
    decoder, chunk_events = decoder_of(app.mapper), chunk_events or CHUNK_EVENTS
    conditions, params = [SQL("notification_id <= %s")], [head]
    if lo is not None:
        conditions.append(SQL("originator_id >= %s"))
        params.append(lo)
    if hi is not None:
        conditions.append(SQL("originator_id < %s"))
        params.append(hi)
    query = SQL("SELECT notification_id, originator_id, originator_version, topic, state "
                "FROM {} WHERE {} ORDER BY originator_id, originator_version").format(
        events_table(app), SQL(" AND ").join(conditions))
    count, gc_was_enabled = 0, gc.isenabled()
    gc.disable()  # millions of short-lived objects without cycles (see catchup._gc_paused)
    try:
        with views[0].datastore.get_connection() as conn, conn.transaction():
            curs = conn.cursor()
            # Nothing counts until the positions are written (after this commits): a crash
            # loses nothing that a rebuild would not redo, so don't wait for the WAL flush.
            curs.execute("SELECT set_config('synchronous_commit', 'off', true), "
                         "set_config('jit', 'off', true)")
            with conn.cursor(name="pqasso_rebuild", row_factory=tuple_row, binary=True) as events:
                events.execute(query, params)
                chunk: list[tuple[Any, Tracking]] = []
                case, case_int = None, -1
                decode = decoder.decode
                # Page by page: iterating the cursor row by row costs a Python call a row.
                while page := events.fetchmany(FETCH_ROWS):
                    for notification_id, originator_id, version, topic, state in page:
                        # Every event of a case gets the same id object: the read models'
                        # dicts keyed by case then find it by identity, without UUID.__eq__.
                        if originator_id.int != case_int:
                            if len(chunk) >= chunk_events:
                                _load(curs, views, chunk)
                                count += len(chunk)
                                chunk = []
                            case, case_int = originator_id, originator_id.int
                        chunk.append((decode(topic, state, case, version),
                                      Tracking(APPLICATION_NAME, notification_id)))
                if chunk:
                    _load(curs, views, chunk)
                    count += len(chunk)
            if lock_holder is not None:
                curs.execute("SELECT count(*) AS held FROM pg_locks WHERE locktype = 'advisory' "
                             "AND pid = %s AND granted", (lock_holder[0],))
                row = curs.fetchone()
                if row is None or row["held"] < lock_holder[1]:
                    raise RuntimeError("the rebuild that started this worker is gone")
    finally:
        if gc_was_enabled:
            gc.enable()
    return count


def events_table(app: QualityMarkCases) -> Identifier:
    recorder: Any = app.recorder
    return Identifier(recorder.datastore.schema, recorder.events_table_name)


def same_database(app: QualityMarkCases, views: Sequence[PostgresReadModel]) -> bool:
    """True when the views are on the database the events are in (a rebuild reads the
    events through the views' connections)."""
    keys = ("dbname", "host", "port")
    recorder: Any = app.recorder
    datastore = getattr(recorder, "datastore", None)
    if datastore is None:
        return False
    where = {k: datastore.pool.kwargs.get(k) for k in keys}
    return all({k: v.datastore.pool.kwargs.get(k) for k in keys} == where for v in views)


def _load(curs: Any, views: Sequence[PostgresReadModel], items: list[tuple[Any, Tracking]]) -> None:
    """Whole histories of cases: each view's final rows for them, appended."""
    for view in views:
        state = view.new_state()
        if isinstance(state, CaseMemory):
            state.whole_histories = True
        view._load(curs, view._prepare(curs, items, state))



if __name__ == "__main__":
    _worker()
