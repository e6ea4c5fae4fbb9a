"""The SDK base class that Python models subclass.

Compatible with ``label_studio_ml.model.LabelStudioMLBase`` 2.x (and with the classic
``fit(completions, workdir)`` / ``self.train_output`` API of 1.x): a model file written for that SDK
runs in the Hub with only its ``label_studio_ml`` imports renamed to ``wow_ai_hub``. Differences, each
on purpose (the README lists them all):

* state (``get``/``set``) lives in the Hub's database per model and project, not in a local SQLite file;
* a model that names its own version (class attribute ``model_version``, or ``self.set("model_version",
  ...)``) gets it in ``/setup``, ``/predict`` and ``/versions``; one that does not gets the Hub's
  ``<slug>@<version>``; either way every prediction of an answer carries the same one;
* an instance is built once per worker and version and reused, not once per request;
* ``fit`` runs on a worker, never inside Label Studio's webhook call.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from label_studio_sdk import LabelStudio

from registry.kinds import Prediction
from registry.label_config import label_config_parse_unbounded, predicted_values
from wow_ai_hub.binding import current_binding
from wow_ai_hub.events import DEFAULT_TRAIN_EVENTS
from wow_ai_hub.label_studio import LabelStudioMixin
from wow_ai_hub.media import MediaMixin
from wow_ai_hub.response import ModelResponse
from wow_ai_hub.state import MemoryStateStore, StateStore

logger = logging.getLogger(__name__)

# First parameter names of the classic ``fit(completions, workdir=None, **kwargs)``.
CLASSIC_FIT_FIRST = {"completions", "tasks", "completions_or_tasks", "annotations"}


# Functions registered with ``@predict_fn`` / ``@update_fn``, by the module that registered them: a
# model class that does not override ``predict``/``fit`` uses those of its own module only, so in a
# Hub serving many model files one file's function never answers for another's class.
_predict_fns: dict[str, Callable[..., Any]] = {}
_update_fns: dict[str, Callable[..., Any]] = {}


def predict_fn(function: Callable[..., Any]) -> Callable[..., Any]:
    """Register ``function(tasks, context, helper=model, **kwargs)`` as ``predict`` of the model
    classes defined in the same module (label_studio_ml's functional API)."""
    _predict_fns[function.__module__] = function
    return function


def update_fn(function: Callable[..., Any]) -> Callable[..., Any]:
    """Register ``function(event, data, helper=model, **kwargs)`` as ``fit`` of the model classes
    defined in the same module."""
    _update_fns[function.__module__] = function
    return function


class JobCancelled(Exception):
    """Raised by ``report_progress`` when an administrator cancelled the training job."""


def declared_model_version(cls: type[Any]) -> str | None:
    """The version a model class names as a class attribute ``model_version``, if any."""
    for klass in cls.__mro__:
        if "model_version" in vars(klass):
            value = vars(klass)["model_version"]
            return value if isinstance(value, str) and value else None
    return None


def uses_classic_fit(cls: type[Any]) -> bool:
    """Whether the class's ``fit`` is the classic ``fit(completions, workdir=None, **kwargs)``."""
    try:
        parameters = list(inspect.signature(cls.fit).parameters.values())[1:]  # after self
    except (TypeError, ValueError):
        return False
    named = [p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return "workdir" in named or bool(named and named[0] in CLASSIC_FIT_FIRST)


def call_accepting(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``function`` with the keyword arguments its signature takes (all of them with ``**kwargs``)."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return function(*args, **kwargs)
    if not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        kwargs = {key: value for key, value in kwargs.items() if key in parameters}
    return function(*args, **kwargs)


def bumped_version(version: str) -> str:
    """The next version: a trailing ``X.Y.Z`` gets its minor bumped (``1.2.3`` -> ``1.3.0``), else a
    trailing number is incremented (``v3`` -> ``v4``), else ``.1`` is appended."""
    semver = re.search(r"(\d+)\.(\d+)\.(\d+)$", version)
    if semver:
        major, minor = semver.group(1), int(semver.group(2)) + 1
        return f"{version[: semver.start()]}{major}.{minor}.0"
    number = re.search(r"(\d+)$", version)
    if number:
        return f"{version[: number.start()]}{int(number.group(1)) + 1}"
    return f"{version}.1"


class WOWAIHUB(LabelStudioMixin, MediaMixin):
    INITIAL_MODEL_VERSION = "0.0.1"
    # The Label Studio events this model learns from (``process_event`` / ``fit``); a subclass may name
    # more, such as TASKS_CREATED or PROJECT_UPDATED, and the Hub then stores and delivers those too.
    TRAIN_EVENTS: tuple[str, ...] = DEFAULT_TRAIN_EVENTS
    # The most tasks ``predict`` is given at once; None: the whole batch Label Studio sent.
    # A model that runs on fixed-size batches (or would run out of memory) sets it; the Hub splits.
    preferred_batch_size: int | None = None

    def __init__(
        self,
        project_id: str | None = None,
        label_config: str | None = None,
        train_output: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        binding = current_binding()
        self._state: StateStore = binding.state if binding else MemoryStateStore()
        self._hub_model_version = binding.model_version if binding else None
        self._bound_parsed_config = binding.parsed_label_config if binding else None
        self.hub_params: Mapping[str, Any] = binding.params if binding else {}
        self._label_studio = binding.label_studio if binding else None
        self._progress = binding.progress if binding else None
        # What the last fit of this project returned (the version in use); {} before any training.
        self.train_output: dict[str, Any] = dict(binding.train_output if binding else train_output or {})
        self.project_id = project_id or ""
        self._label_config: str | None = None
        self._parsed_label_config: dict[str, Any] = {}
        self._label_interface: Any = None
        if label_config is not None:
            self.use_label_config(label_config)
        if not self._hub_model_version and not self.get("model_version"):
            self.set("model_version", declared_model_version(type(self)) or self.INITIAL_MODEL_VERSION)
        self.setup()

    # -- hooks a model overrides ------------------------------------------------------------------

    def setup(self) -> None:
        """Called once when the instance is built: load weights, read ``self.extra_params``."""

    def predict(
        self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Prediction] | ModelResponse | None:
        """Return one prediction per task (a dict, or a list of dicts for several), or a ModelResponse."""
        registered = _predict_fns.get(type(self).__module__)
        return registered(tasks, context, helper=self, **kwargs) if registered else []

    def fit(self, event: str, data: dict[str, Any], **kwargs: Any) -> Any:
        """Train or update from a Label Studio event; the Hub runs it in a background job.

        What it returns (a dict: metrics, checkpoint paths) is kept with the new version and is
        ``self.train_output`` of the instances built afterwards. The classic signature
        ``fit(self, completions, workdir=None, **kwargs)`` is called instead with the project's
        annotated tasks and a folder that the Hub keeps for the version."""
        registered = _update_fns.get(type(self).__module__)
        return registered(event, data, helper=self, **kwargs) if registered else None

    def process_event(
        self, event: str, data: dict[str, Any], job_id: Any = None, additional_params: Any = None
    ) -> Any:
        """Deliver one event: ``fit`` when the model learns from it (``TRAIN_EVENTS``), else nothing."""
        if event not in self.TRAIN_EVENTS:
            return None
        return call_accepting(self.fit, event, data, job_id=job_id, **(additional_params or {}))

    def report_progress(self, fraction: float, message: str = "") -> None:
        """Tell the Hub how far ``fit`` is (0..1); shown on the training job. Raises JobCancelled
        when an administrator cancelled the job, so a long fit stops at its next report."""
        if self._progress is not None:
            self._progress(min(max(float(fraction), 0.0), 1.0), message)

    # -- active learning ---------------------------------------------------------------------------

    @staticmethod
    def least_confidence(probabilities: Sequence[float]) -> float:
        """1 - max(p): high when the model is unsure of its best class."""
        return 1.0 - max(probabilities) if probabilities else 0.0

    @staticmethod
    def margin(probabilities: Sequence[float]) -> float:
        """1 - (p1 - p2) between the two best classes: high when they are close."""
        top = sorted(probabilities, reverse=True)
        return 1.0 - (top[0] - top[1]) if len(top) > 1 else 0.0

    @staticmethod
    def entropy(probabilities: Sequence[float]) -> float:
        """Shannon entropy normalised to 0..1 by log(number of classes)."""
        total = [p for p in probabilities if p > 0]
        if len(probabilities) < 2:
            return 0.0
        return float(-sum(p * math.log(p) for p in total) / math.log(len(probabilities)))

    # -- label config -----------------------------------------------------------------------------

    def use_label_config(self, label_config: str) -> None:
        self._label_config = label_config
        self._label_interface = None
        if self._bound_parsed_config is not None:
            self._parsed_label_config = dict(self._bound_parsed_config)
        else:
            self._parsed_label_config = label_config_parse_unbounded(label_config)

    @property
    def label_config(self) -> str | None:
        return self._label_config

    @property
    def parsed_label_config(self) -> dict[str, Any]:
        return self._parsed_label_config

    @property
    def label_interface(self) -> Any:
        """label-studio-sdk's ``LabelInterface`` for the config, built on first use."""
        if self._label_interface is None and self._label_config is not None:
            from label_studio_sdk.label_interface.interface import LabelInterface

            self._label_interface = LabelInterface(config=self._label_config)
        return self._label_interface

    @label_interface.setter
    def label_interface(self, value: Any) -> None:
        self._label_interface = value

    def get_first_tag_occurence(
        self,
        control_type: str | tuple[str, ...],
        object_type: str | tuple[str, ...],
        name_filter: Callable[[str], bool] | None = None,
        to_name_filter: Callable[[str], bool] | None = None,
    ) -> tuple[str, str, str]:
        """``(from_name, to_name, data key)`` of the first ``control_type`` control on an ``object_type``."""
        if self.label_interface is None:
            raise ValueError("The model has no label config yet.")
        result: tuple[str, str, str] = self.label_interface.get_first_tag_occurence(
            control_type=control_type,
            object_type=object_type,
            name_filter=name_filter,
            to_name_filter=to_name_filter,
        )
        return result

    def build_label_map(self, tag_name: str, names: list[str]) -> dict[str, str]:
        """Map model class names onto the labels of control ``tag_name``.

        A label's ``predicted_values="car, truck"`` attribute names the model classes it takes;
        otherwise a class whose name equals the label (exactly, then case-insensitively) maps to it.
        """
        control = self._parsed_label_config.get(tag_name)
        if control is None:
            raise KeyError(f"No control tag named {tag_name!r} in the label config.")
        by_lower = {name.lower(): name for name in names}
        label_map: dict[str, str] = {}
        for label, attrs in control.get("labels_attrs", {}).items():
            matched = [value for value in predicted_values(attrs) if value in names]
            for value in matched:
                label_map[value] = label
            if matched:
                continue
            if label in names:
                label_map[label] = label
            elif label.lower() in by_lower:
                label_map[by_lower[label.lower()]] = label
        return label_map

    # -- state ------------------------------------------------------------------------------------

    def get(self, key: str) -> str | None:
        return self._state.get(key)

    def set(self, key: str, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(
                f"State values are strings; encode {type(value).__name__} first (e.g. json.dumps)."
            )
        self._state.set(key, value)

    def has(self, key: str) -> bool:
        return self._state.get(key) is not None

    def own_model_version(self) -> str | None:
        """The version the model names itself (``self.set("model_version", ...)`` or the class
        attribute), or None: then the Hub's ``<slug>@<version>`` is used."""
        if self._hub_model_version is None:
            return self.get("model_version")
        return self.get("model_version") or declared_model_version(type(self))

    @property
    def model_version(self) -> str | None:
        return self.own_model_version() or self._hub_model_version

    def bump_model_version(self) -> str:
        """Give the model the next version of its own (see ``bumped_version``) and return it."""
        current = self.own_model_version() or self.INITIAL_MODEL_VERSION
        version = bumped_version(str(current))
        logger.debug("Bumping the model version from %s to %s", current, version)
        self.set("model_version", version)
        return version

    def set_extra_params(self, extra_params: Any) -> None:
        self.set("extra_params", extra_params if isinstance(extra_params, str) else json.dumps(extra_params))

    @property
    def extra_params(self) -> dict[str, Any]:
        """Label Studio's ``extra_params`` for this project, as a dict ({} if none or not an object)."""
        raw = self.get("extra_params")
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            logger.warning("extra_params of project %s is not JSON; ignoring it", self.project_id)
            return {}
        return value if isinstance(value, dict) else {}


# The name code written for Label Studio's ML SDK expects.
LabelStudioMLBase = WOWAIHUB

# Names label_studio_ml.model also offers: label-studio-sdk's client and the response class.
__all__ = [
    "WOWAIHUB",
    "JobCancelled",
    "LabelStudio",
    "LabelStudioMLBase",
    "ModelResponse",
    "predict_fn",
    "update_fn",
]
