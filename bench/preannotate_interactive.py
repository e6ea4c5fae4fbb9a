"""Interactive /predict while a pre-annotation job of the same model runs: one-task calls through a
live Hub (gunicorn), idle and then beside a job over a project in real Label Studio 1.23.

Usage: python bench/preannotate_interactive.py [--model detector|text] [--tasks N]
                                               [--service-ms 50] [--parallel 16] [--idle-calls 300]
                                               [--pause-ms 20]
                                               [--label-studio-bin PATH]

One client calls /predict with one task at a time, 20 ms apart, as annotators do: first with
nothing else running (idle), then while a job (`wow-ai-ml preannotate --wait`, on a Celery worker)
pre-annotates a project of N tasks of the same model. Only the calls made between the job's start
and its end count as "during the job". Prints p50/p99 of each and their ratio (target: within 2x
of idle), and the job's wall time and rate. Prediction caching is off: every call runs the model.

  detector  (default, 3,000 images) a V7 model server on loopback answering in 50 ms, 16 calls at a
            time (more wait their turn), registered with max_concurrency 16; also prints the most
            calls it served at once during the job (the job's share, HUB_PREANNOTATION_MODEL_SHARE,
            plus the interactive caller);
  text      (6,000 texts) the text classifier, a Python model: the job's worker and the web workers
            share the cores (HUB_PREANNOTATION_NICE can run the job's threads nicer).

Writes bench/results/preannotate_interactive_<model>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, running_hub, summarize, write_results
from bench.fake_servers import model_server
from bench.preannotate import (
    IMAGE_CFG,
    TEXT_CFG,
    TEXTS,
    TOKEN,
    keep,
    label_studio,
    label_studio_binary,
    model_busy,
    register_detector,
    worker,
)
from tests.processes import REPO_ROOT, manage_shell, preannotate_command, preannotation_job_id

TEXT_MODEL = ("text-classifier", "examples.text_classifier.model.TextClassifier")


class Caller(threading.Thread):
    """One annotator: one-task /predict calls, one after the other, until told to stop."""

    def __init__(self, url: str, body: dict[str, Any], pause: float) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.body = body
        self.pause = pause
        self.stop = threading.Event()
        self.calls: list[tuple[float, float]] = []  # (wall-clock start, latency in ms)
        self.errors = 0

    def one(self) -> None:
        started_wall, started = time.time(), time.perf_counter()
        response = requests.post(self.url, json=self.body, timeout=60)
        latency = (time.perf_counter() - started) * 1000
        if response.status_code != 200 or not response.json()["results"][0]["result"]:
            self.errors += 1
        self.calls.append((started_wall, latency))

    def run(self) -> None:
        while not self.stop.wait(self.pause):
            self.one()


def job_window(env: dict[str, str], job_id: int) -> tuple[float, float, dict[str, Any]]:
    """When the job ran (wall clock, from its row) and its figures."""
    script = (
        "import json\nfrom jobs.models import PreannotationJob as J\n"
        f"j = J.objects.get(pk={job_id})\n"
        "print(json.dumps({'status': j.status, 'done': j.done, 'failed': j.failed,"
        " 'start': j.run_started_at.timestamp(), 'end': j.finished_at.timestamp(),"
        " 'wall': (j.finished_at - j.created_at).total_seconds()}))"
    )
    row = json.loads(manage_shell(env, script).strip().splitlines()[-1])
    return row["start"], row["end"], row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label-studio-bin", type=Path, default=None)
    parser.add_argument("--model", choices=["detector", "text"], default="detector")
    parser.add_argument("--tasks", type=int, default=None, help="3,000 images or 6,000 texts")
    parser.add_argument("--service-ms", type=float, default=50.0)
    parser.add_argument("--parallel", type=int, default=16)
    parser.add_argument("--idle-calls", type=int, default=300)
    parser.add_argument("--pause-ms", type=float, default=20.0, help="between one call's answer and the next")
    args = parser.parse_args()
    binary = label_studio_binary(args.label_studio_bin)

    text = args.model == "text"
    count = args.tasks or (6000 if text else 3000)
    slug = TEXT_MODEL[0] if text else "bench-detector"
    config = TEXT_CFG if text else IMAGE_CFG
    captured: dict[str, str] = {}
    with (
        model_server(args.service_ms / 1000, args.parallel) as server,
        label_studio(binary) as ls,
        running_hub(
            [TEXT_MODEL],
            setup=lambda env: register_detector(keep(captured, env), server, args.parallel),
            env_overrides={"HUB_MEDIA_ALLOWED_HOSTS": "127.0.0.1", "CELERY_BROKER_URL": "filesystem://"},
        ) as hub,
        worker(captured),
    ):
        env = {**captured}
        if text:
            tasks = [{"text": f"{TEXTS[i % 4]} #{i}"} for i in range(count)]
            data = {"text": "I love it, it is great"}
        else:
            tasks = [{"image": f"{server}/images/{i}.png"} for i in range(count)]
            data = {"image": f"{server}/images/interactive.png"}
        project_id = ls.project("interactive beside a job", config, tasks)
        created = ls.api("GET", f"/api/projects/{project_id}")["created_at"]
        uid = f"{project_id}.{int(datetime.fromisoformat(created.replace('Z', '+00:00')).timestamp())}"
        base = f"{hub}/ml/{slug}"
        setup = {"project": uid, "schema": config, "hostname": ls.url, "access_token": TOKEN}
        requests.post(f"{base}/setup", json=setup, timeout=10).raise_for_status()
        body = {"tasks": [{"id": 1, "data": data}], "project": uid, "label_config": config}

        caller = Caller(f"{base}/predict", body, args.pause_ms / 1000)
        for _ in range(20):  # warm both web workers and their connections
            caller.one()
        caller.calls.clear()
        for _ in range(args.idle_calls):
            time.sleep(caller.pause)
            caller.one()
        idle = [latency for _, latency in caller.calls]
        idle_errors, caller.errors = caller.errors, 0
        caller.calls.clear()

        requests.get(f"{server}/api/stats/reset", timeout=5)
        before = model_busy(server)
        command = preannotate_command(slug, project_id, ls.url, TOKEN, "--wait")
        job = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True)
        caller.start()
        output, _ = job.communicate(timeout=1800)
        caller.stop.set()
        caller.join(timeout=60)
        after = model_busy(server)
        job_id = preannotation_job_id(output)
        start, end, row = job_window(env, job_id)
        during = [latency for at, latency in caller.calls if start <= at and at + latency / 1000 <= end]

    idle_figures = summarize(idle)
    during_figures = summarize(during)
    result: dict[str, Any] = {"model": args.model, "tasks": count}
    if not text:
        result.update(model_server_parallel=args.parallel, service_ms=args.service_ms)
    result.update(
        {
            "idle_p50_ms": idle_figures["p50_ms"],
            "idle_p99_ms": idle_figures["p99_ms"],
            "during_job_calls": during_figures["n"],
            "during_job_p50_ms": during_figures["p50_ms"],
            "during_job_p99_ms": during_figures["p99_ms"],
            "p50_ratio": round(during_figures["p50_ms"] / idle_figures["p50_ms"], 2),
            "p99_ratio": round(during_figures["p99_ms"] / idle_figures["p99_ms"], 2),
            "interactive_errors": idle_errors + caller.errors,
            "job_status": row["status"],
            "job_done": row["done"],
            "job_failed": row["failed"],
            "job_wall_s": round(row["wall"], 2),
            "job_tasks_per_s": round(row["done"] / row["wall"], 1),
            "cli_exit": job.returncode,
            "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        }
    )
    if not text:
        result["model_calls_during_job"] = after["calls"] - before["calls"]
        result["model_peak_during_job"] = after["peak"]
    print("Interactive one-task /predict, idle and while a pre-annotation job of the same model runs")
    print_table([{"figure": k, "value": v} for k, v in result.items()], ["figure", "value"])
    print(f"written: {write_results(f'preannotate_interactive_{args.model}', result)}")


if __name__ == "__main__":
    main()
