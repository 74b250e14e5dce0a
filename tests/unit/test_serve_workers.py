"""`pqasso serve --workers N`: the supervisor of the worker processes, without a database.

``Workers`` forks, so each test runs it in a child Python process (``CHILD``) whose workers
only leave traces in a directory: a file ``started-<index>-<pid>`` when they start and
``stopped-<index>-<pid>`` when a stop signal ends them. Every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from infrastructure.cli import build_parser
from infrastructure.serve_workers import MAX_QUICK_EXITS, listening_socket
from tests.processes import alive

ROOT = Path(__file__).resolve().parents[2]

# argv: the directory for the traces, "sleep" (run until stopped) or "exit" (fail at once),
# and the number of workers.
CHILD = """
import os, sys, time
from pathlib import Path
from infrastructure import serve_workers

out, mode, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
serve_workers.RESTART_PAUSE_SECONDS = 0.05

def work(index):
    (out / f"started-{index}-{os.getpid()}").touch()
    if mode == "exit":
        return 3
    try:
        while True:
            time.sleep(0.05)
    finally:
        (out / f"stopped-{index}-{os.getpid()}").touch()

sys.exit(serve_workers.Workers(count, work).run())
"""


class Supervisor:
    """The child process running ``Workers``, and what its workers left behind."""

    def __init__(self, out: Path, mode: str, count: int) -> None:
        self.out = out
        self.log = out.parent / f"{out.name}.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", CHILD, str(out), mode, str(count)], cwd=ROOT,
                stdout=log, stderr=subprocess.STDOUT)

    def traces(self, kind: str) -> list[tuple[int, int]]:
        """(index, pid) of every worker that left a ``kind`` trace ("started", "stopped")."""
        found = []
        for path in self.out.glob(f"{kind}-*"):
            _, index, pid = path.name.split("-")
            found.append((int(index), int(pid)))
        return sorted(found)

    def pids(self) -> list[int]:
        return [pid for _, pid in self.traces("started")]


def wait_until(condition: Callable[[], object], timeout: float = 10, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.02)



@pytest.fixture
def supervise(tmp_path: Path) -> Iterator[Callable[[str, int], Supervisor]]:
    """Starts supervisors; afterwards kills whatever a failed test left running."""
    started: list[Supervisor] = []

    def start(mode: str, count: int) -> Supervisor:
        out = tmp_path / f"run{len(started)}"
        out.mkdir()
        started.append(Supervisor(out, mode, count))
        return started[-1]

    yield start
    for supervisor in started:
        if supervisor.process.poll() is None:
            supervisor.process.kill()
            supervisor.process.wait(timeout=5)
        for pid in supervisor.pids():
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")


# --- Workers ---------------------------------------------------------------------------


def test_each_worker_starts_once_and_sigterm_stops_them_all(supervise):
    # Given a supervisor of three workers, all started
    supervisor = supervise("sleep", 3)
    wait_until(lambda: len(supervisor.pids()) == 3, what="three workers")
    # Then each index runs exactly once, each in a process of its own
    assert [index for index, _ in supervisor.traces("started")] == [0, 1, 2]
    assert len(set(supervisor.pids())) == 3 and all(alive(pid) for pid in supervisor.pids())

    # When the supervisor gets SIGTERM
    supervisor.process.send_signal(signal.SIGTERM)

    # Then every worker is stopped by a signal (not killed), and the supervisor exits 0
    assert supervisor.process.wait(timeout=10) == 0
    assert supervisor.traces("stopped") == supervisor.traces("started")
    assert not any(alive(pid) for pid in supervisor.pids())
    assert "serve_stopping" in supervisor.log.read_text()


def test_a_killed_worker_is_started_again_with_its_index(supervise):
    # Given two workers running
    supervisor = supervise("sleep", 2)
    wait_until(lambda: len(supervisor.pids()) == 2, what="two workers")
    (index, pid), other = supervisor.traces("started")

    # When worker 0 is killed with SIGKILL
    os.kill(pid, signal.SIGKILL)

    # Then a new process runs worker 0, and worker 1 was left alone
    wait_until(lambda: len(supervisor.pids()) == 3, what="worker 0 to start again")
    (again,) = set(supervisor.traces("started")) - {(index, pid), other}
    assert again[0] == index and again[1] != pid and alive(again[1])
    assert alive(other[1]) and supervisor.process.poll() is None

    supervisor.process.send_signal(signal.SIGTERM)
    assert supervisor.process.wait(timeout=10) == 0
    assert supervisor.traces("stopped") == sorted([again, other])


def test_workers_that_keep_failing_at_start_up_make_it_give_up_with_status_1(supervise):
    # Given two workers that exit as soon as they start
    supervisor = supervise("exit", 2)

    # Then the supervisor restarts them until MAX_QUICK_EXITS quick exits in a row, then
    # stops and exits 1: the two first starts, and one restart per quick exit but the last
    # (the last restart may be stopped before its work begins, leaving no trace)
    assert supervisor.process.wait(timeout=10) == 1
    assert 2 + MAX_QUICK_EXITS - 2 <= len(supervisor.pids()) <= 2 + MAX_QUICK_EXITS - 1
    assert "serve_stopping" in supervisor.log.read_text()
    assert not any(alive(pid) for pid in supervisor.pids())


def test_the_workers_stop_when_the_supervisor_is_killed(supervise):
    # Given two workers running
    supervisor = supervise("sleep", 2)
    wait_until(lambda: len(supervisor.pids()) == 2, what="two workers")

    # When the supervisor is killed with SIGKILL (no code of its own runs)
    supervisor.process.kill()
    supervisor.process.wait(timeout=5)

    # Then the kernel sends each worker SIGTERM (PR_SET_PDEATHSIG): none is left running
    wait_until(lambda: not any(alive(pid) for pid in supervisor.pids()), what="the workers to exit")
    assert supervisor.traces("stopped") == supervisor.traces("started")


def test_at_least_one_worker():
    from infrastructure.serve_workers import Workers

    with pytest.raises(ValueError):
        Workers(0, lambda index: 0)


# --- listening_socket ------------------------------------------------------------------


def test_listening_socket_is_bound_listening_and_inheritable():
    # When a listening socket is made on a free port
    with listening_socket("127.0.0.1", 0) as sock:
        host, port = sock.getsockname()
        # Then it listens there, and a forked worker would inherit it
        assert host == "127.0.0.1" and port > 0
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
        assert sock.get_inheritable()
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            accepted, _ = sock.accept()
            accepted.close()


def test_listening_socket_on_a_port_already_taken_raises_oserror():
    # Given a port another socket listens on
    with listening_socket("127.0.0.1", 0) as taken:
        port = taken.getsockname()[1]
        # When another listening socket is asked for on it, then OSError (address in use)
        with pytest.raises(OSError):
            listening_socket("127.0.0.1", port)


# --- the command line ------------------------------------------------------------------


@pytest.mark.parametrize("given", ["1", "4", "64"])
def test_serve_accepts_a_number_of_workers(given):
    assert build_parser().parse_args(["serve", "--workers", given]).workers == int(given)


def test_serve_without_workers_leaves_it_to_the_settings():
    assert build_parser().parse_args(["serve"]).workers is None


@pytest.mark.parametrize("given", ["0", "x", "-1", "65", "1.5", ""])
def test_serve_refuses_a_wrong_number_of_workers(given, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["serve", "--workers", given])
    assert exit_.value.code == 2
    assert "number of processes" in capsys.readouterr().err
