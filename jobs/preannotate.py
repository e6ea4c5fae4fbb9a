"""Running one pre-annotation job on a worker.

Tasks come from Label Studio in ascending id order, from the job's cursor on; each chunk is
predicted through ``model_predict_outcome`` (exactly what ``/predict`` does) and written back with
Label Studio's bulk predictions import. Reading, predicting and writing overlap: up to two chunks
predict while the one before them is written. The cursor and the counters move in one update after
each write, and the chunk being written is recorded first, so a job resumed after a crash looks
at those tasks again in Label Studio and writes none of them twice."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone

from core.errors import HubError, InvalidLabelConfig, ModelDisabled, ModelLoadFailed
from inference.services import model_predict_outcome
from jobs.label_studio import LabelStudioApi, model_versions, shown_as_is
from jobs.models import PreannotationFailure, PreannotationJob
from jobs.pipeline import Writer, lower_priority, prefetched
from registry.hot_path import hot_path_sync
from registry.model_server import background_calls
from registry.project_uid import ProjectUid

logger = logging.getLogger(__name__)
Status = PreannotationJob.Status
Mode = PreannotationJob.Mode

# Errors that no task of the job would escape: the job fails rather than every task one by one.
FATAL = (Http404, ModelDisabled, ModelLoadFailed, InvalidLabelConfig)


class JobStopped(Exception):
    """The job lost its claim (the reaper gave it to another worker)."""


@dataclass
class Chunk:
    """Consecutive tasks of the selection: those to predict, and what became of the others."""

    last_id: int  # the cursor once this chunk is written
    tasks: list[dict[str, Any]] = field(default_factory=list)
    replaces: dict[int, list[int]] = field(default_factory=dict)  # task -> its predictions to delete
    skipped: int = 0
    recovered: int = 0  # written before a crash: counted now, not written again
    missing: list[int] = field(default_factory=list)  # listed ids Label Studio does not have


@dataclass
class Predicted:
    items: list[dict[str, Any]]  # predictions to import
    written: list[int]  # tasks they are for
    failures: dict[int, str]  # task -> reason


def _versions(task: dict[str, Any], version: str) -> list[int]:
    """The ids of the task's predictions of this model version."""
    raw = task.get("predictions")
    predictions = raw if isinstance(raw, list) else []
    return [
        p["id"]
        for p in predictions
        if isinstance(p, dict) and p.get("model_version") == version and isinstance(p.get("id"), int)
    ]


class JobRun:
    """One claimed run of a job, from its cursor to the end of its selection (or a stop)."""

    def __init__(self, job: PreannotationJob, worker: str, stop_reason: Callable[[], str]) -> None:
        self.job = job
        self.worker = worker
        self.stop_reason = stop_reason  # "cancel", "pause", "lost" (its claim), or "" to go on
        link = job.model_project
        # The job's own address and key, else the model's view of the project (ModelProject).
        self.api = LabelStudioApi(
            job.label_studio_url or link.label_studio_url, job.api_key or link.label_studio_token
        )
        self.project_id = int(link.project.ls_project_id)
        self.slug = link.model.slug
        self.version = job.model_version or link.model_version
        self.writing: dict[int, list[int]] = {int(k): list(v) for k, v in (job.writing or {}).items()}
        self.started = time.monotonic()
        self.busy_before = job.busy_seconds
        self.uid = ProjectUid(project_id=self.project_id)
        self.label_config = ""
        self.seconds = {
            "read": job.read_seconds,
            "predict": job.predict_seconds,
            "write": job.write_seconds,
            "label_studio": job.label_studio_seconds,
        }
        self._lock = threading.Lock()
        self._calls = 0  # calls to Label Studio under way
        self._calls_since = 0.0  # since when there has been one

    @contextmanager
    def timed(self, phase: str) -> Iterator[None]:
        """Time the block as ``phase``; reads and writes are calls to Label Studio, whose union in time
        is ``label_studio`` (the job's time minus that is the Hub's own)."""
        started = time.monotonic()
        calling = phase != "predict"
        if calling:
            with self._lock:
                if not self._calls:
                    self._calls_since = started
                self._calls += 1
        try:
            yield
        finally:
            ended = time.monotonic()
            with self._lock:
                self.seconds[phase] += ended - started
                if calling:
                    self._calls -= 1
                    if not self._calls:
                        self.seconds["label_studio"] += ended - self._calls_since

    def timings(self) -> dict[str, float]:
        """The job's time fields as they stand (for the progress update)."""
        with self._lock:
            return {f"{phase}_seconds": value for phase, value in self.seconds.items()}

    # Reading -----------------------------------------------------------------------------------
    def _entries(self) -> Iterator[list[tuple[int, dict[str, Any] | None]]]:
        """Pages of (task id, task or None if Label Studio has no such task), ids ascending."""
        page_size = settings.HUB_PREANNOTATION_PAGE_SIZE
        cursor = self.job.cursor
        if self.job.selection == PreannotationJob.Selection.ALL:
            first = True
            while True:
                with self.timed("read"):
                    page = self.api.tasks_after(self.project_id, cursor, page_size)
                if first and self.job.total is None:
                    self.job.total = self.job.processed + page.remaining
                    PreannotationJob.objects.filter(pk=self.job.pk).update(total=self.job.total)
                first = False
                if not page.tasks:
                    return
                yield self._detailed(page.tasks)
                cursor = page.tasks[-1]["id"]
        else:
            ids = sorted({int(i) for i in self.job.task_ids if int(i) > cursor})
            for start in range(0, len(ids), page_size):
                wanted = ids[start : start + page_size]
                with self.timed("read"):
                    found = {t["id"]: t for t in self.api.tasks_by_id(self.project_id, wanted)}
                listed = dict(self._detailed([found[i] for i in wanted if i in found]))
                yield [(task_id, listed.get(task_id)) for task_id in wanted]

    def _needs_ids(self, task: dict[str, Any]) -> bool:
        """Whether the job needs the ids of the task's predictions, which its list does not give: it was
        being written when the job stopped, a redo replaces its prediction of the version, or the list
        cannot tell its predictions' versions."""
        versions = model_versions(task)
        return (
            task["id"] in self.writing
            or versions is None
            or not shown_as_is(self.version)
            or (self.job.mode == Mode.REDO and self.version in versions)
        )

    def _detailed(self, tasks: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any] | None]]:
        """(task id, task) of listed tasks, those whose predictions the job needs by id listed again in
        full (None if one is gone meanwhile)."""
        needed = {t["id"] for t in tasks if self._needs_ids(t)}
        full: dict[int, dict[str, Any]] = {}
        if needed:
            with self.timed("read"):
                full = {t["id"]: t for t in self.api.tasks_by_id(self.project_id, sorted(needed), full=True)}
        return [(t["id"], full.get(t["id"]) if t["id"] in needed else t) for t in tasks]

    def _place(self, chunk: Chunk, task_id: int, task: dict[str, Any]) -> None:
        """Decide what this task needs: nothing (skipped or recovered) or a prediction."""
        mine = _versions(task, self.version)  # listed in full when the job needs them
        versions = model_versions(task) or frozenset()
        if task_id in self.writing:  # its write may have reached Label Studio before the crash
            new = [p for p in mine if p not in self.writing[task_id]]
            if new:
                chunk.recovered += 1
                chunk.replaces[task_id] = self.writing[task_id]  # deleted if still there
                return
            chunk.tasks.append(task)
            chunk.replaces[task_id] = self.writing[task_id]
            return
        mode = self.job.mode
        any_prediction = bool(versions or task.get("predictions") or task.get("total_predictions"))
        if (mode == Mode.MISSING and self.version in versions) or (
            mode == Mode.ONLY_EMPTY and any_prediction
        ):
            chunk.skipped += 1
        else:
            chunk.tasks.append(task)
            if mode == Mode.REDO and mine:
                chunk.replaces[task_id] = mine

    def chunks(self) -> Iterator[Chunk]:
        batch = settings.HUB_PREANNOTATION_BATCH_SIZE
        for entries in self._entries():
            chunk: Chunk | None = None
            for task_id, task in entries:
                chunk = chunk or Chunk(last_id=task_id)
                chunk.last_id = task_id
                if task is None:
                    chunk.missing.append(task_id)
                else:
                    self._place(chunk, task_id, task)
                if len(chunk.tasks) >= batch:
                    yield chunk
                    chunk = None
            if chunk is not None:  # the page's rest, if only to move the cursor past skipped tasks
                yield chunk

    # Predicting --------------------------------------------------------------------------------
    def _predict_tasks(self, tasks: list[dict[str, Any]]) -> tuple[list[Any], dict[int, str]]:
        # The job's calls hold only its share of the model server's places: the rest stay free for
        # interactive /predict calls of the web workers.
        with background_calls():
            outcome = model_predict_outcome(
                slug=self.slug, tasks=tasks, uid=self.uid, label_config=self.label_config, params={}
            )
        return outcome.results, outcome.failures

    def predict(self, chunk: Chunk) -> Predicted:
        try:
            hot_path_sync()
            try:
                with self.timed("predict"):
                    results, failures = self._predict_tasks(chunk.tasks)
            except FATAL:
                raise
            except HubError as exc:
                if len(chunk.tasks) == 1:
                    results, failures = [None], {0: str(exc.detail)}
                else:
                    # One bad task (unreadable media, an input the model chokes on) fails a whole batch:
                    # ask for each task alone, so only the bad ones fail.
                    results, failures = [], {}
                    for position, task in enumerate(chunk.tasks):
                        try:
                            [one], failed = self._predict_tasks([task])
                        except FATAL:
                            raise
                        except HubError as single:
                            one, failed = None, {0: str(single.detail)}
                        results.append(one)
                        if failed:
                            failures[position] = failed[0]
        finally:
            connection.close()  # a pool thread: its connection must not outlive the chunk
        items: list[dict[str, Any]] = []
        written: list[int] = []
        reasons: dict[int, str] = {}
        for position, (task, result) in enumerate(zip(chunk.tasks, results, strict=True)):
            if position in failures:
                reasons[task["id"]] = failures[position]
                continue
            for prediction in result if isinstance(result, list) else [result]:
                items.append(
                    {
                        "task": task["id"],
                        "result": prediction.get("result") or [],
                        "score": prediction.get("score"),
                        "model_version": prediction.get("model_version") or self.version,
                    }
                )
            written.append(task["id"])
        return Predicted(items=items, written=written, failures=reasons)

    # Writing -----------------------------------------------------------------------------------
    def _owned(self) -> Any:
        return PreannotationJob.objects.filter(pk=self.job.pk, status=Status.RUNNING, worker=self.worker)

    def write(self, batch: list[tuple[Chunk, Predicted]]) -> None:
        """Write consecutive chunks at once: each import costs Label Studio a request and a transaction
        besides its predictions, so fewer, larger imports are faster."""
        chunk = Chunk(last_id=batch[-1][0].last_id)
        predicted = Predicted(items=[], written=[], failures={})
        for part, outcome in batch:
            chunk.replaces.update(part.replaces)
            chunk.skipped += part.skipped
            chunk.recovered += part.recovered
            chunk.missing.extend(part.missing)
            predicted.items.extend(outcome.items)
            predicted.written.extend(outcome.written)
            predicted.failures.update(outcome.failures)
        self._write(chunk, predicted)

    def _write(self, chunk: Chunk, predicted: Predicted) -> None:
        if predicted.items:
            record = {str(t): chunk.replaces.get(t, []) for t in predicted.written}
            if not self._owned().update(writing=record):
                raise JobStopped
            size = settings.HUB_PREANNOTATION_WRITE_SIZE
            with self.timed("write"):
                for start in range(0, len(predicted.items), size):
                    self.api.import_predictions(self.project_id, predicted.items[start : start + size])
        # A task that failed keeps the prediction it had.
        stale = [pid for t, ids in chunk.replaces.items() if t not in predicted.failures for pid in ids]
        with self.timed("write"):
            self.api.delete_predictions(stale)
        failures = {**predicted.failures, **dict.fromkeys(chunk.missing, "The task is not in the project.")}
        with transaction.atomic():
            PreannotationFailure.objects.bulk_create(
                [
                    PreannotationFailure(job_id=self.job.pk, ls_task_id=t, reason=r)
                    for t, r in failures.items()
                ],
                ignore_conflicts=True,
            )
            updated = self._owned().update(
                cursor=chunk.last_id,
                done=F("done") + len(predicted.written) + chunk.recovered,
                failed=F("failed") + len(failures),
                skipped=F("skipped") + chunk.skipped,
                writing={},
                busy_seconds=self.busy_before + time.monotonic() - self.started,
                heartbeat_at=timezone.now(),
                **self.timings(),
            )
            if not updated:
                raise JobStopped
        self.writing = {}

    # The run -----------------------------------------------------------------------------------
    def execute(self) -> str:
        """Run to the end of the selection or to a pause/cancel; the status the job ends in."""
        with self.timed("read"):
            project = self.api.project(self.project_id)
        self.uid, self.label_config = project.uid, project.label_config
        if self.job.selection == PreannotationJob.Selection.VIEW and not self.job.task_ids:
            assert self.job.view_id is not None  # noqa: S101 - the service requires it for views
            with self.timed("read"):
                ids = self.api.view_task_ids(
                    self.project_id, self.job.view_id, settings.HUB_PREANNOTATION_PAGE_SIZE
                )
            self.job.task_ids, self.job.total = ids, len(ids)
            PreannotationJob.objects.filter(pk=self.job.pk).update(task_ids=ids, total=len(ids))
        elif self.job.selection != PreannotationJob.Selection.ALL and self.job.total is None:
            self.job.total = len(set(self.job.task_ids))
            PreannotationJob.objects.filter(pk=self.job.pk).update(total=self.job.total)
        stopped = ""
        writer: Writer[tuple[Chunk, Predicted]] = Writer(
            f"preannotate-write-{self.job.pk}",
            self.write,
            lambda item: len(item[1].items),
            settings.HUB_PREANNOTATION_WRITE_SIZE,
            self.stop_reason,
        )
        writer.start()
        predicting: deque[tuple[Chunk, Future[Predicted]]] = deque()
        predictors = ThreadPoolExecutor(
            2, thread_name_prefix=f"preannotate-{self.job.pk}", initializer=lower_priority
        )
        with predictors:
            try:
                for chunk in prefetched(self.chunks(), ahead=2 * settings.HUB_PREANNOTATION_PAGE_SIZE // 100):
                    stopped = self.stop_reason()
                    if stopped:
                        break
                    predicting.append((chunk, predictors.submit(self.predict, chunk)))
                    while len(predicting) > 2:
                        chunk, future = predicting.popleft()
                        writer.put((chunk, future.result()))
                while predicting:
                    chunk, future = predicting.popleft()
                    writer.put((chunk, future.result()))
            finally:
                for _, pending in predicting:
                    pending.cancel()
                # Whatever happened, what was predicted and handed over is written (or fails) first.
                writer.close()
        if writer.error is not None:
            raise writer.error
        # A request that came after the last chunk was read stopped the writer all the same.
        stopped = stopped or self.stop_reason()
        if stopped == "lost":
            raise JobStopped
        if stopped:
            return Status.CANCELLED if stopped == "cancel" else Status.PAUSED
        return Status.SUCCEEDED
