"""The ``http`` kind: an external model server speaking V7's BYOM contract (POST infer, GET classes):
each task's image sent, its results drawn in the project's labels through the class mappings."""

from __future__ import annotations

import base64
import contextvars
import io
import logging
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from core.errors import HubError
from inference.kinds.base import too_many_regions
from inference.kinds.http.v7 import (
    ImageSize,
    RegionTarget,
    V7ResponseError,
    parse_v7_response,
    v7_class_key,
    v7_result_to_regions,
)
from inference.media import LabelStudioAccess, prepare_image, resolve_media
from registry.hot_path import cached_mappings
from registry.kinds import MODEL_SERVER_FIELDS, CheckResult, ModelKind, PredictCall, Prediction, RunResult
from registry.label_config import ParsedConfig
from registry.model_server import circuit_breaker, model_server_call
from registry.models import ImageTransport, RegisteredModel
from wow_ai_hub.media import MediaError

logger = logging.getLogger(__name__)


@dataclass
class TaskOutcome:
    predictions: list[Prediction] = field(default_factory=list)
    unmapped: int = 0
    dropped: int = 0
    error: str = ""
    class_results: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class ProjectView:
    """What the runner needs from the project, read from the database before fanning out."""

    image_key: str | None
    targets: dict[str, tuple[RegionTarget, float]]  # class name -> where it goes, threshold
    access: LabelStudioAccess | None


def _image_key(parsed: ParsedConfig) -> str | None:
    for control in parsed.values():
        for source in control.get("inputs", []):
            if source.get("type") == "Image" and source.get("value"):
                return str(source["value"])
    return None


def _textarea_for(parsed: ParsedConfig, to_name: str) -> str | None:
    return next(
        (
            name
            for name, control in parsed.items()
            if control.get("type") == "TextArea" and to_name in control.get("to_name", [])
        ),
        None,
    )


def project_view(call: PredictCall) -> ProjectView:
    parsed = call.parsed_config
    targets: dict[str, tuple[RegionTarget, float]] = {}
    access = None
    if call.link is not None:
        if call.link.label_studio_url:
            access = LabelStudioAccess(
                base_url=call.link.label_studio_url,
                token=call.link.label_studio_token,
                private_address_ok=call.link.project.instance.address_trusted,
            )
        for mapping in cached_mappings(call.link):
            control = parsed.get(mapping.from_name)
            if control is None or not control.get("to_name"):
                continue  # the config changed since the mapping was made
            to_name = control["to_name"][0]
            target = RegionTarget(
                from_name=mapping.from_name,
                to_name=to_name,
                control_type=str(control["type"]),
                label=mapping.label,
                textarea_from_name=_textarea_for(parsed, to_name),
            )
            threshold = mapping.threshold if mapping.threshold is not None else call.model.threshold
            targets[mapping.model_class.name] = (target, threshold)
    return ProjectView(image_key=_image_key(parsed), targets=targets, access=access)


def image_payload(model: RegisteredModel, value: str, content: bytes) -> dict[str, Any]:
    if model.image_transport == ImageTransport.URL and value.startswith(("http://", "https://")):
        return {"url": value}
    return {"base64": base64.b64encode(content).decode()}


def predict_task(model: RegisteredModel, task: dict[str, Any], view: ProjectView) -> TaskOutcome:
    if view.image_key is None:
        return TaskOutcome(error="the label config has no Image tag for this model")
    value = (task.get("data") or {}).get(view.image_key)
    if not isinstance(value, str) or not value:
        return TaskOutcome(error=f"task {task.get('id')} has no image under data.{view.image_key}")
    try:
        content, _ = resolve_media(value, task_id=task.get("id"), access=view.access)
        image = prepare_image(content)
        payload = {**model.request_extra, "image": image_payload(model, value, image.content)}
        results = parse_v7_response(model_server_call(model, model.url, payload))
    except (MediaError, HubError, V7ResponseError) as exc:
        detail = exc.detail if isinstance(exc, HubError) else exc
        return TaskOutcome(error=f"task {task.get('id')}: {detail}")
    if len(results) > model.regions_limit:  # refused before drawing: each drawn region costs memory
        return TaskOutcome(
            error=f"task {task.get('id')}: {too_many_regions(len(results), model.regions_limit)}"
        )
    try:
        return _draw(results, view, ImageSize(image.width, image.height))
    except (ArithmeticError, ValueError, TypeError) as exc:  # one odd answer costs its task, not the batch
        logger.warning("Model %s: task %s: cannot draw the answer", model.slug, task.get("id"), exc_info=True)
        return TaskOutcome(error=f"task {task.get('id')}: the model server's answer cannot be drawn: {exc}")


def _draw(results: list[dict[str, Any]], view: ProjectView, size: ImageSize) -> TaskOutcome:
    """The regions of one task's V7 results, in the project's labels."""
    outcome = TaskOutcome()
    regions: list[dict[str, Any]] = []
    for result in results:
        key = v7_class_key(result)
        if key:
            outcome.class_results[key] += 1
        mapped = view.targets.get(key) if key else None
        if mapped is None:
            outcome.unmapped += 1
            continue
        target, threshold = mapped
        if float(result.get("confidence", 0.0)) < threshold:
            continue
        drawn = v7_result_to_regions(result, target=target, image=size, region_id=uuid.uuid4().hex[:10])
        if drawn is None:
            outcome.dropped += 1
            continue
        regions.extend(drawn)
    outcome.predictions = [{"result": regions}]
    return outcome


class HttpKind(ModelKind):
    name = "http"
    label = "External model server (V7 BYOM)"
    short_label = "External (V7)"
    target_field = "url"
    fieldset = ("Model server", MODEL_SERVER_FIELDS)
    uses_class_mappings = True
    supports_training = False  # V7's contract has no training

    def validate(self, model: RegisteredModel) -> None:
        if not model.url:
            raise ValidationError({"url": "An external model needs its inference URL."})

    def describe(self, model: RegisteredModel) -> str:
        return "ExternalModel"

    def check(self, model: RegisteredModel) -> CheckResult:
        from PIL import Image, ImageDraw

        picture = Image.new("RGB", (64, 64), "white")
        ImageDraw.Draw(picture).rectangle((16, 16, 47, 47), fill="black")
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        payload = {**model.request_extra, "image": {"base64": base64.b64encode(buffer.getvalue()).decode()}}
        started = time.perf_counter()
        try:
            results = parse_v7_response(model_server_call(model, model.url, payload))
        except (HubError, V7ResponseError) as exc:
            detail = exc.detail if isinstance(exc, HubError) else exc
            return CheckResult.failure(started=started, message=str(detail))
        latency_ms = (time.perf_counter() - started) * 1000
        seen = sorted({key for key in map(v7_class_key, results) if key})
        message = f"Answered a 64x64 test image in {latency_ms:.0f} ms with {len(results)} result(s)"
        message += f": {', '.join(seen)}." if seen else "."
        # The image and its boxes, so the admin can draw what the model saw.
        boxes = [
            {"label": v7_class_key(r), "confidence": r.get("confidence"), **r["bounding_box"]}
            for r in results
            if isinstance(r.get("bounding_box"), dict)
        ]
        details = {
            "classes": seen,
            "image": "data:image/png;base64," + payload["image"]["base64"],
            "boxes": boxes,
        }
        return CheckResult(ok=True, latency_ms=latency_ms, message=message, details=details)

    def predict(self, call: PredictCall) -> RunResult:
        # An open breaker fails the whole /predict at once (503), rather than every task one by one.
        circuit_breaker(call.model).check()
        view = project_view(call)
        if len(call.tasks) == 1:  # interactive calls and single tasks: no pool to start
            outcomes = [predict_task(call.model, call.tasks[0], view)]
        else:
            # Twice the bulkhead: while max_concurrency threads wait on the model server, the others
            # fetch and prepare the next images, so the server never waits on the Hub.
            workers = max(1, min(len(call.tasks), 2 * call.model.max_concurrency))
            # Each call runs in the caller's context, so a background job's calls stay the job's
            # (registry.model_server.background_calls) on the pool's threads too.
            context = contextvars.copy_context()
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"hub-{call.model.slug}") as pool:
                outcomes = list(
                    pool.map(
                        lambda task: context.copy().run(predict_task, call.model, task, view), call.tasks
                    )
                )
        errors = [o.error for o in outcomes if o.error]
        for error in errors[:3]:
            logger.warning("Model %s: %s", call.model.slug, error)
        return RunResult(
            per_task=[o.predictions for o in outcomes],
            unmapped=sum(o.unmapped for o in outcomes),
            dropped=sum(o.dropped for o in outcomes),
            errors=len(errors),
            last_error=errors[-1] if errors else "",
            failed=frozenset(index for index, outcome in enumerate(outcomes) if outcome.error),
            reasons={index: outcome.error for index, outcome in enumerate(outcomes) if outcome.error},
            class_results=sum((o.class_results for o in outcomes), Counter()),
        )
