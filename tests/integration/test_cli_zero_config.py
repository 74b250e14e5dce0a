"""With nothing configured, `pqasso` starts an embedded PostgreSQL, migrates it and records cases."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.reliability.support import free_port

pytestmark = pytest.mark.integration


def zero_config_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PQASSO_", "POSTGRES_", "CASES_"))}
    env.update(PQASSO_DATA_DIR=str(data_dir), PQASSO_LOG_FORMAT="json")
    return env


def pqasso(*args: str, data_dir: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infrastructure.cli", *args],
        env=zero_config_env(data_dir), capture_output=True, text=True, timeout=120, check=check,
    )


def test_demo_then_case_and_history_on_an_embedded_database(tmp_path):
    demo = json.loads(pqasso("demo", "--json", data_dir=tmp_path).stdout)
    example = next(c for c in demo if "guidance" in c["title"])
    assert example["status"] == "awarded"

    state = json.loads(pqasso("case", example["case_id"], "--json", data_dir=tmp_path).stdout)
    assert state["status"] == "awarded"
    assert [row["indicator"] for row in state["unmet_indicators"]] == ["3.1.4", "4.2.7"]

    first_two = json.loads(pqasso("case", example["case_id"], "--version", "2", "--json", data_dir=tmp_path).stdout)
    assert first_two["status"] == "plan_under_review" and first_two["version"] == 2

    history = json.loads(pqasso("history", example["case_id"], "--json", data_dir=tmp_path).stdout)
    assert [item["type"] for item in history][:3] == ["SiteVisitHeld", "PlanSubmitted", "ChangesRequested"]
    assert history[0]["actor"] == {"principal": "ces-demo-admin", "role": "admin"}

    # The data survived the embedded server's stop and start between commands.
    assert (tmp_path / "postgres").is_dir()
    table = pqasso("history", example["case_id"], data_dir=tmp_path).stdout
    assert "QualityMarkAwarded" in table


def test_an_unknown_case_is_a_clear_error_not_a_traceback(tmp_path):
    result = pqasso("case", "00000000-0000-0000-0000-000000000000", data_dir=tmp_path, check=False)
    assert result.returncode == 1
    assert "There is no case 00000000-0000-0000-0000-000000000000." in result.stderr
    assert "Traceback" not in result.stderr


def test_db_migrate_is_safe_to_run_twice(tmp_path):
    first = pqasso("db", "migrate", data_dir=tmp_path).stdout
    second = pqasso("db", "migrate", data_dir=tmp_path).stdout
    assert "applied step 1" in first
    assert "schema already at step" in second


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_serve_stops_its_embedded_database(tmp_path, stop_signal):
    # Given `pqasso serve` (one process) answering on an embedded PostgreSQL of its own
    port, log_path = free_port(), tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "infrastructure.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=zero_config_env(tmp_path / "data"), stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None and time.monotonic() < deadline, log_path.read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        postmaster_pid = tmp_path / "data" / "postgres" / "postmaster.pid"
        assert postmaster_pid.exists()

        # When it is told to stop (by a service manager's SIGTERM, or Ctrl-C)
        server.send_signal(stop_signal)
        status = server.wait(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)

    # Then it shuts down cleanly, and its database with it: no server is left running
    logs = log_path.read_text()
    events = [json.loads(line)["event"] for line in logs.splitlines() if line.startswith("{")]
    assert status == 0, logs[-3000:]
    assert "embedded_postgres_stopped" in events, logs[-3000:]
    assert not postmaster_pid.exists()
