"""Closed-loop load with wrk: ``connections`` connections each send their next request as
soon as the last one is answered, so the figure is the server's throughput ceiling (and
the latencies are those of a server kept exactly busy, not of users arriving at a rate:
for that see `bench.openloop`).

The requests are embedded in a generated Lua script; each wrk thread cycles through them
from its own offset, replacing "{seq}" by ``thread id * 1e9 + counter`` (unique within the
run), counts exact status codes in ``response()`` and responses per wall-clock second, and
``done()`` prints one ``WRKJSON {...}`` line that `run_wrk` parses."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.load import PERCENTILES, SEQ, LoadResult, Request, timeline
from bench.processes import pinned

MARKER = "WRKJSON "
#: Beyond the run itself, what wrk may take to start and to stop before we give up on it.
GRACE_SECONDS = 30

LUA_DRIVER = r"""
local created = {}

function setup(thread)
  thread:set("id", #created)
  created[#created + 1] = thread
end

local cache, position, counter

function init(args)
  statuses, seconds = {}, {}
  cache, counter = {}, 0
  -- Static requests are formatted once: wrk.format is the costly part of request().
  for i, r in ipairs(chirp_requests) do
    if not r.dynamic then cache[i] = wrk.format(r.method, r.path, r.headers, r.body) end
  end
  -- Threads start apart so that a short run still covers the whole mix.
  position = math.floor(id * #chirp_requests / nthreads)
end

function request()
  position = position % #chirp_requests + 1
  local cached = cache[position]
  if cached then return cached end
  local r = chirp_requests[position]
  counter = counter + 1
  local seq = string.format("%.0f", id * 1e9 + counter)
  local path = (string.gsub(r.path, "%{seq%}", seq))
  local body = r.body and (string.gsub(r.body, "%{seq%}", seq))
  return wrk.format(r.method, path, r.headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  local now = os.time()
  seconds[now] = (seconds[now] or 0) + 1
end

local function encode(v)
  if type(v) == "table" then
    local parts = {}
    for k, x in pairs(v) do parts[#parts + 1] = '"' .. tostring(k) .. '":' .. encode(x) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  if v ~= v or v == math.huge or v == -math.huge then return "null" end
  return string.format("%.17g", v)
end

local function merge(into, from)
  for k, n in pairs(from or {}) do into[k] = (into[k] or 0) + n end
end

function done(summary, latency, requests)
  local statuses, seconds = {}, {}
  for _, thread in ipairs(created) do
    merge(statuses, thread:get("statuses"))
    merge(seconds, thread:get("seconds"))
  end
  local latency_us = {mean = latency.mean, max = latency.max}
  for name, p in pairs(percentiles) do latency_us[name] = latency:percentile(p) end
  io.write("WRKJSON " .. encode({
    duration_us = summary.duration,
    requests = summary.requests,
    bytes = summary.bytes,
    errors = summary.errors,
    statuses = statuses,
    seconds = seconds,
    latency_us = latency_us,
  }) .. "\n")
end
"""


def lua_string(text: str) -> str:
    """``text`` as a Lua string literal, every byte that is not plain printable ASCII as a
    decimal escape: long strings would turn "\\r\\n" into "\\n", and a three-digit escape
    cannot swallow a digit that follows it."""
    out = []
    for byte in text.encode():
        if 32 <= byte < 127 and byte not in (ord('"'), ord("\\")):
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def lua_request(request: Request) -> str:
    headers = ", ".join(
        f"[{lua_string(name)}] = {lua_string(value)}" for name, value in request.wire_headers()
    )
    # nil, not "", so that a GET goes without a Content-Length.
    body = lua_string(request.body) if request.body else "nil"
    dynamic = "true" if SEQ in request.path or SEQ in request.body else "false"
    return (
        f"  {{method = {lua_string(request.method)}, path = {lua_string(request.path)}, "
        f"headers = {{{headers}}}, body = {body}, dynamic = {dynamic}}},"
    )


#: Requests appended per generated Lua function: one table constructor of them all would
#: pass Lua's limit of 65,536 constants in a function (a run of 40,000 distinct requests).
LUA_CHUNK = 2_000


def lua_chunks(requests: Sequence[Request]) -> list[str]:
    lines = []
    for start in range(0, len(requests), LUA_CHUNK):
        lines.append("for _, r in ipairs((function() return {")
        lines += [lua_request(request) for request in requests[start : start + LUA_CHUNK]]
        lines.append("} end)()) do chirp_requests[#chirp_requests + 1] = r end")
    return lines


def lua_script(requests: Sequence[Request], threads: int) -> str:
    percentiles = ", ".join(f"[{lua_string(name)}] = {p!r}" for name, p in PERCENTILES.items())
    return "\n".join(
        [
            "-- Generated by bench/wrk.py.",
            "chirp_requests = {}",
            *lua_chunks(requests),
            f"nthreads = {threads}",
            f"percentiles = {{{percentiles}}}",
            LUA_DRIVER,
        ]
    )


def wrk_command(
    url: str, script: Path, *, seconds: float, connections: int, threads: int, timeout_s: float
) -> list[str]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    # wrk reads whole seconds only.
    duration, timeout = max(1, math.ceil(seconds)), max(1, math.ceil(timeout_s))
    return [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        f"{timeout}s",
        "-s",
        str(script),
        url,
    ]


def parse_output(stdout: str) -> dict[str, Any] | None:
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])
    return None


def load_result(report: dict[str, Any]) -> LoadResult:
    seconds = report["duration_us"] / 1e6
    errors = report["errors"]
    latency_us = report["latency_us"]
    return LoadResult(
        driver="wrk",
        seconds=seconds,
        requests=report["requests"],
        rate=report["requests"] / seconds if seconds else 0.0,
        statuses={int(status): n for status, n in report["statuses"].items()},
        # errors.status counts HTTP answers >= 400: those are in statuses, not errors.
        errors=sum(errors[kind] for kind in ("connect", "read", "write", "timeout")),
        latency_ms={
            key: (latency_us.get(key) or 0.0) / 1000 for key in (*PERCENTILES, "mean", "max")
        },
        # Seconds of the wall clock, not of the run: the first and last are partial.
        timeline=timeline({int(second): n for second, n in report["seconds"].items()}),
    )


def run_wrk(
    url: str,
    requests: Sequence[Request],
    *,
    seconds: float,
    connections: int,
    threads: int = 1,
    cpu: int | None = None,
    timeout_s: float = 5,
) -> LoadResult:
    """Load ``url`` (scheme://host:port; the requests carry the paths) with wrk for
    ``seconds`` (rounded up to whole seconds), pinned to ``cpu`` if given."""
    if not requests:
        raise ValueError("no requests to send")
    if connections < threads:
        raise ValueError(f"wrk needs connections ({connections}) >= threads ({threads})")
    with tempfile.TemporaryDirectory(prefix="chirp-wrk-") as directory:
        script = Path(directory) / "driver.lua"
        script.write_text(lua_script(requests, threads))
        command = wrk_command(
            url,
            script,
            seconds=seconds,
            connections=connections,
            threads=threads,
            timeout_s=timeout_s,
        )
        command = pinned(command, cpu)
        finished = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=math.ceil(seconds) + math.ceil(timeout_s) + GRACE_SECONDS,
            check=False,
        )
    report = parse_output(finished.stdout) if finished.returncode == 0 else None
    if report is None:
        raise RuntimeError(
            f"wrk failed (exit {finished.returncode}): "
            f"{(finished.stderr or finished.stdout).strip() or 'no output'}"
        )
    return load_result(report)
