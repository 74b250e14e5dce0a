"""The load generator's HTTP client honours ``Connection: close``: the next request opens a
new connection (``pqasso serve`` asks clients to reconnect, ``KeepAliveLimit``)."""

from __future__ import annotations

import asyncio

from benchmarks.http_load import Client


def test_after_connection_close_the_next_request_opens_a_new_connection() -> None:
    async def scenario() -> tuple[list[tuple[int, bytes]], int]:
        connections = 0

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal connections
            connections += 1
            while await reader.readline() not in (b"\r\n", b""):
                pass  # the request line and headers; GET: no body
            body = f"connection {connections}".encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = Client(f"http://127.0.0.1:{port}")
        try:
            answers = [await client.request("GET", "/health", "token") for _ in range(3)]
        finally:
            await client.close()
            server.close()
            await server.wait_closed()
        return answers, connections

    answers, connections = asyncio.run(scenario())

    assert answers == [(200, b"connection 1"), (200, b"connection 2"), (200, b"connection 3")]
    assert connections == 3
