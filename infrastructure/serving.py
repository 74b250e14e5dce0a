"""The HTTP side of ``pqasso serve``: the JSON API and the pages as one ASGI application, run
by uvicorn. A module of its own so that only ``serve`` imports FastAPI, the pages and uvicorn
(``cli_service.serve`` does, before it forks its workers, which then share them); the other
``pqasso`` commands start without them, about 1.2 s sooner on a slow host."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn

from application.cases import QualityMarkCases
from infrastructure.availability import DatabaseGate, DatabaseGateMiddleware, GatedHealth
from infrastructure.http import create_api
from infrastructure.http.middleware import KeepAliveLimit
from infrastructure.settings import Settings
from infrastructure.tokens import TokenStore
from infrastructure.web import create_web_app, with_web_pages
from infrastructure.web.sessions_postgres import PostgresSessionStore
from projections.runner import ProjectionSupervisor


def server(cases: QualityMarkCases, settings: Settings, *, tokens: TokenStore,
           supervisor: ProjectionSupervisor, gate: DatabaseGate, sessions: PostgresSessionStore,
           host: str, port: int, over_share: Callable[[], bool] | None = None) -> uvicorn.Server:
    """A uvicorn server of the API and the pages, behind the database gate and the keep-alive
    limit. ``over_share()``: whether this worker holds more than its share of the
    connections (``--workers``)."""
    deadlines = supervisor.view("deadlines")
    api = create_api(cases, tokens, deadlines, GatedHealth(supervisor, gate))
    web = create_web_app(cases, tokens, deadlines, deadlines,
                         secure_cookies=settings.secure_cookies, sessions=sessions)
    app = KeepAliveLimit(DatabaseGateMiddleware(with_web_pages(api, web), gate=gate),
                         max_requests=settings.keepalive_requests, over_share=over_share)
    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_config=None,
                                         access_log=False))
