from pathlib import Path

import pytest

from infrastructure.settings import (
    PostgresUrl,
    Settings,
    SettingsError,
    eventsourcing_env,
    parse_database_url,
    redact,
    replace_dbname,
)

# --- Settings.from_environ -------------------------------------------------------------


def test_defaults_when_nothing_is_set():
    settings = Settings.from_environ({})

    assert settings.database_url is None
    assert settings.data_dir == Path(".data")
    assert settings.embedded_data_dir == Path(".data/postgres")
    assert (settings.log_format, settings.log_level) == ("console", "INFO")
    assert (settings.pool_size, settings.pool_max_overflow, settings.lock_timeout) == (5, 10, 5)


def test_reads_every_variable_and_ignores_others():
    settings = Settings.from_environ(
        {
            "PQASSO_DATABASE_URL": "postgres://app:pw@db:6543/cases",
            "PQASSO_DATA_DIR": "/srv/pqasso",
            "PQASSO_LOG_FORMAT": "json",
            "PQASSO_LOG_LEVEL": "debug",
            "PQASSO_POOL_SIZE": "2",
            "PQASSO_POOL_MAX_OVERFLOW": "0",
            "PQASSO_LOCK_TIMEOUT": "30",
            "PQASSO_SOMETHING_ELSE": "x",
            "HOME": "/root",
        }
    )

    assert settings.database_url == "postgres://app:pw@db:6543/cases"
    assert settings.embedded_data_dir == Path("/srv/pqasso/postgres")
    assert (settings.log_format, settings.log_level) == ("json", "DEBUG")
    assert (settings.pool_size, settings.pool_max_overflow, settings.lock_timeout) == (2, 0, 30)


def test_empty_values_count_as_unset():
    settings = Settings.from_environ({"PQASSO_DATABASE_URL": "", "PQASSO_POOL_SIZE": " "})

    assert settings.database_url is None and settings.pool_size == 5


def test_settings_are_frozen():
    settings = Settings.from_environ({})

    with pytest.raises(ValueError):
        settings.pool_size = 3  # type: ignore[misc]


def test_fields_can_be_given_by_name_in_code(tmp_path):
    assert Settings(data_dir=tmp_path).embedded_data_dir == tmp_path / "postgres"


def test_bad_url_error_names_the_variable_and_hides_the_password():
    with pytest.raises(SettingsError) as caught:
        Settings.from_environ({"PQASSO_DATABASE_URL": "mysql://app:s3cret@db/cases"})

    message = str(caught.value)
    assert "PQASSO_DATABASE_URL" in message and "postgresql://" in message
    assert "s3cret" not in message and "***" in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_every_bad_variable_is_reported_at_once():
    with pytest.raises(SettingsError) as caught:
        Settings.from_environ(
            {
                "PQASSO_LOG_FORMAT": "xml",
                "PQASSO_LOG_LEVEL": "chatty",
                "PQASSO_POOL_SIZE": "0",
                "PQASSO_LOCK_TIMEOUT": "soon",
            }
        )

    message = str(caught.value)
    for name in ("LOG_FORMAT", "LOG_LEVEL", "POOL_SIZE", "LOCK_TIMEOUT"):
        assert f"PQASSO_{name}:" in message


@pytest.mark.parametrize(("given", "level"), [("warn", "WARNING"), (" Error ", "ERROR")])
def test_log_level_is_normalised(given, level):
    assert Settings.from_environ({"PQASSO_LOG_LEVEL": given}).log_level == level


# --- URL parsing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://app:pw@db.example.org:6543/cases",
            PostgresUrl("app", "pw", "db.example.org", 6543, "cases"),
        ),
        ("postgres://app@localhost/cases", PostgresUrl("app", None, "localhost", 5432, "cases")),
        (
            "postgresql://d%C3%A9v:p%40ss%3Aw%2Fo%23rd@127.0.0.1/cases",
            PostgresUrl("dév", "p@ss:w/o#rd", "127.0.0.1", 5432, "cases"),
        ),
        ("postgresql://app:@[::1]:5433/cases", PostgresUrl("app", "", "::1", 5433, "cases")),
        (
            "postgresql://postgres@/pqasso?host=/tmp/data+1/postgres&port=41234",
            PostgresUrl("postgres", None, "/tmp/data+1/postgres", 41234, "pqasso"),
        ),
        (
            "postgresql://postgres@%2Fvar%2Frun%2FPostgreSQL/pqasso",
            PostgresUrl("postgres", None, "/var/run/PostgreSQL", 5432, "pqasso"),
        ),
        (
            "postgresql://postgres@/pqasso?host=%2Ftmp%2Fmy%20dir",
            PostgresUrl("postgres", None, "/tmp/my dir", 5432, "pqasso"),
        ),
    ],
)
def test_parses_urls(url, expected):
    assert parse_database_url(url) == expected


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("mysql://app@db/cases", "postgresql://"),
        ("db.example.org:5432/cases", "postgresql://"),
        ("postgresql://app@db:99999/cases", "not a valid URL"),
        ("postgresql://app@db/cases?port=abc", "invalid port"),
        ("postgresql://app@/cases", "no host"),
        ("postgresql://db/cases", "no user"),
        ("postgresql://app@db", "no database"),
        ("postgresql://app@db1,db2/cases", "several hosts"),
        ("postgresql://app@db/cases?sslmode=require", "sslmode"),
    ],
)
def test_rejects_bad_urls_saying_why(url, complaint):
    with pytest.raises(ValueError, match=complaint):
        parse_database_url(url)


# --- eventsourcing env -----------------------------------------------------------------


def test_eventsourcing_env_for_a_tcp_url():
    env = eventsourcing_env("postgresql://app:p%40ss@db:6543/cases", pool_size=2, lock_timeout=9)

    assert env == {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": "cases",
        "POSTGRES_HOST": "db",
        "POSTGRES_PORT": "6543",
        "POSTGRES_USER": "app",
        "POSTGRES_PASSWORD": "p@ss",
        "POSTGRES_POOL_SIZE": "2",
        "POSTGRES_MAX_OVERFLOW": "10",
        "POSTGRES_LOCK_TIMEOUT": "9",
        "POSTGRES_CONNECT_TIMEOUT": "5",
        "POSTGRES_PRE_PING": "y",
    }


def test_eventsourcing_env_for_a_unix_socket_without_password():
    env = eventsourcing_env("postgresql://postgres@/pqasso?host=/srv/pg&port=41234")

    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == ("/srv/pg", "41234")
    assert env["POSTGRES_PASSWORD"] == ""  # the library insists on the key being present


def test_settings_pass_their_pool_and_lock_settings():
    settings = Settings(pool_size=3, pool_max_overflow=1, lock_timeout=0)

    env = settings.eventsourcing_env("postgresql://app@db/cases")

    assert (env["POSTGRES_POOL_SIZE"], env["POSTGRES_MAX_OVERFLOW"]) == ("3", "1")
    assert env["POSTGRES_LOCK_TIMEOUT"] == "0"


# --- redaction and helpers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("postgresql://app:s3cret@db:5432/cases", "postgresql://app:***@db:5432/cases"),
        ("postgresql://app:p@ss@db/cases", "postgresql://app:***@db/cases"),
        ("postgresql://app@db/cases", "postgresql://app@db/cases"),
        ("postgresql://app:@db/cases", "postgresql://app:***@db/cases"),
        (
            "postgresql://db/cases?user=app&password=s3cret&port=1",
            "postgresql://db/cases?user=app&password=***&port=1",
        ),
        (
            "postgresql://postgres@/pqasso?host=/srv/pg",
            "postgresql://postgres@/pqasso?host=/srv/pg",
        ),
        ("postgresql://app:s3cret@[::1/cases", "postgresql://app:***@[::1/cases"),
    ],
)
def test_redact_hides_passwords_only(url, redacted):
    assert redact(url) == redacted


def test_replace_dbname_keeps_server_and_credentials():
    assert (
        replace_dbname("postgresql://app:pw@db:6543/postgres", "pqasso_test_1")
        == "postgresql://app:pw@db:6543/pqasso_test_1"
    )
    assert (
        replace_dbname("postgresql://postgres@/postgres?host=/srv/pg&dbname=x&port=5", "other")
        == "postgresql://postgres@/other?host=/srv/pg&port=5"
    )
