"""Point 2: PostgreSQL stopped under load, then started again, `pqasso serve` left running.

Meanwhile every request gets an answer quickly: a 503 problem with Retry-After, never a 500
or a hang; `GET /health` says the database is unreachable. When the database is back the
service recovers by itself (same process), commands are recorded again, and nothing that
was acknowledged is lost. The database is a private server this test stops and starts.
"""

from __future__ import annotations

import statistics
import time

import httpx
import pytest

from tests.reliability.private_postgres import PrivatePostgres
from tests.reliability.support import (
    ADMIN,
    PROBLEM_JSON,
    REVIEWER,
    Load,
    Server,
    assert_acknowledged_commands_recorded,
    assert_no_half_written_case,
    issue_token,
    pqasso,
    problem,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
OUTAGE_SECONDS = 5.0
DATABASE_TIMEOUT = 2  # seconds a request may wait for the database (PQASSO_DATABASE_TIMEOUT)
FAIL_FAST_SECONDS = 8.0  # the slowest answer allowed: requests caught mid-flight by the outage


@pytest.fixture
def private_postgres(tmp_path):
    server = PrivatePostgres(tmp_path / "pg")
    server.start()
    yield server
    server.close()


def test_an_outage_is_answered_503_at_once_and_recovered_from_without_a_restart(
        private_postgres, tmp_path) -> None:
    url = private_postgres.url
    migrated = pqasso("db", "migrate", env={"PQASSO_DATABASE_URL": url})
    assert migrated.returncode == 0, migrated.stderr
    tokens = {"admin": issue_token(url, "admin", ADMIN),
              "lead_reviewer": issue_token(url, "lead_reviewer", REVIEWER)}
    server = Server(url, tmp_path / "serve.log", PQASSO_DATABASE_TIMEOUT=str(DATABASE_TIMEOUT)).start()
    pid = server.process.pid
    health: list[tuple[float, httpx.Response, float]] = []
    try:
        load = Load(server.url, tokens, workers=4, max_commands=3000, max_seconds=60,
                    retry_unavailable=True, client_timeout=30).start()
        load.wait_for(acknowledged=20)

        down_at = time.monotonic()
        private_postgres.stop_server()
        with httpx.Client(base_url=server.url, timeout=30) as client:
            while time.monotonic() < down_at + OUTAGE_SECONDS:
                started = time.monotonic()
                health.append((started, client.get("/health"), time.monotonic() - started))
                time.sleep(0.2)
            private_postgres.start_server()
            up_at = time.monotonic()
            while (response := client.get("/health")).status_code != 200:
                assert time.monotonic() < up_at + 30, "the service did not recover by itself"
                time.sleep(0.2)
        recovered_at = time.monotonic()
        acknowledged_before = len([c for c in load.acknowledged() if c.sent_at < down_at])
        deadline = time.monotonic() + 30
        while len([c for c in load.acknowledged() if c.sent_at > recovered_at]) < 20:
            assert time.monotonic() < deadline, "commands are not recorded again after the outage"
            time.sleep(0.1)
        load.join()
        server.wait_until_caught_up()
        assert server.process.poll() is None and server.process.pid == pid  # never restarted
    finally:
        server.stop()

    calls = list(load.calls)
    assert acknowledged_before >= 20
    # Every request was answered (no client timeout, no dropped connection), none with a 500.
    assert [c for c in calls if c.status is None] == []
    assert {c.status for c in calls} <= {200, 201, 503}, {c.status for c in calls}
    unavailable = [c for c in calls if c.status == 503]
    assert unavailable, "no request met the outage"
    for call in unavailable:
        assert call.content_type.startswith(PROBLEM_JSON) and call.retry_after, call
        assert call.answer["status"] == 503
        assert call.answer["type"].rsplit(":", 1)[-1] in ("database-unreachable", "unavailable")
    assert max(c.seconds for c in calls) < FAIL_FAST_SECONDS
    # Once the outage is noticed (the gate pings four times a second), 503s come at once: most
    # without waiting out the database timeout, as a request would that tried to connect.
    assert statistics.median(c.seconds for c in unavailable) < DATABASE_TIMEOUT

    during = [(at, r, s) for at, r, s in health if at > down_at + 1.0]
    assert during and all(r.status_code == 503 for _, r, _ in during)
    assert all(problem(r)["type"].endswith("database-unreachable") for _, r, _ in during)
    assert max(s for _, _, s in health) < FAIL_FAST_SECONDS
    assert response.json()["database"] == "ok"

    acknowledged = load.acknowledged()
    assert_acknowledged_commands_recorded(url, acknowledged)
    assert_no_half_written_case(url)
