"""The loggers of the lines written at every command (application/loggers.py): they write
what structlog's own loggers write, and follow every configuration of the process."""

from __future__ import annotations

import json

import pytest
import structlog

from application.loggers import logger
from infrastructure.logging import configure_logging

pytestmark = pytest.mark.usefixtures("restore_logging")


def without_timestamps(err: str) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k != "timestamp"} for line in err.splitlines()]


def test_a_line_is_the_line_structlog_s_own_logger_writes(capsys) -> None:
    configure_logging("json", "INFO")
    ours, theirs = logger("tests.loggers"), structlog.get_logger("tests.loggers")

    ours.info("command_recorded", command="SubmitPlan", version=2)
    theirs.info("command_recorded", command="SubmitPlan", version=2)

    first, second = without_timestamps(capsys.readouterr().err)
    assert first == second == {"command": "SubmitPlan", "version": 2, "event": "command_recorded",
                               "logger": "tests.loggers", "level": "info"}


def test_a_logger_made_before_the_configuration_follows_each_one(capsys) -> None:
    made_early = logger("tests.loggers")
    configure_logging("json", "WARNING")
    made_early.info("filtered_out")
    made_early.warning("kept")
    configure_logging("console", "INFO")
    made_early.info("now_shown", case_id="c-1")

    err = capsys.readouterr().err
    assert "filtered_out" not in err
    json_line, console_line = err.splitlines()
    assert json.loads(json_line)["event"] == "kept"
    assert "now_shown" in console_line and "c-1" in console_line and not console_line.startswith("{")


def test_its_lines_carry_the_context_and_reach_captured_logs(capsys) -> None:
    configure_logging("json", "INFO")
    log = logger("tests.loggers")
    with structlog.testing.capture_logs() as captured:
        log.info("case_opened", level=2)
    assert captured == [{"event": "case_opened", "level": 2, "log_level": "info"}]

    with structlog.contextvars.bound_contextvars(request_id="req-9"):
        log.bind(principal="p-1").info("bound")
    (line,) = without_timestamps(capsys.readouterr().err)
    assert line == {"principal": "p-1", "request_id": "req-9", "event": "bound",
                    "logger": "tests.loggers", "level": "info"}
