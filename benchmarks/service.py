"""``pqasso serve`` as users run it: its own process on loopback, with tokens, measured from
outside (its peak memory comes from /proc)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO

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

    @classmethod
    def start(cls, database_url: str, log_path: Path, timeout: float = 60.0) -> Served:
        port = free_port()
        env = {**os.environ, "PQASSO_DATABASE_URL": database_url, "PQASSO_LOG_FORMAT": "json",
               "PQASSO_LOG_LEVEL": "INFO"}
        log = log_path.open("wb")
        process = subprocess.Popen([*pqasso_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
                                   env=env, stdout=log, stderr=subprocess.STDOUT)
        served = cls(f"http://127.0.0.1:{port}", process, log)
        served._wait_until_healthy(timeout)
        return served

    def _wait_until_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pqasso serve exited with status {self.process.returncode} "
                                   f"(its log: {self.log.name})")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"pqasso serve did not answer /health within {timeout:.0f} s")

    def peak_rss_mb(self) -> float:
        """The process's peak resident memory so far (VmHWM), in MiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmHWM in /proc/<pid>/status")

    def stop(self) -> None:
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
