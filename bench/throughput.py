"""Throughput beside a peer, and the control plane under that load (benchmarks 3 and 4).

Usage: python bench/throughput.py [--peer-url http://127.0.0.1:9190] [--seconds 20] [--concurrency 16]
The dummy Python model through the Hub (gunicorn, the default workers and threads) and, given
``--peer-url``, the same model served by a peer ML backend (``bench/peer.py`` serves
label-studio-ml-backend 2.x from a fetched copy with the same workers and threads): requests per
second of one-task /predict calls at the given concurrency (prediction cache off: every call runs
the model), memory per worker (RSS and PSS), and the p50/p99 of /health and /setup probed one at a
time while that load runs. Writes bench/results/throughput.json.
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import peer_benchmark_arguments, print_table, running_hub, summarize, write_results
from bench.http_load import LoadResult, require_wrk, run_wrk

CONFIG = (
    '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
    '<Choice value="Positive"/><Choice value="Negative"/></Choices></View>'
)
PROJECT = "1.1700000000"
PREDICT_BODY = {
    "tasks": [{"id": 1, "data": {"text": "The gateway should cost nothing."}}],
    "project": PROJECT,
    "label_config": CONFIG,
}
SETUP_BODY = {"project": PROJECT, "schema": CONFIG, "hostname": "http://label-studio", "access_token": ""}


def worker_memory_mb(base_url: str) -> dict[str, float]:
    """Mean RSS and PSS of the server's worker processes (every process on the port but the master)."""
    port = urlsplit(base_url).port
    listing = subprocess.run(
        ["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    pids = {int(pid) for pid in re.findall(r"pid=(\d+)", listing)}
    parents = {int(Path(f"/proc/{pid}/stat").read_text().split()[3]) for pid in pids}
    workers = [pid for pid in pids if pid not in parents] or sorted(pids)
    rss, pss = [], []
    for pid in workers:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        rss.append(int(re.search(r"^Rss:\s+(\d+)", rollup, re.M).group(1)) / 1024)  # type: ignore[union-attr]
        pss.append(int(re.search(r"^Pss:\s+(\d+)", rollup, re.M).group(1)) / 1024)  # type: ignore[union-attr]
    return {
        "workers": len(workers),
        "rss_mb_per_worker": round(sum(rss) / len(rss), 1),
        "pss_mb_per_worker": round(sum(pss) / len(pss), 1),
    }


class ControlPlaneProbe(threading.Thread):
    """/health and /setup, one at a time on a connection of their own, until stopped."""

    def __init__(self, base_url: str, model_path: str) -> None:
        super().__init__(daemon=True)
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.model_path = model_path
        self.stop = threading.Event()
        self.samples: dict[str, list[float]] = {"health": [], "setup": []}
        self.failures = 0

    def run(self) -> None:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
        setup = json.dumps(SETUP_BODY)
        while not self.stop.is_set():
            for name, method, body in (("health", "GET", None), ("setup", "POST", setup)):
                started = time.perf_counter()
                connection.request(
                    method,
                    f"{self.model_path}/{name}",
                    body=body,
                    headers={"Content-Type": "application/json"},
                )
                response = connection.getresponse()
                response.read()
                self.samples[name].append((time.perf_counter() - started) * 1000)
                self.failures += response.status != 200
            time.sleep(0.02)


def measure(base_url: str, model_path: str, concurrency: int, seconds: float) -> dict[str, Any]:
    predict_url = f"{base_url}{model_path}/predict"
    requests.post(f"{base_url}{model_path}/setup", json=SETUP_BODY, timeout=10).raise_for_status()
    for _ in range(20):
        answer = requests.post(predict_url, json=PREDICT_BODY, timeout=10)
        assert answer.status_code == 200 and answer.json()["results"][0]["result"], answer.text
    probe = ControlPlaneProbe(base_url, model_path)
    probe.start()
    load: LoadResult = run_wrk(predict_url, body=PREDICT_BODY, concurrency=concurrency, seconds=seconds)
    probe.stop.set()
    probe.join()
    return {
        "rps": load.rps,
        "predict_p50_ms": load.p50_ms,
        "predict_p99_ms": load.p99_ms,
        "errors": load.errors + probe.failures,
        **{f"{name}_under_load": summarize(samples) for name, samples in probe.samples.items()},
        **worker_memory_mb(base_url),
    }


def main() -> None:
    args = peer_benchmark_arguments(__doc__.splitlines()[0], seconds=20.0)
    require_wrk()

    results: dict[str, dict[str, Any]] = {}
    with running_hub([("dummy", "examples.dummy.model.DummyModel")]) as hub:
        results["hub"] = measure(hub, "/ml/dummy", args.concurrency, args.seconds)
    if args.peer_url:
        results["peer"] = measure(args.peer_url.rstrip("/"), "", args.concurrency, args.seconds)

    rows = [
        {
            "server": name,
            "rps": r["rps"],
            "predict_p50_ms": r["predict_p50_ms"],
            "predict_p99_ms": r["predict_p99_ms"],
            "health_p99_ms": r["health_under_load"]["p99_ms"],
            "setup_p99_ms": r["setup_under_load"]["p99_ms"],
            "workers": r["workers"],
            "rss_mb_per_worker": r["rss_mb_per_worker"],
            "pss_mb_per_worker": r["pss_mb_per_worker"],
            "errors": r["errors"],
        }
        for name, r in results.items()
    ]
    print(f"Dummy model, one-task /predict at concurrency {args.concurrency} for {args.seconds:.0f} s")
    print_table(rows, list(rows[0]))
    if "peer" in results:
        ratio = results["hub"]["rps"] / results["peer"]["rps"]
        results["hub_over_peer_rps"] = {"ratio": round(ratio, 2)}
        print(f"Hub / peer throughput: {ratio:.2f}x (target >= 1.5x)")
    print("control plane target: /health and /setup p99 < 20 ms under load")
    print(f"written: {write_results('throughput', {'concurrency': args.concurrency, **results})}")


if __name__ == "__main__":
    main()
