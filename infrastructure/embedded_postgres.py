"""A private PostgreSQL server living in a data folder, for development and tests.

Binaries come from, in order of preference, the ``pgserver`` package (which bundles
PostgreSQL in the virtualenv) or the machine's own ``initdb``/``pg_ctl``.  Both are
driven by the same code below; we use pgserver only for its binaries, because its
``PostgresServer`` class, when run as root, creates an OS user, makes every parent
directory of the data folder world-readable up to ``/`` and runs the server with the
root group.

Running as root (CI containers): initdb and postgres refuse to run as root, so the
server runs as an unprivileged OS user -- the owner of an existing data folder, else
``run_as``, else ``postgres``, ``pgserver`` or ``nobody``.  We chown the data folder to
it and, where a parent directory is not searchable by that user (pytest's 0700
``/tmp/pytest-of-root``), add only the execute (search) bit, and log it.

The server listens on a unix socket in the data folder (no TCP port, so nothing
clashes with a shared server on 5432, and the 0700 folder keeps other OS users out
despite ``trust`` authentication).  It falls back to 127.0.0.1 on a free port when the
socket path would be too long, or when ``tcp=True``.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import importlib.util
import os
import pwd
import re
import shlex
import shutil
import socket
import stat
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, get_args
from urllib.parse import quote

import psycopg
import structlog

log = structlog.get_logger(__name__)

Strategy = Literal["pgserver", "pg_ctl"]
DEFAULT_PREFER: tuple[Strategy, ...] = ("pgserver", "pg_ctl")
DEFAULT_DBNAME = "pqasso"
SUPERUSER = "postgres"  # initdb -U: the same role name whoever owns the files
UNPRIVILEGED_USERS = ("postgres", "pgserver", "nobody")
LOG_FILE = "embedded-server.log"
# sun_path holds 108 bytes on Linux, 104 on macOS; keep a margin.
_MAX_SOCKET_PATH = 100
# For throwaway test servers durability is worthless and fsyncs dominate run time.
THROWAWAY_OPTIONS: Mapping[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


class EmbeddedPostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries usable for the embedded server; the message says what to do."""


class EmbeddedPostgresError(RuntimeError):
    """initdb or pg_ctl failed; the message includes their output and the server log tail."""


_HOW_TO_FIX = (
    "Either set PQASSO_DATABASE_URL to a PostgreSQL URL "
    "(postgresql://user:password@host:5432/dbname), "
    "or install the bundled server with `pip install pgserver`."
)


# --- binaries -------------------------------------------------------------------------


@dataclass(frozen=True)
class PostgresBinaries:
    """A directory holding ``initdb``, ``pg_ctl`` and ``postgres`` of one major version."""

    strategy: Strategy
    bin_dir: Path
    major: int

    def exe(self, name: str) -> str:
        return str(self.bin_dir / name)


def _pgserver_bin_dirs() -> list[Path]:
    # find_spec, not import: importing pgserver warns about XDG_RUNTIME_DIR and sets up
    # module-level lock objects, and all we want from it is its binaries.
    try:
        spec = importlib.util.find_spec("pgserver")
    except (ImportError, ValueError):
        return []
    locations = spec.submodule_search_locations if spec else None
    return [Path(location) / "pginstall" / "bin" for location in locations or []]


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (0,)


def _system_bin_dirs() -> list[Path]:
    dirs = []
    on_path = shutil.which("pg_ctl")
    if on_path:
        dirs.append(Path(on_path).resolve().parent)  # /usr/local/bin/pg_ctl may be a symlink
    # Debian/Ubuntu keep server binaries off PATH; newest version first.
    dirs += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    return list(dict.fromkeys(path.resolve() for path in dirs))


def _candidate_dirs(strategy: Strategy) -> list[Path]:
    return _pgserver_bin_dirs() if strategy == "pgserver" else _system_bin_dirs()


def _probe(strategy: Strategy, bin_dir: Path) -> PostgresBinaries | None:
    if not all(os.access(bin_dir / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres")):
        return None
    try:
        # `postgres --version` is allowed as root; it only refuses to run a server.
        output = subprocess.run(
            [str(bin_dir / "postgres"), "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("postgres_binaries_broken", bin_dir=str(bin_dir), error=str(exc))
        return None
    match = re.search(r"\)\s*(\d+)", output)
    if not match:
        return None
    return PostgresBinaries(strategy=strategy, bin_dir=bin_dir, major=int(match.group(1)))


def find_binaries(prefer: Sequence[Strategy], *, major: int | None = None) -> PostgresBinaries:
    """Return the first usable binaries in ``prefer`` order, of version ``major`` if given."""
    looked = {
        "pgserver": "the pgserver package",
        "pg_ctl": "initdb/pg_ctl on PATH and in /usr/lib/postgresql/*/bin",
    }
    found: list[str] = []
    for strategy in prefer:
        for bin_dir in _candidate_dirs(strategy):
            binaries = _probe(strategy, bin_dir)
            if binaries is None:
                continue
            if major is None or binaries.major == major:
                return binaries
            found.append(f"{strategy}: PostgreSQL {binaries.major} in {bin_dir}")
    if major is None:
        raise EmbeddedPostgresUnavailable(
            f"No PostgreSQL server binaries found for the embedded database "
            f"(looked for {' and '.join(looked[s] for s in prefer)}). {_HOW_TO_FIX}"
        )
    raise EmbeddedPostgresUnavailable(
        f"The embedded database folder was initialised by PostgreSQL {major}, but no "
        f"PostgreSQL {major} binaries are available (found: {'; '.join(found) or 'none'}). "
        f"Install PostgreSQL {major}, or move the folder away to start afresh. {_HOW_TO_FIX}"
    )


# --- OS user and permissions ----------------------------------------------------------


@dataclass(frozen=True)
class OsUser:
    """The unprivileged account the server runs as when we are root."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]

    @classmethod
    def from_entry(cls, entry: pwd.struct_passwd) -> OsUser:
        groups = tuple(os.getgrouplist(entry.pw_name, entry.pw_gid))
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid, groups)


def _server_user(data_dir: Path, run_as: str | None) -> OsUser | None:
    """Who runs the server: ``None`` means "this process's user" (we are not root)."""
    if os.geteuid() != 0:
        return None
    if (data_dir / "PG_VERSION").exists():
        # postgres insists on being run by the owner of its data folder.
        owner = data_dir.stat()
        try:
            return OsUser.from_entry(pwd.getpwuid(owner.st_uid))
        except KeyError:  # folder copied from another machine: uid without a name
            return OsUser(str(owner.st_uid), owner.st_uid, owner.st_gid, (owner.st_gid,))
    for name in (run_as,) if run_as else UNPRIVILEGED_USERS:
        try:
            return OsUser.from_entry(pwd.getpwnam(name))
        except KeyError:
            continue
    raise EmbeddedPostgresUnavailable(
        f"Running as root, but PostgreSQL refuses to run as root and no unprivileged user "
        f"exists (tried {run_as or ', '.join(UNPRIVILEGED_USERS)}); create one "
        f"(`useradd postgres`). {_HOW_TO_FIX}"
    )


def _grant_search(directory: Path, user: OsUser) -> None:
    """Make ``directory`` and its parents searchable (x bit) by ``user``, nothing more."""
    for path in [*reversed(directory.parents), directory]:
        st = path.stat()
        if st.st_uid == user.uid:
            bit = stat.S_IXUSR
        elif st.st_gid in user.groups:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            path.chmod(stat.S_IMODE(st.st_mode) | bit)
            log.warning("directory_made_searchable", path=str(path), user=user.name)


# --- the running server ---------------------------------------------------------------


def _pid_state(pid: int) -> Literal["running", "zombie", "gone"]:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "gone"
    except PermissionError:
        pass  # alive, owned by another user
    # pg_ctl exits once the server is up, so a crashed server is left to PID 1 to reap;
    # in containers that can take long or never happen, and kill(pid, 0) -- also what
    # postgres itself checks -- still succeeds on a zombie.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return "running"  # no procfs (macOS): trust kill()
    return "zombie" if state == "Z" else "running"


def _remove_zombie_lock(data_dir: Path) -> None:
    """Delete ``postmaster.pid`` of a dead-but-unreaped server, which blocks a restart."""
    pid_file = data_dir / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return
    if _pid_state(pid) == "zombie":
        pid_file.unlink()
        log.warning("embedded_postgres_stale_lock_removed", data_dir=str(data_dir), pid=pid)


@dataclass(frozen=True)
class Postmaster:
    """What ``postmaster.pid`` says about a live server."""

    pid: int
    port: int
    socket_dir: str
    listen_addr: str
    status: str

    @classmethod
    def read(cls, data_dir: Path) -> Postmaster | None:
        """Return the server running on ``data_dir``, or ``None`` (no or stale pid file)."""
        try:
            lines = (data_dir / "postmaster.pid").read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (FileNotFoundError, IndexError, ValueError):
            return None
        if _pid_state(pid) != "running":
            return None  # left behind by a crash
        lines += [""] * 8
        return cls(pid, port, lines[4].strip(), lines[5].strip(), lines[7].strip())

    def url(self, dbname: str, *, tcp: bool = False) -> str:
        if self.socket_dir and not (tcp and self.listen_addr):
            return (
                f"postgresql://{SUPERUSER}@/{quote(dbname, safe='')}"
                f"?host={quote(self.socket_dir)}&port={self.port}"
            )
        host = self.listen_addr.split(",")[0].strip()
        host = {"*": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(
            host, host
        )
        host = f"[{host}]" if ":" in host else host
        return f"postgresql://{SUPERUSER}@{host}:{self.port}/{quote(dbname, safe='')}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _folder_lock(data_dir: Path) -> Iterator[None]:
    # Serialises start/stop between processes sharing the folder. The lock file sits
    # next to the data folder because initdb wants an empty directory.
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(data_dir.parent / f".{data_dir.name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _wait_until_accepting(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(url, connect_timeout=2, autocommit=True):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class EmbeddedPostgres:
    """A PostgreSQL server private to ``data_dir``; data survives restarts.

    ``start()`` attaches to a server already running on the folder, or starts one
    (running ``initdb`` first if the folder is new), makes sure database ``dbname``
    exists and returns its URL.  ``stop()`` shuts down (fast mode) a server that this
    object started, and only that; it is idempotent.  Use as a context manager.

    ``prefer`` orders the binary strategies (``"pgserver"``, ``"pg_ctl"``); pass
    ``("pg_ctl",)`` to force the machine's binaries.  ``server_options`` become
    ``postgres -c key=value`` flags.
    """

    def __init__(
        self,
        data_dir: Path | str,
        *,
        dbname: str = DEFAULT_DBNAME,
        prefer: Sequence[Strategy] = DEFAULT_PREFER,
        run_as: str | None = None,
        tcp: bool = False,
        server_options: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        unknown = set(prefer) - set(get_args(Strategy))
        if unknown or not prefer:
            raise ValueError(f"prefer must name some of {get_args(Strategy)}, got {prefer!r}")
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.dbname = dbname
        self.prefer = tuple(prefer)
        self.run_as = run_as
        self.tcp = tcp
        self.server_options = dict(server_options or {})
        self.timeout = timeout
        self.binaries: PostgresBinaries | None = None  # set when we started the server
        self._user: OsUser | None = None
        self._url: str | None = None
        self._pid: int | None = None  # of the server this object started

    @property
    def url(self) -> str:
        """URL of database ``dbname`` (as the ``postgres`` superuser); needs ``start()``."""
        if self._url is None:
            raise RuntimeError(f"embedded PostgreSQL in {self.data_dir} is not started")
        return self._url

    @property
    def started_here(self) -> bool:
        """True if ``start()`` launched the server (rather than attaching to a running one)."""
        return self._pid is not None

    def start(self) -> str:
        """Start (or attach to) the server, ensure the database exists, return its URL."""
        if self._url is not None:
            return self._url
        with _folder_lock(self.data_dir):
            postmaster = Postmaster.read(self.data_dir)
            if postmaster is not None:
                log.info(
                    "embedded_postgres_attached",
                    data_dir=str(self.data_dir),
                    pid=postmaster.pid,
                    status=postmaster.status,
                )
            else:
                postmaster = self._launch()
        # Imported here because database.py imports this module.
        from infrastructure.database import create_database

        admin_url = postmaster.url("postgres", tcp=self.tcp)
        try:
            _wait_until_accepting(admin_url, self.timeout)
            create_database(admin_url, self.dbname, exist_ok=True)
        except BaseException:
            self.stop()  # __exit__ won't run when __enter__ fails: don't leak the server
            raise
        self._url = postmaster.url(self.dbname, tcp=self.tcp)
        return self._url

    def stop(self) -> None:
        """Fast-shutdown the server if this object started it; otherwise just forget it."""
        self._url = None
        pid, self._pid = self._pid, None
        if pid is None:
            return  # attached to someone else's server (or never started): leave it running
        atexit.unregister(self.stop)
        assert self.binaries is not None
        with _folder_lock(self.data_dir):
            running = Postmaster.read(self.data_dir)
            if running is None or running.pid != pid:
                # Ours crashed; whatever runs there now belongs to someone else.
                log.warning("embedded_postgres_already_gone", data_dir=str(self.data_dir), pid=pid)
                return
            started = time.perf_counter()
            pg_ctl = self.binaries.exe("pg_ctl")
            timeout = str(int(self.timeout))
            args = [pg_ctl, "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", timeout]
            result = self._run(args)
            if result.returncode != 0 and Postmaster.read(self.data_dir) is not None:
                raise self._failure("pg_ctl stop", result)
        log.info(
            "embedded_postgres_stopped",
            data_dir=str(self.data_dir),
            duration_ms=round((time.perf_counter() - started) * 1000),
        )

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- internals --------------------------------------------------------------------

    def _launch(self) -> Postmaster:
        """initdb if needed, then pg_ctl start; caller holds the folder lock."""
        started = time.perf_counter()
        version_file = self.data_dir / "PG_VERSION"
        existing_major = int(version_file.read_text()) if version_file.exists() else None
        self.binaries = find_binaries(self.prefer, major=existing_major)
        self._user = _server_user(self.data_dir, self.run_as)
        self._prepare_folder()
        if existing_major is None:
            self._initdb()
        _remove_zombie_lock(self.data_dir)

        port = _free_port()
        socket_ok = len(str(self.data_dir / f".s.PGSQL.{port}")) <= _MAX_SOCKET_PATH
        options = {
            "listen_addresses": "127.0.0.1" if self.tcp or not socket_ok else "",
            "unix_socket_directories": str(self.data_dir) if socket_ok else "",
            **self.server_options,
        }
        flags = ["-p", str(port)]
        for key, value in options.items():
            flags += ["-c", f"{key}={value}"]
        # pg_ctl hands -o to /bin/sh, hence the quoting. -l matters beyond logging:
        # without it postgres would inherit our stdout pipe and run() would never return.
        args = [
            self.binaries.exe("pg_ctl"),
            "start",
            "-D",
            str(self.data_dir),
            "-w",
            "-t",
            str(int(self.timeout)),
            "-l",
            str(self.data_dir / LOG_FILE),
            "-o",
            shlex.join(flags),
        ]
        result = self._run(args)
        postmaster = Postmaster.read(self.data_dir)
        if result.returncode != 0 or postmaster is None:
            raise self._failure("pg_ctl start", result)
        self._pid = postmaster.pid
        # Don't leave an orphan server behind if the owner forgets to stop() it.
        atexit.register(self.stop)
        log.info(
            "embedded_postgres_started",
            data_dir=str(self.data_dir),
            strategy=self.binaries.strategy,
            version=self.binaries.major,
            os_user=self._user.name if self._user else None,
            port=port,
            socket=bool(options["unix_socket_directories"]),
            initialised=existing_major is None,
            duration_ms=round((time.perf_counter() - started) * 1000),
        )
        return postmaster

    def _prepare_folder(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        user = self._user
        if user is None:
            return
        if self.data_dir.stat().st_uid != user.uid:
            os.chown(self.data_dir, user.uid, user.gid)  # initdb creates the rest as that user
        _grant_search(self.data_dir.parent, user)
        assert self.binaries is not None
        # pgserver's binaries live in the virtualenv, which may sit under /root.
        _grant_search(self.binaries.bin_dir.parent, user)

    def _initdb(self) -> None:
        assert self.binaries is not None
        started = time.perf_counter()
        args = [
            self.binaries.exe("initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-instructions",
        ]
        result = self._run(args)
        if result.returncode != 0:
            raise self._failure("initdb", result)
        log.info(
            "embedded_postgres_initialised",
            data_dir=str(self.data_dir),
            duration_ms=round((time.perf_counter() - started) * 1000),
        )

    def _run(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        user = self._user
        # Unlike pgserver's bare `user=`, also switch group and supplementary groups
        # (what `runuser -u` does, without depending on util-linux being installed).
        # cwd: the server user may be unable to read our working directory (/root).
        return subprocess.run(
            args,
            cwd=self.data_dir,
            capture_output=True,
            text=True,
            timeout=self.timeout + 30,
            check=False,
            user=user.uid if user else None,
            group=user.gid if user else None,
            extra_groups=list(user.groups) if user else None,
        )

    def _failure(
        self, what: str, result: subprocess.CompletedProcess[str]
    ) -> EmbeddedPostgresError:
        log_path = self.data_dir / LOG_FILE
        tail = log_path.read_text(errors="replace").splitlines()[-20:] if log_path.exists() else []
        log.error(
            "embedded_postgres_failed",
            command=what,
            data_dir=str(self.data_dir),
            exit_code=result.returncode,
        )
        return EmbeddedPostgresError(
            f"{what} failed for {self.data_dir} (exit {result.returncode}):\n"
            f"{result.stdout}{result.stderr}\n--- last lines of {log_path} ---\n" + "\n".join(tail)
        )


def temporary(
    tmp_dir: Path | str,
    *,
    dbname: str = DEFAULT_DBNAME,
    prefer: Sequence[Strategy] = DEFAULT_PREFER,
    tcp: bool = False,
) -> EmbeddedPostgres:
    """A throwaway server in ``<tmp_dir>/postgres`` with durability turned off (tests).

    Not started: use it as a context manager, or call ``start()``/``stop()``.
    """
    return EmbeddedPostgres(
        Path(tmp_dir) / "postgres",
        dbname=dbname,
        prefer=prefer,
        tcp=tcp,
        server_options=THROWAWAY_OPTIONS,
    )
