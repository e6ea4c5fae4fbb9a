"""Scaling: one-task /predict requests per second with 1, 2 and 4 gunicorn workers (benchmark 5).

Usage: python bench/scaling.py [--workers 1 2 4] [--seconds 10] [--concurrency 16]
The dummy Python model, prediction cache off, 4 threads per worker. On a machine with fewer cores
than workers the extra workers share cores: the figures show where it stops growing. Writes
bench/results/scaling.json.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, running_hub, write_results
from bench.http_load import require_wrk, run_wrk
from bench.throughput import PREDICT_BODY, SETUP_BODY


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    require_wrk()

    rows = []
    for workers in args.workers:
        models = [("dummy", "examples.dummy.model.DummyModel")]
        with running_hub(models, workers=workers) as hub:
            requests.post(f"{hub}/ml/dummy/setup", json=SETUP_BODY, timeout=10).raise_for_status()
            for _ in range(10 * workers):
                requests.post(f"{hub}/ml/dummy/predict", json=PREDICT_BODY, timeout=10).raise_for_status()
            load = run_wrk(
                f"{hub}/ml/dummy/predict",
                body=PREDICT_BODY,
                concurrency=args.concurrency,
                seconds=args.seconds,
            )
        rows.append(
            {
                "workers": workers,
                "rps": load.rps,
                "p50_ms": load.p50_ms,
                "p99_ms": load.p99_ms,
                "errors": load.errors,
            }
        )
    base = rows[0]["rps"]
    for row in rows:
        row["vs_first"] = round(float(row["rps"]) / float(base), 2)
    print(f"Dummy model, one-task /predict at concurrency {args.concurrency}, on {os.cpu_count()} cores")
    print_table(rows, list(rows[0]))
    print(f"written: {write_results('scaling', {'cores': os.cpu_count(), 'rows': rows})}")


if __name__ == "__main__":
    main()
