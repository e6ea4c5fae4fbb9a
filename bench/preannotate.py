"""Pre-annotating a whole project: the Hub's background job beside Label Studio's own "Retrieve
predictions", on the same tasks and the same model, against real Label Studio 1.23.

Usage: python bench/preannotate.py [--label-studio-bin PATH] [--texts 2000] [--images 200]
                                   [--service-ms 50] [--parallel 16]

Two scenarios, each on its own fresh projects:
  text   the text classifier (Python, in the worker) over N text tasks;
  image  a V7 model server taking 50 ms per image, 16 at a time, over N image tasks (images served on
         loopback, so the model, not the image host, is what the job has to keep busy).
For each: the Hub job's wall time (queued to finished) and tasks/s, with the time its Label Studio
reads and writes took and the Hub's own time; Label Studio's "Retrieve predictions" wall time,
tasks/s and whether every task got its prediction; and, as Label Studio's own floor, listing the
tasks through its API (500 a page) and writing as many predictions with its bulk import (500 a call).
Prediction caching is off, so neither side is answered from the other's work.
Writes bench/results/preannotate.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, running_hub, write_results
from bench.fake_servers import model_server
from tests.processes import (
    REPO_ROOT,
    celery_worker_command,
    manage_shell,
    preannotate_command,
    preannotation_job_id,
)
from tests.processes import label_studio as label_studio_process

TOKEN = "bench0123456789abcdef0123456789abcdef012"  # noqa: S105 - the scratch Label Studio's own
TEXT_CFG = (
    '<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
    '<Choice value="Positive"/><Choice value="Negative"/></Choices></View>'
)
IMAGE_CFG = (
    '<View><Image name="image" value="$image"/>'
    '<RectangleLabels name="label" toName="image"><Label value="Object"/></RectangleLabels></View>'
)
TEXTS = ["I love this, it is great", "Terrible, it broke at once", "Excellent service", "Awful and slow"]
DEFAULT_LS = [
    REPO_ROOT / ".e2e/ls-venv/bin/label-studio",
    Path.home() / ".cache/wow-ai-hub/label-studio-1.23.2/bin/label-studio",
]


def label_studio_binary(given: Path | None) -> Path:
    """The ``label-studio`` to run: ``--label-studio-bin``, else ``LABEL_STUDIO_BIN``, else the first
    of ``DEFAULT_LS`` that exists; exits with what to do when there is none."""
    from_env = os.environ.get("LABEL_STUDIO_BIN")
    binary = given or (Path(from_env) if from_env else None)
    binary = binary or next((p for p in DEFAULT_LS if p.exists()), None)
    if binary is None or not binary.exists():
        sys.exit("Label Studio 1.23.2 is needed: run `make e2e` once, or pass --label-studio-bin")
    return binary


class LabelStudio:
    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {TOKEN}"

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, self.url + path, timeout=600, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"Label Studio {method} {path}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else None

    def project(self, title: str, config: str, tasks: list[dict[str, Any]]) -> int:
        project_id = int(
            self.api("POST", "/api/projects", json={"title": title, "label_config": config})["id"]
        )
        self.api("POST", f"/api/projects/{project_id}/import", json=tasks)
        return project_id

    def tasks(self, project_id: int, fields: str = "all") -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            body = self.api(
                "GET", f"/api/tasks?project={project_id}&page={page}&page_size=500&fields={fields}"
            )
            found.extend(body["tasks"])
            if page * 500 >= body["total"]:
                return found
            page += 1


@contextmanager
def label_studio(binary: Path) -> Iterator[LabelStudio]:
    with (
        tempfile.TemporaryDirectory(prefix="ls-bench-") as data,
        label_studio_process(
            binary,
            Path(data),
            username="bench@example.com",
            password="bench-password",  # noqa: S106 - the scratch Label Studio's own
            token=TOKEN,
        ) as url,
    ):
        yield LabelStudio(url)


def hub_job(env: dict[str, str], ls: LabelStudio, model: str, project_id: int, count: int) -> dict[str, Any]:
    """`wow-ai-ml preannotate --wait`; the job's own timings, read from its row."""
    started = time.perf_counter()
    command = preannotate_command(model, project_id, ls.url, TOKEN, "--wait")
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1800)
    cli_wall = time.perf_counter() - started
    job_id = preannotation_job_id(done.stdout)
    row = json.loads(
        manage_shell(
            env,
            "import json\nfrom jobs.models import PreannotationJob as J\n"
            f"j = J.objects.get(pk={job_id})\n"
            "print(json.dumps({'status': j.status, 'done': j.done, 'failed': j.failed,"
            " 'wall': (j.finished_at - j.created_at).total_seconds(),"
            " 'run': (j.finished_at - j.started_at).total_seconds(),"
            " 'queued': (j.started_at - j.created_at).total_seconds(),"
            " 'read': j.read_seconds, 'predict': j.predict_seconds, 'write': j.write_seconds,"
            " 'label_studio': j.label_studio_seconds}))",
        )
        .strip()
        .splitlines()[-1]
    )
    every = all(
        len([p for p in t["predictions"] if p["model_version"] == f"{model}@1"]) == 1
        for t in ls.tasks(project_id)
    )
    return {
        "wall_s": round(row["wall"], 2),
        "run_s": round(row["run"], 2),
        "queued_s": round(row["queued"], 2),
        "tasks_per_s": round(count / row["wall"], 1),
        "ls_read_s": round(row["read"], 2),
        "ls_write_s": round(row["write"], 2),
        "predict_s": round(row["predict"], 2),
        "ls_busy_s": round(row["label_studio"], 2),
        "hub_own_s": round(row["run"] - row["label_studio"], 2),
        "finished": row["status"] == "succeeded" and row["failed"] == 0 and every,
        "cli_wall_s": round(cli_wall, 2),
        "cli_exit": done.returncode,
    }


def retrieve_predictions(
    ls: LabelStudio, hub: str, model: str, project_id: int, count: int
) -> dict[str, Any]:
    """Label Studio's own path: connect the model, then "Retrieve predictions" on every task."""
    ls.api("POST", "/api/ml", json={"project": project_id, "url": f"{hub}/ml/{model}", "title": model})
    started = time.perf_counter()
    error = ""
    try:
        ls.api(
            "POST",
            f"/api/dm/actions?id=retrieve_tasks_predictions&project={project_id}",
            json={"project": str(project_id), "selectedItems": {"all": True, "excluded": []}},
        )
    except (RuntimeError, requests.RequestException) as exc:
        error = str(exc)[:200]
    wall = time.perf_counter() - started
    predicted = sum(1 for t in ls.tasks(project_id, fields="task_only") if t.get("total_predictions"))
    return {
        "wall_s": round(wall, 2),
        "tasks_per_s": round(predicted / wall, 1),
        "finished": predicted == count,
        "predicted": predicted,
        "error": error,
    }


def label_studio_floor(
    ls: LabelStudio, config: str, tasks: list[dict[str, Any]], result: list[Any]
) -> dict[str, Any]:
    """What Label Studio itself needs: list the tasks (500 a page), write a prediction each (500 a call)."""
    project_id = ls.project("floor", config, tasks)
    started = time.perf_counter()
    listed = ls.tasks(project_id)
    listed_s = time.perf_counter() - started
    items = [{"task": t["id"], "result": result, "score": 0.5, "model_version": "floor@1"} for t in listed]
    started = time.perf_counter()
    for start in range(0, len(items), 500):
        ls.api("POST", f"/api/projects/{project_id}/import/predictions", json=items[start : start + 500])
    return {"ls_list_s": round(listed_s, 2), "ls_import_s": round(time.perf_counter() - started, 2)}


def register_detector(env: dict[str, str], server: str, parallel: int) -> None:
    manage_shell(
        env,
        "from registry.models import RegisteredModel, ModelClass\n"
        "m = RegisteredModel.objects.create(name='bench', slug='bench-detector', kind='http',"
        f" url='{server}/api/infer', max_concurrency={parallel}, timeout_seconds=30,"
        " prediction_cache=False)\n"
        "ModelClass.objects.create(model=m, name='object', type='bounding_box')\n",
    )


@contextmanager
def worker(env: dict[str, str]) -> Iterator[None]:
    process = subprocess.Popen(
        celery_worker_command("-l", "WARNING"),
        cwd=REPO_ROOT,
        env=env,
    )
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


def keep(into: dict[str, str], env: dict[str, str]) -> dict[str, str]:
    """The Hub's environment, kept for the worker and the CLI (they share its database and broker)."""
    into.update(env)
    return env


def model_busy(server: str) -> dict[str, Any]:
    """The model server's calls so far: how many, and when the first and the last ended."""
    return dict(requests.get(f"{server}/api/stats", timeout=5).json())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label-studio-bin", type=Path, default=None)
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--service-ms", type=float, default=50.0)
    parser.add_argument("--parallel", type=int, default=16)
    args = parser.parse_args()
    binary = label_studio_binary(args.label_studio_bin)

    captured: dict[str, str] = {}
    rows = []
    with (
        model_server(args.service_ms / 1000, args.parallel) as server,
        label_studio(binary) as ls,
        running_hub(
            [("text-classifier", "examples.text_classifier.model.TextClassifier")],
            setup=lambda env: register_detector(keep(captured, env), server, args.parallel),
            env_overrides={"HUB_MEDIA_ALLOWED_HOSTS": "127.0.0.1", "CELERY_BROKER_URL": "filesystem://"},
        ) as hub,
        worker(captured),
    ):
        env = {**captured}
        scenarios: list[tuple[str, str, str, list[dict[str, Any]], list[Any]]] = [
            (
                "text",
                "text-classifier",
                TEXT_CFG,
                [{"text": f"{TEXTS[i % 4]} #{i}"} for i in range(args.texts)],
                [
                    {
                        "from_name": "sentiment",
                        "to_name": "text",
                        "type": "choices",
                        "value": {"choices": ["Positive"]},
                    }
                ],
            ),
            (
                "image",
                "bench-detector",
                IMAGE_CFG,
                [{"image": f"{server}/images/{i}.png"} for i in range(args.images)],
                [
                    {
                        "from_name": "label",
                        "to_name": "image",
                        "type": "rectanglelabels",
                        "original_width": 320,
                        "original_height": 240,
                        "value": {"x": 1, "y": 1, "width": 10, "height": 10, "rectanglelabels": ["Object"]},
                    }
                ],
            ),
        ]
        for name, model, config, tasks, result in scenarios:
            count = len(tasks)
            if not count:  # --texts 0 or --images 0: that scenario is skipped
                continue
            before = model_busy(server)
            job = hub_job(env, ls, model, ls.project(f"{name} hub job", config, tasks), count)
            after = model_busy(server)
            native = retrieve_predictions(
                ls, hub, model, ls.project(f"{name} retrieve", config, tasks), count
            )
            floor = label_studio_floor(ls, config, tasks, result)
            row = {"scenario": name, "tasks": count}
            row.update({f"hub_{k}": v for k, v in job.items()})
            row.update({f"ls_retrieve_{k}": v for k, v in native.items() if k != "error"})
            row.update(floor)
            if name == "image":
                ideal = count * args.service_ms / 1000 / args.parallel
                row["ideal_model_s"] = round(ideal, 3)
                # The job is the model server's first user: busy from its first call's start to its last end.
                assert before["calls"] == 0 and after["calls"] == count, (before, after)
                busy = after["last"] - after["first"] + args.service_ms / 1000
                row["hub_model_busy_s"] = round(busy, 3)
                row["hub_model_busy_over_ideal"] = round(busy / ideal, 2)
                row["hub_run_over_ideal"] = round(job["run_s"] / ideal, 2)
            rows.append(row)
            if native["error"]:
                print(f"{name}: Label Studio's Retrieve predictions failed: {native['error']}")
    print("Pre-annotating a project: the Hub's background job beside Label Studio's Retrieve predictions")
    for row in rows:
        print()
        print_table([{"figure": k, "value": v} for k, v in row.items()], ["figure", "value"])
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average at the end: {load}")
    print(f"written: {write_results('preannotate', {'rows': rows, 'load_average': load})}")


if __name__ == "__main__":
    main()
