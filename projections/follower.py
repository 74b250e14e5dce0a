"""One projection followed live by the library's ``ProjectionRunner``, in its own thread.

The runner subscribes from the read model's stored position (LISTEN/NOTIFY plus paging) and
calls the projection's ``process_event`` for each new event. It stops at the first error;
``run_forever(timeout)`` re-raises it here, where it is kept for the supervisor to report.

Every start opens connections of its own (the runner's application and view), and they
count against the server's ``max_connections``, shared with every other client. The library's
runner closes only its application; its view's pool went when the garbage collector freed it
(usually at once, by reference counting; later if a kept exception or traceback still held
it). So the view is closed here as the runner stops, or fails to start, and the pools are
exactly as big as the threads using them (see ``Follower.__init__``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

import structlog
from eventsourcing.projection import ProjectionRunner

from application.cases import QualityMarkCases
from projections.base import APPLICATION_NAME, PostgresReadModel

if TYPE_CHECKING:
    from projections.registry import ProjectionSpec

log = structlog.get_logger(__name__)


class _Runner(ProjectionRunner[Any, Any]):
    """The library's runner, which also closes the view it opened: when it stops, and when
    building it fails part way (e.g. no connection for the view's first query)."""

    def __init__(self, **kwargs: Any) -> None:
        try:
            super().__init__(**kwargs)
        except BaseException:
            self._close_view()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc_val: BaseException | None,
                 exc_tb: TracebackType | None) -> None:
        try:
            super().__exit__(exc_type, exc_val, exc_tb)  # stops the threads, closes the app
        finally:
            self._close_view()

    def _close_view(self) -> None:
        view = getattr(self, "view", None)
        if view is not None:
            view.datastore.close()


class Follower:
    """The live path of one projection, plus what the supervisor knows about it."""

    def __init__(self, spec: ProjectionSpec, view: PostgresReadModel, env: Mapping[str, str]):
        self.spec, self.name, self.view = spec, spec.name, view
        prefix = self.name.upper()
        # The runner builds its own application and view, with no DDL (the supervisor created
        # the tables) and pools of exactly the connections its threads hold at once: two for
        # the application (the LISTEN thread holds one while following, the thread pulling new
        # events uses the other), one for the view (the thread processing events). No overflow:
        # a pool that may grow does so whenever a checkout has to wait, even the first one made
        # while the pool is still connecting, and keeps the spare idle for ten minutes.
        self.env = {**env, "CASES_POSTGRES_POOL_SIZE": "2", "CASES_POSTGRES_MAX_OVERFLOW": "0",
                    "CASES_CREATE_TABLE": "false", f"{prefix}_POSTGRES_POOL_SIZE": "1",
                    f"{prefix}_POSTGRES_MAX_OVERFLOW": "0", f"{prefix}_CREATE_TABLE": "false"}
        self.state = "stopped"
        self.failures, self.next_start = 0, 0.0
        self.restarts, self.last_problem = 0, None
        self.last_position: int | None = None
        self.behind_since: float | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._runner: ProjectionRunner[Any, Any] | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        """Start following from the stored position; returns once the runner is built."""
        self.stop()
        self._stop.clear()
        self._error, self.behind_since = None, None
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True,
                                        name=f"projection-{self.name}")
        self._thread.start()
        ready.wait()
        if self.running():
            self.state = "following"
            log.info("projection_following", projection=self.name,
                     position=self.view.max_tracking_id(APPLICATION_NAME))

    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        runner = self._runner
        if runner is not None:
            runner.stop()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.state in ("following", "catching_up"):
            self.state = "stopped"

    def take_error(self) -> BaseException | None:
        """Why the runner stopped, once (None if it was stopped on purpose)."""
        error, self._error = self._error, None
        return error

    def _run(self, ready: threading.Event) -> None:
        try:
            with _Runner(
                application_class=QualityMarkCases, projection_class=self.spec.projection_class,
                view_class=self.spec.view_class, env=self.env,
            ) as runner:
                self._runner = runner
                ready.set()
                while not (self._stop.is_set() or runner.is_interrupted.is_set()):
                    runner.run_forever(timeout=0.5)
        except BaseException as error:  # reported by the supervisor's watchdog
            self._error = error
        finally:
            self._runner = None
            self.state = "failed" if self._error is not None else self.state
            ready.set()
