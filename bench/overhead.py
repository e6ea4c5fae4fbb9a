"""Overhead: /predict for one image task through the Hub, against calling its model server directly.

Usage: python bench/overhead.py [--seconds 10] [--concurrency 1 16]
The model server answers at once. Direct: the V7 request with the image in base64. Through the Hub:
a /predict whose task holds the same image as a data: URI, so the Hub decodes and measures it,
calls the server, and converts its answer (prediction cache off, or only the first call would
reach the server). Prints p50/p99 of both and the Hub's added latency; writes
bench/results/overhead.json.
"""

from __future__ import annotations

import argparse
import base64
import sys
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, running_hub, write_results
from bench.fake_servers import model_server, png
from bench.http_load import require_wrk, run_wrk
from tests.processes import manage_shell

CONFIG = (
    '<View><Image name="image" value="$image"/>'
    '<RectangleLabels name="label" toName="image"><Label value="Object"/></RectangleLabels></View>'
)
SLUG = "bench-overhead"


def register_external(env: dict[str, str], url: str) -> None:
    script = (
        "from registry.models import RegisteredModel, ModelClass\n"
        f"m = RegisteredModel.objects.create(name='bench', slug='{SLUG}', kind='http',"
        f" url='{url}/api/infer', max_concurrency=64, prediction_cache=False)\n"
        "ModelClass.objects.create(model=m, name='object', type='bounding_box')\n"
    )
    manage_shell(env, script)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16])
    args = parser.parse_args()
    require_wrk()

    image = base64.b64encode(png(64, 64)).decode()
    direct_body = {"image": {"base64": image}}
    hub_body = {
        "tasks": [{"id": 1, "data": {"image": f"data:image/png;base64,{image}"}}],
        "project": "1.1700000000",
        "label_config": CONFIG,
    }
    rows = []
    with (
        model_server(service_seconds=0, parallel=64) as server,
        running_hub([], setup=lambda env: register_external(env, server)) as hub,
    ):
        predict_url = f"{hub}/ml/{SLUG}/predict"
        for _ in range(20):  # warm: the project, its mappings, both workers' caches and pools
            answer = requests.post(predict_url, json=hub_body, timeout=10)
            assert answer.status_code == 200 and answer.json()["results"][0]["result"], answer.text
        for concurrency in args.concurrency:
            direct = run_wrk(
                f"{server}/api/infer", body=direct_body, concurrency=concurrency, seconds=args.seconds
            )
            through_hub = run_wrk(predict_url, body=hub_body, concurrency=concurrency, seconds=args.seconds)
            rows.append(
                {
                    "concurrency": concurrency,
                    "direct_p50_ms": direct.p50_ms,
                    "direct_p99_ms": direct.p99_ms,
                    "hub_p50_ms": through_hub.p50_ms,
                    "hub_p99_ms": through_hub.p99_ms,
                    "added_p50_ms": round(through_hub.p50_ms - direct.p50_ms, 3),
                    "added_p99_ms": round(through_hub.p99_ms - direct.p99_ms, 3),
                    "direct_rps": direct.rps,
                    "hub_rps": through_hub.rps,
                    "errors": direct.errors + through_hub.errors,
                }
            )
    print("WOW AI Hub overhead: one image task through the Hub vs. straight to the model server")
    print_table(rows, list(rows[0]))
    print("targets: added p50 <= 1.5 ms, added p99 <= 5 ms")
    print(f"written: {write_results('overhead', {'rows': rows, 'seconds': args.seconds})}")


if __name__ == "__main__":
    main()
