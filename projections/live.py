"""The live path: wait for new events (LISTEN/NOTIFY), then apply them all in one pass.

``Listener`` LISTENs on the channel the event store NOTIFYs on each insert (the library's
``PostgresApplicationRecorder.channel_name``: the events table's name; the recorder's append
procedure NOTIFYs on it, infrastructure/recorder.py), on the supervisor's session connection
(the one holding its leader locks, projections/leadership.py). Notifications carry nothing
but "something was recorded": any number of them is one reason to look.

``apply_new_events`` is one pass for every read model followed: it reads each page of new
notifications once, from the lowest position among them, decodes each event once, and gives
each read model, in one ``apply_batch`` (one transaction, guarded by position), the events
after its own position. Under load a pass takes every event recorded since the last one, so
the cost per event of a transaction, a position check and the SELECT of the cases' rows is
shared by dozens of events.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Mapping
from typing import Any

import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import Notification, Tracking
from psycopg.sql import SQL, Identifier

from projections.base import APPLICATION_NAME, ReadModel
from projections.leadership import LeaderLocks


class Listener:
    """LISTEN on the event store's channel, on the session of ``session`` (same thread only).

    If the session's connection changes (it was lost and opened again), ``listening`` is
    False until ``listen()`` is called again: notifications sent meanwhile are lost, so the
    caller must look for new events after it (the supervisor runs a pass after each tick).
    Any ``psycopg.Error`` means the session is gone (with its leader locks)."""

    def __init__(self, session: LeaderLocks, channel: str) -> None:
        self.session, self.channel = session, channel
        self._conn: psycopg.Connection[Any] | None = None

    @property
    def listening(self) -> bool:
        return self._conn is not None and self._conn is self.session.current

    def listen(self) -> None:
        if not self.listening:
            self._conn = None
            conn = self.session.connection()
            conn.execute(SQL("LISTEN {}").format(Identifier(self.channel)))
            self._conn = conn

    def unlisten(self) -> None:
        """Stop listening (a stand-by leads nothing: it need not wake on every event)."""
        if self.listening:
            assert self._conn is not None
            conn, self._conn = self._conn, None
            conn.execute(SQL("UNLISTEN {}").format(Identifier(self.channel)))
            for _ in conn.notifies(timeout=0):  # those already received
                pass

    def wait(self, timeout: float) -> bool:
        """True once a notification arrived (within ``timeout`` seconds)."""
        if not self.listening:
            return False
        assert self._conn is not None
        for _ in self._conn.notifies(timeout=max(0.0, timeout), stop_after=1):
            return True
        return False

    def drain(self) -> None:
        """Forget the notifications received so far (a pass about to start covers them)."""
        if self.listening:
            assert self._conn is not None
            for _ in self._conn.notifies(timeout=0):
                pass


Decode = Callable[[Notification], Any]


def apply_new_events(
    app: Application[Any], views: Mapping[str, ReadModel], *, page_size: int,
    decode: Decode | None = None,
) -> tuple[int, dict[str, Exception]]:
    """Apply every recorded event after each view's ``position`` to that view: one page of
    notifications read and decoded once for all, one ``apply_batch`` per view and page.

    Returns how many events were applied (summed over the views) and, per view, the error
    that stopped it (a ``PositionConflict`` when another worker wrote it meanwhile: re-sync
    and go on); the other views go on. A failure to read the events is raised."""
    to_domain_event = decode or app.mapper.to_domain_event
    applied, problems = 0, {}
    while True:
        active = {name: view for name, view in views.items() if name not in problems}
        if not active:
            break
        start = min(view.position or 0 for view in active.values()) + 1
        notifications = app.recorder.select_notifications(start, limit=page_size)
        if not notifications:
            break
        ids = [notification.id for notification in notifications]
        page = [(to_domain_event(n), Tracking(APPLICATION_NAME, n.id)) for n in notifications]
        for name, view in active.items():
            todo = page[bisect_right(ids, view.position or 0):]
            if not todo:
                continue
            try:
                view.apply_batch(todo)
            except Exception as error:  # reported by the caller, per view
                problems[name] = error
            else:
                applied += len(todo)
        if len(notifications) < page_size:
            break
    return applied, problems
