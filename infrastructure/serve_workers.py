"""``pqasso serve --workers N``: N processes answering on one listening socket.

One Python process runs on one core at a time (the GIL): `pqasso serve` tops out near one
core of CPU. With ``N`` workers, this process binds the port, then forks the workers,
which inherit the socket (the kernel hands each new connection to one of them) and each
run the whole HTTP service with its own pools and aggregate cache; and one more process,
the projector, which keeps the read models up to date (``cli_service._project``: the HTTP
workers only read them, so none spends its requests' time on the projections). What must
be shared is in PostgreSQL: events, read models, API tokens and the pages' sessions. Only
worker 0 runs the daily deadline job.

This process (the parent) imports everything but opens no connection and starts no thread
before forking, so the workers start clean and share its memory pages until they change
them. It then only supervises: a worker that exits is started again (after a pause if it
keeps failing at start-up: then the service stops, with exit status 1); SIGINT or SIGTERM
stops every worker gracefully (uvicorn finishes the requests in flight) and then itself.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable
from types import FrameType

import structlog

log = structlog.get_logger(__name__)

_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
QUICK_EXIT_SECONDS = 10.0  # a worker that exits this soon after starting failed at start-up
MAX_QUICK_EXITS = 3  # in a row: the service cannot start; stop rather than loop
RESTART_PAUSE_SECONDS = 1.0
STOP_TIMEOUT_SECONDS = 30.0  # then the workers still running are killed


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening, inheritable by forked workers."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)  # uvicorn's default backlog
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


class ConnectionShares:
    """How many connections each of ``workers`` processes holds, in memory they share: made by
    the parent before it forks them (``pqasso serve --workers``), written by each worker."""

    def __init__(self, workers: int, *, slack: int = 1) -> None:
        self.slack = slack
        self._held = multiprocessing.RawArray(ctypes.c_int, workers)

    def started(self, worker: int) -> None:
        """``worker`` (re)starts with no connection: what a worker before it held is forgotten."""
        self._held[worker] = 0

    def over_share(self, worker: int, holding: int) -> bool:
        """Record that ``worker`` holds ``holding`` connections; True if that is more than the
        average of all workers by over ``slack``."""
        self._held[worker] = holding
        return holding > sum(self._held) / len(self._held) + self.slack


class Workers:
    """Forks ``count`` workers, each running ``work(index)`` (its exit status), and keeps
    them running until told to stop."""

    def __init__(self, count: int, work: Callable[[int], int]) -> None:
        if count < 1:
            raise ValueError("at least one worker")
        self.count, self.work = count, work
        self.running: dict[int, tuple[int, float]] = {}  # pid: (index, started)
        self.stopping = False
        self.quick_exits = 0

    def run(self) -> int:
        """Start the workers and supervise them; returns this process's exit status."""
        previous = {sig: signal.signal(sig, self._stop) for sig in _STOP_SIGNALS}
        try:
            for index in range(self.count):
                self._start(index)
            status = self._supervise()
        finally:
            signal.alarm(0)  # the kill timer of _stop, if set
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return status

    def _start(self, index: int) -> None:
        parent = os.getpid()
        # Stop signals wait until each side has the handlers it needs: a worker must never
        # run the parent's ``_stop`` (it would swallow the signal and serve on).
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            pid = os.fork()
        except BaseException:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
            raise
        if pid == 0:  # the worker
            status = 1
            try:
                exit_on_stop_signals()
                signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
                _stop_with_parent(parent)
                status = self.work(index)
            except SystemExit as stop:
                status = stop.code if isinstance(stop.code, int) else 0
            except BaseException:
                log.exception("serve_worker_failed", worker=index)
            finally:
                os._exit(status)
        self.running[pid] = (index, time.monotonic())
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        log.info("serve_worker_started", worker=index, pid=pid)

    def _supervise(self) -> int:
        failed = False
        while self.running:
            try:
                pid, wait_status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:  # pragma: no cover - PEP 475 retries os.wait itself
                continue
            if pid not in self.running:
                continue
            index, started = self.running.pop(pid)
            code = os.waitstatus_to_exitcode(wait_status)
            if self.stopping:
                log.info("serve_worker_stopped", worker=index, pid=pid, exit_code=code)
                continue
            quick = time.monotonic() - started < QUICK_EXIT_SECONDS
            self.quick_exits = self.quick_exits + 1 if quick else 0
            log.warning("serve_worker_exited", worker=index, pid=pid, exit_code=code,
                        seconds=round(time.monotonic() - started, 1))
            if self.quick_exits >= MAX_QUICK_EXITS:
                log.error("serve_stopping", reason=f"workers failed {self.quick_exits} times "
                                                    "in a row at start-up")
                failed = True
                self._stop(signal.SIGTERM, None)
                continue
            if quick:
                time.sleep(RESTART_PAUSE_SECONDS)
            if not self.stopping:
                self._start(index)
        return 1 if failed else 0

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        """Stop every worker gracefully (SIGTERM: uvicorn finishes the requests in flight;
        also after a Ctrl-C, which the terminal sent the workers too, where a second SIGINT
        would make uvicorn quit at once); kill those still running after a while."""
        if self.stopping:
            return
        self.stopping = True
        log.info("serve_stopping", signal=signal.Signals(signum).name, workers=len(self.running))
        for pid in list(self.running):
            _signal(pid, signal.SIGTERM)
        signal.signal(signal.SIGALRM, self._kill)
        signal.alarm(int(STOP_TIMEOUT_SECONDS))

    def _kill(self, _signum: int, _frame: FrameType | None) -> None:
        for pid in list(self.running):
            log.warning("serve_worker_killed", pid=pid, reason="still running after "
                        f"{STOP_TIMEOUT_SECONDS:.0f} s")
            _signal(pid, signal.SIGKILL)


def _stop_with_parent(parent: int) -> None:
    """Ask Linux to send this worker SIGTERM if the parent dies (killed with SIGKILL, say),
    so that no orphaned worker goes on answering on the port; elsewhere, nothing."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died before the request was made
        raise SystemExit(0)


_PR_SET_PDEATHSIG = 1


def exit_on_stop_signals() -> None:
    """From now on, SIGINT or SIGTERM ends this process through its finally blocks (status 0).

    For a worker, and for ``pqasso serve`` alone in its process: until uvicorn installs its
    own handlers, and after it has shut down, when it restores these and raises the signal it
    caught again. With the default handler, SIGTERM would then end the process at once: no
    pool closed, and an embedded PostgreSQL left running with nobody to stop it."""
    for sig in _STOP_SIGNALS:
        signal.signal(sig, _exit)


def _exit(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
