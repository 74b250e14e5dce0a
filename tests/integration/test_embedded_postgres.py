"""The embedded server (both binary strategies) and the database helpers, for real."""

import os
import secrets
import signal
import time

import psycopg
import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from infrastructure import embedded_postgres
from infrastructure.database import (
    DatabaseUnavailable,
    connect_or_start,
    create_database,
    drop_database,
)
from infrastructure.embedded_postgres import (
    EmbeddedPostgres,
    EmbeddedPostgresUnavailable,
    Postmaster,
    find_binaries,
    temporary,
)
from infrastructure.settings import Settings, eventsourcing_env, parse_database_url

integration = pytest.mark.integration


def scalar(url: str, query: str) -> object:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def require(strategy: str) -> None:
    """pgserver's binaries come with the project's dependencies: without them the fallback the
    tests rely on is broken, and this fails. The system's pg_ctl may be absent: then skip."""
    try:
        find_binaries((strategy,))  # type: ignore[arg-type]
    except EmbeddedPostgresUnavailable as exc:
        if strategy == "pgserver":
            raise
        pytest.skip(f"no {strategy} binaries on this machine: {exc}")


@integration
@pytest.mark.parametrize("strategy", ["pgserver", "pg_ctl"])
def test_restart_on_the_same_folder_keeps_the_data(tmp_path, strategy):
    require(strategy)
    first = temporary(tmp_path, prefer=(strategy,))
    with first:
        assert first.binaries is not None and first.binaries.strategy == strategy
        assert scalar(first.url, "select 1") == 1
        assert scalar(first.url, "select current_database()") == "pqasso"
        with psycopg.connect(first.url, autocommit=True) as conn:
            conn.execute("create table kept (note text)")
            conn.execute("insert into kept values ('still here')")
    assert Postmaster.read(tmp_path / "postgres") is None  # really stopped

    with temporary(tmp_path, prefer=(strategy,)) as second:
        assert scalar(second.url, "select note from kept") == "still here"
    assert Postmaster.read(tmp_path / "postgres") is None


@integration
def test_listens_on_a_socket_in_its_folder_and_never_on_the_shared_port(tmp_path):
    with temporary(tmp_path) as server:
        url = parse_database_url(server.url)
        assert url.host == str(tmp_path.resolve() / "postgres") and url.port != 5432
        assert scalar(server.url, "show listen_addresses") == ""
        if os.geteuid() == 0:  # postgres refuses root: the files belong to someone else
            assert (tmp_path / "postgres").stat().st_uid != 0
            assert scalar(server.url, "select current_user") == "postgres"


@integration
def test_tcp_mode_uses_a_free_local_port(tmp_path):
    with temporary(tmp_path, tcp=True) as server:
        url = parse_database_url(server.url)
        assert url.host == "127.0.0.1" and url.port != 5432
        assert scalar(server.url, "select 1") == 1


@integration
def test_a_second_instance_attaches_and_leaves_the_server_running(tmp_path):
    with temporary(tmp_path) as owner:
        pid = Postmaster.read(owner.data_dir).pid  # type: ignore[union-attr]
        visitor = EmbeddedPostgres(owner.data_dir, dbname="other")

        assert scalar(visitor.start(), "select pg_backend_pid() > 0") is True
        assert not visitor.started_here and owner.started_here
        visitor.stop()

        assert Postmaster.read(owner.data_dir).pid == pid  # type: ignore[union-attr]
        assert scalar(owner.url, "select count(*) from pg_database where datname = 'other'") == 1


@integration
def test_restarts_after_the_server_was_killed(tmp_path):
    crashed = temporary(tmp_path)
    crashed.start()
    os.kill(Postmaster.read(crashed.data_dir).pid, signal.SIGKILL)  # type: ignore[union-attr]
    deadline = time.monotonic() + 10  # the pid may linger as an unreaped zombie
    while Postmaster.read(crashed.data_dir) is not None and time.monotonic() < deadline:
        time.sleep(0.05)

    with temporary(tmp_path) as restarted:
        assert restarted.started_here and scalar(restarted.url, "select 1") == 1
        crashed.stop()  # its server is gone: must neither raise nor stop the new one
        assert scalar(restarted.url, "select 1") == 1


@integration
def test_stop_is_idempotent_and_url_needs_start(tmp_path):
    server = temporary(tmp_path)
    server.stop()  # never started: nothing to do
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.url
    server.start()
    assert server.start() == server.url  # second start is a no-op
    server.stop()
    server.stop()
    assert Postmaster.read(server.data_dir) is None


@integration
def test_a_folder_from_another_major_version_gets_a_clear_error(tmp_path):
    require("pgserver")
    require("pg_ctl")
    if find_binaries(("pgserver",)).major == find_binaries(("pg_ctl",)).major:
        pytest.skip("pgserver and the machine's PostgreSQL have the same major version")
    with temporary(tmp_path, prefer=("pgserver",)):
        pass

    with pytest.raises(EmbeddedPostgresUnavailable, match=r"initialised by PostgreSQL \d+"):
        temporary(tmp_path, prefer=("pg_ctl",)).start()


@integration
def test_a_failed_start_does_not_leave_the_server_running(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise psycopg.OperationalError("simulated")

    monkeypatch.setattr("infrastructure.database.create_database", refuse)

    with pytest.raises(psycopg.OperationalError, match="simulated"), temporary(tmp_path):
        pass
    assert Postmaster.read(tmp_path / "postgres") is None


def test_no_binaries_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(embedded_postgres, "_candidate_dirs", lambda strategy: [])

    with pytest.raises(EmbeddedPostgresUnavailable) as caught:
        temporary(tmp_path).start()

    assert "PQASSO_DATABASE_URL" in str(caught.value)
    assert "pip install pgserver" in str(caught.value)


def test_unknown_strategy_is_refused(tmp_path):
    with pytest.raises(ValueError, match="prefer"):
        EmbeddedPostgres(tmp_path, prefer=("docker",))  # type: ignore[arg-type]


# --- the eventsourcing library over the embedded server's unix socket -------------------


class Note(Aggregate):
    @event("Written")
    def __init__(self, text: str) -> None:
        self.text = text


@integration
def test_eventsourcing_application_persists_through_the_socket_url(tmp_path):
    with temporary(tmp_path) as server:
        app = Application(env=eventsourcing_env(server.url))
        note = Note("hello")
        app.save(note)
        assert app.repository.get(note.id).text == "hello"
        app.close()
        assert scalar(server.url, "select count(*) from application_events") == 1


# --- infrastructure.database ---------------------------------------------------------------


@integration
def test_connect_or_start_runs_an_embedded_server_in_the_data_dir(tmp_path):
    handle = connect_or_start(Settings(data_dir=tmp_path))
    try:
        assert handle.embedded is not None
        assert handle.embedded.data_dir == tmp_path.resolve() / "postgres"
        assert scalar(handle.url, "select current_database()") == "pqasso"
    finally:
        handle.close()
    handle.close()
    assert Postmaster.read(tmp_path / "postgres") is None


@integration
def test_connect_or_start_uses_the_configured_url(database_url):
    with connect_or_start(Settings(database_url=database_url)) as handle:
        assert handle.url == database_url and handle.embedded is None
        assert scalar(handle.url, "select 1") == 1


@integration
def test_connect_or_start_reports_an_unreachable_server_without_the_password():
    settings = Settings(database_url="postgresql://app:s3cret@127.0.0.1:1/cases")

    with pytest.raises(DatabaseUnavailable, match="PQASSO_DATABASE_URL") as caught:
        connect_or_start(settings)
    assert "s3cret" not in str(caught.value)


@integration
def test_create_and_drop_database(postgres_server_url):
    name = f"pqasso_test_Mixed-Case_{secrets.token_hex(3)}"  # needs identifier quoting
    count = f"select count(*) from pg_database where datname = '{name}'"  # noqa: S608
    create_database(postgres_server_url, name)
    create_database(postgres_server_url, name, exist_ok=True)
    with pytest.raises(psycopg.errors.DuplicateDatabase):
        create_database(postgres_server_url, name)
    assert scalar(postgres_server_url, count) == 1

    drop_database(postgres_server_url, name)
    drop_database(postgres_server_url, name)  # already gone: fine
    assert scalar(postgres_server_url, count) == 0


@integration
def test_database_url_fixture_is_a_private_database(database_url, postgres_server_url):
    assert scalar(database_url, "select current_database()").startswith(  # type: ignore[union-attr]
        f"pqasso_test_{os.getpid()}_"
    )
