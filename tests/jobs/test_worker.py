"""Pre-annotation jobs on real Celery workers: published, run, and resumed after a worker is killed."""

from __future__ import annotations

from typing import Any

import pytest

from jobs import services
from jobs.models import PreannotationJob
from tests.conftest import WorkerFactory, register, wait_for
from tests.jobs.label_studio_stand_in import TOKEN, label_studio_stand_in

pytestmark = pytest.mark.django_db(transaction=True)
VERSION = "text-classifier@1"
SMALL_BATCHES = {
    "HUB_PREANNOTATION_BATCH_SIZE": "10",
    "HUB_PREANNOTATION_WRITE_SIZE": "10",
    "HUB_JOB_HEARTBEAT_SECONDS": "0.2",
    "HUB_JOB_STALE_SECONDS": "2",
}


def _job(pk: int) -> PreannotationJob:
    return PreannotationJob.objects.get(pk=pk)


def test_a_worker_killed_mid_job_is_resumed_by_another_and_no_task_gets_two_predictions(
    celery_workers: WorkerFactory, settings: Any
) -> None:
    register("text-classifier", "examples.text_classifier.model.TextClassifier")
    with label_studio_stand_in() as ls:
        ids = ls.add_tasks(200)
        # Each task starts with a prediction of the version: "redo" replaces it, so a chunk written
        # twice would show as two predictions of the version on a task.
        ls.import_predictions([{"task": i, "result": [], "score": 0, "model_version": VERSION} for i in ids])
        ls.imports.clear()
        ls.import_delay = 0.15
        first = celery_workers.start(**SMALL_BATCHES)
        job = services.preannotation_start(
            model_slug="text-classifier",
            project_id=ls.project_id,
            label_studio_url=ls.url,
            api_key=TOKEN,
            mode="redo",
        )
        wait_for(lambda: _job(job.pk).done >= 30, timeout=120, what="the job's first writes")
        first.stop(kill=True)
        at_kill = _job(job.pk)
        assert at_kill.status == "running" and at_kill.done < 200
        celery_workers.start(**SMALL_BATCHES)
        done = wait_for(
            lambda: (j := _job(job.pk)).status in PreannotationJob.FINISHED and j,
            timeout=180,
            what="the job to end",
        )
        assert (done.status, done.error, done.done, done.failed) == ("succeeded", "", 200, 0)
        for task_id in ids:
            [mine] = ls.predictions_of(task_id, VERSION)
            assert mine["result"], task_id  # the job's, not the empty one it replaced
        # The chunk in flight at the kill reached Label Studio (or not) and was looked at again: no
        # prediction was imported twice.
        assert sum(ls.imports) == 200, ls.imports
