"""The ``ml_backend`` kind: an existing Label Studio ML backend, fronted by the Hub.

/health and /setup of the Hub never call it (Label Studio gives them 1 s and 3 s); the backend's own
/setup is sent once per worker, project, config and version, just before its first /predict.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from core.errors import HubError, ModelBadOutput, UpstreamBadAnswer
from inference.kinds.base import run_result_of
from inference.predictions import predictions_aligned
from registry.kinds import MODEL_SERVER_FIELDS, CheckResult, ModelKind, PredictCall, Progress, RunResult
from registry.label_config import config_hash
from registry.model_server import model_server_call
from registry.models import ModelProject, ModelState, RegisteredModel, TrainingJob, WebhookEvent
from wow_ai_hub.events import START_TRAINING

logger = logging.getLogger(__name__)

_set_up: set[tuple[Any, ...]] = set()
_set_up_lock = threading.Lock()


def _remote_setup(call: PredictCall, base: str, project_uid: str | None) -> None:
    key = (
        call.model.pk,
        call.model.version,
        call.link.pk if call.link else None,
        config_hash(call.label_config),
    )
    with _set_up_lock:
        if key in _set_up:
            return
    body: dict[str, Any] = {"project": project_uid, "schema": call.label_config}
    if call.link is not None:
        body["hostname"] = call.link.label_studio_url
        body["access_token"] = call.link.label_studio_token
        body["extra_params"] = (
            ModelState.objects.filter(model_project=call.link, key="extra_params")
            .values_list("value", flat=True)
            .first()
        )
    model_server_call(call.model, f"{base}/setup", body)
    with _set_up_lock:
        _set_up.add(key)


class MlBackendKind(ModelKind):
    name = "ml_backend"
    label = "Remote Label Studio ML backend"
    short_label = "ML backend"
    target_field = "url"
    # An ML backend lists no classes, takes no image, thresholds or extra request fields of ours.
    fieldset = (
        "Model server",
        tuple(
            name
            for name in MODEL_SERVER_FIELDS
            if name not in ("classes_url", "image_transport", "threshold", "request_extra")
        ),
    )
    supports_training = True  # its events go to the backend's own /webhook

    def validate(self, model: RegisteredModel) -> None:
        if not model.url:
            raise ValidationError({"url": "A remote ML backend needs its base URL."})

    def describe(self, model: RegisteredModel) -> str:
        return "RemoteMLBackend"

    def check(self, model: RegisteredModel) -> CheckResult:
        started = time.perf_counter()
        try:
            body = model_server_call(model, model.url.rstrip("/") + "/health")
        except HubError as exc:
            return CheckResult.failure(started=started, message=str(exc.detail))
        latency_ms = (time.perf_counter() - started) * 1000
        remote_class = body.get("model_class", "?") if isinstance(body, dict) else "?"
        return CheckResult(
            ok=True, latency_ms=latency_ms, message=f"Backend {remote_class} is up ({latency_ms:.0f} ms)."
        )

    def predict(self, call: PredictCall) -> RunResult:
        base = call.model.url.rstrip("/")
        project_uid = call.link.project.uid if call.link else None
        _remote_setup(call, base, project_uid)

        def ask(tasks: list[dict[str, Any]]) -> Any:
            body = model_server_call(
                call.model,
                f"{base}/predict",
                {
                    "tasks": tasks,
                    "project": project_uid,
                    "label_config": call.label_config,
                    "params": {**call.params, "context": call.context},
                },
            )
            if not isinstance(body, dict) or not isinstance(body.get("results"), list):
                raise UpstreamBadAnswer(
                    f"ML backend {call.model.slug} answered /predict without a results list."
                )
            return body["results"]

        try:
            aligned = predictions_aligned(ask, call.tasks, model_slug=call.model.slug)
        except ModelBadOutput as exc:
            raise UpstreamBadAnswer(str(exc.detail)) from exc
        return run_result_of(aligned, call.tasks, model_slug=call.model.slug)

    def train(self, job: TrainingJob, link: ModelProject, progress: Progress) -> None:
        """A remote ML backend learns by itself: each stored event goes to its ``/webhook`` as Label Studio
        sent it, oldest first, and is marked processed once the backend took it (2xx). A failure ends the
        run with the rest still stored, so the next run sends them, in order; none is sent twice after
        it was taken. The backend keeps its own versions."""
        events = list(
            WebhookEvent.objects.filter(
                model=link.model, project=link.project, processed_at__isnull=True
            ).order_by("received_at", "pk")
        )
        url = link.model.url.rstrip("/") + "/webhook"
        if not events and job.trigger == TrainingJob.Trigger.MANUAL:  # the admin's "Start training"
            project = {"id": link.project.ls_project_id, "label_config": link.label_config}
            model_server_call(link.model, url, {"action": START_TRAINING, "project": project})
        for sent, event in enumerate(events, start=1):
            # /train's legacy bodies carry no action: they are stored as START_TRAINING.
            model_server_call(link.model, url, {"action": event.action, **event.payload})
            WebhookEvent.objects.filter(pk=event.pk).update(processed_at=timezone.now())
            progress(sent / len(events), "")
        logger.info("Forwarded %d events of %s to %s", len(events), link, url)
