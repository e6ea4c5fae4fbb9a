"""Webhook and predict latency p50/p99, with and without a training job running on the same machine.

Usage: python bench/webhook_latency.py [--requests N]
Starts a scratch Hub (gunicorn) and one Celery worker (filesystem broker, or CELERY_BROKER_URL),
measures /webhook (annotation events) and /predict (text classifier, 1 task) while idle, then
again while a ~20 s training job runs, and writes bench/results/webhook_latency.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, running_hub, summarize, write_results
from tests.processes import REPO_ROOT, celery_worker_command, manage_shell

CFG = (
    '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
    '<Choice value="Positive"/><Choice value="Negative"/></Choices></View>'
)
PROJECT = {"id": 1, "label_config": CFG, "created_at": "2023-11-14T22:13:20Z"}


def event(n: int) -> dict[str, Any]:
    result = [
        {"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["Positive"]}}
    ]
    return {
        "action": "ANNOTATION_CREATED",
        "annotation": {"id": n, "task": n, "result": result},
        "task": {"id": n, "data": {"text": f"great product number {n}"}},
        "project": PROJECT,
    }


def measure(session: requests.Session, url: str, bodies: list[dict[str, Any]]) -> list[float]:
    samples = []
    for body in bodies:
        started = time.perf_counter()
        response = session.post(url, json=body, timeout=(1, 30))
        samples.append((time.perf_counter() - started) * 1000)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"{url} -> {response.status_code}: {response.text[:200]}")
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    worker: subprocess.Popen[bytes] | None = None
    models = [
        ("text-classifier", "examples.text_classifier.model.TextClassifier"),
        ("slow", "tests.models.protocol.SlowTrainer"),
    ]
    env_box: dict[str, dict[str, str]] = {}
    with running_hub(models, setup=lambda env: env_box.update(env=env)) as hub:
        env = env_box["env"]
        worker = subprocess.Popen(
            celery_worker_command("-l", "WARNING"),
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            session = requests.Session()
            for slug in ("text-classifier", "slow"):
                session.post(
                    f"{hub}/ml/{slug}/setup", json={"project": "1.1700000000", "schema": CFG}, timeout=5
                )
            predict = {
                "tasks": [{"id": 1, "data": {"text": "I love it"}}],
                "project": "1.1700000000",
                "label_config": CFG,
            }
            measure(session, f"{hub}/ml/text-classifier/predict", [predict] * 20)  # warm-up
            rows = []
            n = args.requests
            rows.append(
                {
                    "phase": "idle",
                    "endpoint": "POST /webhook",
                    **summarize(
                        measure(session, f"{hub}/ml/text-classifier/webhook", [event(i) for i in range(n)])
                    ),
                }
            )
            rows.append(
                {
                    "phase": "idle",
                    "endpoint": "POST /predict",
                    **summarize(measure(session, f"{hub}/ml/text-classifier/predict", [predict] * n)),
                }
            )
            # A training job of ~20 s on the worker (same 2-core machine), started by a START_TRAINING event.
            session.post(
                f"{hub}/ml/slow/webhook", json={"action": "START_TRAINING", "project": PROJECT}, timeout=5
            )
            # Skip the debounce so the job starts now.
            manage_shell(
                env,
                "from registry.models import TrainingJob; from training.tasks import job_publish\n"
                "jobs = TrainingJob.objects.filter(status='queued', model_project__model__slug='slow')\n"
                "jobs.update(not_before=None)\n"
                "[job_publish(j.pk) for j in jobs]",
            )
            time.sleep(2)
            running = manage_shell(
                env,
                "from registry.models import TrainingJob\n"
                "print(TrainingJob.objects.filter(status='running').count())",
            ).strip()
            rows.append(
                {
                    "phase": f"training ({running} running)",
                    "endpoint": "POST /webhook",
                    **summarize(
                        measure(
                            session,
                            f"{hub}/ml/text-classifier/webhook",
                            [event(10_000 + i) for i in range(n)],
                        )
                    ),
                }
            )
            rows.append(
                {
                    "phase": f"training ({running} running)",
                    "endpoint": "POST /predict",
                    **summarize(measure(session, f"{hub}/ml/text-classifier/predict", [predict] * n)),
                }
            )
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    print(f"WOW AI Hub webhook and predict latency, idle and during training (cores: {os.cpu_count()})")
    print_table(rows, ["phase", "endpoint", "n", "p50_ms", "p99_ms", "mean_ms"])
    print(f"written: {write_results('webhook_latency', {'rows': rows})}")


if __name__ == "__main__":
    main()
