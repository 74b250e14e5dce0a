"""The deadline job inside `pqasso serve`: once at start-up, then once each new day."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date

import structlog

from application.cases import QualityMarkCases
from application.deadline_job import EvidenceOverdueCases, run_deadline_job

log = structlog.get_logger(__name__)


class DailyDeadlineJob:
    """Runs the deadline job when the day changes (checked every ``interval`` seconds).

    Before each run it waits for the deadline view to catch up with the event store,
    so a case whose evidence arrived a moment ago is not lapsed from a stale view.
    """

    def __init__(
        self, cases: QualityMarkCases, view: EvidenceOverdueCases, *,
        caught_up: Callable[[float], bool], clock: Callable[[], date] = date.today,
        interval: float = 60.0,
    ) -> None:
        self.cases, self.view, self.caught_up, self.clock = cases, view, caught_up, clock
        self.interval = interval
        self.last_run: date | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="deadline-job", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def run_if_due(self) -> bool:
        today = self.clock()
        if today == self.last_run:
            return False
        if not self.caught_up(30.0):
            log.warning("deadline_job_postponed", reason="the deadline view is behind the event store")
            return False
        run_deadline_job(self.cases, self.view, today, today=today)
        self.last_run = today
        return True

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.run_if_due()
            except Exception as error:  # keep the scheduler alive; the next tick retries
                log.exception("deadline_job_failed", error=str(error))
            self._stopping.wait(self.interval)
