"""``pqasso serve`` as users run it: its own process (and its workers) on loopback, with
tokens, measured from outside (its memory comes from /proc).

Memory: one process's peak is its ``VmHWM``. With ``--workers``, the workers are forked from
the parent and share its pages until they change them, so adding up their resident sizes
would count every shared page once per process. The figure is then the peak, over samples
taken every 0.5 s, of the processes' summed *proportional* set size (``Pss``: each shared
page divided among the processes sharing it), which counts each page once: what the
service costs the machine. Their summed resident size is kept too, for comparison."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from infrastructure.tokens import TokenStore


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pqasso_command() -> list[str]:
    """The installed ``pqasso`` console script next to this Python, else the module."""
    script = Path(sys.executable).with_name("pqasso")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from infrastructure.cli import main; main()"]


@dataclass
class Served:
    """A running ``pqasso serve`` on ``url`` (the service's base URL)."""

    url: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    workers: int = 1
    memory: MemorySampler | None = None

    @classmethod
    def start(cls, database_url: str, log_path: Path, timeout: float = 60.0,
              workers: int = 1) -> Served:
        port = free_port()
        env = {**os.environ, "PQASSO_DATABASE_URL": database_url, "PQASSO_LOG_FORMAT": "json",
               "PQASSO_LOG_LEVEL": "INFO"}
        log = log_path.open("wb")
        process = subprocess.Popen([*pqasso_command(), "serve", "--host", "127.0.0.1", "--port", str(port),
                                    "--workers", str(workers)],
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
        served = cls(f"http://127.0.0.1:{port}", process, log, workers)
        served._wait_until_healthy(timeout)
        served.memory = MemorySampler(process.pid)
        return served

    def _wait_until_healthy(self, timeout: float) -> None:
        if self._poll_health(timeout, lambda _: True) is None:
            self.stop()
            raise RuntimeError(f"pqasso serve did not answer /health within {timeout:.0f} s")

    def wait_for_projections(self, timeout: float = 300.0) -> float:
        """Wait until ``/health`` shows every read model at the event store's head; return
        the seconds that took (a load phase starts from a caught-up service, not with the
        last phase's backlog still being projected). Raises if ``timeout`` passes first."""
        waited = self._poll_health(timeout, lambda health: all(
            p["lag"] == 0 for p in health["projections"]))
        if waited is None:
            raise RuntimeError(f"the read models did not catch up within {timeout:.0f} s")
        return waited

    def _poll_health(self, timeout: float, ready: Callable[[dict[str, Any]], bool]) -> float | None:
        """Ask ``GET /health`` every 0.2 s until it answers 200 with what ``ready`` accepts;
        the seconds that took, or None after ``timeout``. Raises if the service exited."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"pqasso serve exited with status {self.process.returncode} "
                                   f"(its log: {self.log.name})")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=5) as answer:  # noqa: S310
                    if answer.status == 200 and ready(json.loads(answer.read())):
                        return time.monotonic() - started
            except OSError:
                pass
            time.sleep(0.2)
        return None

    def peak_memory_mb(self) -> dict[str, float]:
        """The service's peak memory so far, in MiB (see the module's docstring): ``peak``
        (VmHWM of the one process, or the peak summed Pss of them all), ``summed_rss``."""
        if self.memory is None or not _children(self.process.pid):
            high_water = _proc_kib(self.process.pid, "status", "VmHWM:") / 1024
            return {"peak": high_water, "summed_rss": high_water}
        return {"peak": self.memory.peak_pss_kib / 1024, "summed_rss": self.memory.peak_rss_kib / 1024}

    def stop(self) -> None:
        if self.memory is not None:
            self.memory.stop()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def make_tokens(database_url: str, clients: int) -> dict[str, object]:
    """Tokens for the load generator: admin, reporting, and per client an organisation and a
    lead reviewer (each client opens cases for its own organisation and reviewer)."""
    store = TokenStore(database_url, max_connections=1)
    try:
        return {
            "admin": store.add("admin", "ces-admin-bench"),
            "reporting": store.add("reporting", "reporting-bench"),
            "clients": [
                {"organisation_id": f"org-http-{n}", "reviewer_id": f"reviewer-http-{n}",
                 "organisation": store.add("organisation", f"org-http-{n}"),
                 "lead_reviewer": store.add("lead_reviewer", f"reviewer-http-{n}")}
                for n in range(clients)
            ],
        }
    finally:
        store.close()


class MemorySampler:
    """Samples the summed Pss and Rss of a process and its children every ``interval`` s.

    Reading ``smaps_rollup`` walks the process's page tables, under its memory map lock:
    about 1 ms of kernel time for a worker's size here. Read twice per process every 0.2 s,
    as it once was, it took 8% of the machine's CPU during the HTTP loads (a tenth of what
    the service itself used, BENCHMARKS.md), so it is read once per process (Rss comes
    from ``status``, which costs nothing) and twice a second: the service's memory grows
    over seconds (caches filling), not in spikes of less than half a second."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid, self.interval = pid, interval
        self.peak_pss_kib = self.peak_rss_kib = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            pids = [self.pid, *_children(self.pid)]
            try:
                pss = sum(_proc_kib(pid, "smaps_rollup", "Pss:") for pid in pids)
                rss = sum(_proc_kib(pid, "status", "VmRSS:") for pid in pids)
            except OSError:  # a process came or went: take the next sample
                continue
            self.peak_pss_kib, self.peak_rss_kib = max(self.peak_pss_kib, pss), max(self.peak_rss_kib, rss)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _proc_kib(pid: int, name: str, field: str) -> int:
    """A ``kB`` field of /proc/<pid>/<name> (``status``, ``smaps_rollup``)."""
    for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/{name}")
