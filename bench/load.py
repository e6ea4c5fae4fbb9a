"""Bounded load: many concurrent clients over several models for a fixed time, with injected faults.

Usage: python bench/load.py [--duration 20] [--clients 32] [--no-faults] [--output PATH]
(the duration also from LOAD_DURATION). Starts a scratch Hub on loopback (gunicorn, 2 workers,
SQLite, a filesystem broker) serving the dummy Python model, the text classifier (/predict and
annotation /webhook events), an http model backed by a loopback stand-in V7 server and, unless
--no-faults, broken models: two http models whose servers fail (one answers HTTP 500, one is not
listening) and a Python model that raises. Reports requests, rps, p50/p99 per endpoint and errors split
into injected (a broken model's call answered as designed: the Hub's JSON error, or tasks left without
a prediction) and unexpected (anything else: a 5xx elsewhere, a non-JSON body, no answer), and writes
bench/results/load.json. A 503 "busy" with Retry-After (a model over its share of a worker, e.g. while
it loads) is waited out and asked again, as a real caller would; those retries are counted apart.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, running_hub, summarize, write_results
from bench.fake_servers import model_server
from tests.processes import free_port, manage_shell

TEXT_CONFIG = (
    '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
    '<Choice value="Positive"/><Choice value="Negative"/></Choices></View>'
)
IMAGE_CONFIG = (
    '<View><Image name="image" value="$image"/>'
    '<RectangleLabels name="label" toName="image"><Label value="Object"/></RectangleLabels></View>'
)
PROJECT = "1.1700000000"


def register_http_models(env: dict[str, str], urls: dict[str, str]) -> None:
    """An http model per ``slug -> model server URL``, each with the stand-in's one class."""
    script = "from registry.models import RegisteredModel, ModelClass\n" + "".join(
        f"m = RegisteredModel.objects.create(name={slug!r}, slug={slug!r}, kind='http',"
        f" url={url + '/api/infer'!r}, max_concurrency=16, timeout_seconds=10, prediction_cache=False)\n"
        "ModelClass.objects.create(model=m, name='object', type='bounding_box')\n"
        for slug, url in urls.items()
    )
    manage_shell(env, script)


@dataclass
class Endpoint:
    name: str
    path: str
    injected: bool  # its model server is broken on purpose
    body: Any  # a fixed body, or a callable(n) for one that must differ per call
    samples_ms: list[float] = field(default_factory=list)
    ok: int = 0
    injected_errors: int = 0
    unexpected: list[str] = field(default_factory=list)
    busy_retries: int = 0  # 503 busy answers waited out and asked again (their request counts once)


def annotation_event(n: int) -> dict[str, Any]:
    label = "Positive" if n % 2 else "Negative"
    result = [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": [label]}}]
    return {
        "action": "ANNOTATION_CREATED",
        "annotation": {"id": n, "task": n, "result": result},
        "task": {"id": n, "data": {"text": f"load test review number {n}"}},
        "project": {"id": 1, "label_config": TEXT_CONFIG, "created_at": "2023-11-14T22:13:20Z"},
    }


def endpoints(image_url: str, faults: bool) -> list[Endpoint]:
    text = {
        "tasks": [{"id": 1, "data": {"text": "I love it"}}],
        "project": PROJECT,
        "label_config": TEXT_CONFIG,
    }
    image = {
        "tasks": [{"id": 1, "data": {"image": image_url}}],
        "project": PROJECT,
        "label_config": IMAGE_CONFIG,
    }
    found = [
        Endpoint("dummy /predict", "/ml/dummy/predict", False, text),
        Endpoint("text-classifier /predict", "/ml/text-classifier/predict", False, text),
        Endpoint("text-classifier /webhook", "/ml/text-classifier/webhook", False, annotation_event),
        Endpoint("v7 /predict", "/ml/v7/predict", False, image),
    ]
    if faults:
        found += [
            Endpoint("v7-failing /predict (HTTP 500)", "/ml/v7-failing/predict", True, image),
            Endpoint("v7-down /predict (not listening)", "/ml/v7-down/predict", True, image),
            Endpoint("raising /predict (Python error)", "/ml/raising/predict", True, text),
        ]
    return found


def classify(endpoint: Endpoint, status: int, content: bytes) -> str:
    """ "ok", "injected" or the description of an unexpected answer."""
    try:
        body = json.loads(content)
    except ValueError:
        return f"{status} not JSON: {content[:120]!r}"
    if endpoint.injected:
        # A broken model either fails the call in the Hub's error shape (a Python model raising) or, for
        # an external server, leaves each task without a prediction (so one bad image never fails a batch).
        if status >= 500 and isinstance(body, dict) and {"error", "code"} <= body.keys():
            return "injected"
        results = body.get("results") if isinstance(body, dict) else None
        if 200 <= status < 300 and results and all(not r.get("result") for r in results):
            return "injected"
        return f"{status} from a failing model, neither error nor empty prediction: {str(body)[:200]}"
    if 200 <= status < 300 and isinstance(body, dict):
        return "ok"
    return f"{status}: {str(body)[:200]}"


def busy_retry_after(response: requests.Response) -> float | None:
    """Seconds to wait before asking again, if the Hub answered that the model or the Hub is busy."""
    if response.status_code != 503 or "Retry-After" not in response.headers:
        return None
    try:
        code = response.json().get("code")
    except ValueError:
        return None
    return float(response.headers["Retry-After"]) if code in ("model_busy", "hub_busy") else None


def run_clients(hub: str, targets: list[Endpoint], clients: int, duration: float) -> float:
    """``clients`` threads calling the endpoints in turn until ``duration`` is over; the wall time."""
    lock = threading.Lock()
    numbers = itertools.count(1)
    deadline = time.monotonic() + duration

    def client(offset: int) -> None:
        session = requests.Session()
        for turn in itertools.count(offset):
            if time.monotonic() >= deadline:
                return
            endpoint = targets[turn % len(targets)]
            with lock:
                n = next(numbers)
            body = endpoint.body(n) if callable(endpoint.body) else endpoint.body
            started = time.perf_counter()
            retries = 0
            while True:
                try:
                    response = session.post(hub + endpoint.path, json=body, timeout=(2, 30))
                    outcome = classify(endpoint, response.status_code, response.content)
                except requests.RequestException as exc:
                    outcome = f"no answer: {type(exc).__name__}"
                    break
                # A model over its share of a worker (inference/admission.py) says when to come back;
                # a real caller does, and so does this one, within Label Studio's 100 s.
                wait = busy_retry_after(response)
                if wait is None or time.perf_counter() - started + wait > 100:
                    break
                retries += 1
                time.sleep(wait)
            elapsed_ms = (time.perf_counter() - started) * 1000
            with lock:
                endpoint.busy_retries += retries
                endpoint.samples_ms.append(elapsed_ms)
                if outcome == "ok":
                    endpoint.ok += 1
                elif outcome == "injected":
                    endpoint.injected_errors += 1
                else:
                    endpoint.unexpected.append(outcome)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=float(os.environ.get("LOAD_DURATION", "20")))
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--no-faults", dest="faults", action="store_false", help="no failing model servers")
    parser.add_argument(
        "--output", type=Path, help="where to write the JSON (default bench/results/load.json)"
    )
    args = parser.parse_args()
    # The Hub's own broker folder in its scratch data directory, whatever the calling shell uses.
    os.environ.pop("HUB_BROKER_DIR", None)
    with model_server(service_seconds=0.005, parallel=16) as v7, model_server(failing=True) as broken:
        models = {"v7": v7}
        if args.faults:
            models |= {"v7-failing": broken, "v7-down": f"http://127.0.0.1:{free_port()}"}
        python_models = [
            ("dummy", "examples.dummy.model.DummyModel"),
            ("text-classifier", "examples.text_classifier.model.TextClassifier"),
        ]
        if args.faults:
            python_models.append(("raising", "tests.models.protocol.RaisingModel"))
        with running_hub(
            python_models,
            setup=lambda env: register_http_models(env, models),
            env_overrides={"CELERY_BROKER_URL": "filesystem://"},
        ) as hub:
            targets = endpoints(f"{v7}/images/1.png", args.faults)
            for endpoint in targets:  # warm each worker's model cache and the projects up
                body = endpoint.body(0) if callable(endpoint.body) else endpoint.body
                requests.post(hub + endpoint.path, json=body, timeout=30)
            wall = run_clients(hub, targets, args.clients, args.duration)
    rows: list[dict[str, Any]] = [
        {
            "endpoint": e.name,
            "requests": len(e.samples_ms),
            "rps": round(len(e.samples_ms) / wall, 1),
            **{k: v for k, v in summarize(e.samples_ms or [0.0]).items() if k != "n"},
            "ok": e.ok,
            "injected_errors": e.injected_errors,
            "unexpected_errors": len(e.unexpected),
            "busy_retries": e.busy_retries,
        }
        for e in targets
    ]
    total = sum(r["requests"] for r in rows)
    payload = {
        "duration_s": round(wall, 2),
        "clients": args.clients,
        "cores": os.cpu_count(),
        "requests": total,
        "rps": round(total / wall, 1),
        "injected_errors": sum(e.injected_errors for e in targets),
        "unexpected_errors": sum(len(e.unexpected) for e in targets),
        "unexpected_examples": [u for e in targets for u in e.unexpected][:10],
        "rows": rows,
    }
    print(
        f"WOW AI Hub under load: {args.clients} clients for {wall:.1f} s, {total} requests"
        f" ({payload['rps']} rps; cores: {os.cpu_count()})"
    )
    print_table(rows, list(rows[0]))
    print(f"errors: {payload['injected_errors']} injected, {payload['unexpected_errors']} unexpected")
    if args.output is not None:
        args.output.write_text(json.dumps(payload, indent=2))
        print(f"written: {args.output}")
    else:
        print(f"written: {write_results('load', payload)}")


if __name__ == "__main__":
    main()
