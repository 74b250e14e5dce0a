import json
import logging

import pytest
import structlog

from infrastructure.logging import configure_logging

pytestmark = pytest.mark.usefixtures("restore_logging")


def json_lines(capsys) -> list[dict]:
    """Every line written to stderr, each of which must be one JSON object."""
    return [json.loads(line) for line in capsys.readouterr().err.splitlines()]


def test_json_mode_writes_one_object_per_line_with_bound_context(capsys):
    configure_logging("json")
    structlog.contextvars.bind_contextvars(correlation_id="req-42")
    log = structlog.get_logger("tests.logging")

    log.info("plan_submitted", rows=2)
    log.warning("evidence_overdue")

    first, second = json_lines(capsys)
    assert first["event"] == "plan_submitted" and first["rows"] == 2
    assert first["level"] == "info" and second["level"] == "warning"
    assert first["correlation_id"] == second["correlation_id"] == "req-42"
    assert first["timestamp"].endswith("Z") and first["logger"] == "tests.logging"


def test_json_mode_renders_stdlib_records_as_json(capsys):
    configure_logging("json")
    structlog.contextvars.bind_contextvars(correlation_id="req-7")

    logging.getLogger("uvicorn.error").warning("Started server process [%d]", 123)

    (line,) = json_lines(capsys)
    assert line["event"] == "Started server process [123]"
    assert line["level"] == "warning" and line["logger"] == "uvicorn.error"
    assert line["correlation_id"] == "req-7" and "timestamp" in line


def test_json_mode_renders_exceptions_inside_the_object(capsys):
    configure_logging("json")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        structlog.get_logger().exception("command_failed")

    (line,) = json_lines(capsys)
    assert line["event"] == "command_failed" and "RuntimeError: boom" in line["exception"]


def test_configuring_twice_installs_one_handler_and_level_filters(capsys):
    configure_logging("json", level="WARNING")
    configure_logging("json", level="WARNING")

    structlog.get_logger().info("too_quiet")
    logging.getLogger("some.library").info("too quiet")
    structlog.get_logger().error("loud")

    assert [line["event"] for line in json_lines(capsys)] == ["loud"]


def test_console_mode_writes_readable_lines_to_stderr_only(capsys):
    configure_logging("console")

    structlog.get_logger().info("case_opened", case_id="c-1")

    out, err = capsys.readouterr()
    assert out == ""
    assert "case_opened" in err and "case_id" in err and "c-1" in err


def test_psycopg_warnings_are_kept_despite_eventsourcing_postgres():
    configure_logging("json")

    assert logging.getLogger("psycopg").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("psycopg.pool").getEffectiveLevel() == logging.WARNING


def test_unknown_level_or_format_is_refused():
    with pytest.raises(ValueError):
        configure_logging("json", level="CHATTY")
    with pytest.raises(ValueError):
        configure_logging("xml")  # type: ignore[arg-type]
