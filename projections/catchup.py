"""Batched catch-up: read and decode each page of events once, for every read model.

Python does the decoding and works out the rows; PostgreSQL, on the other core, writes
them. To keep both busy: a reader thread fetches the next page of notifications; the
calling thread decodes each page and has each read model *prepare* its rows
(``prepare_batch``, with a memory of the cases this catch-up touched, so a page can be
prepared before the previous one is stored); one store thread per read model writes its
batches in order, each in one transaction with its position (``store_batch``). Queues are
short, so memory stays bounded. Only the calling thread is busy in Python: more threads
competing for the GIL were measured slower.

A rebuild (every read model emptied and replayed from the first event) does not come this
way: it loads whole histories of cases into empty tables, in a process per core (bulk.py).
"""

from __future__ import annotations

import gc
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from queue import Queue
from typing import Any

import structlog
from eventsourcing.application import Application
from eventsourcing.persistence import Notification, Tracking

from application.decoding import decoder_of
from projections.base import APPLICATION_NAME, PositionConflict, PreparedBatch, ReadModel

log = structlog.get_logger(__name__)

PAGE_SIZE = 10_000
MAX_REMEMBERED_CASES = 500_000  # beyond, wait for the stores, then start remembering afresh
_gc_lock = threading.Lock()
_gc_pauses, _gc_was_enabled = 0, True


class _Store(threading.Thread):
    """Writes one read model's prepared batches in order (mostly waiting on PostgreSQL)."""

    def __init__(self, name: str, view: ReadModel) -> None:
        super().__init__(name=f"catch-up-{name}", daemon=True)
        self.label, self.view = name, view
        self.batches: Queue[PreparedBatch | None] = Queue(maxsize=2)
        self.state = view.new_state()
        self.prepared_to = self.stored_to = view.position or 0
        self.ended: deque[tuple[int, list[Any]]] = deque()  # (batch's last id, cases ended)
        self.applied = 0
        self.conflict = False  # another worker wrote meanwhile: state is stale, start again
        self.error: BaseException | None = None

    @property
    def failed(self) -> bool:
        return self.conflict or self.error is not None

    def run(self) -> None:
        while (batch := self.batches.get()) is not None:
            try:
                if not self.failed:
                    self.view.store_batch(batch)
                    self.applied += batch.events
                    self.stored_to = batch.last.notification_id
            except PositionConflict as conflict:
                log.info("projection_position_conflict", projection=self.label, reason=str(conflict))
                self.conflict = True
            except BaseException as error:  # re-raised by catch_up() in the caller's thread
                self.error = error
            finally:
                self.batches.task_done()

    def remember_less(self) -> None:
        """Forget ended cases whose rows are stored; if still too many, wait and start afresh
        (once every prepared batch is stored the database holds what memory held)."""
        if self.state is None:
            return
        while self.ended and self.ended[0][0] <= self.stored_to:
            self.state.forget(self.ended.popleft()[1])
        if len(self.state) > MAX_REMEMBERED_CASES:
            self.batches.join()
            self.state, self.ended = self.view.new_state(), deque()


def catch_up(
    app: Application[Any], views: dict[str, ReadModel], *, page_size: int = PAGE_SIZE,
    stop: threading.Event | None = None,
) -> int:
    """Apply every recorded event the views have not seen; return how many were applied
    (summed over the views). Stops early, between pages, when ``stop`` is set."""
    started, total, pending = time.perf_counter(), 0, dict(views)
    with _gc_paused():
        while pending and not (stop is not None and stop.is_set()):
            for view in pending.values():
                view.sync_position()
            stores = [_Store(name, view) for name, view in pending.items()]
            total += _one_pass(app, stores, page_size, stop)
            pending = {s.label: s.view for s in stores if s.conflict}
    elapsed = time.perf_counter() - started
    if total:
        log.info("projections_caught_up", projections=sorted(views), events=total,
                 seconds=round(elapsed, 2), events_per_second=round(total / max(elapsed, 1e-9)))
    return total


def _one_pass(app: Application[Any], stores: list[_Store], page_size: int,
              stop: threading.Event | None) -> int:
    pages: Queue[list[Notification] | None] = Queue(maxsize=2)
    halt, read_errors = threading.Event(), []
    start = min(store.prepared_to for store in stores) + 1
    reader = threading.Thread(target=_read, name="catch-up-reader", daemon=True,
                              args=(app, start, page_size, pages, halt, stop, read_errors))
    for thread in (reader, *stores):
        thread.start()
    try:
        decode = decoder_of(app.mapper).decode  # the mapper's events, in ~2/3 of the time
        while (notifications := pages.get()) is not None:
            page = [(decode(n.topic, n.state, n.originator_id, n.originator_version),
                     Tracking(APPLICATION_NAME, n.id)) for n in notifications]
            for store in stores:
                _prepare(store, page)
            if all(store.failed for store in stores):
                break
    finally:
        halt.set()
        while reader.is_alive():  # unblock it if it waits to put a page
            while not pages.empty():
                pages.get_nowait()
            reader.join(0.01)
        for store in stores:
            store.batches.put(None)
        for store in stores:
            store.join()
    for error in [*read_errors, *(store.error for store in stores)]:
        if error is not None:
            raise error
    return sum(store.applied for store in stores)


def _prepare(store: _Store, page: list[Any]) -> None:
    if store.failed:
        return
    todo = [item for item in page if item[1].notification_id > store.prepared_to]
    if not todo:
        return
    try:
        store.remember_less()
        batch = store.view.prepare_batch(todo, store.state)
    except BaseException as error:
        store.error = error
        return
    store.prepared_to = batch.last.notification_id
    if store.state is not None:
        store.ended.append((store.prepared_to, store.state.take_ended()))
    store.batches.put(batch)


def _read(app: Application[Any], start: int, page_size: int,
          pages: Queue[list[Notification] | None], halt: threading.Event,
          stop: threading.Event | None, errors: list[BaseException]) -> None:
    """Fetch pages ahead of the decoder (the database works while Python decodes)."""
    try:
        while not halt.is_set() and not (stop is not None and stop.is_set()):
            notifications = app.recorder.select_notifications(start, limit=page_size)
            if not notifications:
                break
            pages.put(list(notifications))
            start = notifications[-1].id + 1
    except BaseException as error:  # re-raised by catch_up() in the caller's thread
        errors.append(error)
    finally:
        pages.put(None)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Catching up allocates millions of short-lived objects (events, rows) without cycles:
    reference counting frees them, and the cyclic collector only runs again and again over
    them (about a sixth of the time). Pause it meanwhile (it is per process: counted)."""
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()
