"""Framework floors: how many one-task /predict calls a second each layer under the Hub can answer.

Usage: python bench/floors.py [--peer-url http://127.0.0.1:9190] [--seconds 10] [--concurrency 16]
Serves, one at a time under gunicorn with the Hub's workers, threads and reuse_port
(hubsite/gunicorn.conf.py): a plain WSGI callable, a Django view with no middleware, a DRF APIView
(``bench/floor_apps/``, each parsing the body and giving the dummy model's answer, nothing else), then
the Hub with its dummy model (prediction cache off). Drives each with wrk and prints requests/s,
beside the peer when given. A layer's figure bounds every layer above it: this is what benchmark 3's
target is measured against.
Writes bench/results/floors.json.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import peer_benchmark_arguments, print_table, running_hub, write_results
from bench.http_load import require_wrk, run_wrk
from bench.throughput import PREDICT_BODY, SETUP_BODY
from tests.processes import REPO_ROOT, free_port

FLOOR_APPS = [
    ("plain WSGI", "bench.floor_apps.plain_wsgi:app"),
    ("Django view", "bench.floor_apps.bare_django:app"),
    ("DRF APIView", "bench.floor_apps.bare_drf:app"),
]


@contextmanager
def serving(app: str, workers: int, threads: int) -> Iterator[str]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        app,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
    ]
    command += [
        "--threads",
        str(threads),
        "--worker-class",
        "gthread",
        "--reuse-port",
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command, cwd=REPO_ROOT)
    url = f"http://127.0.0.1:{port}/ml/dummy/predict"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.post(url, json=PREDICT_BODY, timeout=2).raise_for_status()
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def measure(url: str, concurrency: int, seconds: float) -> dict[str, Any]:
    for _ in range(20):  # every worker warm
        requests.post(url, json=PREDICT_BODY, timeout=10).raise_for_status()
    load = run_wrk(url, body=PREDICT_BODY, concurrency=concurrency, seconds=seconds)
    return {"rps": load.rps, "p50_ms": load.p50_ms, "p99_ms": load.p99_ms, "errors": load.errors}


def main() -> None:
    args = peer_benchmark_arguments(__doc__.splitlines()[0], seconds=10.0)
    require_wrk()
    workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 1))
    threads = int(os.environ.get("GUNICORN_THREADS", "32"))

    rows: list[dict[str, Any]] = []
    for name, app in FLOOR_APPS:
        with serving(app, workers, threads) as url:
            rows.append({"server": name, **measure(url, args.concurrency, args.seconds)})
    with running_hub([("dummy", "examples.dummy.model.DummyModel")], workers=workers) as hub:
        requests.post(f"{hub}/ml/dummy/setup", json=SETUP_BODY, timeout=10).raise_for_status()
        rows.append(
            {"server": "WOW AI Hub", **measure(f"{hub}/ml/dummy/predict", args.concurrency, args.seconds)}
        )
    if args.peer_url:
        peer = args.peer_url.rstrip("/")
        requests.post(f"{peer}/setup", json=SETUP_BODY, timeout=10).raise_for_status()
        rows.append({"server": "peer", **measure(f"{peer}/predict", args.concurrency, args.seconds)})
        peer_rps = rows[-1]["rps"]
        for row in rows:
            row["vs_peer"] = round(row["rps"] / peer_rps, 2)

    print(f"One-task /predict at concurrency {args.concurrency} for {args.seconds:.0f} s,", end=" ")
    print(f"{workers} workers x {threads} threads")
    print_table(rows, list(rows[0]))
    figures = {"rows": rows, "seconds": args.seconds, "workers": workers, "threads": threads}
    print(f"written: {write_results('floors', figures)}")


if __name__ == "__main__":
    main()
