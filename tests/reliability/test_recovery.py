"""Faults with nothing lost: PostgreSQL restarted under load, Redis stopped and started, a Celery worker
killed mid-training. A live Hub (gunicorn, 2 workers) and a real Celery worker run on a PostgreSQL
cluster and a Redis server of this module's own, so the faults hurt nobody else."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from bench.common import running_hub
from tests.conftest import WorkerFactory, wait_for
from tests.processes import REPO_ROOT
from tests.reliability.private_servers import PG_BIN, PrivatePostgres, PrivateRedis
from tests.training.test_training import TOPICS, TRAIN, annotation_event

PROJECT = "9.1700000000"  # the project of tests.training.test_training's events

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not (PG_BIN / "initdb").exists() or shutil.which("redis-server") is None,
        reason="needs PostgreSQL 15's server binaries and redis-server",
    ),
]


@dataclass
class Stack:
    hub: str
    postgres: PrivatePostgres
    redis: PrivateRedis
    workers: WorkerFactory
    worker_env: dict[str, str]
    hub_log: Path

    def start_worker(self) -> None:
        self.workers.start(**self.worker_env)

    def jobs_settled(self, slug: str) -> bool:
        return not self.postgres.query(
            "SELECT j.id FROM registry_trainingjob j JOIN registry_modelproject l ON l.id = j.model_project_id"
            " JOIN registry_registeredmodel m ON m.id = l.model_id"
            " WHERE m.slug = %s AND j.status IN ('queued', 'running')",
            slug,
        )

    def unprocessed(self, event_ids: list[int]) -> list[int]:
        rows = self.postgres.query(
            "SELECT id FROM registry_webhookevent WHERE id = ANY(%s) AND processed_at IS NULL", event_ids
        )
        return [row[0] for row in rows]


def _register_paced_trainer(env: dict[str, str]) -> None:
    script = (
        "from registry.models import RegisteredModel\n"
        "RegisteredModel.objects.create(name='paced', slug='paced', kind='python',"
        " import_path='tests.reliability.models.PacedTrainer', params={'steps': 32, 'step_seconds': 0.25})"
    )
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=REPO_ROOT,
        env=env,
        check=True,
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    directory = tmp_path_factory.mktemp("reliability")
    postgres = PrivatePostgres()
    redis_server = PrivateRedis(directory)
    workers = WorkerFactory(directory)
    try:
        postgres.start()
        postgres.create_database()
        redis_server.start()
        services = {
            "DATABASE_URL": postgres.url,
            "CELERY_BROKER_URL": redis_server.url,
            "HUB_TRAINING_DEBOUNCE_SECONDS": "1",
            "LOG_LEVEL": "INFO",
        }
        hub_env: dict[str, str] = {}

        def setup(env: dict[str, str]) -> None:
            hub_env.update(env)
            _register_paced_trainer(env)

        with running_hub(
            [("text-classifier", "examples.text_classifier.model.TextClassifier")],
            setup=setup,
            env_overrides=services,
            log=directory / "gunicorn.log",
        ) as hub:
            # The worker keeps the production DB_CONN_MAX_AGE too: persistent connections are what a
            # database restart breaks.
            # A job is taken for dead after 15 s without a heartbeat: far longer than the outages
            # below, which a job must live through, and short enough to reap a killed worker's.
            worker_env = {
                **services,
                "HUB_DATA_DIR": hub_env["HUB_DATA_DIR"],
                "DB_CONN_MAX_AGE": "60",
                "HUB_JOB_STALE_SECONDS": "15",
            }
            result = Stack(hub, postgres, redis_server, workers, worker_env, directory / "gunicorn.log")
            result.start_worker()
            yield result
    finally:
        for worker in workers.workers:
            worker.stop(kill=True)
        redis_server.stop()
        postgres.remove()


@dataclass
class Answer:
    kind: str
    started: float
    status: int
    body: Any


@dataclass
class Traffic:
    """Client threads sending a steady stream of /predict and /webhook calls, each event a new one."""

    hub: str
    first: int
    answers: list[Answer] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._numbers = itertools.count(self.first)
        self._lock = threading.Lock()

    def _client(self) -> None:
        session = requests.Session()
        predict = {
            "tasks": [{"id": 1, "data": {"text": TRAIN[0][0]}}],
            "project": PROJECT,
            "label_config": TOPICS,
        }
        while not self.stop.is_set():
            with self._lock:
                n = next(self._numbers)
            kind = "webhook" if n % 2 else "predict"
            body = annotation_event(n, *TRAIN[n % len(TRAIN)]) if kind == "webhook" else predict
            started = time.monotonic()
            try:
                response = session.post(f"{self.hub}/ml/text-classifier/{kind}", json=body, timeout=(2, 30))
                status = response.status_code
                try:
                    payload = response.json()
                except ValueError:
                    payload = response.text[:300]
            except requests.RequestException as exc:
                status, payload = 0, repr(exc)
            with self._lock:
                self.answers.append(Answer(kind, started, status, payload))
            time.sleep(0.02)

    @contextmanager
    def flowing(self, clients: int) -> Iterator[Traffic]:
        threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]
        for thread in threads:
            thread.start()
        try:
            yield self
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(timeout=40)

    def count(self, status: int) -> int:
        with self._lock:
            return sum(a.status == status for a in self.answers)

    def since(self, moment: float) -> list[Answer]:
        """The answers to calls started after ``moment`` (time.monotonic())."""
        with self._lock:
            return [a for a in self.answers if a.started > moment]


DATABASE_UNAVAILABLE = {
    "error": "The Hub's database is unavailable; try again shortly.",
    "code": "database_unavailable",
}


def settle(stack: Stack, slug: str) -> None:
    wait_for(lambda: stack.jobs_settled(slug), timeout=60, what=f"{slug}'s training jobs to end")


def test_a_postgres_restart_loses_no_accepted_event_and_the_hub_recovers_by_itself(stack: Stack) -> None:
    under_load = Traffic(stack.hub, first=0)
    with under_load.flowing(clients=4):
        wait_for(lambda: under_load.count(201) >= 5, timeout=30, what="webhooks before the outage")
        stack.postgres.stop()
        # Outside the API too (an admin page, whose session lookup fails): the same JSON 503.
        admin = requests.get(f"{stack.hub}/admin/", cookies={"sessionid": "x" * 32}, timeout=(2, 30))
        assert (admin.status_code, admin.json()) == (503, DATABASE_UNAVAILABLE)
        # An outage the clients feel, not a blink between two requests.
        wait_for(lambda: under_load.count(503) >= 4, timeout=60, what="calls answered during the outage")
        stack.postgres.start()
        back = time.monotonic()
        wait_for(
            lambda: (
                {a.kind for a in under_load.since(back) if a.status in (200, 201)} == {"predict", "webhook"}
                and len(under_load.since(back)) >= 20
            ),
            timeout=90,
            what="calls of both kinds answered after the restart",
        )
    # During the outage: our JSON 503, never a traceback, an HTML page or a dropped connection.
    wrong = [
        a
        for a in under_load.answers
        if a.status not in (200, 201) and (a.status, a.body) != (503, DATABASE_UNAVAILABLE)
    ]
    assert not wrong, wrong[:5]
    assert under_load.count(503), "the outage should have been felt"
    # After it: every call answered, with no Hub restart.
    after = [a for a in under_load.answers if a.started > back]
    assert {a.kind for a in after} == {"predict", "webhook"}
    assert all(a.status in (200, 201) for a in after), [a for a in after if a.status >= 300][:5]

    # A restart while the Hub is idle: every gunicorn thread's pooled connection died with the
    # server, unnoticed; the first call on each must get a fresh one rather than fail.
    stack.postgres.restart()
    after_idle = Traffic(stack.hub, first=5_000)
    with after_idle.flowing(clients=4):
        wait_for(lambda: len(after_idle.answers) >= 60, timeout=30, what="calls after the idle restart")
    assert all(a.status in (200, 201) for a in after_idle.answers), [
        a for a in after_idle.answers if a.status >= 300
    ][:5]

    # Every acknowledged event is stored and gets learnt from.
    accepted = [
        a.body["event"]
        for a in under_load.answers + after_idle.answers
        if a.kind == "webhook" and a.status == 201
    ]
    stored = stack.postgres.query("SELECT id FROM registry_webhookevent WHERE id = ANY(%s)", accepted)
    assert len(stored) == len(accepted)
    wait_for(
        lambda: stack.jobs_settled("text-classifier") and not stack.unprocessed(accepted),
        timeout=90,
        what="training to learn every accepted event",
    )


def start_training(stack: Stack, project_id: int) -> int:
    """A START_TRAINING event for the paced trainer in a project of its own; the job's id."""
    response = requests.post(
        f"{stack.hub}/ml/paced/webhook",
        json={"action": "START_TRAINING", "project": {"id": project_id, "label_config": TOPICS}},
        timeout=(2, 30),
    )
    assert response.status_code == 201, response.text
    job = response.json()["job"]
    wait_for(lambda: job_state(stack, job)[1] > 0, timeout=30, what="the job to make progress")
    return int(job)


def job_state(stack: Stack, job_id: int) -> tuple[str, float, str]:
    rows = stack.postgres.query(
        "SELECT status, progress, error FROM registry_trainingjob WHERE id = %s", job_id
    )
    return rows[0] if rows else ("", 0.0, "")


def jobs_of_link(stack: Stack, job_id: int) -> list[tuple[int, str]]:
    """(id, status) of every job of the same model and project as ``job_id``, oldest first."""
    return stack.postgres.query(
        "SELECT id, status FROM registry_trainingjob WHERE model_project_id ="
        " (SELECT model_project_id FROM registry_trainingjob WHERE id = %s) ORDER BY id",
        job_id,
    )


def test_a_training_running_across_a_postgres_restart_finishes_once(stack: Stack) -> None:
    job = start_training(stack, project_id=78)
    log = stack.workers.workers[-1].log
    stack.postgres.stop()
    try:  # until the running job has felt the outage
        wait_for(lambda: "heartbeat not recorded" in log.read_text(), timeout=60, what="a heartbeat to fail")
    finally:
        stack.postgres.start()
    wait_for(lambda: stack.jobs_settled("paced"), timeout=60, what="the training to end")
    # Its progress reports and heartbeats failed for a while; it neither failed nor was it taken
    # for dead and run a second time.
    assert jobs_of_link(stack, job) == [(job, "succeeded")], job_state(stack, job)


def test_webhooks_are_stored_while_redis_is_down_and_trained_on_once_it_is_back(stack: Stack) -> None:
    settle(stack, "text-classifier")
    session = requests.Session()
    events = []
    stack.redis.stop()
    try:
        for n in range(10_000, 10_005):
            started = time.monotonic()
            response = session.post(
                f"{stack.hub}/ml/text-classifier/webhook",
                json=annotation_event(n, *TRAIN[n % len(TRAIN)]),
                timeout=(2, 30),
            )
            # Publishing happens off the request: a dead broker must not hold the answer.
            assert response.status_code == 201 and time.monotonic() - started < 5, response.text
            events.append(response.json()["event"])
        predict = {
            "tasks": [{"id": 1, "data": {"text": "a late goal"}}],
            "project": PROJECT,
            "label_config": TOPICS,
        }
        assert session.post(f"{stack.hub}/ml/text-classifier/predict", json=predict, timeout=(2, 30)).ok
        wait_for(
            lambda: "Could not publish training job" in stack.hub_log.read_text(),
            timeout=60,
            what="the Hub to find the broker down",
        )
        assert sorted(stack.unprocessed(events)) == events
    finally:
        stack.redis.start()  # empty: whatever the broker held is gone, as after a real restart
    wait_for(
        lambda: stack.jobs_settled("text-classifier") and not stack.unprocessed(events),
        timeout=60,
        what="the events to be trained on once Redis is back",
    )


def test_a_worker_killed_mid_training_leaves_no_job_running_and_a_fresh_worker_trains(stack: Stack) -> None:
    job = start_training(stack, project_id=77)
    stack.workers.workers[-1].stop(kill=True)  # SIGKILL: nothing gets to clean up
    assert job_state(stack, job)[0] == "running"
    stack.start_worker()
    wait_for(
        lambda: job_state(stack, job)[0] == "failed", timeout=90, what="the dead worker's job to be reaped"
    )
    assert "stopped" in job_state(stack, job)[2]
    wait_for(
        lambda: [status for _, status in jobs_of_link(stack, job)] == ["failed", "succeeded"],
        timeout=60,
        what="a fresh worker to run the training again to its end",
    )
