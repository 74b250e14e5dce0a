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
