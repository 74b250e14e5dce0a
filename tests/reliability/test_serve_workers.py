"""`pqasso serve` with PQASSO_WORKERS=2: two processes answering on one port.

Every request goes on a fresh connection (the kernel hands each new connection to one of
the workers), and carries its own X-Request-ID, so the access log says which worker
answered it. What must hold: both answer; a case taken through its life by commands landing
on either worker (each with its own aggregate cache) is recorded and shown at its latest
version; a web session started on one worker is known to the other; a killed worker is
replaced while the other goes on answering; SIGTERM stops them all; the deadline job runs
in one worker only; the read models are kept by one more process, the projector (worker
index 2), never by an HTTP worker, and a killed projector is replaced and catches up.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.processes import alive, children
from tests.reliability.support import ADMIN, OPEN_CASE, REVIEWER, STEPS, Server, issue_token

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORKERS = 2
PROJECTOR = WORKERS  # the index of the process after the HTTP workers


def start(db, tmp_path: Path, **env: str) -> Server:
    return Server(db.service_url, tmp_path / "serve.log", PQASSO_WORKERS=str(WORKERS), **env).start()


def start_with_admin(db, tmp_path: Path) -> tuple[Server, dict[str, str]]:
    """The service started, and the headers of an admin's requests."""
    token = issue_token(db.url, "admin", ADMIN)
    return start(db, tmp_path), {"Authorization": f"Bearer {token}"}


def log_lines(server: Server) -> list[dict[str, Any]]:
    """The JSON lines of the log (the banner lines are not JSON)."""
    lines = []
    for line in server.logs().splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:  # a line still being written
                pass
    return lines


def answered_by(server: Server, request_ids: list[str], timeout: float = 10) -> dict[str, int]:
    """The worker that answered each request (its access line may trail the response)."""
    deadline = time.monotonic() + timeout
    while True:
        workers = {line["request_id"]: line.get("worker") for line in log_lines(server)
                   if line.get("event") == "http_request"}
        if all(r in workers for r in request_ids) or time.monotonic() > deadline:
            missing = [r for r in request_ids if r not in workers]
            assert not missing, f"no access line for {missing}"
            return {r: workers[r] for r in request_ids}
        time.sleep(0.05)


def fresh(server: Server, method: str, path: str, **kwargs: Any) -> tuple[httpx.Response, str]:
    """One request on a connection of its own; its response and request id."""
    request_id = uuid.uuid4().hex
    headers = {"X-Request-ID": request_id, **kwargs.pop("headers", {})}
    with httpx.Client(base_url=server.url, timeout=20, cookies=kwargs.pop("cookies", None)) as client:
        return client.request(method, path, headers=headers, **kwargs), request_id




def test_both_workers_answer(migrated_database, tmp_path) -> None:
    db = migrated_database()
    server = start(db, tmp_path)
    try:
        # When requests arrive on fresh connections (bounded), then both workers answer them
        seen: set[int] = set()
        for _ in range(10):
            ids = []
            for _ in range(10):
                response, request_id = fresh(server, "GET", "/health")
                assert response.status_code == 200, response.text
                ids.append(request_id)
            seen |= set(answered_by(server, ids).values())
            if seen == set(range(WORKERS)):
                break
        assert seen == set(range(WORKERS))
        assert len(children(server.process.pid)) == WORKERS + 1  # and the projector
        leading = {line.get("worker") for line in log_lines(server)
                   if line.get("event") == "projection_leading"}
        assert leading == {PROJECTOR}, leading
    finally:
        server.stop()


def test_a_case_taken_through_its_life_across_workers(migrated_database, tmp_path) -> None:
    db = migrated_database()
    tokens = {"admin": issue_token(db.url, "admin", ADMIN),
              "lead_reviewer": issue_token(db.url, "lead_reviewer", REVIEWER)}
    server = start(db, tmp_path)

    def send(method: str, path: str, who: str, **kwargs: Any) -> tuple[httpx.Response, str]:
        headers = {"Authorization": f"Bearer {tokens[who]}", **kwargs.pop("headers", {})}
        return fresh(server, method, path, headers=headers, **kwargs)

    def command(path: str, body: dict[str, Any], who: str) -> tuple[httpx.Response, str]:
        return send("POST", path, who, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})

    final = len(STEPS) + 1
    try:
        cases, stale, on = [], 0, set()
        # Cases one after the other, until some command was decided by a worker whose cache
        # held an older version of its case (bounded: the kernel picks the worker)
        for _ in range(10):
            # Given a case opened
            opened, request_id = command("/cases", OPEN_CASE, "admin")
            assert opened.status_code == 201, opened.text
            case_id, commands = opened.json()["case_id"], [request_id]
            # When every step follows, each on a fresh connection (to either worker)
            for version, (path, body, who, _event) in enumerate(STEPS, start=2):
                answer, request_id = command(f"/cases/{case_id}/{path}", body, who)
                # Then each is recorded, at the next version, stale cache or not
                assert 200 <= answer.status_code < 300, (path, answer.status_code, answer.text)
                assert answer.json() == {"case_id": case_id, "version": version}, path
                commands.append(request_id)
            cases.append(case_id)
            # (a worker that answered an earlier command, but not the one just before, has
            # only the case as it was then in its cache)
            workers = list(answered_by(server, commands).values())
            stale += sum(1 for n in range(1, len(workers))
                         if workers[n] != workers[n - 1] and workers[n] in workers[:n - 1])
            on |= set(workers)
            if stale and len(cases) >= 2:
                break
        assert stale, "no command landed on a worker with a stale cache"
        assert on == set(range(WORKERS)), "every command landed on one worker"

        # And afterwards, reads on fresh connections (either worker) show the final version
        # (bounded: the kernel picks the worker, and under load may pick one many times over)
        reads: list[str] = []
        for _ in range(10):
            for case_id in cases:
                for _ in range(6):
                    shown, request_id = send("GET", f"/cases/{case_id}", "admin")
                    assert shown.status_code == 200, shown.text
                    assert (shown.json()["status"], shown.json()["version"]) == ("awarded", final)
                    reads.append(request_id)
            if set(answered_by(server, reads).values()) == set(range(WORKERS)):
                break
        assert set(answered_by(server, reads).values()) == set(range(WORKERS))
    finally:
        server.stop()


def test_a_web_session_is_known_to_every_worker(migrated_database, tmp_path) -> None:
    db = migrated_database()
    token = issue_token(db.url, "admin", ADMIN)
    server = start(db, tmp_path, PQASSO_SECURE_COOKIES="false")
    try:
        # Given someone signed in through the pages (each request on a fresh connection)
        form, _ = fresh(server, "GET", "/ui/sign-in")
        assert form.status_code == 200
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf is not None, form.text
        signed_in, _ = fresh(server, "POST", "/ui/sign-in", cookies=dict(form.cookies),
                             data={"csrf_token": csrf.group(1), "next": "/ui/", "token": token})
        assert signed_in.status_code == 303, signed_in.text
        assert signed_in.headers["location"] == "/ui/"
        session = {"pqasso_session": signed_in.cookies["pqasso_session"]}

        # When the dashboard is loaded on fresh connections until both workers have answered
        pages, seen = [], set()
        for _ in range(10):
            for _ in range(6):
                page, request_id = fresh(server, "GET", "/ui/", cookies=session)
                # Then each is answered signed in, by either worker
                assert page.status_code == 200, (page.status_code, page.headers.get("location"))
                assert f"Signed in as <strong>{ADMIN}</strong>" in page.text
                pages.append(request_id)
            seen = set(answered_by(server, pages).values())
            if seen == set(range(WORKERS)):
                break
        assert seen == set(range(WORKERS))

        # And without the cookie, the same page asks to sign in (the check is real)
        anonymous, _ = fresh(server, "GET", "/ui/")
        assert anonymous.status_code == 303 and "/ui/sign-in" in anonymous.headers["location"]
    finally:
        server.stop()


def test_a_killed_worker_is_replaced_and_sigterm_stops_everything(migrated_database, tmp_path) -> None:
    server, auth = start_with_admin(migrated_database(), tmp_path)
    parent = server.process
    try:
        opened, _ = fresh(server, "POST", "/cases", json=OPEN_CASE, headers=auth)
        assert opened.status_code == 201, opened.text
        case_path = f"/cases/{opened.json()['case_id']}"
        deadline = time.monotonic() + 30
        while len(children(parent.pid)) < WORKERS + 1:  # the log says which pid is which
            assert time.monotonic() < deadline
            time.sleep(0.05)
        pids = {line["pid"]: line["worker"] for line in log_lines(server)
                if line.get("event") == "serve_worker_started"}
        before = children(parent.pid)
        assert before <= set(pids)

        # When one HTTP worker is killed with SIGKILL
        victim = min(pid for pid in before if pids[pid] != PROJECTOR)
        index = pids[victim]
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()

        # Then the service goes on answering (fresh connections), and a new worker appears
        # in its place, with its index, which answers too
        replaced: set[int] = set()
        answered_by_new = False
        while time.monotonic() - killed_at < 30 and not answered_by_new:
            response, request_id = fresh(server, "GET", case_path, headers=auth)
            assert response.status_code == 200, response.text
            replaced = children(parent.pid) - before
            if replaced:
                new_pid = next(iter(replaced))
                started = [line for line in log_lines(server) if line.get("event") == "serve_worker_started"
                           and line["pid"] == new_pid]
                if started:  # (the parent logs it just after the fork)
                    assert started[0]["worker"] == index
                    answered_by_new = answered_by(server, [request_id])[request_id] == index
            time.sleep(0.05)
        assert answered_by_new, f"no new worker answered (new pids: {replaced})"
        assert not alive(victim)
        assert len(children(parent.pid)) == WORKERS + 1
        exited = [line for line in log_lines(server) if line.get("event") == "serve_worker_exited"]
        assert [(line["pid"], line["worker"], line["exit_code"]) for line in exited] == [
            (victim, index, -signal.SIGKILL)]
        workers_now = children(parent.pid)
    finally:
        server.stop()  # SIGTERM to the parent

    # And SIGTERM stopped every worker, then the parent, with exit status 0
    assert parent.returncode == 0, server.logs()[-3000:]
    assert not any(alive(pid) for pid in workers_now | before)
    stopped = {line["pid"]: line["exit_code"] for line in log_lines(server)
               if line.get("event") == "serve_worker_stopped"}
    assert stopped == dict.fromkeys(workers_now, 0)


def test_the_deadline_job_runs_in_one_worker_only(migrated_database, tmp_path) -> None:
    db = migrated_database()
    server = start(db, tmp_path)
    try:
        # When both workers have started (the job runs at start-up once the view caught up)
        deadline = time.monotonic() + 30

        def started() -> int:
            return sum(1 for line in log_lines(server) if line.get("event") == "Application startup complete.")

        def job_runs() -> list[dict[str, Any]]:
            return [line for line in log_lines(server) if line.get("event") == "deadline_job_ran"]

        while started() < WORKERS or not job_runs():
            assert time.monotonic() < deadline, server.logs()[-3000:]
            time.sleep(0.1)
        time.sleep(2)  # time enough for a second run, had another worker one

        # Then it ran once, not once per worker
        assert len(job_runs()) == 1, job_runs()
    finally:
        server.stop()


def test_a_killed_projector_is_replaced_and_the_read_models_catch_up(migrated_database, tmp_path) -> None:
    server, auth = start_with_admin(migrated_database(), tmp_path)
    parent = server.process

    def projector() -> int | None:
        started = {line["pid"]: line["worker"] for line in log_lines(server)
                   if line.get("event") == "serve_worker_started"}
        return next((pid for pid in children(parent.pid) if started.get(pid) == PROJECTOR), None)

    def caught_up() -> bool:
        health, _ = fresh(server, "GET", "/health")
        return health.status_code == 200 and all(p["lag"] == 0 for p in health.json()["projections"])

    try:
        deadline = time.monotonic() + 30
        while (first := projector()) is None:
            assert time.monotonic() < deadline, server.logs()[-3000:]
            time.sleep(0.05)

        # When the projector is killed, and a case is opened meanwhile
        os.kill(first, signal.SIGKILL)
        opened, _ = fresh(server, "POST", "/cases", json=OPEN_CASE, headers=auth)
        assert opened.status_code == 201, opened.text

        # Then another takes its place, and every read model reaches the new event
        deadline = time.monotonic() + 30
        while projector() in (None, first) or not caught_up():
            assert time.monotonic() < deadline, server.logs()[-3000:]
            time.sleep(0.1)
        assert not alive(first)
    finally:
        server.stop()
    assert parent.returncode == 0, server.logs()[-3000:]
