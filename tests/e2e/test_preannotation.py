"""Pre-annotating whole Label Studio projects in the background: 2,000 texts and 200 uploaded images,
the worker killed once mid-job, the job page watched in a real browser, every task read back."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
from typing import Any

import pytest
from PIL import Image, ImageDraw

from tests.e2e import test_browser
from tests.e2e.conftest import TOKEN, Hub, LabelStudio, step
from tests.e2e.test_browser import shot
from tests.e2e.test_label_studio import IMAGE_CFG, TEXT_CFG, new_project
from tests.processes import REPO_ROOT, preannotate_command, preannotation_job_id

pytestmark = pytest.mark.e2e
browser = test_browser.browser  # the module's Chromium, shared with the admin's browser test
TEXTS = ["I love this, it is great", "Terrible, it broke at once", "Excellent service", "Awful and slow"]


def start_job(hub: Hub, ls: LabelStudio, model: str, project_id: int) -> int:
    """`wow-ai-ml preannotate` on the Hub's database, as an operator would run it."""
    env = {**os.environ, "HUB_DATA_DIR": str(hub.data_dir)}
    for key in ("DATABASE_URL", "CELERY_BROKER_URL", "HUB_BROKER_DIR"):
        env.pop(key, None)
    command = preannotate_command(model, project_id, ls.url, TOKEN)
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return preannotation_job_id(done.stdout)


def predictions_per_task(ls: LabelStudio, project_id: int, version: str) -> dict[int, list[dict[str, Any]]]:
    """Every task of the project with its predictions of this version, read through Label Studio's API."""
    found: dict[int, list[dict[str, Any]]] = {}
    page = 1
    while True:
        body = ls.api("GET", f"/api/tasks?project={project_id}&page={page}&page_size=500&fields=all")
        for task in body["tasks"]:
            found[task["id"]] = [p for p in task["predictions"] if p["model_version"] == version]
        if page * 500 >= body["total"]:
            return found
        page += 1


def with_one_prediction_in_the_data_manager(ls: LabelStudio, project_id: int) -> int:
    """How many tasks the Data Manager's "Predictions" column (total_predictions) shows with exactly 1."""
    query = (
        '{"filters":{"conjunction":"and","items":[{"filter":"filter:tasks:total_predictions",'
        '"operator":"equal","type":"Number","value":1}]}}'
    )
    return int(
        ls.api("GET", f"/api/tasks?project={project_id}&page_size=1", params={"query": query})["total"]
    )


def admin_page(browser: Any, hub: Hub) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{hub.url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", hub.admin_password)
    page.click("input[type=submit]")
    page.wait_for_selector("text=Model registry")
    return page


def job_state(page: Any, hub: Hub, job_id: int) -> dict[str, Any]:
    state: dict[str, Any] = page.request.get(
        f"{hub.url}/admin/jobs/preannotationjob/{job_id}/progress/"
    ).json()
    return state


def wait_state(page: Any, hub: Hub, job_id: int, condition: Any, timeout: float, what: str) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        state = job_state(page, hub, job_id)
        if condition(state):
            return state
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {state}"
        time.sleep(0.2)


def image_png(index: int) -> bytes:
    picture = Image.new("RGB", (200, 120), "white")
    left = 10 + index % 50
    ImageDraw.Draw(picture).rectangle((left, 20, left + 60, 80), fill=(200, 30, 30))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_2000_text_project_survives_a_killed_worker_with_one_prediction_per_task(
    browser: Any, label_studio: LabelStudio, hub: Hub
) -> None:
    tasks = [{"text": f"{TEXTS[i % 4]} (#{i})"} for i in range(2000)]
    project_id = new_project(label_studio, "Pre-annotate 2000 texts", TEXT_CFG, tasks)
    page = admin_page(browser, hub)
    job_id = start_job(hub, label_studio, "text-classifier", project_id)
    with step("the job page shows the job's progress as it runs"):
        page.goto(f"{hub.url}/admin/jobs/preannotationjob/{job_id}/change/")
        state = wait_state(page, hub, job_id, lambda s: s["done"] >= 500, 180, "the first writes")
        assert state["status"] == "running" and state["done"] < 2000, state
        page.wait_for_function("document.getElementById('pa-bar').value > 0", timeout=30_000)
        shown = float(page.eval_on_selector("#pa-bar", "bar => bar.value"))
        assert 0 < shown < 1, shown
        assert "written" in page.inner_text("#pa-counts")
        shot(page, "09-preannotation-running")
    with step("kill the worker running the job (the quickstart starts a new one)"):
        pid = int(state["worker"].rsplit(":", 1)[1])
        os.kill(pid, signal.SIGKILL)
    with step("the job resumes on the new worker and finishes"):
        final = wait_state(
            page, hub, job_id, lambda s: s["status"] not in ("queued", "running"), 300, "the end"
        )
        assert (final["status"], final["error"], final["failed"]) == ("succeeded", "", 0), final
        assert final["done"] + final["skipped"] == 2000 and final["total"] == 2000, final
        page.wait_for_function("document.getElementById('pa-bar').value == 1", timeout=30_000)
        shot(page, "10-preannotation-done")
    with step("every task has exactly one prediction of the model's version in Label Studio"):
        found = predictions_per_task(label_studio, project_id, "text-classifier@1")
        assert len(found) == 2000
        assert {tid: len(p) for tid, p in found.items() if len(p) != 1} == {}
        sample = next(iter(found.values()))[0]
        assert sample["result"][0]["value"]["choices"] in (["Positive"], ["Negative"])
        assert with_one_prediction_in_the_data_manager(label_studio, project_id) == 2000
    with step("the Data Manager shows the predictions column"):
        page.goto(f"{label_studio.url}/user/login/")
        page.fill("input[name=email]", "admin@example.com")
        page.fill("input[name=password]", "e2e-admin-password")
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        page.goto(f"{label_studio.url}/projects/{project_id}/data")
        page.wait_for_selector("text=Predictions", timeout=60_000)
        shot(page, "11-data-manager-predictions")
    page.close()


def test_200_uploaded_images_get_one_detector_prediction_each(
    browser: Any, label_studio: LabelStudio, hub: Hub
) -> None:
    project_id = new_project(label_studio, "Pre-annotate 200 images", IMAGE_CFG)
    with step("upload 200 images into Label Studio"):
        for start in range(0, 200, 50):
            files = {
                f"file{i}": (f"shape{i}.png", image_png(i), "image/png") for i in range(start, start + 50)
            }
            label_studio.api("POST", f"/api/projects/{project_id}/import", files=files)
    page = admin_page(browser, hub)
    job_id = start_job(hub, label_studio, "byom-detector", project_id)
    with step("the job runs to its end; tasks whose image Label Studio was too busy to send are retried"):
        ended = lambda s: s["status"] not in ("queued", "running")  # noqa: E731
        final = wait_state(page, hub, job_id, ended, 300, "the end")
        assert (final["status"], final["error"], final["done"] + final["failed"]) == ("succeeded", "", 200), (
            final
        )
        written = final["done"]
        for _ in range(3):  # on a loaded machine a media fetch may time out; the failure says so
            if not final["failed"]:
                break
            assert all("did not answer in time" in f["reason"] for f in final["failures"]), final["failures"]
            page.goto(f"{hub.url}/admin/jobs/preannotationjob/{job_id}/change/")
            page.click("input[name=retry]")
            page.wait_for_selector("ul.messagelist")
            job_id = int(page.url.rstrip("/").split("/")[-2])
            final = wait_state(page, hub, job_id, ended, 300, "the retry")
            written += final["done"]
        assert (final["status"], final["failed"], written) == ("succeeded", 0, 200), final
    with step("every image has exactly one detector prediction, with its rectangle"):
        found = predictions_per_task(label_studio, project_id, "byom-detector@1")
        assert len(found) == 200
        for task_id, predictions in found.items():
            assert len(predictions) == 1, (task_id, predictions)
            boxes = [r for r in predictions[0]["result"] if r["type"] == "rectanglelabels"]
            assert len(boxes) == 1 and boxes[0]["value"]["rectanglelabels"] == ["Box"], predictions
    page.close()
