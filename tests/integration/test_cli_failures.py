"""The command line against a real PostgreSQL: what it cannot do, it says in one line and exits 1
(never a traceback, never a wrong success)."""

from __future__ import annotations

import secrets
import threading

import psycopg
import pytest

from infrastructure import cli
from infrastructure.database import create_database, drop_database
from infrastructure.tokens import TokenStore

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("command", [
    ["overdue"], ["case", "00000000-0000-0000-0000-000000000001"], ["tokens", "list"], ["report"],
])
def test_a_database_not_yet_migrated_is_named_with_the_command_that_migrates_it(
        make_database, monkeypatch, capsys, command):
    monkeypatch.setenv("PQASSO_DATABASE_URL", make_database())
    assert cli.main(command) == 1
    err = capsys.readouterr().err
    assert "run `pqasso db migrate` first" in err and "Traceback" not in err


def test_tokens_refuse_a_blank_principal_and_an_id_in_other_digits(fresh_migrated_url, monkeypatch, capsys):
    monkeypatch.setenv("PQASSO_DATABASE_URL", fresh_migrated_url)
    assert cli.main(["tokens", "add", "--role", "admin", "--principal", " "]) == 1
    assert "pqasso: " in capsys.readouterr().err
    assert cli.main(["tokens", "add", "--role", "admin", "--principal", "ces-admin-1"]) == 0
    capsys.readouterr()
    # "١" is ARABIC-INDIC DIGIT ONE: str.isdigit says yes, int() reads 1; not a token id here
    assert cli.main(["tokens", "revoke", "\u0661"]) == 1
    assert cli.main(["tokens", "revoke", "²"]) == 1
    store = TokenStore(fresh_migrated_url, max_connections=1)
    try:
        assert [t.revoked_at for t in store.list()] == [None]
    finally:
        store.close()


def test_databases_created_at_once_by_several_processes_are_created_once(postgres_server_url):
    name = "pqasso_it_race_" + secrets.token_hex(4)
    errors: list[BaseException] = []

    def create() -> None:
        try:
            create_database(postgres_server_url, name, exist_ok=True)
        except BaseException as error:  # noqa: BLE001 (collected, asserted below)
            errors.append(error)

    threads = [threading.Thread(target=create) for _ in range(6)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        with psycopg.connect(postgres_server_url) as conn:
            assert conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,)).fetchone()[0] == 1
    finally:
        drop_database(postgres_server_url, name)
