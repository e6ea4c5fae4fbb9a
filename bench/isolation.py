"""Isolation: one slow model server under a crowd, and what everyone else sees meanwhile.

Usage: python bench/isolation.py [--seconds 30] [--clients 64] [--service-seconds 2] [--parallel 8]
       [--workers 2] [--worker-class gthread|gevent] [--threads N]
The Hub as deployed (gunicorn with hubsite/gunicorn.conf.py, its default threads unless told), an
external model server that takes ``--service-seconds`` per call and serves ``--parallel`` at a time
(registered with that concurrency), a fast external one and the Python dummy. ``--clients`` callers
loop on the slow model's one-task /predict; one that gets a 503 waits its Retry-After (1 s without
one) and asks again, as a real caller would. Meanwhile four probes, one request at a time each: the
fast model's and the dummy's /predict, the gateway's /health and the slow model's own /health.
Prints p50/p99 of each probe and the slow model's answers (ok, 503, other; the longest single answer
and the longest a caller went without an ok); writes bench/results/isolation.json.
Targets: other models' /predict p99 < 50 ms, /health p99 < 100 ms, slow callers answered or told
503, none waiting past Label Studio's 100 s predict timeout.
"""

from __future__ import annotations

import argparse
import base64
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, running_hub, summarize, write_results
from bench.fake_servers import model_server, png
from bench.load import IMAGE_CONFIG, TEXT_CONFIG
from tests.processes import manage_shell

IMAGE = base64.b64encode(png(64, 64)).decode()
IMAGE_BODY = {
    "tasks": [{"id": 1, "data": {"image": f"data:image/png;base64,{IMAGE}"}}],
    "project": "1.1700000000",
    "label_config": IMAGE_CONFIG,
}
TEXT_BODY = {
    "tasks": [{"id": 1, "data": {"text": "Someone else's model is slow today."}}],
    "project": "2.1700000000",
    "label_config": TEXT_CONFIG,
}
LABEL_STUDIO_PREDICT_TIMEOUT = 100.0


def register_external(env: dict[str, str], models: dict[str, tuple[str, int]]) -> None:
    """``slug -> (server URL, max concurrency)``, each an http model with the class ``object``."""
    script = "from registry.models import RegisteredModel, ModelClass\n" + "".join(
        f"m = RegisteredModel.objects.create(name={slug!r}, slug={slug!r}, kind='http',"
        f" url='{url}/api/infer', max_concurrency={parallel}, timeout_seconds=60, prediction_cache=False)\n"
        "ModelClass.objects.create(model=m, name='object', type='bounding_box')\n"
        for slug, (url, parallel) in models.items()
    )
    manage_shell(env, script)


class SlowCaller(threading.Thread):
    """Loops on the slow model's /predict; a 503 waits out its Retry-After before asking again."""

    def __init__(self, url: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.stop = url, stop
        self.answers: Counter[str] = Counter()
        self.longest_answer = 0.0
        self.longest_without_ok = 0.0
        self.retry_after_missing = 0

    def run(self) -> None:
        session = requests.Session()
        waiting_since = time.monotonic()
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                response = session.post(self.url, json=IMAGE_BODY, timeout=LABEL_STUDIO_PREDICT_TIMEOUT + 20)
                status = response.status_code
            except requests.RequestException:
                status = 0
            now = time.monotonic()
            self.longest_answer = max(self.longest_answer, now - started)
            self.longest_without_ok = max(self.longest_without_ok, now - waiting_since)
            if status == 200:
                self.answers["ok"] += 1
                waiting_since = now
            elif status == 503:
                self.answers["503"] += 1
                retry_after = response.headers.get("Retry-After")
                if retry_after is None:
                    self.retry_after_missing += 1
                self.stop.wait(float(retry_after or 1))
            else:
                self.answers["other" if status else "no answer"] += 1
                self.stop.wait(1)


class Probe(threading.Thread):
    """One request at a time, every ``interval`` seconds, recording latency and status."""

    def __init__(self, name: str, method: str, url: str, body: Any, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.name, self.method, self.url, self.body, self.stop = name, method, url, body, stop
        self.samples_ms: list[float] = []
        self.failures: Counter[int] = Counter()

    def run(self) -> None:
        session = requests.Session()
        while not self.stop.is_set():
            started = time.perf_counter()
            try:
                status = session.request(self.method, self.url, json=self.body, timeout=60).status_code
            except requests.RequestException:
                status = 0
            self.samples_ms.append((time.perf_counter() - started) * 1000)
            if status != 200:
                self.failures[status] += 1
            self.stop.wait(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--service-seconds", type=float, default=2.0)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", help="override the config's gunicorn worker class (e.g. gevent)")
    parser.add_argument("--threads", type=int, help="override GUNICORN_THREADS")
    args = parser.parse_args()

    extra_args = ["--worker-class", args.worker_class] if args.worker_class else []
    env_overrides = {"GUNICORN_THREADS": str(args.threads)} if args.threads else {}
    with (
        model_server(service_seconds=args.service_seconds, parallel=args.parallel) as slow_server,
        model_server(service_seconds=0, parallel=16) as fast_server,
        running_hub(
            [("dummy", "examples.dummy.model.DummyModel")],
            workers=args.workers,
            setup=lambda env: register_external(
                env, {"slow": (slow_server, args.parallel), "fast": (fast_server, 16)}
            ),
            env_overrides=env_overrides,
            extra_args=extra_args,
        ) as hub,
    ):
        for slug, body in (("fast", IMAGE_BODY), ("dummy", TEXT_BODY), ("slow", IMAGE_BODY)):
            for _ in range(4):  # both workers: the project, its mappings, the model instance
                answer = requests.post(f"{hub}/ml/{slug}/predict", json=body, timeout=60)
                assert answer.status_code == 200 and answer.json()["results"][0]["result"], answer.text
        stop = threading.Event()
        callers = [SlowCaller(f"{hub}/ml/slow/predict", stop) for _ in range(args.clients)]
        for caller in callers:
            caller.start()
        time.sleep(min(5.0, args.seconds / 4))  # the crowd arrives before the probes start
        probes = [
            Probe("fast /predict", "POST", f"{hub}/ml/fast/predict", IMAGE_BODY, stop),
            Probe("dummy /predict", "POST", f"{hub}/ml/dummy/predict", TEXT_BODY, stop),
            Probe("gateway /health", "GET", f"{hub}/health", None, stop),
            Probe("slow /health", "GET", f"{hub}/ml/slow/health", None, stop),
        ]
        for probe in probes:
            probe.start()
        time.sleep(args.seconds)
        stop.set()
        for thread in [*probes, *callers]:
            thread.join(timeout=LABEL_STUDIO_PREDICT_TIMEOUT + 30)

    rows = [{"probe": p.name, **summarize(p.samples_ms), "failures": dict(p.failures) or 0} for p in probes]
    answers: Counter[str] = Counter()
    for caller in callers:
        answers.update(caller.answers)
    slow = {
        "clients": args.clients,
        "ok": answers["ok"],
        "503": answers["503"],
        "other": answers["other"] + answers["no answer"],
        "longest_answer_s": round(max(c.longest_answer for c in callers), 2),
        "longest_without_ok_s": round(max(c.longest_without_ok for c in callers), 2),
        "503_without_retry_after": sum(c.retry_after_missing for c in callers),
    }
    config = {
        "workers": args.workers,
        "worker_class": args.worker_class or "config",
        "threads": args.threads or "config",
        "service_seconds": args.service_seconds,
        "parallel": args.parallel,
        "seconds": args.seconds,
    }
    print(f"WOW AI Hub isolation: {args.clients} callers on a {args.service_seconds} s model ({config})")
    print_table(rows, ["probe", "n", "p50_ms", "p99_ms", "mean_ms", "failures"])
    print("slow model's callers:")
    print_table([slow], list(slow))
    print("targets: other /predict p99 < 50 ms; /health p99 < 100 ms; slow callers: ok or 503, none > 100 s")
    print(f"written: {write_results('isolation', {'config': config, 'probes': rows, 'slow': slow})}")


if __name__ == "__main__":
    main()
