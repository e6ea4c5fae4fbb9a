"""The kinds of registered model: the interface every kind implements, and the registry of kinds.

A kind is a complete plug-in (``ModelKind``): its validation, description, connection check,
``predict``, ``train`` (when it learns from Label Studio's events), the fields it uses in the admin,
the REST API and the command line. Each lives in a package of its own; the packages are registered
in one place, an installed app's ``kinds`` module (``inference.kinds``), which this module imports on
first use, as the admin discovers ``admin`` modules: ``registry`` never imports them.

``RegisteredModel`` itself does not know the kinds (the registration services and the admin form
check a row against its kind with ``kind_validate``), so the models import nothing from here.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import ValidationError
from django.utils.module_loading import autodiscover_modules

from registry.label_config import ParsedConfig

if TYPE_CHECKING:
    from registry.models import ModelProject, RegisteredModel, TrainingJob

# One prediction as Label Studio stores it: ``result`` (a list of regions), ``score``, ``model_version``...
Prediction = dict[str, Any]
# One item of a prediction's ``result``: a region (``from_name``, ``to_name``, ``type``, ``value``...).
Region = dict[str, Any]
# A training run's progress report: the fraction done (0..1) and a message for the job's log.
Progress = Callable[[float, str], None]

# The fields of a model reached over HTTP (the kinds "http" and "ml_backend" use them, or some of them).
MODEL_SERVER_FIELDS = (
    "url",
    "classes_url",
    "auth_method",
    "auth_username",
    "auth_header_name",
    "auth_secret",
    "image_transport",
    "timeout_seconds",
    "max_concurrency",
    "max_response_bytes",
    "threshold",
    "request_extra",
)


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    latency_ms: float
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def failure(cls, *, started: float, message: str) -> CheckResult:
        """A failed check that began at ``started`` (``time.perf_counter()``)."""
        return cls(ok=False, latency_ms=(time.perf_counter() - started) * 1000, message=message)


@dataclass(frozen=True)
class PredictCall:
    """One ``/predict`` for one model, after the request has been parsed and the project resolved."""

    model: RegisteredModel
    link: ModelProject | None
    label_config: str
    parsed_config: ParsedConfig
    tasks: list[dict[str, Any]]
    context: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    state: str = ""  # the stamp of the model's state in the project (registry.hot_path.state_stamp)


@dataclass
class RunResult:
    """Per task, in task order, the predictions a model made (possibly none), and what was lost on the way."""

    per_task: list[list[Prediction]]
    unmapped: int = 0  # results of classes with no label in the project
    dropped: int = 0  # results the Hub could not draw with the project's control tags
    errors: int = 0  # tasks that got no prediction because a call failed
    last_error: str = ""
    failed: frozenset[int] = frozenset()  # indexes of those tasks (their answers are not cached)
    reasons: dict[int, str] = field(default_factory=dict)  # why each of them failed
    class_results: Counter[str] = field(default_factory=Counter)  # results per model class, mapped or not
    model_version: str | None = None  # the version the model named itself, if it did (SDK models)


class ModelKind(ABC):
    """One kind of model the Hub serves. Instances are stateless singletons, shared by all threads."""

    name: ClassVar[str]  # what ``RegisteredModel.kind`` stores
    label: ClassVar[str]  # the admin's choice, the dashboard's cards
    short_label: ClassVar[str]  # the admin's model list, where the label would not fit
    # The field that names what runs, "import_path" or "url": the command line's --import-path or
    # --url picks the first kind (in registration order) with that field, unless --kind says otherwise.
    target_field: ClassVar[str]
    # The fields this kind uses beyond those of every model, in order, under the title of their fieldset
    # in the admin (kinds with the same title share one; the page shows only the chosen kind's fields).
    fieldset: ClassVar[tuple[str, tuple[str, ...]]]
    # Whether the model's output goes through the project's class mappings (external models).
    uses_class_mappings: ClassVar[bool] = False
    # Whether Label Studio's events train it (``train``, on a worker).
    supports_training: ClassVar[bool] = False

    @abstractmethod
    def validate(self, model: RegisteredModel) -> None:
        """Raise django.core.exceptions.ValidationError if the row cannot work with this kind."""

    @abstractmethod
    def describe(self, model: RegisteredModel) -> str:
        """A short name for the model (e.g. its class), computed without loading anything."""

    @abstractmethod
    def check(self, model: RegisteredModel) -> CheckResult:
        """Load or call the model once and report; used by the admin's "Test connection"."""

    @abstractmethod
    def predict(self, call: PredictCall) -> RunResult:
        """The model's predictions for ``call.tasks``, one list per task, in task order."""

    def train(self, job: TrainingJob, link: ModelProject, progress: Progress) -> Any:
        """Learn from the link's stored events (on a worker); a result other than None becomes a new
        trained version (its metrics). Only kinds with ``supports_training`` are asked."""
        raise ValueError(f"{self.label} models do not learn from Label Studio's events.")

    def train_events(self, model: RegisteredModel) -> tuple[str, ...]:
        """Events the model asks for beyond the default training events (stored and delivered too)."""
        return ()

    def own_version(self, model: RegisteredModel, link: ModelProject | None) -> str | None:
        """The version the model names itself in this project, if it does; read without loading it."""
        return None

    def own_versions(self, model: RegisteredModel) -> list[str]:
        """Every version the model named itself, in any project."""
        return []


_kinds: dict[str, ModelKind] = {}
_discovered = False
_discover_lock = threading.Lock()


def register_kind(kind: ModelKind) -> None:
    _kinds[kind.name] = kind


def _registered() -> dict[str, ModelKind]:
    """The kinds by name; on first use, every installed app's ``kinds`` module is imported."""
    global _discovered
    if not _discovered:
        with _discover_lock:
            if not _discovered:
                _discovered = True
                autodiscover_modules("kinds")
    return _kinds


def kinds_all() -> list[ModelKind]:
    """Every kind, in registration order."""
    return list(_registered().values())


def kind_get(name: str) -> ModelKind:
    kinds = _registered()
    try:
        return kinds[name]
    except KeyError:
        raise LookupError(f"Unknown model kind {name!r}; known kinds: {', '.join(sorted(kinds))}") from None


def kind_choices() -> list[tuple[str, str]]:
    return sorted((kind.name, kind.label) for kind in kinds_all())


def kind_for_target(field_name: str) -> ModelKind:
    """The kind a model named by ``field_name`` alone ("import_path", "url") is taken to be."""
    for kind in kinds_all():
        if kind.target_field == field_name:
            return kind
    raise LookupError(f"No model kind is named by its {field_name}.")


def kind_fields() -> tuple[str, ...]:
    """The fields of every kind's fieldset, each once, in registration order."""
    return tuple(dict.fromkeys(name for kind in kinds_all() for name in kind.fieldset[1]))


def kind_validate(model: RegisteredModel) -> None:
    """Raise ValidationError unless the model's kind exists and accepts the row."""
    try:
        kind = kind_get(model.kind)
    except LookupError as exc:
        raise ValidationError({"kind": str(exc)}) from exc
    kind.validate(model)
