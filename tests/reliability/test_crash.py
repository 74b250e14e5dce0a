"""Point 1 (and 5's log scan): `pqasso serve` killed with SIGKILL under concurrent load.

After a restart every command answered 2xx is in the event store, no case is half written,
a command whose answer was lost is settled by repeating it with its Idempotency-Key (recorded
once), and the read models catch up to exactly what a clean `pqasso projections rebuild` gives.
The service runs as a login of the service role with a password; at the end neither that
password nor any token appears in its logs.
"""

from __future__ import annotations

import httpx
import pytest

from tests.reliability.support import (
    ADMIN,
    REVIEWER,
    Load,
    Server,
    assert_acknowledged_commands_recorded,
    assert_no_half_written_case,
    dump_read_models,
    issue_token,
    pqasso,
    stored_events,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_sigkill_under_load_loses_no_acknowledged_command(migrated_database, tmp_path) -> None:
    db = migrated_database()
    tokens = {"admin": issue_token(db.url, "admin", ADMIN),
              "lead_reviewer": issue_token(db.url, "lead_reviewer", REVIEWER)}
    server = Server(db.service_url, tmp_path / "serve.log", PQASSO_LOG_LEVEL="DEBUG").start()
    try:
        load = Load(server.url, tokens, workers=6, max_commands=600, max_seconds=40).start()
        load.wait_for(acknowledged=40)
        server.kill()  # mid-flight: the workers are sending as fast as they are answered
        load.join()
        acknowledged, unanswered = load.acknowledged(), list(load.unanswered)
        assert len(acknowledged) >= 40
        # Six clients sending as fast as they are answered: the kill cuts some off mid-request.
        assert unanswered, "the kill cut off no request: nothing below would be checked"

        server.start()
        assert_acknowledged_commands_recorded(db.url, acknowledged)

        # The commands cut off by the kill: recorded or not, repeating one with its key
        # records it exactly once (or answers its first answer, recorded before the kill).
        events_before = stored_events(db.url)
        with httpx.Client(base_url=server.url, timeout=20) as client:
            for call in unanswered:
                response = client.post(call.path, json=call.body, headers={
                    "Authorization": f"Bearer {tokens[call.who]}", "Idempotency-Key": call.key})
                assert response.status_code in (200, 201), response.text
                call.status, call.answer = response.status_code, response.json()
                again = client.post(call.path, json=call.body, headers={
                    "Authorization": f"Bearer {tokens[call.who]}", "Idempotency-Key": call.key})
                assert again.json() == call.answer and again.headers["Idempotent-Replayed"] == "true"
        assert_acknowledged_commands_recorded(db.url, acknowledged + unanswered)
        added = sum(len(v) for v in stored_events(db.url).values()) - sum(
            len(v) for v in events_before.values())
        assert added <= len(unanswered)
        assert_no_half_written_case(db.url)

        caught_up = dump_read_models(db.url) if server.wait_until_caught_up() else None
    finally:
        server.stop()
    rebuilt = pqasso("projections", "rebuild", env={"PQASSO_DATABASE_URL": db.url})
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert dump_read_models(db.url) == caught_up

    logs = server.logs()
    assert "http_request" in logs and "projection" in logs  # the logs were captured
    assert db.service_password not in logs
    for token in tokens.values():
        assert token not in logs and token.removeprefix("pqa_") not in logs
