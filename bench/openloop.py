"""Open-loop load: request i is due at ``start + i / rate`` whatever the server does, and
its latency runs from that due time to the end of its answer (as wrk2's ``-R``). When
every connection is busy, a due request waits in a queue and the wait is part of its
latency: a server that stalls for 300 ms makes every request due in those 300 ms late,
which a closed loop (wrk) hides by simply not sending them ("coordinated omission").

Plain HTTP/1.1 keep-alive on ``connections`` trio sockets to a loopback host, written and
parsed by hand, since the driver must stay well ahead of the server it measures.

`run_open_loop` runs it in a subprocess pinned to a CPU (``python -m bench.openloop``
reads its arguments as JSON on stdin and prints the result as JSON on stdout)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import trio

from bench.load import SEQ, LoadResult, Request, latency_summary, timeline

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
RECEIVE_BYTES = 65536
#: Beyond the run and its timeout, what the subprocess may take to start and to stop.
GRACE_SECONDS = 60
#: Answers without a body, whatever their headers say.
BODILESS_STATUSES = {204, 304}

#: What ends one request as an error (ValueError: an answer that does not parse), after
#: which its connection is opened again for the next.
FAILURES = (OSError, trio.BrokenResourceError, trio.ClosedResourceError, ValueError)


class ConnectionClosed(Exception):
    """The server closed the connection before the answer was complete."""


@dataclass(frozen=True)
class Template:
    """One `Request`, encoded as far as it can be before its sequence number is known."""

    request: Request
    host: str
    static: bytes | None
    head_only: bool

    @classmethod
    def of(cls, request: Request, host: str) -> Template:
        dynamic = SEQ in request.path or SEQ in request.body
        template = cls(request, host, None, request.method.upper() == "HEAD")
        if dynamic:
            return template
        return cls(request, host, template.encode(0), template.head_only)

    def encode(self, seq: int) -> bytes:
        if self.static is not None:
            return self.static
        number = str(seq)
        path = self.request.path.replace(SEQ, number)
        body = self.request.body.replace(SEQ, number).encode()
        lines = [f"{self.request.method} {path} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{name}: {value}" for name, value in self.request.wire_headers()]
        if body or self.request.method.upper() in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Connection:
    """One keep-alive connection, opened again whenever the server has closed it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.stream: trio.SocketStream | None = None
        self.buffer = bytearray()
        #: Whether any byte of the current answer came: if so, it cannot be sent again.
        self.answered = False

    async def open(self) -> None:
        self.stream = await trio.open_tcp_stream(self.host, self.port)
        self.buffer.clear()

    async def close(self) -> None:
        if self.stream is not None:
            stream, self.stream = self.stream, None
            await trio.aclose_forcefully(stream)

    async def exchange(self, data: bytes, head_only: bool) -> int:
        """Send ``data`` and read its answer; the status."""
        reused = self.stream is not None
        if not reused:
            await self.open()
        try:
            return await self.send_and_read(data, head_only)
        except ConnectionClosed:
            if not reused or self.answered:
                raise
        # An idle keep-alive connection the server closed meanwhile: nothing was answered,
        # so the request was not processed and goes again, as browsers do.
        await self.close()
        await self.open()
        return await self.send_and_read(data, head_only)

    async def send_and_read(self, data: bytes, head_only: bool) -> int:
        assert self.stream is not None
        self.answered = False
        try:
            await self.stream.send_all(data)
        except trio.BrokenResourceError as exc:
            raise ConnectionClosed from exc
        status, keep_alive = await self.read_response(head_only)
        if not keep_alive:
            await self.close()
        return status

    async def fill(self) -> None:
        assert self.stream is not None
        try:
            chunk = await self.stream.receive_some(RECEIVE_BYTES)
        except trio.BrokenResourceError as exc:  # reset by the server
            raise ConnectionClosed from exc
        if not chunk:
            raise ConnectionClosed
        self.answered = True
        self.buffer += chunk

    async def read_until(self, separator: bytes, start: int = 0) -> int:
        """The index of ``separator`` in the buffer, at or after ``start``."""
        while (index := self.buffer.find(separator, start)) < 0:
            await self.fill()
        return index

    async def take(self, size: int) -> None:
        while len(self.buffer) < size:
            await self.fill()
        del self.buffer[:size]

    async def read_response(self, head_only: bool) -> tuple[int, bool]:
        """The status of the next final answer, and whether the connection stays open."""
        while True:
            end = await self.read_until(b"\r\n\r\n")
            head = bytes(self.buffer[:end]).lower()
            del self.buffer[: end + 4]
            status = int(head[9:12])
            if status >= 200 or status == 101:
                break  # 1xx answers are interim: the final one follows
        keep_alive = not (
            b"close" in header(head, b"connection")
            or (head.startswith(b"http/1.0") and b"keep-alive" not in header(head, b"connection"))
        )
        if head_only or status in BODILESS_STATUSES:
            return status, keep_alive
        if b"chunked" in header(head, b"transfer-encoding"):
            await self.read_chunked()
        elif length := header(head, b"content-length"):
            await self.take(int(length))
        else:
            await self.read_to_close()
            return status, False
        return status, keep_alive

    async def read_chunked(self) -> None:
        while True:
            line_end = await self.read_until(b"\r\n")
            size = int(bytes(self.buffer[:line_end]).split(b";")[0], 16)
            del self.buffer[: line_end + 2]
            if size == 0:
                break
            await self.take(size + 2)
        # Trailers, if any, then the empty line.
        while (line_end := await self.read_until(b"\r\n")) > 0:
            del self.buffer[: line_end + 2]
        del self.buffer[:2]

    async def read_to_close(self) -> None:
        try:
            while True:
                await self.fill()
                self.buffer.clear()
        except ConnectionClosed:
            self.buffer.clear()


def header(head: bytes, name: bytes) -> bytes:
    """The value of header ``name`` in the lowercased response ``head`` (b"" if absent)."""
    start = head.find(b"\r\n" + name + b":")
    if start < 0:
        return b""
    start += len(name) + 3
    end = head.find(b"\r\n", start)
    return head[start : end if end >= 0 else len(head)].strip()


@dataclass
class Tally:
    """What came back, for the `LoadResult`."""

    start: float
    rate: float
    total: int
    #: By request index, None until answered.
    latencies: list[float | None] = field(init=False)
    statuses: dict[int, int] = field(default_factory=dict)
    per_second: dict[int, int] = field(default_factory=dict)
    completed: int = 0
    last: float = 0.0

    def __post_init__(self) -> None:
        self.latencies = [None] * self.total

    def due(self, i: int) -> float:
        return self.start + i / self.rate

    def record(self, i: int, status: int, now: float) -> None:
        self.latencies[i] = now - self.due(i)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        second = int(now - self.start)
        self.per_second[second] = self.per_second.get(second, 0) + 1
        self.completed += 1
        self.last = max(self.last, now)

    def result(self, seconds: float) -> LoadResult:
        latencies_ms = [latency * 1000 for latency in self.latencies if latency is not None]
        duration = max(seconds, self.last - self.start)
        return LoadResult(
            driver="open-loop",
            seconds=float(duration),
            requests=self.completed,
            rate=self.completed / duration,
            statuses=dict(sorted(self.statuses.items())),
            # Every due request either completed or not: refused, reset, timed out, or
            # still queued when the run ended.
            errors=self.total - self.completed,
            latency_ms=latency_summary(latencies_ms),
            target_rate=float(self.rate),
            latencies_ms=latencies_ms,
            timeline=timeline(self.per_second, origin=0),
        )


async def dispatch(send: trio.MemorySendChannel[int], tally: Tally) -> None:
    """Queue each request at its due time; those already due go in one batch, so a late
    wake-up (the clock ticks in milliseconds) does not delay the ones after it."""
    async with send:
        queued = 0
        while queued < tally.total:
            due_now = math.floor((trio.current_time() - tally.start) * tally.rate) + 1
            while queued < min(due_now, tally.total):
                send.send_nowait(queued)
                queued += 1
            if queued < tally.total:
                await trio.sleep_until(tally.due(queued))


async def work(
    connection: Connection,
    receive: trio.MemoryReceiveChannel[int],
    templates: Sequence[Template],
    tally: Tally,
    timeout_s: float,
) -> None:
    async for i in receive:
        template = templates[i % len(templates)]
        data = template.encode(i)
        with trio.move_on_after(timeout_s) as waiting:
            try:
                status = await connection.exchange(data, template.head_only)
            except (ConnectionClosed, *FAILURES):
                await connection.close()
                continue
        if waiting.cancelled_caught:
            await connection.close()  # the answer may still come: the stream is out of step
            continue
        tally.record(i, status, trio.current_time())


def loopback(url: str) -> tuple[str, int, str]:
    """Host, port and Host header of ``url``."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK:
        raise ValueError(f"open loop speaks plain http to a loopback host only, not {url!r}")
    port = parts.port or 80
    host_header = (
        f"[{parts.hostname}]:{port}" if ":" in parts.hostname else f"{parts.hostname}:{port}"
    )
    return parts.hostname, port, host_header


async def preconnect(connection: Connection) -> None:
    # Refused now is an error of each request later, when it tries again.
    try:
        await connection.open()
    except OSError:
        connection.stream = None


async def open_loop(
    url: str,
    requests: Sequence[Request],
    *,
    rate: float,
    seconds: float,
    connections: int = 64,
    timeout_s: float = 10,
) -> LoadResult:
    """``floor(rate * seconds)`` requests, cycling through ``requests``, due at ``rate``
    per second; "{seq}" is the request's index. The run ends when the last has been
    answered, or ``timeout_s`` after ``seconds``; whatever was not answered by then, or
    not within ``timeout_s`` of being sent, counts in ``errors``."""
    if not requests:
        raise ValueError("no requests to send")
    if rate <= 0 or seconds <= 0 or connections < 1:
        raise ValueError("rate, seconds and connections must be positive")
    host, port, host_header = loopback(url)
    templates = [Template.of(request, host_header) for request in requests]
    pool = [Connection(host, port) for _ in range(connections)]
    async with trio.open_nursery() as nursery:
        for connection in pool:
            nursery.start_soon(preconnect, connection)
    send, receive = trio.open_memory_channel[int](math.inf)
    # The epsilon keeps 100/s for 0.29 s at 29 requests, not 28.999999999999996.
    tally = Tally(trio.current_time(), rate, math.floor(rate * seconds + 1e-9))
    try:
        with trio.move_on_at(tally.start + seconds + timeout_s):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(dispatch, send, tally)
                for connection in pool:
                    nursery.start_soon(work, connection, receive, templates, tally, timeout_s)
    finally:
        for connection in pool:
            await connection.close()
    return tally.result(seconds)


def run_open_loop(
    url: str,
    requests: Sequence[Request],
    *,
    rate: float,
    seconds: float,
    connections: int = 64,
    cpu: int | None = None,
    timeout_s: float = 10,
) -> LoadResult:
    """`open_loop` in a subprocess of its own, pinned to ``cpu`` if given, so that this
    process being busy does not make the driver late."""
    arguments = {
        "url": url,
        "requests": [request.to_json() for request in requests],
        "rate": rate,
        "seconds": seconds,
        "connections": connections,
        "cpu": cpu,
        "timeout_s": timeout_s,
    }
    root = str(Path(__file__).resolve().parent.parent)
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }
    finished = subprocess.run(
        [sys.executable, "-m", "bench.openloop"],
        input=json.dumps(arguments),
        capture_output=True,
        text=True,
        env=environment,
        timeout=seconds + timeout_s + GRACE_SECONDS,
        check=False,
    )
    lines = finished.stdout.strip().splitlines()
    if finished.returncode != 0 or not lines:
        raise RuntimeError(
            f"open loop subprocess failed (exit {finished.returncode}): "
            f"{finished.stderr.strip() or 'no output'}"
        )
    return LoadResult.from_json(json.loads(lines[-1]))


def main() -> None:
    arguments: dict[str, Any] = json.load(sys.stdin)
    if arguments.get("cpu") is not None:
        os.sched_setaffinity(0, {arguments["cpu"]})
    result = trio.run(
        lambda: open_loop(
            arguments["url"],
            [Request.from_json(request) for request in arguments["requests"]],
            rate=arguments["rate"],
            seconds=arguments["seconds"],
            connections=arguments["connections"],
            timeout_s=arguments["timeout_s"],
        )
    )
    print(json.dumps(result.to_json()))


if __name__ == "__main__":
    main()
