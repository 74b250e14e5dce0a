"""Keep-alive connections asked to reconnect (``KeepAliveLimit``), and the workers' shares of
the connections (``ConnectionShares``): so that long-lived connections spread over the
processes of ``pqasso serve --workers``."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from infrastructure.http.middleware import KeepAliveLimit
from infrastructure.serve_workers import ConnectionShares


async def answer_ok(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


def closes(app: Callable[..., Any], client: tuple[str, int] | None = ("10.0.0.1", 50_000),
           kind: str = "http") -> bool:
    """One request through ``app`` from ``client``: was the client asked to reconnect?"""
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": kind, "method": "GET", "path": "/health", "headers": [], "client": client}
    asyncio.run(app(scope, receive, send))
    headers = next((m.get("headers", []) for m in sent if m["type"] == "http.response.start"), [])
    return (b"connection", b"close") in headers


def test_a_connection_is_asked_to_reconnect_on_its_max_requests_th_request_and_a_new_one_starts_afresh() -> None:
    app = KeepAliveLimit(answer_ok, max_requests=3)

    assert [closes(app) for _ in range(3)] == [False, False, True]
    assert [closes(app) for _ in range(3)] == [False, False, True]  # the same address, reconnected


def test_each_connection_is_counted_on_its_own() -> None:
    app = KeepAliveLimit(answer_ok, max_requests=2)

    assert closes(app, ("10.0.0.1", 1)) is False
    assert closes(app, ("10.0.0.1", 2)) is False
    assert closes(app, ("10.0.0.1", 1)) is True
    assert closes(app, ("10.0.0.1", 2)) is True


def test_no_limit_with_max_requests_0_nor_without_a_client_address_nor_outside_http() -> None:
    unlimited = KeepAliveLimit(answer_ok, max_requests=0)
    assert not any(closes(unlimited) for _ in range(50))

    limited = KeepAliveLimit(answer_ok, max_requests=1)
    assert closes(limited, client=None) is False
    assert closes(limited, kind="websocket") is False


def test_a_worker_over_its_share_sheds_connections_once_they_have_carried_shed_after_requests() -> None:
    over = [True]
    app = KeepAliveLimit(answer_ok, max_requests=0, over_share=lambda: over[0], shed_after=3)

    assert [closes(app) for _ in range(3)] == [False, False, True]
    over[0] = False  # the shares evened out: connections stay
    assert not any(closes(app) for _ in range(10))


def test_only_the_most_recently_seen_connections_are_remembered() -> None:
    app = KeepAliveLimit(answer_ok, max_requests=2, remember=2)

    closes(app, ("10.0.0.1", 1))
    closes(app, ("10.0.0.1", 2))
    closes(app, ("10.0.0.1", 3))  # forgets port 1, seen least recently

    assert closes(app, ("10.0.0.1", 1)) is False  # counted afresh
    assert closes(app, ("10.0.0.1", 3)) is True


def test_a_worker_is_over_its_share_when_it_holds_more_than_the_average_plus_the_slack() -> None:
    shares = ConnectionShares(2, slack=1)

    assert shares.over_share(0, 16) is True  # the other worker has reported none yet
    assert shares.over_share(1, 16) is False
    assert shares.over_share(0, 17) is False  # average 16.5: within the slack
    assert shares.over_share(0, 24) is True
    assert shares.over_share(1, 8) is False


def _report(shares: ConnectionShares, worker: int, holding: int) -> None:
    shares.over_share(worker, holding)


def test_the_shares_are_seen_by_every_forked_worker() -> None:
    shares = ConnectionShares(2)
    child = multiprocessing.get_context("fork").Process(target=_report, args=(shares, 1, 30))
    child.start()
    child.join(timeout=30)

    assert child.exitcode == 0
    assert shares.over_share(0, 20) is False  # with worker 1's 30: average 25 (alone: 10)
    assert shares.over_share(0, 33) is True  # average 31.5, plus the slack: 32.5


def test_a_restarted_worker_starts_with_no_connections_counted() -> None:
    shares = ConnectionShares(2, slack=1)
    shares.over_share(1, 30)  # a worker that then died, holding 30

    shares.started(1)  # its replacement

    assert shares.over_share(0, 10) is True  # average 5, plus the slack: 6
