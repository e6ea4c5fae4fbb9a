"""Learning from annotations on a real Celery worker (PostgreSQL and Redis in CI)."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.test import Client

from registry.models import Annotation, ModelProject, ModelVersion, TrainingJob, WebhookEvent
from registry.services import model_version_activate
from tests.conftest import WorkerFactory, register, wait_for
from training.services import job_cancel
from training.tasks import run_training_job, training_request

pytestmark = pytest.mark.django_db(transaction=True)

TOPICS = (
    '<View><Text name="text" value="$text"/><Choices name="topic" toName="text">'
    '<Choice value="Sports"/><Choice value="Politics"/></Choices></View>'
)
PROJECT = {"id": 9, "label_config": TOPICS, "created_at": "2023-11-14T22:13:20Z"}
TRAIN = [
    ("The striker scored twice in the final minutes of the match", "Sports"),
    ("The goalkeeper saved a penalty and the team won the cup", "Sports"),
    ("She won the marathon and broke the course record", "Sports"),
    ("The coach praised the defence after the league game", "Sports"),
    ("Fans cheered as the tennis champion lifted the trophy", "Sports"),
    ("The basketball team signed a new point guard", "Sports"),
    ("A late goal sent the club into the semi final", "Sports"),
    ("The cyclist took the yellow jersey on the mountain stage", "Sports"),
    ("The boxer defended his title in twelve rounds", "Sports"),
    ("Olympic swimmers set three world records", "Sports"),
    ("Parliament passed the budget after a long debate", "Politics"),
    ("The minister resigned over the election scandal", "Politics"),
    ("Voters head to the polls to choose a new president", "Politics"),
    ("The senate rejected the proposed tax law", "Politics"),
    ("The opposition party demanded a vote of no confidence", "Politics"),
    ("The prime minister announced a cabinet reshuffle", "Politics"),
    ("Lawmakers debated the immigration bill in congress", "Politics"),
    ("The government coalition agreed on a new policy", "Politics"),
    ("Campaign rallies filled the city before the election", "Politics"),
    ("The governor signed the new law on public spending", "Politics"),
]
HELD_OUT = [
    ("The team won the match with a goal in extra time", "Sports"),
    ("The champion won the final and lifted the cup", "Sports"),
    ("The league game ended after a late penalty", "Sports"),
    ("The runner broke the record in the marathon", "Sports"),
    ("The club signed a striker before the season", "Sports"),
    ("The president signed the law after the vote", "Politics"),
    ("Parliament debated the tax policy of the government", "Politics"),
    ("The minister announced the election date", "Politics"),
    ("The senate vote on the budget bill failed", "Politics"),
    ("The party campaign focused on the new law", "Politics"),
]


def annotation_event(n: int, text: str, label: str, action: str = "ANNOTATION_CREATED") -> dict[str, Any]:
    result = [
        {
            "id": f"r{n}",
            "from_name": "topic",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": [label]},
        }
    ]
    return {
        "action": action,
        "annotation": {"id": 1000 + n, "task": 500 + n, "result": result, "project": 9},
        "task": {"id": 500 + n, "data": {"text": text}, "project": 9},
        "project": PROJECT,
    }


def post(client: Client, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    response = client.post(path, json.dumps(body), content_type="application/json")
    return response.status_code, response.json()


def accuracy(client: Client) -> float:
    tasks = [{"id": i, "data": {"text": text}} for i, (text, _) in enumerate(HELD_OUT)]
    _, body = post(
        client,
        "/ml/text-classifier/predict",
        {"tasks": tasks, "project": "9.1700000000", "label_config": TOPICS},
    )
    predicted: list[str | None] = [
        (r["result"] or [{"value": {"choices": [None]}}])[0]["value"]["choices"][0] for r in body["results"]
    ]
    hits = sum(p == label for p, (_, label) in zip(predicted, HELD_OUT, strict=True))
    return hits / len(HELD_OUT)


def jobs_settled() -> bool:
    return not TrainingJob.objects.filter(status__in=["queued", "running"]).exists()


def test_an_event_the_database_failed_to_store_is_never_acknowledged(client: Client) -> None:
    register("text-classifier", "examples.text_classifier.model.TextClassifier")
    event = annotation_event(1, *TRAIN[0])

    def refuse_event_inserts(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.startswith('INSERT INTO "registry_webhookevent"'):
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(refuse_event_inserts):
        status, body = post(client, "/ml/text-classifier/webhook", event)
    # Label Studio does not deliver an event twice: a 2xx here would lose it for good.
    assert status == 503, body
    assert body["code"] == "database_unavailable"
    assert not WebhookEvent.objects.exists() and not TrainingJob.objects.exists()
    # Delivered again once the database takes it: stored, acknowledged and asking for a run.
    status, body = post(client, "/ml/text-classifier/webhook", event)
    assert status == 201 and body["duplicate"] is False
    assert WebhookEvent.objects.get().pk == body["event"] and TrainingJob.objects.get().pk == body["job"]


def test_a_broker_that_does_not_answer_never_holds_the_webhooks_answer(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    register("text-classifier", "examples.text_classifier.model.TextClassifier")
    released, publishers = threading.Event(), []

    def stuck(*args: Any, **kwargs: Any) -> None:  # Redis accepting the connection, then silent
        publishers.append(threading.current_thread())
        released.wait(10)

    monkeypatch.setattr(run_training_job, "apply_async", stuck)
    try:
        status, body = post(client, "/ml/text-classifier/webhook", annotation_event(1, *TRAIN[0]))
        assert status == 201
        assert TrainingJob.objects.get(pk=body["job"]).status == "queued"  # the reaper publishes it later
        wait_for(lambda: publishers, what="the publish to start")
        assert publishers[0] is not threading.current_thread(), "the answer waited for the broker"
    finally:
        released.set()


def test_an_event_is_stored_before_the_ack_and_runs_when_a_worker_comes_up(
    client: Client, celery_workers: WorkerFactory
) -> None:
    register("text-classifier", "examples.text_classifier.model.TextClassifier")
    status, body = post(client, "/ml/text-classifier/webhook", annotation_event(1, *TRAIN[0]))
    assert status == 201
    assert WebhookEvent.objects.get(pk=body["event"]).processed_at is None
    assert TrainingJob.objects.get(pk=body["job"]).status == "queued"  # no worker is up yet
    celery_workers.start()
    job = wait_for(
        lambda: TrainingJob.objects.filter(pk=body["job"], status="succeeded").first(), what="the job to run"
    )
    assert WebhookEvent.objects.get(pk=body["event"]).processed_at is not None
    assert Annotation.objects.get().result[0]["value"] == {"choices": ["Sports"]}
    assert job.resulting_version == 1 and job.progress == 1.0 and "Training" in job.log_tail


def test_the_same_event_delivered_twice_is_processed_once(
    client: Client, celery_workers: WorkerFactory
) -> None:
    register("text-classifier", "examples.text_classifier.model.TextClassifier")
    event = annotation_event(1, *TRAIN[0])
    first, second = (
        post(client, "/ml/text-classifier/webhook", event)[1],
        post(client, "/ml/text-classifier/webhook", event)[1],
    )
    # The second delivery joins the job the first one asked for.
    assert (first["event"], first["duplicate"], second["duplicate"], second["job"]) == (
        second["event"],
        False,
        True,
        first["job"],
    )
    celery_workers.start()
    wait_for(lambda: TrainingJob.objects.filter(status="succeeded").exists(), what="training")
    assert (WebhookEvent.objects.count(), Annotation.objects.count(), TrainingJob.objects.count()) == (
        1,
        1,
        1,
    )


def test_a_redelivered_event_that_was_stored_without_a_job_gets_one(
    client: Client, celery_workers: WorkerFactory
) -> None:
    """As when the database failed between storing the first delivery and asking for training."""
    register("text-classifier", "examples.text_classifier.model.TextClassifier")
    event = annotation_event(1, *TRAIN[0])
    assert post(client, "/ml/text-classifier/webhook", event)[0] == 201
    TrainingJob.objects.all().delete()  # the job request that never happened

    status, body = post(client, "/ml/text-classifier/webhook", event)

    assert (status, body["duplicate"]) == (201, True) and body["job"] is not None
    celery_workers.start()
    wait_for(lambda: WebhookEvent.objects.filter(processed_at__isnull=False).exists(), what="training")
    assert (WebhookEvent.objects.count(), Annotation.objects.count()) == (1, 1)


def test_a_burst_of_events_gives_at_most_two_runs_and_the_classifier_learns(
    client: Client, celery_workers: WorkerFactory
) -> None:
    register("text-classifier", "examples.text_classifier.model.TextClassifier")
    assert post(client, "/ml/text-classifier/setup", {"project": "9.1700000000", "schema": TOPICS})[1] == {
        "model_version": "text-classifier@1"
    }
    before = accuracy(client)
    celery_workers.start()
    for n, (text, label) in enumerate(TRAIN):
        assert post(client, "/ml/text-classifier/webhook", annotation_event(n, text, label))[0] == 201
    wait_for(
        lambda: jobs_settled() and TrainingJob.objects.filter(status="succeeded").exists(),
        what="training to settle",
    )
    assert 1 <= TrainingJob.objects.count() <= 2
    assert set(TrainingJob.objects.values_list("status", flat=True)) == {"succeeded"}
    assert Annotation.objects.count() == 20
    link = ModelProject.objects.get()
    version = post(client, "/ml/text-classifier/setup", {"project": "9.1700000000", "schema": TOPICS})[1][
        "model_version"
    ]
    assert version == f"text-classifier@1.{link.active_version}" and link.active_version >= 1
    after = accuracy(client)
    assert before < 0.5 <= 0.8 <= after, (before, after)
    _, body = post(
        client,
        "/ml/text-classifier/predict",
        {
            "tasks": [{"id": 1, "data": {"text": HELD_OUT[0][0]}}],
            "project": "9.1700000000",
            "label_config": TOPICS,
        },
    )
    assert body["results"][0]["model_version"] == version
    metrics = ModelVersion.objects.get(number=link.active_version).metrics
    assert metrics["classes"] == ["Politics", "Sports"] and metrics["texts"] == 20


def test_rolling_back_changes_the_version_setup_reports(
    client: Client, admin_client: Client, celery_workers: WorkerFactory
) -> None:
    register("text-classifier", "examples.text_classifier.model.TextClassifier")
    post(client, "/ml/text-classifier/setup", {"project": "9.1700000000", "schema": TOPICS})
    for n, (text, label) in enumerate(TRAIN[:6] + TRAIN[10:16]):
        post(client, "/ml/text-classifier/webhook", annotation_event(n, text, label))
    celery_workers.start()
    wait_for(lambda: jobs_settled() and ModelVersion.objects.exists(), what="the first version")
    link = ModelProject.objects.get()
    response = admin_client.post(
        "/admin/registry/modelproject/",
        {"action": "start_training", "_selected_action": [link.pk]},
        follow=True,
    )
    assert "training job" in " ".join(str(m) for m in response.context["messages"])
    wait_for(lambda: jobs_settled() and ModelVersion.objects.count() == 2, what="the second version")
    assert (
        post(client, "/ml/text-classifier/setup", {"project": "9.1700000000", "schema": TOPICS})[1][
            "model_version"
        ]
        == "text-classifier@1.2"
    )
    first = ModelVersion.objects.get(number=1)
    response = admin_client.post(
        "/admin/registry/modelversion/", {"action": "activate", "_selected_action": [first.pk]}, follow=True
    )
    assert response.status_code == 200
    assert (
        post(client, "/ml/text-classifier/setup", {"project": "9.1700000000", "schema": TOPICS})[1][
            "model_version"
        ]
        == "text-classifier@1.1"
    )
    versions = client.get("/ml/text-classifier/versions").json()["versions"]
    assert versions == ["text-classifier@1", "text-classifier@1.1", "text-classifier@1.2"]
    model_version_activate(version=ModelVersion.objects.get(number=2), actor="user:test")
    assert (
        post(client, "/ml/text-classifier/setup", {"project": "9.1700000000", "schema": TOPICS})[1][
            "model_version"
        ]
        == "text-classifier@1.2"
    )


def test_a_killed_worker_leaves_no_job_running_forever_and_a_job_can_be_cancelled(
    client: Client, admin_client: Client, celery_workers: WorkerFactory
) -> None:
    register("slow", "tests.models.protocol.SlowTrainer")
    post(client, "/ml/slow/setup", {"project": "9.1700000000", "schema": TOPICS})
    first = celery_workers.start()
    job = training_request(link=ModelProject.objects.get(), trigger="manual", debounce=False)
    wait_for(
        lambda: TrainingJob.objects.filter(pk=job.pk, status="running", progress__gt=0).exists(),
        what="the job to run",
    )
    assert "progress" in admin_client.get("/admin/registry/trainingjob/").content.decode()
    first.stop(kill=True)  # SIGKILL mid-job: nothing gets to clean up
    assert TrainingJob.objects.get(pk=job.pk).status == "running"
    celery_workers.start()
    failed = wait_for(
        lambda: TrainingJob.objects.filter(pk=job.pk, status="failed").first(), what="the reaper"
    )
    assert "stopped" in failed.error
    rerun = wait_for(
        lambda: TrainingJob.objects.filter(status="running").exclude(pk=job.pk).first(), what="the rerun"
    )
    assert job_cancel(rerun)
    wait_for(
        lambda: TrainingJob.objects.filter(pk=rerun.pk, status="cancelled").exists(),
        timeout=20,
        what="the cancel",
    )
    assert not TrainingJob.objects.filter(status="running").exists()
