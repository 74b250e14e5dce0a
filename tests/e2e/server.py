"""A real HTTP server (uvicorn, in a thread, on 127.0.0.1 and a free port) over the in-memory
service: the JSON API and the pages, the demo cases loaded, one token per role."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import date

import uvicorn

from application.cases import QualityMarkCases
from application.demo import load_demo
from infrastructure.http import create_api
from infrastructure.http.memory import EventStoreDeadlines
from infrastructure.tokens import InMemoryTokenStore
from infrastructure.web import create_web_app, with_web_pages

# The guidance's example runs from a site visit on 17 April 2009 to a judgement on 10 August
# 2009; "today" is a little after, so every date typed is in the past and some are overdue.
TODAY = date(2009, 8, 21)
PRINCIPALS = {
    "admin": "ces-admin-1", "lead_reviewer": "reviewer-ahmed", "organisation": "org-riverside-trust",
    "auditor": "auditor-1", "reporting": "reporting-job", "other_reviewer": "reviewer-bell",
}


@dataclass
class RunningServer:
    """The server's address, the tokens for each role, and the application behind it."""

    url: str
    tokens: dict[str, str]
    cases: QualityMarkCases
    server: uvicorn.Server
    thread: threading.Thread
    demo: list = field(default_factory=list)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start(*, secure_cookies: bool = True) -> RunningServer:
    cases, store = QualityMarkCases(), InMemoryTokenStore()
    demo = load_demo(cases, TODAY)
    tokens = {name: store.add("lead_reviewer" if name == "other_reviewer" else name, principal)
              for name, principal in PRINCIPALS.items()}
    read_side = EventStoreDeadlines(cases)
    api = create_api(cases, store, read_side, read_side, clock=lambda: TODAY)
    web = create_web_app(cases, store, read_side, read_side, clock=lambda: TODAY, secure_cookies=secure_cookies)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(with_web_pages(api, web), log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    return RunningServer(f"http://127.0.0.1:{port}", tokens, cases, server, thread, demo)
