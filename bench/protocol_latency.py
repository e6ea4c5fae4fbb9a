"""Latency of /health, /setup and /predict (1 and 100 tasks) against a live gunicorn Hub, dummy model.

Usage: python bench/protocol_latency.py [--requests N]
Prints p50/p99 per endpoint and writes bench/results/protocol_latency.json.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, running_hub, summarize, write_results

CFG = (
    '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
    '<Choice value="Positive"/><Choice value="Negative"/></Choices></View>'
)


def measure(session: requests.Session, method: str, url: str, body: Any, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = session.request(method, url, json=body, timeout=(1, 100))
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{method} {url} -> {response.status_code}: {response.text[:200]}")
        samples.append(elapsed)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--requests", type=int, default=300, help="requests per endpoint (100-task predict: a third)"
    )
    args = parser.parse_args()

    def tasks(n: int) -> list[dict[str, Any]]:
        return [{"id": i, "data": {"text": f"text number {i}"}} for i in range(n)]

    with running_hub([("dummy", "examples.dummy.model.DummyModel")]) as hub:
        base = f"{hub}/ml/dummy"
        setup = {
            "project": "1.1700000000",
            "schema": CFG,
            "hostname": "http://localhost:8080",
            "access_token": "t",
        }
        cases = [
            ("GET /health", "GET", f"{base}/health", None, args.requests),
            ("POST /setup", "POST", f"{base}/setup", setup, args.requests),
            (
                "POST /predict 1 task",
                "POST",
                f"{base}/predict",
                {"tasks": tasks(1), "project": "1.1700000000", "label_config": CFG},
                args.requests,
            ),
            (
                "POST /predict 100 tasks",
                "POST",
                f"{base}/predict",
                {"tasks": tasks(100), "project": "1.1700000000", "label_config": CFG},
                max(args.requests // 3, 10),
            ),
        ]
        session = requests.Session()
        rows = []
        for name, method, url, body, count in cases:
            measure(session, method, url, body, 10)  # warm every worker's caches first
            rows.append({"endpoint": name, **summarize(measure(session, method, url, body, count))})
    print(f"WOW AI Hub protocol latency (gunicorn, 2 workers, SQLite, dummy model) on {platform.node()}")
    print_table(rows, ["endpoint", "n", "p50_ms", "p99_ms", "mean_ms"])
    path = write_results("protocol_latency", {"rows": rows, "python": platform.python_version()})
    print(f"written: {path}")


if __name__ == "__main__":
    main()
