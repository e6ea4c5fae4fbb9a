"""The ``python`` kind: a model class written with our SDK, run in the web worker's process."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.module_loading import import_string

from core.errors import MediaUnavailable, ModelFailed, ModelLoadFailed
from inference.media import MediaError
from inference.predictions import Aligned, Prediction, predictions_aligned
from inference.runners.base import PredictCall, RunResult, run_result_of
from inference.runners.instance_cache import InstanceCache
from registry.backends import CheckResult, register_backend
from registry.hot_path import cached
from registry.label_config import config_hash
from registry.models import ModelProject, ModelState, ModelVersion, RegisteredModel
from wow_ai_hub.binding import HubBinding, bound
from wow_ai_hub.events import DEFAULT_TRAIN_EVENTS
from wow_ai_hub.model import declared_model_version
from wow_ai_hub.state import MemoryStateStore, StateStore

logger = logging.getLogger(__name__)

_instances = InstanceCache(size=lambda: settings.HUB_MODEL_CACHE_SIZE)


class DatabaseStateStore:
    """``get``/``set`` of one model in one project, in the ModelState table."""

    def __init__(self, model_project_id: int) -> None:
        self._model_project_id = model_project_id

    def get(self, key: str) -> str | None:
        return (
            ModelState.objects.filter(model_project_id=self._model_project_id, key=key)
            .values_list("value", flat=True)
            .first()
        )

    def set(self, key: str, value: str) -> None:
        # Writing what is stored already changes nothing: no new state stamp, so no rebuilt instance
        # and no cache miss for models that set their version in every ``setup``.
        if self.get(key) == value:
            return
        ModelState.objects.update_or_create(
            model_project_id=self._model_project_id, key=key, defaults={"value": value}
        )


def load_model_class(model: RegisteredModel) -> type[Any]:
    try:
        cls = import_string(model.import_path)
    except ImportError as exc:
        raise ModelLoadFailed(f"Model {model.slug}: cannot import {model.import_path!r}: {exc}") from exc
    if not isinstance(cls, type) or not callable(getattr(cls, "predict", None)):
        raise ModelLoadFailed(
            f"Model {model.slug}: {model.import_path!r} is not a model class with a predict method."
        )
    return cls


def label_studio_of(link_id: int) -> tuple[str, str, bool] | None:
    """The project's Label Studio as this model in project knows it: address, token, and whether a
    private address is trusted (``ModelProject.label_studio_url`` and ``label_studio_token``)."""
    link = ModelProject.objects.select_related("project__instance").filter(pk=link_id).first()
    if link is None or not link.label_studio_url:
        return None
    return link.label_studio_url, link.label_studio_token, link.project.instance.address_trusted


def train_output_of(link: ModelProject) -> dict[str, Any]:
    """What the fit that made the project's version in use returned ({} before any training)."""
    if not link.active_version:
        return {}
    metrics = (
        ModelVersion.objects.filter(model_project=link, number=link.active_version)
        .values_list("metrics", flat=True)
        .first()
    )
    return metrics if isinstance(metrics, dict) else {}


def build_instance(
    model: RegisteredModel,
    *,
    state: StateStore,
    project_id: str | None,
    label_config: str | None,
    parsed_config: dict[str, Any] | None,
    link_id: int | None = None,
    progress: Callable[[float, str], None] | None = None,
    model_version: str | None = None,
    train_output: dict[str, Any] | None = None,
) -> Any:
    cls = load_model_class(model)
    binding = HubBinding(
        state=state,
        model_version=model_version or model.model_version,
        params=model.params,
        parsed_label_config=parsed_config,
        label_studio=(lambda: label_studio_of(link_id)) if link_id else None,
        progress=progress,
        train_output=train_output or {},
    )
    try:
        with bound(binding):
            return cls(project_id=project_id, label_config=label_config)
    except Exception as exc:
        logger.exception("Building model %s (%s) failed", model.slug, model.import_path)
        raise ModelLoadFailed(
            f"Model {model.slug}: building {cls.__name__} failed: {type(exc).__name__}: {exc}"
        ) from exc


def instance_for(
    model: RegisteredModel,
    link: ModelProject | None,
    label_config: str,
    parsed: dict[str, Any],
    state: str = "",
) -> Any:
    """The cached instance for this model version, project, state stamp and config; built on first use
    in this worker. A new state (a ``fit`` that finished, a version switch, any ``set``) builds a new
    one, as models read what they learnt in ``__init__``/``setup``."""
    key = (
        model.pk,
        model.version,
        model.import_path,
        link.pk if link else None,
        link.active_version if link else 0,
        state,
        config_hash(label_config),
    )
    return _instances.get_or_build(
        key,
        lambda: build_instance(
            model,
            state=DatabaseStateStore(link.pk) if link else MemoryStateStore(),
            project_id=str(link.project.ls_project_id) if link else None,
            label_config=label_config,
            parsed_config=parsed,
            link_id=link.pk if link else None,
            model_version=link.model_version if link else None,
            train_output=train_output_of(link) if link else None,
        ),
    )


@register_backend
class PythonRunner:
    kind = "python"
    label = "Python model (SDK class)"
    uses_class_mappings = False
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
            return CheckResult(
                ok=False, latency_ms=(time.perf_counter() - started) * 1000, message=str(exc.detail)
            )
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


def batch_size_of(instance: Any, task_count: int) -> int:
    """The model's ``preferred_batch_size`` if it is a positive int, else the whole batch at once."""
    preferred = getattr(instance, "preferred_batch_size", None)
    if isinstance(preferred, int) and not isinstance(preferred, bool) and preferred > 0:
        return preferred
    return max(task_count, 1)
