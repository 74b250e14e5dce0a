"""The load generator: a separate process that drives ``pqasso serve`` over loopback.

``python -m benchmarks.http_load < SPEC`` reads a JSON spec (with API tokens: hence not on
the command line) from standard input and prints one JSON object of results. Clients are asyncio tasks, each with its own keep-alive HTTP/1.1
connection, so the generator spends little CPU per request (the server shares the machine).

- ``"mode": "overdue"``: ``requests`` sequential ``GET /overdue?on=DAY`` (after a few unmeasured
  ones); latency percentiles and the items of the last answer.
- ``"mode": "commands"``: ``clients`` clients, each running the documented happy path on new
  cases (``POST /cases``, then plan, approval, evidence, further details, judgement, award),
  every command with an ``Idempotency-Key``, until ``seconds`` have passed or ``max_commands``
  were answered.
  * Without ``rate`` (closed loop): each client sends its next command as soon as the last is
    answered: the server's saturation throughput. Latency is then 32 / throughput by
    construction (Little's law), whatever the server does.
  * With ``rate`` (open loop, commands/s in all): each client sends on a fixed schedule
    (``clients / rate`` seconds apart, clients staggered), whether or not the server keeps
    up, and latency is measured from the *scheduled* time to the end of the answer, so a
    server that falls behind shows it in the percentiles (no "coordinated omission": a
    client stuck waiting does not hide the requests it should have sent). ``per_s`` is the
    answered commands over the time from the first scheduled send to the last answer.
  * Also the p95 of each whole second's commands: the worst (``worst_second_p95_ms``) and
    how many seconds were over 50 ms, which tells a tail in bursts from one spread over the
    run; with ``"trace": PATH``, every command's (send time, latency, path, status) is
    written to PATH as JSON.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from infrastructure.http import examples


def open_case_body(organisation: str, reviewer: str) -> dict[str, Any]:
    """The documented site visit, for ``organisation`` with lead reviewer ``reviewer``."""
    return {**examples.OPEN_CASE, "organisation": {**examples.OPEN_CASE["organisation"], "id": organisation},
            "lead_reviewer": reviewer}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


class Client:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, token: str, body: Any = None,
                      key: str | None = None) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        payload = b"" if body is None else json.dumps(body).encode()
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", f"Authorization: Bearer {token}",
                f"Content-Length: {len(payload)}"]
        if body is not None:
            head.append("Content-Type: application/json")
        if key is not None:
            head.append(f"Idempotency-Key: {key}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        length, closing = 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection":
                closing = "close" in value.lower()
        answer = await self.reader.readexactly(length)
        if closing:  # the server asks for a new connection: the next request opens one
            await self.close()
        return status, answer

    async def close(self) -> None:
        if self.writer is not None:
            writer, self.reader, self.writer = self.writer, None, None
            writer.close()
            await writer.wait_closed()


async def overdue(spec: dict[str, Any]) -> dict[str, Any]:
    client = Client(spec["url"])
    path, token = f"/overdue?on={spec['day']}", spec["tokens"]["reporting"]
    latencies, errors, body = [], 0, b"[]"
    for n in range(spec.get("warmup", 5) + spec["requests"]):
        started = time.perf_counter()
        status, body = await client.request("GET", path, token)
        if n >= spec.get("warmup", 5):
            latencies.append(time.perf_counter() - started)
        errors += status != 200
    await client.close()
    items = [(item["case_id"], item["obligation"], item["due_on"]) for item in json.loads(body)]
    return {"p50_ms": statistics.median(latencies) * 1000, "p95_ms": percentile(latencies, 95) * 1000,
            "requests": len(latencies), "errors": errors, "items": items}


async def commands(spec: dict[str, Any]) -> dict[str, Any]:
    tokens, state = spec["tokens"], {"done": 0, "stop": False}
    # Every command's (seconds from the start to its sending, latency, path, status).
    timings: list[tuple[float, float, str, int]] = []
    statuses: dict[int, int] = {}
    deadline = time.perf_counter() + spec["seconds"]

    rate, clients = spec.get("rate"), tokens["clients"][:spec["clients"]]
    interval = len(clients) / rate if rate else 0.0  # seconds between one client's commands
    started = time.perf_counter()
    last_answer = started

    async def run_client(index: int, me: dict[str, str]) -> None:
        client = Client(spec["url"])
        roles = {"admin": tokens["admin"], "organisation": me["organisation"],
                 "lead_reviewer": me["lead_reviewer"]}
        opening = open_case_body(me["organisation_id"], me["reviewer_id"])
        schedule = iter(started + interval * (index / len(clients) + n) for n in itertools.count())
        try:
            while not state["stop"]:
                status, body = await timed(client, "POST", "/cases", roles["admin"], opening, schedule)
                if status != 201:
                    continue
                case_id = json.loads(body)["case_id"]
                for path, step_body, role, _ in examples.HAPPY_PATH:
                    if state["stop"]:
                        break
                    await timed(client, "POST", f"/cases/{case_id}/{path}", roles[role], step_body, schedule)
        finally:
            await client.close()

    async def timed(client: Client, method: str, path: str, token: str, body: Any,
                    schedule: Iterator[float]) -> tuple[int, bytes]:
        nonlocal last_answer
        due = next(schedule)
        if rate:
            if due >= deadline:  # the schedule ends with the run: send nothing more
                state["stop"] = True
                return 0, b""
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
        sent = due if rate else time.perf_counter()
        status, answer = await client.request(method, path, token, body, key=str(uuid.uuid4()))
        last_answer = time.perf_counter()
        timings.append((sent - started, last_answer - sent, path.rsplit("/", 1)[-1], status))
        statuses[status] = statuses.get(status, 0) + 1
        state["done"] += 1
        if last_answer >= deadline or state["done"] >= spec["max_commands"]:
            state["stop"] = True
        return status, answer

    await asyncio.gather(*(run_client(index, me) for index, me in enumerate(clients)))
    elapsed = (last_answer if rate else time.perf_counter()) - started
    ok = sum(count for status, count in statuses.items() if 200 <= status < 300)
    if spec.get("trace"):
        with open(spec["trace"], "w") as out:
            json.dump({"started_unix": time.time() - (time.perf_counter() - started), "commands": timings}, out)
    latencies = [latency for _, latency, _, _ in timings]
    # A tail in short bursts, or spread over the run: the p95 of each whole second's commands.
    by_second: dict[int, list[float]] = {}
    for sent, latency, _, _ in timings:
        by_second.setdefault(int(sent), []).append(latency)
    seconds = [percentile(values, 95) * 1000 for values in by_second.values()]
    return {"commands": len(latencies), "ok": ok, "seconds": elapsed, "per_s": ok / elapsed,
            "p50_ms": statistics.median(latencies) * 1000, "p95_ms": percentile(latencies, 95) * 1000,
            "worst_second_p95_ms": max(seconds), "seconds_p95_over_50_ms": sum(s > 50 for s in seconds),
            "statuses": {str(k): v for k, v in sorted(statuses.items())}}


def main() -> int:
    spec = json.loads(sys.stdin.read())
    run = {"overdue": overdue, "commands": commands}[spec["mode"]]
    try:  # the service's faster event loop (a dependency): less of the shared CPU for the load
        import uvloop
        answer = uvloop.run(run(spec))
    except ImportError:
        answer = asyncio.run(run(spec))
    sys.stdout.write(json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
