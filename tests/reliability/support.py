"""The real `pqasso serve` in a subprocess, real `pqasso` commands, a bounded load driver, and
the checks every fault test ends with: acknowledged commands kept, no half-written case.

Traffic goes to 127.0.0.1 only; every loop is bounded in count and in time.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from application.cases import QualityMarkCases
from infrastructure.bootstrap import application_env
from infrastructure.http import examples as ex

ROOT = Path(__file__).resolve().parents[2]
PROBLEM_JSON = "application/problem+json"
ADMIN, REVIEWER = "ces-admin-1", "reviewer-1"



def _days_ago(days: int) -> str:
    return (date.today() - timedelta(days=days)).isoformat()


# The guidance's example, moved to the last fortnight: no deadline has passed, so the daily
# deadline job (run by `pqasso serve` at start-up) records nothing of its own.
OPEN_CASE = {**ex.OPEN_CASE, "visit_date": _days_ago(12)}
# Each step of a case's life: (path under /cases/{id}, body, who acts, event recorded).
STEPS: tuple[tuple[str, dict[str, Any], str, str], ...] = (
    ("plan", {**ex.PLAN, "signed_on": _days_ago(10), "received_on": _days_ago(9)},
     "admin", "PlanSubmitted"),
    ("plan/approval", {"approved_on": _days_ago(8)}, "lead_reviewer", "PlanApproved"),
    ("evidence", {**ex.EVIDENCE, "signed_on": _days_ago(6), "received_on": _days_ago(5)},
     "admin", "EvidenceSubmitted"),
    ("evidence/judgement", {**ex.JUDGEMENT, "judged_on": _days_ago(3)}, "lead_reviewer",
     "EvidenceJudged"),
    ("award", {"awarded_on": _days_ago(1)}, "admin", "QualityMarkAwarded"),
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pqasso(*args: str, env: Mapping[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real command line (``python -m infrastructure.cli``)."""
    return subprocess.run(
        [sys.executable, "-m", "infrastructure.cli", *args], cwd=ROOT, env={**os.environ, **env},
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def issue_token(database_url: str, role: str, principal: str) -> str:
    result = pqasso("tokens", "add", "--role", role, "--principal", principal,
                    env={"PQASSO_DATABASE_URL": database_url})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


class Server:
    """``pqasso serve`` on 127.0.0.1 and a free port, its output kept in ``log_path``."""

    def __init__(self, database_url: str, log_path: Path, **env: str) -> None:
        self.database_url, self.log_path, self.extra_env = database_url, log_path, env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> Server:
        env = {**os.environ, "PQASSO_DATABASE_URL": self.database_url, "PQASSO_LOG_FORMAT": "json",
               "PYTHONUNBUFFERED": "1", **self.extra_env}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "infrastructure.cli", "serve", "--host", "127.0.0.1",
                 "--port", str(self.port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"pqasso serve exited:\n{self.logs()[-3000:]}"
            try:
                httpx.get(f"{self.url}/health", timeout=2)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"pqasso serve did not start in {timeout}s:\n{self.logs()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, open transactions die with the connections."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_until_caught_up(self, timeout: float = 60) -> dict[str, Any]:
        """Health 200 with every projection at the head of the event store."""
        deadline, last = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            try:
                last = httpx.get(f"{self.url}/health", timeout=5)
                if last.status_code == 200 and all(p["lag"] == 0 for p in last.json()["projections"]):
                    return last.json()
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"projections did not catch up: {last and last.text}")


@dataclass
class Call:
    """One command sent: what, with which key, and what came back (None: no answer)."""

    method: str
    path: str
    body: dict[str, Any]
    who: str
    key: str
    event: str
    status: int | None = None
    answer: dict[str, Any] | None = None
    content_type: str = ""
    retry_after: str | None = None
    seconds: float = 0.0
    error: str | None = None
    sent_at: float = 0.0

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Load:
    """Worker threads taking cases through their life, each command with its own key.

    ``retry_unavailable``: on a 503 (or no answer) send the same request, same key, again
    after a pause, as a well-behaved client does; otherwise the worker stops at the first
    unanswered command (its outcome is unknown: the crash test settles it after a restart).
    """

    base_url: str
    tokens: dict[str, str]
    workers: int = 6
    max_commands: int = 400
    max_seconds: float = 60.0
    retry_unavailable: bool = False
    client_timeout: float = 20.0
    calls: list[Call] = field(default_factory=list)
    unanswered: list[Call] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Load:
        self._deadline = time.monotonic() + self.max_seconds
        for n in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"load-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def join(self, timeout: float = 60) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout)
        assert not any(t.is_alive() for t in self._threads), "a load worker hung"

    def acknowledged(self) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.acknowledged]

    def wait_for(self, acknowledged: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acknowledged()) < acknowledged:
            assert time.monotonic() < deadline, f"only {len(self.acknowledged())} commands answered"
            time.sleep(0.02)

    def _busy(self) -> bool:
        with self._lock:
            return (not self.stop.is_set() and time.monotonic() < self._deadline
                    and len(self.calls) < self.max_commands)

    def _work(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=self.client_timeout) as client:
            while self._busy():
                opened = self._send(client, Call("POST", "/cases", OPEN_CASE, "admin",
                                                 uuid.uuid4().hex, "SiteVisitHeld"))
                if opened is None or not opened.acknowledged:
                    return
                case_id = opened.answer["case_id"]  # type: ignore[index]
                for path, body, who, event in STEPS:
                    if not self._busy():
                        return
                    call = self._send(client, Call("POST", f"/cases/{case_id}/{path}", body, who,
                                                   uuid.uuid4().hex, event))
                    if call is None or not call.acknowledged:
                        return

    def _send(self, client: httpx.Client, call: Call) -> Call | None:
        while True:
            attempt = Call(**{**call.__dict__})
            self._post(client, attempt)
            with self._lock:
                self.calls.append(attempt)
            if attempt.acknowledged:
                return attempt
            unavailable = attempt.status is None or attempt.status == 503
            if not (self.retry_unavailable and unavailable):
                if attempt.status is None:
                    with self._lock:
                        self.unanswered.append(attempt)
                return attempt if attempt.status is not None else None
            if self.stop.is_set() or time.monotonic() > self._deadline:
                return None
            time.sleep(0.3)

    def _post(self, client: httpx.Client, call: Call) -> None:
        headers = {"Authorization": f"Bearer {self.tokens[call.who]}", "Idempotency-Key": call.key}
        call.sent_at = started = time.monotonic()
        try:
            response = client.post(call.path, json=call.body, headers=headers)
        except httpx.TransportError as error:
            call.error = type(error).__name__
        else:
            call.status = response.status_code
            call.content_type = response.headers.get("content-type", "")
            call.retry_after = response.headers.get("retry-after")
            try:
                call.answer = response.json()
            except ValueError:
                call.answer = None
        call.seconds = time.monotonic() - started


def stored_events(database_url: str) -> dict[uuid.UUID, list[tuple[int, str, int]]]:
    """Every case's (version, topic, notification id), in version order."""
    cases: dict[uuid.UUID, list[tuple[int, str, int]]] = {}
    with psycopg.connect(database_url) as conn:
        for case_id, version, topic, notification_id in conn.execute(
                "SELECT originator_id, originator_version, topic, notification_id FROM cases_events "
                "ORDER BY originator_id, originator_version"):
            cases.setdefault(case_id, []).append((version, topic, notification_id))
    return cases


def assert_acknowledged_commands_recorded(database_url: str, calls: list[Call]) -> None:
    """Every command answered 2xx is in the event store: its event, at its version."""
    cases = stored_events(database_url)
    for call in calls:
        assert call.answer is not None
        case_id, version = uuid.UUID(call.answer["case_id"]), call.answer["version"]
        events = {v: topic for v, topic, _ in cases.get(case_id, [])}
        assert version in events, f"acknowledged {call.path} (v{version}) is not in the store"
        assert events[version].endswith(f".{call.event}"), (call.path, version, events[version])


def assert_no_half_written_case(database_url: str) -> None:
    """Every case starts with its site visit, has versions 1..n, and loads; every idempotency
    record points at an event; and the hash chain of every case is intact."""
    cases = stored_events(database_url)
    assert cases, "nothing was recorded"
    app = QualityMarkCases(env=application_env(database_url))
    try:
        for case_id, events in cases.items():
            assert [v for v, _, _ in events] == list(range(1, len(events) + 1)), case_id
            assert events[0][1].endswith(".SiteVisitHeld"), case_id
            assert [n for _, _, n in events] == sorted(n for _, _, n in events), case_id
            assert app.get_case(case_id).version == len(events)
    finally:
        app.close()
    with psycopg.connect(database_url) as conn:
        orphans = conn.execute(
            "SELECT i.key FROM cases_idempotency i LEFT JOIN cases_events e ON "
            "e.originator_id = i.case_id AND e.originator_version = i.version "
            "WHERE e.originator_id IS NULL").fetchall()
        unhashed = conn.execute(
            "SELECT count(*) FROM cases_events e LEFT JOIN cases_event_hashes h USING "
            "(originator_id, originator_version) WHERE h.hash IS NULL").fetchone()
    assert orphans == [], f"idempotency records without their event: {orphans}"
    assert unhashed == (0,)
    verified = pqasso("audit", "verify", env={"PQASSO_DATABASE_URL": database_url})
    assert verified.returncode == 0, verified.stdout + verified.stderr


# Every read model table (positions included), ordered so two dumps compare.
READ_MODELS = {
    "deadlines_cases": "SELECT * FROM deadlines_cases ORDER BY case_id",
    "deadlines_obligations": "SELECT * FROM deadlines_obligations ORDER BY case_id, seq",
    "audit_events": "SELECT * FROM audit_events ORDER BY notification_id",
    "reporting.cases": "SELECT * FROM reporting.cases ORDER BY case_id",
    "reporting.unmet_indicators": "SELECT * FROM reporting.unmet_indicators ORDER BY case_id, indicator",
    "chain_heads": "SELECT * FROM chain_heads ORDER BY case_id",
    "positions": "SELECT 'deadlines', notification_id FROM deadlines_tracking UNION ALL "
                 "SELECT 'audit', notification_id FROM audit_tracking UNION ALL "
                 "SELECT 'reporting', notification_id FROM reporting_tracking UNION ALL "
                 "SELECT 'chain', notification_id FROM chain_tracking ORDER BY 1",
}


def dump_read_models(database_url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(database_url) as conn:
        return {name: conn.execute(query).fetchall() for name, query in READ_MODELS.items()}


def problem(response: httpx.Response) -> dict[str, Any]:
    """The problem document of an error response (asserting it is one)."""
    assert response.headers.get("content-type", "").startswith(PROBLEM_JSON), response.text
    body = response.json()
    assert body["status"] == response.status_code
    return body
