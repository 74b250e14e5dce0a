"""The projection supervisor: catch up in batches, then follow every read model together.

One thread (``projection-follower``) does it all. It LISTENs for the event store's NOTIFY
(projections/live.py) and, on each notification, applies every new event to every read
model it leads in one pass: each page of notifications read and decoded once, one
transaction per read model (``ReadModel.apply_batch``, guarded by position). Notifications
that arrive meanwhile are coalesced: after a pass the next starts no sooner than a window
that grows with the last pass's events (``pass_window``: 0.05 s for a few, up to
``batch_window``, 0.2 s, from ~40), so under load each pass takes the dozens of events
recorded since the last, and a command's effect still shows in the read models within the
window plus a pass. When the service is quiet the first notification starts a pass at once.
A pass has a fixed cost (a transaction, a position check and a dozen statements per read
model: about 11 ms of CPU, the service's and PostgreSQL's, measured at 525 commands/s):
five passes a second instead of twenty took the projector from ~570 to ~255 µs of CPU per
event (BENCHMARKS.md, "HTTP commands").

Every ``watchdog_interval`` seconds the same thread also ticks: it takes or checks the
leader locks (``leadership.py``), restarts read models whose back-off is over, and runs a
pass whatever was notified, so a lost NOTIFY delays events by one interval at most.

States (``status()``): ``catching_up`` (from the position, with the pipelined
``catch_up()``: at start, on taking the lead, after a failure or a position conflict),
``following``, ``backing_off`` (failed; retried after an exponential back-off up to a cap),
``standby`` (another supervisor leads it), ``reconnecting`` (its session was lost),
``stopped``, ``missing`` (tables not created).
A ``PositionConflict`` (another worker wrote meanwhile, or a rebuild) re-syncs the read
model and goes on. A lost session (the LISTEN connection, which holds the leader locks) is
counted as a restart of each read model led, which catches up again once it leads again.

The library's ``ProjectionRunner`` is not used (nor its ``ListenNotifySubscription``): each
read model had one, with its own application, LISTEN connection and three threads, decoding
every event itself and writing every event in its own transaction (~7 statements). Measured,
in CPU per recorded event: under HTTP load (32 clients; compared with no following at all)
following cost the server ~2.7 ms and PostgreSQL ~1.2 ms, as much as the command itself;
``pqasso projections run`` alone, following two busy writers, ~8 ms and ~4 ms, its twelve
threads fighting over the GIL. Batched as here: ~0.9 ms and ~0.4 ms under HTTP load; alone
~0.4-0.9 ms and ~0.25-0.5 ms (the less, the faster events come: a pass takes more of them);
one thread instead of thirteen, 12 connections fewer (29 -> 17 for ``projections run``) and
8 connection pools fewer (each has four threads of its own).
``CaseProjection.process_event`` (projections/base.py) is still the one-event-at-a-time
form of the same writes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
import structlog
from eventsourcing.persistence import IntegrityError, PersistenceError, ProgrammingError

from application.cases import QualityMarkCases
from application.decoding import decoder_of
from infrastructure.recorder import ping_only_idle_connections
from projections import bulk
from projections.base import APPLICATION_NAME, PositionConflict, PostgresReadModel
from projections.catchup import PAGE_SIZE, catch_up
from projections.leadership import LeaderLocks
from projections.live import Listener, apply_new_events
from projections.registry import ALL, ProjectionSpec

__all__ = ["ALL", "Follower", "ProjectionSpec", "ProjectionStatus", "ProjectionSupervisor"]

log = structlog.get_logger(__name__)

_WAKE_EVERY = 0.2  # the follow thread checks for stop() at least this often (seconds)
# Between passes, at least this long (seconds), and this much longer for each event the last
# pass applied, up to the supervisor's ``batch_window`` (see ``pass_window``).
QUIET_WINDOW = 0.05
WINDOW_PER_EVENT = 0.005


def pass_window(last_pass_events: int, batch_window: float) -> float:
    """How long after a pass the next one may start: the busier the last pass, the longer
    (5 ms an event, from 0.05 s up to ``batch_window``). A command now and then is in the
    read models within tens of milliseconds; above ~200 events a second the window grows
    to its cap, and each pass's fixed cost is shared by more events (BENCHMARKS.md)."""
    return min(batch_window, max(QUIET_WINDOW, WINDOW_PER_EVENT * last_pass_events))


@dataclass(frozen=True)
class ProjectionStatus:
    """Where a read model stands: its position, the event store's head, and the lag."""

    name: str
    position: int
    head: int
    lag: int
    state: str = ""
    restarts: int = 0  # times its following was restarted after a failure or a lost session
    last_problem: str | None = None


class Follower:
    """One read model as the supervisor follows it: the view, and what is known about it."""

    def __init__(self, spec: ProjectionSpec, view: PostgresReadModel) -> None:
        self.spec, self.name, self.view = spec, spec.name, view
        self.state = "stopped"
        self.failures, self.next_start = 0, 0.0  # consecutive failures; when to retry
        self.restarts, self.last_problem = 0, None

    def __repr__(self) -> str:
        return f"Follower({self.name!r}, state={self.state!r}, position={self.view.position})"


class ProjectionSupervisor:
    """Keeps every read model of ``projections`` up to date with the cases application.

    ``start()`` runs it in a background thread (``pqasso serve``, ``pqasso projections
    run``); ``catch_up()``, ``rebuild()`` and ``status()`` also work without it. With
    ``exclusive`` (the default) a projection is written by one supervisor at a time
    (``leadership.py``); the others stand by and take over if it dies.
    """

    def __init__(
        self, env: Mapping[str, str], projections: Sequence[ProjectionSpec] = ALL, *,
        page_size: int = PAGE_SIZE, watchdog_interval: float = 2.0, batch_window: float = 0.2,
        backoff: tuple[float, float] = (1.0, 60.0), exclusive: bool = True,
        rebuild_workers: int | None = None,
    ) -> None:
        self.env = dict(env)
        self.rebuild_workers = rebuild_workers  # processes for rebuild(); None: bulk.py decides
        self.page_size, self.interval, self.batch_window = page_size, watchdog_interval, batch_window
        self.backoff, self.exclusive = backoff, exclusive
        # Small pools (the service has its own), as big as the threads using them at once:
        # this application's, the follow thread or a catch-up's page reader, and a status()
        # from another thread; each view's (registry.open_view), a catch-up's two threads (or
        # the follow thread) and a reader (the HTTP API's queries, status()). Plus one
        # connection: the session holding the leader locks and the LISTEN.
        self.app = QualityMarkCases(env={**self.env, "CASES_POSTGRES_POOL_SIZE": "1",
                                         "CASES_POSTGRES_MAX_OVERFLOW": "1"})
        self.followers = [Follower(spec, spec.open_view(self.env)) for spec in projections]
        decoder = decoder_of(self.app.mapper)  # the mapper's events, in about 2/3 of the time
        self._decode = lambda n: decoder.decode(n.topic, n.state, n.originator_id, n.originator_version)
        for follower in self.followers:  # a ping per checkout was a round trip per batch
            ping_only_idle_connections(follower.view.datastore)
        kwargs = self.followers[0].view.datastore.pool.kwargs if self.followers else {}
        self.leader = LeaderLocks({k: v for k, v in kwargs.items()
                                   if k in ("dbname", "host", "port", "user", "password")})
        self.listener = Listener(self.leader, self.app.recorder.channel_name)
        self._lock = threading.RLock()  # one pass / catch-up / rebuild at a time
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_pass_events = 0  # what each read model took in the last pass (pass_window)
        self._next_tick, self._session_lost_at = 0.0, float("-inf")

    # ---- lifecycle -----------------------------------------------------------------------

    def create_tables(self) -> None:
        """Create the read models' tables that are missing (needs the right to create)."""
        for follower in self.followers:
            if not follower.view.tables_exist():
                follower.view.create_table()

    def start(self) -> None:
        """Create missing tables, then follow in a background thread (returns at once)."""
        if self._thread is not None:
            return
        self.create_tables()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="projection-follower", daemon=True)
        self._thread.start()

    def stand_by(self) -> None:
        """Follow nothing from here: another process does (the projector of ``pqasso serve
        --workers``). ``status()``, ``wait_until_caught_up()`` and the views still work."""
        for follower in self.followers:
            follower.state = "standby"

    def stop(self) -> None:
        """Stop following; release leadership and the session."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            self.leader.close()
            for follower in self.followers:
                if follower.state != "missing":
                    follower.state = "stopped"

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
        """Empty every read model and replay the whole event store into them (following goes
        on from there): a bulk load by case in ``rebuild_workers`` processes (bulk.py), then
        a catch-up over what was recorded meanwhile. Returns the events applied, summed over
        the read models."""
        with self._lock:
            self.create_tables()
            views = {f.name: f.view for f in self.followers}
            if views and bulk.same_database(self.app, list(views.values())):
                loaded = bulk.rebuild(self.app, views, [f.spec for f in self.followers],
                                      self.env, workers=self.rebuild_workers)
                return loaded + self.catch_up()
            for follower in reversed(self.followers):  # elsewhere: replay page by page
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

    # ---- the follow thread ---------------------------------------------------------------

    def _run(self) -> None:
        self._next_tick, last_pass, due = 0.0, float("-inf"), True
        while not self._stopping.is_set():
            try:
                if time.monotonic() >= self._next_tick:
                    self._next_tick = time.monotonic() + self.interval
                    with self._lock:
                        self._tick(time.monotonic())
                    due = True  # whatever was notified: a lost NOTIFY waits one tick at most
                if due:
                    due = False
                    self.listener.drain()  # this pass covers them
                    last_pass = time.monotonic()
                    with self._lock:
                        due = self._pass(last_pass)
                    if due:
                        continue
                timeout = min(_WAKE_EVERY, self._next_tick - time.monotonic())
                if not self.listener.listening:
                    self._stopping.wait(max(0.0, timeout))
                elif self.listener.wait(timeout):
                    # Let the events recorded meanwhile join this one: one pass for them all.
                    window = pass_window(self._last_pass_events, self.batch_window)
                    self._stopping.wait(last_pass + window - time.monotonic())
                    due = True
            except psycopg.Error as error:  # the session (LISTEN, leader locks) is lost
                with self._lock:
                    self._session_lost(error)
            except Exception as error:  # the follow thread itself must never die
                log.exception("projection_follower_error", error=str(error))
                self._stopping.wait(min(_WAKE_EVERY, self.interval))

    def _tick(self, now: float) -> None:
        """Leadership, restarts after back-off, and the LISTEN (if anything is led)."""
        if self.exclusive and not self.leader.alive():
            self._session_lost(None)
        for follower in self.followers:
            if not self._lead(follower):
                continue
            if follower.state in ("stopped", "standby", "reconnecting", "missing"):
                follower.state = "catching_up"
            elif follower.state == "backing_off" and now >= follower.next_start:
                follower.state = "catching_up"
        if self._led():
            self.listener.listen()
        else:  # a stand-by need not wake on every event
            self.listener.unlisten()

    def _pass(self, now: float) -> bool:
        """Catch up those that must, then apply new events to those following; True if
        there may be more to do at once (a position conflict to catch up from)."""
        catching = [f for f in self._led() if f.state == "catching_up"]
        if catching and not self._stopping.is_set():
            self._catch_up(catching, now)
        following = [f for f in self._led() if f.state == "following"]
        if not following or self._stopping.is_set():
            return False
        try:
            applied, problems = apply_new_events(self.app, {f.name: f.view for f in following},
                                                 page_size=self.page_size, decode=self._decode)
            self._last_pass_events = applied // len(following)  # applied is summed over them
        except Exception as error:  # reading the events failed: every read model waits
            for follower in following:
                self._fail(follower, error, now)
            return False
        for follower in following:
            problem = problems.get(follower.name)
            if problem is None:
                follower.failures = 0  # it works (again)
            elif isinstance(problem, PositionConflict):
                log.info("projection_position_conflict", projection=follower.name,
                         reason=str(problem))
                follower.state = "catching_up"  # re-syncs its position, and goes on
            else:
                self._fail(follower, problem, now)
        return any(f.state == "catching_up" for f in following)

    def _catch_up(self, followers: list[Follower], now: float) -> None:
        """Catch up by polling (together: each page is read and decoded once), then follow.
        If that fails, try each alone, so one failing read model does not hold up others."""
        try:
            self.catch_up(followers)
        except Exception as failure:
            if len(followers) == 1:
                self._fail(followers[0], failure, now)
                return
            for follower in followers:
                self._catch_up([follower], now)
            return
        if self._stopping.is_set():
            return
        for follower in followers:
            follower.state = "following"
            log.info("projection_following", projection=follower.name, position=follower.view.position)

    def _led(self) -> list[Follower]:
        return [f for f in self.followers if not self.exclusive or f.name in self.leader.held]

    def _lead(self, follower: Follower) -> bool:
        if not self.exclusive:
            return True
        was_leading = follower.name in self.leader.held
        if self.leader.try_acquire(follower.name):
            if not was_leading:
                log.info("projection_leading", projection=follower.name)
                if follower.state != "backing_off":
                    follower.state = "catching_up"  # another may have written meanwhile
            return True
        if follower.state != "standby":
            log.info("projection_standby", projection=follower.name)
        follower.state = "standby"
        return False

    def _session_lost(self, error: BaseException | None) -> None:
        """The session (its LISTEN and leader locks) is gone: the read models it led catch
        up again once led again. Try another session at once if this one had been open (not
        if opening it failed), unless one was lost just now; else at the next tick."""
        problem = "session lost" + (f": {type(error).__name__}: {error}" if error else "")
        for follower in self.followers:
            if follower.state in ("following", "catching_up"):  # led until now
                follower.restarts += 1
                follower.last_problem = problem
                follower.state = "reconnecting"
        log.warning("projection_session_lost", reason=problem)
        now = time.monotonic()
        if error is not None and self.leader.opened and now - self._session_lost_at >= self.backoff[0]:
            self._next_tick = now
        self._session_lost_at = now
        self.leader.close()

    def _fail(self, follower: Follower, error: BaseException, now: float) -> None:
        base, cap = self.backoff
        follower.restarts += 1
        follower.last_problem = f"{type(error).__name__}: {error}"
        follower.state = "backing_off"
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
        self._next_tick = min(self._next_tick, follower.next_start)  # the tick restarts it
