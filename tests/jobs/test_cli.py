"""`wow-ai-ml preannotate`, run as a user runs it: a command on the Hub's database, a real worker."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from jobs.cli import progress_line
from tests.conftest import WorkerFactory, register
from tests.jobs.label_studio_stand_in import TOKEN, label_studio_stand_in
from tests.live import url_of_test_database
from tests.processes import REPO_ROOT

pytestmark = pytest.mark.django_db(transaction=True)


def preannotate(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url_of_test_database(), "DB_CONN_MAX_AGE": "0"}
    return subprocess.run(
        [sys.executable, "-m", "wow_ai_hub.cli", "preannotate", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_preannotate_waits_with_a_progress_bar_and_exits_0_when_every_task_has_its_prediction(
    celery_workers: WorkerFactory,
) -> None:
    register("text-classifier", "examples.text_classifier.model.TextClassifier")
    celery_workers.start()
    with label_studio_stand_in() as ls:
        ids = ls.add_tasks(60)
        where = ["--model", "text-classifier", "--project", str(ls.project_id)]
        first = preannotate(*where, "--label-studio-url", ls.url, "--api-key", TOKEN, "--wait")
        assert first.returncode == 0, first.stdout + first.stderr
        assert "[##############################] 60/60 done 60 failed 0 skipped 0" in first.stdout
        assert "Every task has its prediction (60 written, 0 already had one)." in first.stdout
        assert all(len(ls.predictions_of(t, "text-classifier@1")) == 1 for t in ids)
        # The project is known now, with its key: the id is enough, and nothing is written twice.
        again = preannotate(*where, "--wait")
        assert again.returncode == 0 and "(0 written, 60 already had one)" in again.stdout, again.stdout
        queued = preannotate(*where, "--tasks", f"{ids[0]},{ids[1]}", "--redo")
        assert queued.returncode == 0 and "Queued." in queued.stdout


def test_preannotate_names_what_is_wrong_and_exits_1() -> None:
    register("text-classifier", "examples.text_classifier.model.TextClassifier")
    with label_studio_stand_in() as ls:
        wrong_key = preannotate(
            "--model", "text-classifier", "--project", "7", "--label-studio-url", ls.url, "--api-key", "nope"
        )
        assert wrong_key.returncode == 1 and "answered HTTP 401 (authentication refused)" in wrong_key.stderr
    unknown = preannotate("--model", "text-classifier", "--project", "12345")
    assert unknown.returncode == 1 and "has not seen Label Studio project 12345" in unknown.stderr
    no_model = preannotate("--model", "nope", "--project", "1")
    assert no_model.returncode == 1 and "No model is registered as 'nope'" in no_model.stderr
    bad_ids = preannotate("--model", "text-classifier", "--project", "1", "--tasks", "1,x")
    assert bad_ids.returncode == 1 and "--tasks takes task ids" in bad_ids.stderr


def test_the_progress_line_shows_counts_rate_and_eta() -> None:
    state = {
        "total": 200,
        "fraction": 0.5,
        "done": 90,
        "failed": 2,
        "skipped": 8,
        "tasks_per_second": 46.0,
        "eta_seconds": 2.2,
        "status": "running",
    }
    assert progress_line(state, width=10) == (
        "[#####.....] 100/200 done 90 failed 2 skipped 8  46.0 tasks/s  ETA 2 s  running"
    )
