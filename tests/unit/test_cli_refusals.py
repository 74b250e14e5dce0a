"""The command line refuses what it cannot do before it connects to anything: a clear line on
stderr and a non-zero exit."""

from __future__ import annotations

import argparse
from datetime import date, timedelta

import pytest

from infrastructure import cli, cli_service

TODAY = date(2026, 11, 25)


def test_pqasso_deadlines_run_for_a_day_after_today_is_refused_before_connecting(capsys):
    later = date.today() + timedelta(days=1)
    assert cli_service.deadlines_run(argparse.Namespace(on=later)) == 2
    assert capsys.readouterr().err == (
        f"pqasso: --on {later.isoformat()} is after today ({date.today().isoformat()}): the "
        "deadline job records only what has already happened\n")


@pytest.mark.parametrize(("on", "days"), [(date(9999, 12, 31), 1), (TODAY, -5), (TODAY, 367)])
def test_pqasso_upcoming_refuses_a_look_ahead_out_of_range_before_connecting(capsys, on, days):
    assert cli.main(["upcoming", "--on", on.isoformat(), "--days", str(days)]) == 1
    assert "days" in capsys.readouterr().err


@pytest.mark.parametrize(("variable", "value", "said"), [
    ("PQASSO_POOL_SIZE", "abc", "pqasso: invalid configuration: PQASSO_POOL_SIZE"),
    # a lock timeout PostgreSQL cannot hold is a bad setting too
    ("PQASSO_LOCK_TIMEOUT", "3000000", "pqasso: invalid configuration: PQASSO_LOCK_TIMEOUT"),
    ("PQASSO_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/nowhere",
     "pqasso: cannot connect to PQASSO_DATABASE_URL"),
], ids=["a bad setting", "a lock timeout out of range", "an unreachable database"])
def test_what_stops_a_command_is_one_line_naming_it_not_a_traceback(capsys, monkeypatch, variable, value, said):
    monkeypatch.setenv(variable, value)
    assert cli.main(["overdue"]) == 1
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err


@pytest.mark.parametrize("port", ["99999", "0", "-1", "²", "http"])
def test_serve_refuses_a_port_that_is_none_before_starting_anything(capsys, port):
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", "--port", port])
    assert exited.value.code == 2 and "is not a TCP port" in capsys.readouterr().err


def test_a_fault_of_ours_still_shows_its_traceback():
    assert cli.why_it_cannot_run(KeyError("a bug")) is None
