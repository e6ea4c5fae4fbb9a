"""Closed-loop HTTP load from wrk (Debian's package), so that the load generator costs the two cores
far less than the servers it measures; latencies come from wrk's own histogram."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# wrk calls done() once at the end; it prints one JSON line that main() picks out of wrk's report.
LUA = """
local body_file = io.open(os.getenv("WRK_BODY_FILE"), "rb")
wrk.method = os.getenv("WRK_METHOD")
wrk.body = body_file:read("*a")
body_file:close()
wrk.headers["Content-Type"] = "application/json"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "status_errors": %d, "socket_errors": %d, '
    .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


@dataclass(frozen=True)
class LoadResult:
    concurrency: int
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    errors: int  # non-2xx/3xx answers and socket errors

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("The benchmarks drive load with wrk: apt-get install wrk (or make bench-tools).")
    return path


def run_wrk(
    url: str, *, body: Any = None, concurrency: int, seconds: float, method: str | None = None
) -> LoadResult:
    """``concurrency`` keep-alive connections sending the same request for ``seconds``."""
    wrk = require_wrk()
    with tempfile.TemporaryDirectory(prefix="hub-wrk-") as folder:
        script = Path(folder) / "request.lua"
        script.write_text(LUA)
        body_file = Path(folder) / "body.json"
        body_file.write_bytes(json.dumps(body).encode() if body is not None else b"")
        env = {
            **os.environ,
            "WRK_BODY_FILE": str(body_file),
            "WRK_METHOD": method or ("POST" if body is not None else "GET"),
        }
        completed = subprocess.run(
            [
                wrk,
                f"--threads={min(2, concurrency)}",
                f"--connections={concurrency}",
                f"--duration={max(1, round(seconds))}s",
                "--timeout=30s",
                f"--script={script}",
                url,
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
    line = next(line for line in reversed(completed.stdout.splitlines()) if line.startswith("{"))
    figures = json.loads(line)
    return LoadResult(
        concurrency=concurrency,
        requests=figures["requests"],
        rps=round(figures["requests"] / (figures["duration_us"] / 1e6), 1),
        p50_ms=figures["p50_us"] / 1000,
        p90_ms=figures["p90_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        max_ms=figures["max_us"] / 1000,
        mean_ms=round(figures["mean_us"] / 1000, 3),
        errors=figures["status_errors"] + figures["socket_errors"],
    )
