"""A PostgreSQL server private to one test, which the test stops and starts again at will.

Built on ``infrastructure.embedded_postgres.temporary(tmp, tcp=True)`` (127.0.0.1, a free
port); stopped with ``pg_ctl stop`` and started again with ``pg_ctl start`` on the same port
and the same command-line settings, so clients reconnect to the same URL. Never the machine's
shared server.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import psycopg

from infrastructure.embedded_postgres import LOG_FILE, Postmaster, temporary


class PrivatePostgres:
    def __init__(self, tmp_path: Path) -> None:
        self.embedded = temporary(tmp_path, tcp=True)
        self.flags: list[str] = []
        self.url = ""

    def start(self) -> str:
        self.url = self.embedded.start()
        postmaster = Postmaster.read(self.embedded.data_dir)
        assert postmaster is not None
        with psycopg.connect(self.url, autocommit=True) as conn:
            settings = conn.execute(
                "SELECT name, setting FROM pg_settings WHERE source = 'command line' "
                "AND name <> 'port'").fetchall()
        self.flags = ["-p", str(postmaster.port)]
        for name, value in settings:
            self.flags += ["-c", f"{name}={value}"]
        return self.url

    def stop_server(self, mode: str = "fast") -> None:
        """Shut the server down (``fast``: sessions are terminated, as in a crash of theirs)."""
        self._pg_ctl("stop", "-m", mode, "-w", "-t", "30")
        assert Postmaster.read(self.embedded.data_dir) is None

    def start_server(self) -> None:
        self._pg_ctl("start", "-w", "-t", "30", "-l", str(self.embedded.data_dir / LOG_FILE),
                     "-o", shlex.join(self.flags))
        assert Postmaster.read(self.embedded.data_dir) is not None

    def close(self) -> None:
        if Postmaster.read(self.embedded.data_dir) is not None and self.embedded.binaries:
            self._pg_ctl("stop", "-m", "immediate", "-w", "-t", "30")
        self.embedded.stop()  # forgets it (the pid changed, so it does not stop it twice)

    def _pg_ctl(self, *args: str) -> None:
        binaries = self.embedded.binaries
        assert binaries is not None, "not started by this test"
        # _run switches to the server's OS user when we are root, as the embedded server does.
        result = self.embedded._run([binaries.exe("pg_ctl"), args[0], "-D",
                                     str(self.embedded.data_dir), *args[1:]])
        assert result.returncode == 0, f"pg_ctl {args[0]}: {result.stdout}{result.stderr}"
