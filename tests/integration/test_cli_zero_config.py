"""With nothing configured, `pqasso` starts an embedded PostgreSQL, migrates it and records cases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def pqasso(*args: str, data_dir: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PQASSO_", "POSTGRES_", "CASES_"))}
    env.update(PQASSO_DATA_DIR=str(data_dir), PQASSO_LOG_FORMAT="json")
    return subprocess.run(
        [sys.executable, "-m", "infrastructure.cli", *args],
        env=env, capture_output=True, text=True, timeout=120, check=check,
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
