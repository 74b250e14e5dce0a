"""ASGI middleware: request ids and the access log, body size and type, last-resort errors.

Plain ASGI rather than BaseHTTPMiddleware, so a body is counted as it streams in and
structlog's context variables reach the endpoint.
"""

from __future__ import annotations

import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable

import structlog
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from application.loggers import logger
from infrastructure.http.problems import problem_response
from infrastructure.whole_numbers import whole_number

log = logger("infrastructure.http.access")  # assembled once per configuration: a line a request

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# Case files are confidential: no shared cache may keep them, no browser may sniff a type.
_STANDARD_HEADERS = ((b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff"))


class RequestContextMiddleware:
    """Gives each request an id (X-Request-ID in and out), logs one access line, and turns
    an unexpected exception into a logged 500 problem instead of a bare server error."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        inbound = Headers(scope=scope).get("x-request-id", "")
        request_id = inbound if _REQUEST_ID.fullmatch(inbound) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status, started = 500, time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), *_STANDARD_HEADERS,
                                      (b"x-request-id", request_id.encode())]
                state["response_started"] = True
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                log.exception("request_failed", method=scope["method"], path=scope["path"])
                if not state.get("response_started"):
                    await problem_response(
                        scope, 500, "Something went wrong on our side; the request id helps us find it.",
                    )(scope, receive, send_with_id)
            finally:
                actor = state.get("actor")
                log.info(
                    "http_request", request_id=request_id, method=scope["method"], path=scope["path"], status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                    principal=actor.principal if actor else None, role=actor.role.value if actor else None,
                )


class BodyTooLarge(HTTPException):
    """Raised while a body streams in, once it passes the limit (FastAPI passes it on as is)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The body is larger than {limit} bytes.")


class BodyGuardMiddleware:
    """413 for a body over ``max_body_bytes`` (declared, or counted as it streams), 415 for a
    body that is not JSON."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app, self.limit = app, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope, Headers(scope=scope))
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        try:
            await self.app(scope, counting_receive, send)
        except BodyTooLarge as error:  # read outside a route (FastAPI turns it into a problem inside)
            if scope.get("state", {}).get("response_started"):
                raise
            await problem_response(scope, 413, str(error.detail), slug="body-too-large")(scope, receive, send)

    def _refusal(self, scope: Scope, headers: Headers) -> Response | None:
        declared = headers.get("content-length")
        length = None if declared is None else whole_number(declared, max_digits=18)
        if declared is not None and length is None:
            return problem_response(scope, 400, "Content-Length must be a whole number of bytes.")
        if length is not None and length > self.limit:
            return problem_response(
                scope, 413, f"The body is {length} bytes; at most {self.limit} are accepted.",
                slug="body-too-large",
            )
        has_body = (length is not None and length > 0) or "transfer-encoding" in headers
        if scope["method"] in _BODY_METHODS and has_body and not _is_json(headers.get("content-type", "")):
            return problem_response(
                scope, 415, "Send the body as JSON, with Content-Type: application/json.",
                slug="unsupported-media-type",
            )
        return None


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class KeepAliveLimit:
    """Asks a client to reconnect (``Connection: close`` on a response) when its keep-alive
    connection has carried ``max_requests`` requests (nginx's ``keepalive_requests``), or,
    with several workers, when this one holds more than its share of the connections.

    ``pqasso serve --workers N`` processes share one listening socket, and a connection stays
    with the process that accepted it. Clients that keep their connections (a proxy's, a load
    balancer's, a script's) can so end up mostly on one process, which then runs at the limit
    of its core while the others idle: 530–650 commands/s instead of 690–900 in 5 of 12 runs
    of the benchmark's closed loop (BENCHMARKS.md, "HTTP commands"). ``over_share()`` says
    whether this process holds more than its share (``serve_workers.ConnectionShares``); then
    each connection that has carried ``shed_after`` requests is asked to reconnect, and lands
    on whichever process accepts it first, until the shares even out. A connection is known by its client address
    and port; at most ``remember`` of them are counted, the least recently seen forgotten
    first. ``max_requests`` 0: no limit per connection.
    """

    def __init__(self, app: ASGIApp, *, max_requests: int, over_share: Callable[[], bool] | None = None,
                 shed_after: int = 10, remember: int = 10_000) -> None:
        self.app, self.max_requests, self.over_share = app, max_requests, over_share
        self.shed_after, self.remember = shed_after, remember
        self._served: OrderedDict[tuple[str, int], int] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] != "http" or client is None:
            await self.app(scope, receive, send)
            return
        connection = (client[0], client[1])
        served = self._served.pop(connection, 0) + 1
        if not self._closing(served):
            self._served[connection] = served
            if len(self._served) > self.remember:
                self._served.popitem(last=False)
            await self.app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            await send(message)

        await self.app(scope, receive, send_closing)

    def _closing(self, served: int) -> bool:
        if self.max_requests and served >= self.max_requests:
            return True
        return self.over_share is not None and served >= self.shed_after and self.over_share()

