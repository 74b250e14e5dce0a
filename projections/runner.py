"""The projection supervisor: catch up in batches, then follow; restart what stops or stalls.

The library's ``ProjectionRunner`` follows new events through LISTEN/NOTIFY, stops at the
first error, and waits for ever if a notification is lost (eventsourcing 9.5.6 has no
polling fallback). So a watchdog thread, every ``watchdog_interval`` seconds, compares each
read model's position with the head of the event store. A follower that died
(``projection_failed``) or has been behind without moving for ``stall_after`` seconds
(``projection_stalled``: a lost NOTIFY) is stopped, the read model is caught up by polling
in batches, and a new follower starts; failures back off exponentially up to a cap.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from eventsourcing.persistence import IntegrityError, PersistenceError, ProgrammingError

from application.cases import QualityMarkCases
from projections.base import APPLICATION_NAME
from projections.catchup import PAGE_SIZE, catch_up
from projections.follower import Follower
from projections.leadership import LeaderLocks
from projections.registry import ALL, ProjectionSpec

__all__ = ["ALL", "ProjectionSpec", "ProjectionStatus", "ProjectionSupervisor"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ProjectionStatus:
    """Where a read model stands: its position, the event store's head, and the lag."""

    name: str
    position: int
    head: int
    lag: int
    state: str = ""
    restarts: int = 0  # followers restarted after failing or stalling
    last_problem: str | None = None


class ProjectionSupervisor:
    """Keeps every read model of ``projections`` up to date with the cases application.

    ``start()`` runs it in background threads (``pqasso serve``, ``pqasso projections
    run``); ``catch_up()``, ``rebuild()`` and ``status()`` also work without it. With
    ``exclusive`` (the default) a projection is written by one supervisor at a time
    (``leadership.py``); the others stand by and take over if it dies.
    """

    def __init__(
        self, env: Mapping[str, str], projections: Sequence[ProjectionSpec] = ALL, *,
        page_size: int = PAGE_SIZE, watchdog_interval: float = 2.0, stall_after: float = 10.0,
        backoff: tuple[float, float] = (1.0, 60.0), exclusive: bool = True,
    ) -> None:
        self.env = dict(env)
        self.page_size, self.interval, self.stall_after = page_size, watchdog_interval, stall_after
        self.backoff, self.exclusive = backoff, exclusive
        # Small pools (the service has its own), as big as the threads using them at once:
        # this application's, the catch-up's page reader or the watchdog (one at a time, under
        # the lock) and a status() from another thread; each view's (registry.open_view), a
        # catch-up's two threads and a reader. Each follower opens three more (follower.py).
        self.app = QualityMarkCases(env={**self.env, "CASES_POSTGRES_POOL_SIZE": "1",
                                         "CASES_POSTGRES_MAX_OVERFLOW": "1"})
        self.followers = [Follower(spec, spec.open_view(self.env), self.env) for spec in projections]
        kwargs = self.followers[0].view.datastore.pool.kwargs if self.followers else {}
        self.leader = LeaderLocks({k: v for k, v in kwargs.items()
                                   if k in ("dbname", "host", "port", "user", "password")})
        self._lock = threading.RLock()  # one catch-up / restart / rebuild at a time
        self._stopping = threading.Event()
        self._watchdog: threading.Thread | None = None

    # ---- lifecycle -----------------------------------------------------------------------

    def create_tables(self) -> None:
        """Create the read models' tables that are missing (needs the right to create)."""
        for follower in self.followers:
            if not follower.view.tables_exist():
                follower.view.create_table()

    def start(self) -> None:
        """Create missing tables, then supervise in a background thread (returns at once)."""
        self.create_tables()
        self._stopping.clear()
        self._watchdog = threading.Thread(target=self._watch, name="projection-watchdog", daemon=True)
        self._watchdog.start()

    def stop(self) -> None:
        """Stop following and supervising; release leadership."""
        self._stopping.set()
        if self._watchdog is not None:
            self._watchdog.join()
            self._watchdog = None
        with self._lock:
            for follower in self.followers:
                follower.stop()
            self.leader.close()

    def close(self) -> None:
        self.stop()
        self.app.close()
        for follower in self.followers:
            follower.view.datastore.close()

    def __enter__(self) -> ProjectionSupervisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def view(self, name: str) -> Any:
        """The read model named ``name`` (``"deadlines"``, ``"audit"``, ``"reporting"``)."""
        for follower in self.followers:
            if follower.name == name:
                return follower.view
        raise KeyError(name)

    # ---- operations ----------------------------------------------------------------------

    def catch_up(self, followers: Sequence[Follower] | None = None) -> int:
        """Apply, in batches, every recorded event the read models have not seen yet."""
        with self._lock:
            chosen = self.followers if followers is None else followers
            return catch_up(self.app, {f.name: f.view for f in chosen},
                            page_size=self.page_size, stop=self._stopping)

    def rebuild(self) -> int:
        """Empty every read model (each in one transaction, with its position), then replay
        the whole event store into them; followers restart on the next watchdog tick."""
        with self._lock:
            for follower in self.followers:
                follower.stop()
            self.create_tables()
            for follower in reversed(self.followers):
                follower.view.reset()
                log.info("projection_reset", projection=follower.name)
            return self.catch_up()

    def status(self) -> list[ProjectionStatus]:
        head = self.app.recorder.max_notification_id() or 0
        result = []
        for follower in self.followers:
            try:
                position = follower.view.max_tracking_id(APPLICATION_NAME) or 0
            except ProgrammingError:  # tables not created yet
                position, follower.state = 0, "missing"
            except PersistenceError:  # no answer now (e.g. no connection to be had): the
                position = 0          # tables are there, and the state stays what it is
            result.append(ProjectionStatus(follower.name, position, head, max(0, head - position),
                                           follower.state, follower.restarts, follower.last_problem))
        return result

    def wait_until_caught_up(self, timeout: float = 30.0) -> bool:
        """True once every read model has reached the head as seen at that moment."""
        deadline = time.monotonic() + timeout
        while True:
            if all(s.lag == 0 for s in self.status()):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)

    # ---- the watchdog --------------------------------------------------------------------

    def _watch(self) -> None:
        while not self._stopping.is_set():
            try:
                with self._lock:
                    self._tick()
            except Exception as error:  # the watchdog itself must never die
                log.exception("projection_watchdog_error", error=str(error))
            self._stopping.wait(self.interval)

    def _tick(self) -> None:
        if self.exclusive and not self.leader.alive():
            for follower in self.followers:
                follower.stop()
        head = self.app.recorder.max_notification_id() or 0
        now, due = time.monotonic(), []
        for follower in self.followers:
            if self.exclusive and not self._lead(follower):
                continue
            if follower.running():
                self._check_progress(follower, head, now)
            elif self._restart_due(follower, now):
                due.append(follower)
        if due and not self._stopping.is_set():
            self._restart(due, now)

    def _restart_due(self, follower: Follower, now: float) -> bool:
        error = follower.take_error()
        if error is not None:
            self._schedule_retry(follower, error, now)
        if now < follower.next_start:
            follower.state = "backing_off"
            return False
        return True

    def _restart(self, followers: list[Follower], now: float) -> None:
        """Catch up by polling (together: each page is read and decoded once), then follow.
        If that fails, try each alone, so one failing read model does not hold up others."""
        for follower in followers:
            follower.state = "catching_up"
        try:
            self.catch_up(followers)
        except Exception as failure:
            if len(followers) == 1:
                self._schedule_retry(followers[0], failure, now)
                followers[0].state = "backing_off"
                return
            for follower in followers:
                self._restart([follower], now)
            return
        for follower in followers:
            if not self._stopping.is_set():
                follower.start()

    def _lead(self, follower: Follower) -> bool:
        if self.leader.try_acquire(follower.name):
            if follower.state == "standby":
                log.info("projection_leading", projection=follower.name)
            return True
        if follower.state != "standby":
            log.info("projection_standby", projection=follower.name)
        follower.state = "standby"
        return False

    def _schedule_retry(self, follower: Follower, error: BaseException, now: float) -> None:
        base, cap = self.backoff
        follower.restarts += 1
        follower.last_problem = f"{type(error).__name__}: {error}"
        if isinstance(error, IntegrityError):  # another worker got there first: not a fault
            log.info("projection_position_conflict", projection=follower.name, error=str(error))
            delay = base
        else:
            follower.failures += 1
            delay = min(cap, base * 2 ** (follower.failures - 1))
            log.error("projection_failed", projection=follower.name, reason=str(error),
                      error_type=type(error).__name__, failures=follower.failures,
                      retry_in_seconds=delay)
        follower.next_start = now + delay

    def _check_progress(self, follower: Follower, head: int, now: float) -> None:
        position = follower.view.max_tracking_id(APPLICATION_NAME) or 0
        if position >= head or position != follower.last_position:
            if position != follower.last_position:
                follower.failures = 0  # it works again
            follower.last_position, follower.behind_since = position, None
            return
        if follower.behind_since is None:
            follower.behind_since = now
        elif now - follower.behind_since >= self.stall_after:
            log.warning("projection_stalled", projection=follower.name, position=position,
                        head=head, seconds_without_progress=round(now - follower.behind_since, 1),
                        reason="behind the event store and not moving (a lost NOTIFY?)")
            follower.stop()
            follower.restarts += 1
            follower.last_problem = f"stalled at {position} behind {head}"
            follower.next_start = now  # catch up by polling, then follow again
