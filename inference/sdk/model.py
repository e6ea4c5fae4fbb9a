"""The SDK base class that Python models subclass.

Compatible with ``label_studio_ml.model.LabelStudioMLBase`` 2.x: a model file written for that SDK
runs in the Hub with only its ``label_studio_ml`` imports changed. Differences, each on purpose:

* state (``get``/``set``) lives in the Hub's database per model and project, not in a local SQLite file;
* the Hub owns ``model_version`` (``<slug>@<version>``), so ``/setup`` and every prediction agree;
* an instance is built once per worker and reused, not once per request.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from inference.sdk.binding import current_binding
from inference.sdk.response import ModelResponse
from inference.sdk.state import MemoryStateStore, StateStore
from registry.label_config import label_config_parse_unbounded

logger = logging.getLogger(__name__)

Prediction = dict[str, Any]
# Strings in task data that name media rather than being the data itself.
MEDIA_PREFIXES = (
    "http://",
    "https://",
    "data:",
    "/data/",
    "upload/",
    "/upload/",
    "/storage-data/",
    "s3://",
    "gs://",
    "azure-blob://",
)


class JobCancelled(Exception):
    """Raised by ``report_progress`` when an administrator cancelled the training job."""


class WOWAIHUB:
    INITIAL_MODEL_VERSION = "0.0.1"
    TRAIN_EVENTS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATION_DELETED", "START_TRAINING")
    # The most tasks ``predict`` is given at once; None: the whole batch Label Studio sent.
    # A model that runs on fixed-size batches (or would run out of memory) sets it; the Hub splits.
    preferred_batch_size: int | None = None

    def __init__(self, project_id: str | None = None, label_config: str | None = None, **kwargs: Any) -> None:
        binding = current_binding()
        self._state: StateStore = binding.state if binding else MemoryStateStore()
        self._hub_model_version = binding.model_version if binding else None
        self._bound_parsed_config = binding.parsed_label_config if binding else None
        self.hub_params: Mapping[str, Any] = binding.params if binding else {}
        self._label_studio = binding.label_studio if binding else None
        self._progress = binding.progress if binding else None
        self.project_id = project_id or ""
        self._label_config: str | None = None
        self._parsed_label_config: dict[str, Any] = {}
        self._label_interface: Any = None
        if label_config is not None:
            self.use_label_config(label_config)
        if not self._hub_model_version and not self.get("model_version"):
            self.set("model_version", self.INITIAL_MODEL_VERSION)
        self.setup()

    # -- hooks a model overrides ------------------------------------------------------------------

    def setup(self) -> None:
        """Called once when the instance is built: load weights, read ``self.extra_params``."""

    def predict(
        self, tasks: list[dict[str, Any]], context: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Prediction] | ModelResponse | None:
        """Return one prediction per task (a dict, or a list of dicts for several), or a ModelResponse."""
        return []

    def fit(self, event: str, data: dict[str, Any], **kwargs: Any) -> Any:
        """Train or update from a Label Studio event; the Hub runs it in a background job."""
        return None

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
            predicted = [v.strip() for v in str(attrs.get("predicted_values", "")).split(",") if v.strip()]
            matched = [value for value in predicted if value in names]
            for value in matched:
                label_map[value] = label
            if matched:
                continue
            if label in names:
                label_map[label] = label
            elif label.lower() in by_lower:
                label_map[by_lower[label.lower()]] = label
        return label_map

    # -- media ----------------------------------------------------------------------------------------

    def get_local_path(
        self,
        url: str,
        project_dir: str | None = None,
        ls_host: str | None = None,
        ls_access_token: str | None = None,
        task_id: int | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> str:
        """Download a task's media (URL, Label Studio path, cloud URI, data: URI) once; its local path.

        Label Studio's address and token default to the project's, as the Hub learned them from
        /setup and the admin."""
        from django.conf import settings

        from inference.media import LabelStudioAccess, resolve_media

        host, token, trusted = (self._label_studio() if self._label_studio else None) or ("", "", False)
        # An address the model's own code passes is as trusted as that code.
        host, token, trusted = (
            (ls_host or host).rstrip("/"),
            ls_access_token or token,
            trusted or bool(ls_host),
        )
        name = url.rsplit("/", 1)[-1].split("?")[0][-80:] if not url.startswith("data:") else "inline"
        cache_dir = Path(project_dir) if project_dir else settings.DATA_DIR / "media-cache"
        path = cache_dir / f"{hashlib.md5(url.encode(), usedforsecurity=False).hexdigest()[:8]}__{name}"
        if not path.exists():
            content, _ = resolve_media(
                url, task_id=task_id, access=LabelStudioAccess(host, token, trusted) if host else None
            )
            cache_dir.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(path.suffix + ".part")
            partial.write_bytes(content)
            partial.replace(path)  # readers never see half a file
        return str(path)

    def preload_task_data(self, task: dict[str, Any], value: Any = None, read_file: bool = True) -> Any:
        """``value`` (default ``task["data"]``) with every media reference replaced by the file's text,
        or by its local path when ``read_file`` is false."""
        value = task.get("data") if value is None else value
        if isinstance(value, dict):
            return {key: self.preload_task_data(task, item, read_file) for key, item in value.items()}
        if isinstance(value, list):
            return [self.preload_task_data(task, item, read_file) for item in value]
        if isinstance(value, str) and value.startswith(MEDIA_PREFIXES):
            path = self.get_local_path(value, task_id=task.get("id"))
            return Path(path).read_text() if read_file else path
        return value

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

    @property
    def model_version(self) -> str | None:
        return self._hub_model_version or self.get("model_version")

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
