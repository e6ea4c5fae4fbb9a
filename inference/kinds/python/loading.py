"""Loading a Python model: its class from its dotted path, an instance built per worker, model version,
project, state and label config (cached), and its state in the database."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from core.errors import ModelLoadFailed
from inference.kinds.python.instance_cache import InstanceCache
from registry.label_config import config_hash
from registry.models import ModelProject, ModelState, ModelVersion, RegisteredModel
from training.annotations import training_workdir
from training.workdirs import workdir_restore
from wow_ai_hub.binding import HubBinding, bound
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
    """What the fit that made the project's version in use returned ({} before any training), with
    the files of its ``workdir`` on this host (fetched from the training storage if one is set)."""
    if not link.active_version:
        return {}
    version = (
        ModelVersion.objects.filter(model_project=link, number=link.active_version)
        .select_related("job")
        .first()
    )
    if version is None:
        return {}
    if version.job is not None:
        workdir_restore(training_workdir(version.job, link))
    return version.metrics if isinstance(version.metrics, dict) else {}


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


def batch_size_of(instance: Any, task_count: int) -> int:
    """The model's ``preferred_batch_size`` if it is a positive int, else the whole batch at once."""
    preferred = getattr(instance, "preferred_batch_size", None)
    if isinstance(preferred, int) and not isinstance(preferred, bool) and preferred > 0:
        return preferred
    return max(task_count, 1)
