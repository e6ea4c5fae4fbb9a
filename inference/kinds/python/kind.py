"""The ``python`` kind: validation, check, predict (batched as the model prefers), training, versions."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.exceptions import ValidationError

from core.errors import MediaUnavailable, ModelFailed, ModelLoadFailed
from inference.kinds.base import run_result_of
from inference.kinds.python.loading import (
    DatabaseStateStore,
    batch_size_of,
    build_instance,
    instance_for,
    load_model_class,
)
from inference.kinds.python.training import fit
from inference.predictions import Aligned, predictions_aligned
from registry.hot_path import cached
from registry.kinds import CheckResult, ModelKind, PredictCall, Prediction, Progress, RunResult
from registry.models import ModelProject, ModelState, RegisteredModel, TrainingJob
from wow_ai_hub.events import DEFAULT_TRAIN_EVENTS
from wow_ai_hub.media import MediaError
from wow_ai_hub.model import declared_model_version
from wow_ai_hub.state import MemoryStateStore

logger = logging.getLogger(__name__)


class PythonKind(ModelKind):
    name = "python"
    label = "Python model (SDK class)"
    short_label = "Python"
    target_field = "import_path"
    fieldset = ("Python model", ("import_path", "params"))
    supports_training = True

    def validate(self, model: RegisteredModel) -> None:
        path = model.import_path.strip()
        if "." not in path or any(not part.isidentifier() for part in path.split(".")):
            raise ValidationError(
                {"import_path": "Give the dotted path of the model class, e.g. package.module.ClassName."}
            )

    def describe(self, model: RegisteredModel) -> str:
        return model.import_path.rsplit(".", 1)[-1]

    def check(self, model: RegisteredModel) -> CheckResult:
        started = time.perf_counter()
        try:
            instance = build_instance(
                model, state=MemoryStateStore(), project_id=None, label_config=None, parsed_config=None
            )
        except ModelLoadFailed as exc:
            return CheckResult.failure(started=started, message=str(exc.detail))
        latency_ms = (time.perf_counter() - started) * 1000
        name = type(instance).__name__
        return CheckResult(
            ok=True,
            latency_ms=latency_ms,
            message=f"Loaded {name} in {latency_ms:.0f} ms.",
            details={"class": name},
        )

    def predict(self, call: PredictCall) -> RunResult:
        instance = instance_for(call.model, call.link, call.label_config, call.parsed_config, call.state)
        size = batch_size_of(instance, len(call.tasks))

        def ask(batch: list[dict[str, Any]]) -> Any:
            try:
                return instance.predict(batch, context=call.context, **call.params)
            except MediaError as exc:  # from the SDK's get_local_path / preload_task_data
                logger.warning("Model %s could not read a task's media: %s", call.model.slug, exc)
                raise MediaUnavailable(
                    f"Model {call.model.slug} could not read a task's media: {exc}"
                ) from exc
            except Exception as exc:
                logger.exception("Model %s failed to predict %d task(s)", call.model.slug, len(batch))
                raise ModelFailed(f"Model {call.model.slug} failed: {type(exc).__name__}: {exc}") from exc

        per_task: list[list[Prediction]] = []
        missing: set[int] = set()
        for start in range(0, len(call.tasks), size):
            aligned = predictions_aligned(ask, call.tasks[start : start + size], model_slug=call.model.slug)
            per_task.extend(aligned.per_task)
            missing.update(start + index for index in aligned.missing)
        result = run_result_of(
            Aligned(per_task=per_task, missing=frozenset(missing)), call.tasks, model_slug=call.model.slug
        )
        if result.errors:
            logger.warning("%s", result.last_error)
        # Without a project the version a model names lives in its instance's memory only.
        if call.link is None and hasattr(instance, "own_model_version"):
            result.model_version = instance.own_model_version()
        return result

    def train(self, job: TrainingJob, link: ModelProject, progress: Progress) -> Any:
        return fit(job, link, progress)

    def train_events(self, model: RegisteredModel) -> tuple[str, ...]:
        """The events the model's class learns from (its ``TRAIN_EVENTS``)."""
        try:
            events = getattr(load_model_class(model), "TRAIN_EVENTS", DEFAULT_TRAIN_EVENTS)
        except ModelLoadFailed:
            return DEFAULT_TRAIN_EVENTS
        return tuple(e for e in events if isinstance(e, str)) if isinstance(events, list | tuple) else ()

    def own_version(self, model: RegisteredModel, link: ModelProject | None) -> str | None:
        """The version the model names itself in this project: set in its state, or its class
        attribute. Read without building it (Label Studio allows /setup 3 s), cached per stamp."""

        def load() -> str:
            stored = DatabaseStateStore(link.pk).get("model_version") if link is not None else None
            if stored:
                return stored
            try:
                return declared_model_version(load_model_class(model)) or ""
            except ModelLoadFailed:
                return ""

        key = ("own-version", model.pk, model.import_path, link.pk if link else None)
        return cached(key, load) or None

    def own_versions(self, model: RegisteredModel) -> list[str]:
        """Every version the model named itself, in any project."""
        stored = ModelState.objects.filter(model_project__model=model, key="model_version")
        versions = list(dict.fromkeys(stored.order_by("updated_at").values_list("value", flat=True)))
        try:
            declared = declared_model_version(load_model_class(model))
        except ModelLoadFailed:
            declared = None
        return ([declared] if declared and declared not in versions else []) + versions
