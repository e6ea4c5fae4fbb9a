"""The pre-annotation engine, run in this process against a stand-in Label Studio on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches

from core.errors import HubError
from inference.prediction_cache import CACHE_ALIAS
from inference.services import model_predict
from jobs import services
from jobs.models import PreannotationJob
from jobs.worker import next_queued_job, preannotation_job_run
from registry.models import RegisteredModel
from registry.project_uid import ProjectUid
from tests.conftest import register, wait_for
from tests.jobs.label_studio_stand_in import TOKEN, StandIn, label_studio_stand_in

pytestmark = pytest.mark.django_db(transaction=True)
VERSION = "text-classifier@1"


@pytest.fixture
def ls() -> Iterator[StandIn]:
    with label_studio_stand_in() as stand_in:
        yield stand_in


@pytest.fixture
def classifier() -> RegisteredModel:
    return register("text-classifier", "examples.text_classifier.model.TextClassifier")


def start(ls: StandIn, slug: str = "text-classifier", **options: Any) -> PreannotationJob:
    return services.preannotation_start(
        model_slug=slug, project_id=ls.project_id, label_studio_url=ls.url, api_key=TOKEN, **options
    )


def run(job: PreannotationJob) -> PreannotationJob:
    preannotation_job_run(job.pk, worker="test")
    job.refresh_from_db()
    return job


def test_every_task_gets_one_prediction_of_the_version_in_few_bulk_imports(
    ls: StandIn, classifier: RegisteredModel, settings: Any
) -> None:
    settings.HUB_PREANNOTATION_BATCH_SIZE = 40
    ids = ls.add_tasks(250)
    job = run(start(ls))
    assert (job.status, job.error) == ("succeeded", "")
    assert (job.total, job.done, job.failed, job.skipped) == (250, 250, 0, 0)
    for task_id in ids:
        [prediction] = ls.predictions_of(task_id)
        assert prediction["model_version"] == VERSION
        assert prediction["result"][0]["value"]["choices"] == ["Positive"]
    # Written in bulk: at most one import per batch of 40, often several batches in one.
    assert sum(ls.imports) == 250 and len(ls.imports) <= 7, ls.imports
    assert job.cursor == ids[-1] and job.writing == {}
    assert job.progress()["fraction"] == 1.0 and job.rate is not None


def test_the_predictions_are_exactly_what_predict_answers(ls: StandIn, classifier: RegisteredModel) -> None:
    ids = ls.add_tasks(5, lambda i: {"text": ["awful, broken", "great, love it"][i % 2] + f" #{i}"})
    job = run(start(ls))
    caches[CACHE_ALIAS].clear()  # computed afresh, not read back from what the job computed
    answered = model_predict(
        slug="text-classifier",
        tasks=[{"id": i, "data": ls.tasks[i]["data"]} for i in ids],
        uid=ProjectUid.parse(job.model_project.project.uid),
        label_config=ls.label_config,
        params={},
    )
    for task_id, expected in zip(ids, answered, strict=True):
        assert isinstance(expected, dict)
        [written] = ls.predictions_of(task_id)
        assert written["result"] == expected["result"] and written["score"] == expected["score"]


def test_a_second_job_writes_nothing(ls: StandIn, classifier: RegisteredModel) -> None:
    ls.add_tasks(30)
    run(start(ls))
    imports = list(ls.imports)
    again = run(start(ls))
    assert (again.status, again.done, again.skipped) == ("succeeded", 0, 30)
    assert ls.imports == imports


def test_tasks_are_listed_without_their_predictions_unless_the_job_needs_their_ids(
    ls: StandIn, classifier: RegisteredModel, settings: Any
) -> None:
    """Label Studio's full task list costs several times the list without predictions: a job lists the
    versions of each task's predictions only, and lists in full just the tasks a redo replaces."""
    settings.HUB_PREANNOTATION_PAGE_SIZE = 20
    ls.add_tasks(30)
    run(start(ls))
    assert ls.lists == ["light"] * 3
    ls.lists.clear()
    assert run(start(ls)).skipped == 30
    assert ls.lists == ["light"] * 3
    ls.lists.clear()
    redo = run(start(ls, mode="redo"))
    assert (redo.done, redo.skipped) == (30, 0)
    assert ls.lists == ["light", "full", "light", "full", "light"]


def test_a_write_whose_answer_was_lost_is_not_written_again_on_resume(
    ls: StandIn, classifier: RegisteredModel, settings: Any
) -> None:
    """Label Studio stored the predictions but the answer never came (a crash, a dropped connection):
    the job fails, and resumed, finds them in Label Studio and counts them without writing twice."""
    settings.HUB_PREANNOTATION_BATCH_SIZE = settings.HUB_PREANNOTATION_WRITE_SIZE = 10
    ids = ls.add_tasks(30)
    # The first import is stored, then answered with a 500.
    original = ls.import_predictions

    def stored_then_lost(items: list[dict[str, Any]]) -> tuple[int, Any]:
        original(items)
        ls.import_predictions = original  # type: ignore[method-assign]
        return 500, {"detail": "lost"}

    ls.import_predictions = stored_then_lost  # type: ignore[method-assign]
    job = run(start(ls, mode="redo"))
    assert job.status == "failed" and "HTTP 500" in job.error
    assert len(job.writing) == 10
    services.preannotation_resume(job=job)
    job = run(job)
    assert (job.status, job.done, job.failed) == ("succeeded", 30, 0)
    for task_id in ids:
        assert len(ls.predictions_of(task_id, VERSION)) == 1, task_id
    # The 10 that reached Label Studio were found there, not imported again (and deleted as "old").
    assert sum(ls.imports) == 30, ls.imports


def test_redo_replaces_the_prediction_of_the_version_and_keeps_others(
    ls: StandIn, classifier: RegisteredModel
) -> None:
    ids = ls.add_tasks(12)
    ls.import_predictions(
        [{"task": i, "result": [], "score": 0, "model_version": v} for i in ids for v in (VERSION, "old@1")]
    )
    before = {p["id"] for p in ls.predictions.values() if p["model_version"] == VERSION}
    job = run(start(ls, mode="redo"))
    assert (job.done, job.skipped) == (12, 0)
    for task_id in ids:
        [mine] = ls.predictions_of(task_id, VERSION)
        assert mine["id"] not in before and mine["result"]
        assert len(ls.predictions_of(task_id, "old@1")) == 1


def test_only_empty_skips_tasks_with_any_prediction(ls: StandIn, classifier: RegisteredModel) -> None:
    ids = ls.add_tasks(6)
    ls.import_predictions([{"task": ids[0], "result": [], "score": 0, "model_version": "other@3"}])
    job = run(start(ls, mode="only_empty"))
    assert (job.done, job.skipped) == (5, 1)
    assert ls.predictions_of(ids[0], VERSION) == []


def test_listed_ids_and_a_view_select_tasks_and_a_missing_id_fails_with_its_reason(
    ls: StandIn, classifier: RegisteredModel
) -> None:
    ids = ls.add_tasks(10)
    job = run(start(ls, task_ids=[ids[2], ids[5], 99_999]))
    assert (job.total, job.done, job.failed) == (3, 2, 1)
    assert [(f.ls_task_id, f.reason) for f in job.failures.all()] == [
        (99_999, "The task is not in the project.")
    ]
    assert [t for t in ids if ls.predictions_of(t)] == [ids[2], ids[5]]
    ls.views[4] = [ids[7], ids[8]]
    view_job = run(start(ls, view_id=4))
    assert (view_job.total, view_job.done, view_job.task_ids) == (2, 2, [ids[7], ids[8]])


def test_failed_tasks_keep_their_reason_and_retry_the_failed_ones_finishes_them(
    ls: StandIn, settings: Any
) -> None:
    register("fussy", "tests.jobs.models.FussyModel")
    settings.HUB_PREANNOTATION_BATCH_SIZE = 8
    ids = ls.add_tasks(20)
    poisoned = [ids[3], ids[11]]
    for task_id in poisoned:
        ls.tasks[task_id]["data"]["text"] = "poison"
    job = run(start(ls, slug="fussy"))
    assert (job.status, job.done, job.failed) == ("succeeded", 18, 2)
    reasons = {f.ls_task_id: f.reason for f in job.failures.all()}
    assert set(reasons) == set(poisoned) and "cannot read poison" in reasons[ids[3]]
    for task_id in poisoned:
        ls.tasks[task_id]["data"]["text"] = "fixed"
    retry = run(services.preannotation_retry_failed(job=job))
    assert (retry.retry_of_id, retry.total, retry.done, retry.failed) == (job.pk, 2, 2, 0)
    assert all(len(ls.predictions_of(t)) == 1 for t in ids)


def test_pause_then_resume_finishes_without_writing_twice(
    ls: StandIn, classifier: RegisteredModel, settings: Any
) -> None:
    settings.HUB_PREANNOTATION_BATCH_SIZE = settings.HUB_PREANNOTATION_WRITE_SIZE = 10
    settings.HUB_JOB_HEARTBEAT_SECONDS = 0.05
    ls.import_delay = 0.1
    ids = ls.add_tasks(150)
    job = start(ls, mode="redo")
    runner = threading.Thread(target=preannotation_job_run, args=(job.pk,), kwargs={"worker": "test"})
    runner.start()
    wait_for(lambda: PreannotationJob.objects.get(pk=job.pk).done >= 20, what="the first writes")
    services.preannotation_pause(job=job)
    runner.join(timeout=60)
    job.refresh_from_db()
    assert job.status == "paused" and 20 <= job.done < 150, (job.status, job.done)
    assert services.preannotation_resume(job=job).status == "queued"
    job = run(job)
    assert (job.status, job.done) == ("succeeded", 150)
    assert all(len(ls.predictions_of(t, VERSION)) == 1 for t in ids)


def test_cancel_stops_a_running_job_and_a_queued_one_at_once(
    ls: StandIn, classifier: RegisteredModel, settings: Any
) -> None:
    settings.HUB_PREANNOTATION_BATCH_SIZE = settings.HUB_PREANNOTATION_WRITE_SIZE = 10
    settings.HUB_JOB_HEARTBEAT_SECONDS = 0.05
    ls.import_delay = 0.1
    ls.add_tasks(150)
    job = start(ls)
    runner = threading.Thread(target=preannotation_job_run, args=(job.pk,), kwargs={"worker": "test"})
    runner.start()
    wait_for(lambda: PreannotationJob.objects.get(pk=job.pk).done >= 10, what="the first write")
    services.preannotation_cancel(job=job)
    runner.join(timeout=60)
    job.refresh_from_db()
    assert job.status == "cancelled" and job.done < 150 and job.finished_at is not None
    queued = start(ls)
    assert services.preannotation_cancel(job=queued).status == "cancelled"
    with pytest.raises(services.JobStateConflict):
        services.preannotation_resume(job=queued)


def test_starting_is_refused_clearly_without_a_key_an_address_or_a_known_project(
    ls: StandIn, classifier: RegisteredModel
) -> None:
    with pytest.raises(services.JobRefused, match="has not seen Label Studio project"):
        services.preannotation_start(model_slug="text-classifier", project_id=ls.project_id)
    with pytest.raises(services.JobRefused, match="No API key"):
        services.preannotation_start(
            model_slug="text-classifier", project_id=ls.project_id, label_studio_url=ls.url
        )
    with pytest.raises(services.JobRefused, match="label_studio_url"):
        services.preannotation_start(
            model_slug="text-classifier", project_id=1, label_studio_url="ftp://x", api_key="k"
        )
    with pytest.raises(HubError, match="authentication refused"):
        services.preannotation_start(
            model_slug="text-classifier", project_id=ls.project_id, label_studio_url=ls.url, api_key="wrong"
        )
    assert not PreannotationJob.objects.exists()
    # Known now (with its key on the instance): the project id alone is enough.
    start(ls)
    job = services.preannotation_start(model_slug="text-classifier", project_id=ls.project_id)
    assert job.label_studio_url == "" and job.model_project.project.instance.api_key == TOKEN


def test_a_model_runs_one_job_at_a_time_the_next_waits_queued(
    ls: StandIn, classifier: RegisteredModel
) -> None:
    ls.add_tasks(5)
    first, second = start(ls), start(ls)
    PreannotationJob.objects.filter(pk=first.pk).update(status="running", worker="elsewhere")
    assert preannotation_job_run(second.pk, worker="test") == ""
    second.refresh_from_db()
    assert (second.status, second.done) == ("queued", 0)
    PreannotationJob.objects.filter(pk=first.pk).update(status="succeeded")
    assert next_queued_job(classifier.pk) == second.pk
    assert run(second).status == "succeeded"
