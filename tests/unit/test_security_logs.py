"""Point 5: database passwords, cipher keys and tokens never reach the logs.

A logged exception shows no local variables (they hold request headers and connection
settings), in either log format; configuration errors name the variable, never its secret.
"""

from __future__ import annotations

import base64

import pytest
import structlog

from infrastructure.logging import configure_logging
from infrastructure.settings import Settings, SettingsError

TOKEN = "pqa_" + "S3cretTokenValue" * 3
PASSWORD = "hunter2-Pa55w0rd"


def fail_holding_secrets() -> None:
    authorization = f"Bearer {TOKEN}"  # noqa: F841 (a local a traceback could show)
    url = f"postgresql://svc:{PASSWORD}@db/cases"  # noqa: F841
    raise RuntimeError("the database went away")


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_a_logged_exception_shows_no_local_variables(capsys, fmt) -> None:
    configure_logging(fmt, "INFO")
    try:
        fail_holding_secrets()
    except RuntimeError:
        structlog.get_logger("test").exception("request_failed")
    err = capsys.readouterr().err
    assert "the database went away" in err and "fail_holding_secrets" in err  # it was logged
    assert TOKEN not in err and PASSWORD not in err


def test_a_bad_cipher_key_is_named_not_shown() -> None:
    for key in ("not base64 at all!", base64.b64encode(b"short").decode(), f"{PASSWORD}=="):
        with pytest.raises(SettingsError) as refused:
            Settings.from_environ({"PQASSO_CIPHER_KEY": key})
        assert "PQASSO_CIPHER_KEY" in str(refused.value)
        assert key not in str(refused.value) and PASSWORD not in str(refused.value)


def test_a_bad_database_url_is_named_without_its_password() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_environ({"PQASSO_DATABASE_URL": f"postgresql://svc:{PASSWORD}@db:99999/cases"})
    assert "PQASSO_DATABASE_URL" in str(refused.value) and PASSWORD not in str(refused.value)


def test_settings_never_show_the_cipher_key() -> None:
    key = base64.b64encode(bytes(range(32))).decode()
    settings = Settings.from_environ({"PQASSO_CIPHER_KEY": key})
    assert key not in repr(settings) and key not in str(settings)
    assert settings.eventsourcing_env("postgresql://u@h/d")["CIPHER_KEY"] == key
