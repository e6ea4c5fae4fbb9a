"""Fan-out: 200 image tasks in one /predict to a model server taking 50 ms per image, 16 at a time.

Usage: python bench/fanout.py [--tasks 200] [--service-ms 50] [--parallel 16] [--runs 3]
Prints the Hub's wall time beside the sequential time (tasks x service time) and writes
bench/results/fanout.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, running_hub, write_results
from bench.fake_servers import model_server
from tests.processes import manage_shell

CONFIG = (
    '<View><Image name="image" value="$image"/>'
    '<RectangleLabels name="label" toName="image"><Label value="Object"/></RectangleLabels></View>'
)


def register_external(data_dir_env: dict[str, str], url: str, parallel: int) -> None:
    script = (
        "from registry.models import RegisteredModel, ModelClass\n"
        "m = RegisteredModel.objects.create(name='bench', slug='bench-detector', kind='http',"
        f" url='{url}/api/infer', max_concurrency={parallel}, timeout_seconds=30,"
        " prediction_cache=False)\n"  # every run asks the model server
        "ModelClass.objects.create(model=m, name='object', type='bounding_box')\n"
    )
    manage_shell(data_dir_env, script)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--service-ms", type=float, default=50.0)
    parser.add_argument("--parallel", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    with (
        model_server(args.service_ms / 1000, args.parallel) as server,
        running_hub([], setup=lambda env: register_external(env, server, args.parallel)) as hub,
    ):
        base = f"{hub}/ml/bench-detector"
        setup = {"project": "1.1700000000", "schema": CONFIG, "hostname": server, "access_token": ""}
        requests.post(f"{base}/setup", json=setup, timeout=5).raise_for_status()
        tasks = [{"id": i, "data": {"image": f"{server}/images/{i}.png"}} for i in range(args.tasks)]
        body = {"tasks": tasks, "project": "1.1700000000", "label_config": CONFIG}
        walls = []
        for _ in range(args.runs + 1):  # the first run warms the worker
            started = time.perf_counter()
            response = requests.post(f"{base}/predict", json=body, timeout=120)
            walls.append(time.perf_counter() - started)
            results = response.json()["results"]
            assert response.status_code == 200 and len(results) == args.tasks
            assert all(r["result"] for r in results), "every task should have its box"
    sequential = args.tasks * args.service_ms / 1000
    wall = statistics.median(walls[1:])
    row = {
        "tasks": args.tasks,
        "service_ms": args.service_ms,
        "server_parallel": args.parallel,
        "hub_wall_s": round(wall, 3),
        "sequential_s": round(sequential, 3),
        "speedup": round(sequential / wall, 2),
        "ideal_speedup": args.parallel,
    }
    print("WOW AI Hub fan-out: one /predict with many image tasks to a V7 model server")
    print_table([row], list(row))
    print(f"written: {write_results('fanout', {'rows': [row], 'walls_s': walls})}")


if __name__ == "__main__":
    main()
