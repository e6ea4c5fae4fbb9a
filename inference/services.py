"""The protocol's logic: what /health, /setup, /predict, /webhook and friends do for one model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.http import Http404

from core.errors import HubError, InvalidLabelConfig
from core.metrics import PREDICTION_CACHE, TASK_ERRORS
from inference.kinds.base import regions_bounded
from inference.prediction_cache import cached_predictions, prediction_keys, predictions_store
from inference.predictions import label_studio_extras, prediction_score
from inference.validation import RegionCheck, region_check
from registry.hot_path import cached, state_stamp
from registry.kinds import ModelKind, PredictCall, Prediction, RunResult, kind_get
from registry.label_config import LabelConfigError, ParsedConfig, config_hash, label_config_parse
from registry.mapping import class_mappings_ensure
from registry.models import ModelProject, ModelVersion, RegisteredModel, TrainingJob
from registry.project_uid import ProjectUid
from registry.selectors import enabled_model_get, project_latest, project_of_model, registered_model_get
from registry.services import (
    model_project_link,
    model_project_set_access_token,
    model_project_set_extra_params,
    model_project_set_label_config,
    model_record_predictions,
    project_for_model,
    project_record_setup,
    webhook_event_store,
)
from training.tasks import training_request
from wow_ai_hub.events import DEFAULT_TRAIN_EVENTS


def _stored_events(model: RegisteredModel) -> frozenset[str]:
    """The events kept for a model: those that keep its training set (the default list) and those its
    class names; the rest of Label Studio's chatter is acknowledged only."""
    return frozenset(DEFAULT_TRAIN_EVENTS) | frozenset(_kind(model).train_events(model))


def _served_version(model: RegisteredModel, link: ModelProject | None) -> str:
    """The version /setup, /predict and /versions report: the model's own when it names one
    (SDK models), else the Hub's ``<slug>@<version>``."""
    return _kind(model).own_version(model, link) or (link.model_version if link else model.model_version)


def _parse_config(label_config: str) -> ParsedConfig:
    try:
        return label_config_parse(label_config)
    except LabelConfigError as exc:
        raise InvalidLabelConfig(str(exc)) from exc


def _kind(model: RegisteredModel) -> ModelKind:
    return kind_get(model.kind)


def _class_mappings_ensure_once(link: ModelProject, parsed: ParsedConfig, label_config: str) -> None:
    """Once per config per worker while nothing changes: a mapping it creates makes a new stamp."""

    def ensure() -> bool:
        class_mappings_ensure(link=link, parsed=parsed)
        return True

    cached(("mappings-ensured", link.pk, config_hash(label_config)), ensure)


def model_health(*, slug: str) -> dict[str, Any]:
    """Answered from the database alone: Label Studio allows /health one second."""
    model = enabled_model_get(slug=slug)
    return {
        "status": "UP",
        "model_class": _kind(model).describe(model),
        "model_version": model.model_version,
    }


def model_setup(
    *,
    slug: str,
    uid: ProjectUid | None,
    schema: str | None,
    hostname: str | None,
    access_token: str | None,
    extra_params: Any,
) -> str:
    """Record the project and its config; never builds the model (Label Studio allows /setup 3 s)."""
    model = enabled_model_get(slug=slug)
    if uid is not None:
        parsed = _parse_config(schema) if schema else {}
        project = project_record_setup(
            hostname=(hostname or "").rstrip("/"), uid=uid, label_config=schema or "", parsed=parsed
        )
        link = model_project_link(model=model, project=project)
        model_project_set_label_config(link=link, label_config=schema or "", parsed=parsed)
        model_project_set_access_token(link=link, access_token=access_token or "")
        model_project_set_extra_params(link=link, extra_params=extra_params)
        if _kind(model).uses_class_mappings:
            class_mappings_ensure(link=link, parsed=parsed)
        return _served_version(model, link)
    if schema:
        _parse_config(schema)
    return _served_version(model, None)


def _finish_prediction(prediction: Prediction, check: RegionCheck, version: str) -> tuple[Prediction, int]:
    checked = check(prediction.get("result"))
    score = prediction_score({"score": prediction.get("score"), "result": checked.kept})
    finished = {"result": checked.kept, "score": score, "model_version": version}
    return {**finished, **label_studio_extras(prediction)}, checked.dropped


def model_predict(
    *,
    slug: str,
    tasks: list[dict[str, Any]],
    uid: ProjectUid | None,
    label_config: str | None,
    params: dict[str, Any],
) -> list[Prediction | list[Prediction]]:
    """One entry per task, in task order, each with the version /setup reported."""
    return model_predict_outcome(
        slug=slug, tasks=tasks, uid=uid, label_config=label_config, params=params
    ).results


@dataclass(frozen=True)
class PredictOutcome:
    """What /predict answers, and which tasks got an empty prediction because their call failed, and why."""

    results: list[Prediction | list[Prediction]]
    failures: dict[int, str]  # task position -> reason


def model_predict_outcome(
    *,
    slug: str,
    tasks: list[dict[str, Any]],
    uid: ProjectUid | None,
    label_config: str | None,
    params: dict[str, Any],
) -> PredictOutcome:
    """``model_predict``'s answer and its per-task failures (for background pre-annotation)."""
    model = enabled_model_get(slug=slug)
    parsed = _parse_config(label_config) if label_config else None
    link: ModelProject | None = None
    if uid is not None:
        link = model_project_link(model=model, project=project_for_model(model=model, uid=uid))
        if label_config and parsed is not None:
            model_project_set_label_config(link=link, label_config=label_config, parsed=parsed)
        elif link.label_config:
            label_config, parsed = link.label_config, link.parsed_label_config
        if parsed is not None and label_config and _kind(model).uses_class_mappings:
            # /predict may come without /setup (interactive calls, test requests).
            _class_mappings_ensure_once(link, parsed, label_config)
    if not label_config or parsed is None:
        parsed, label_config = {}, label_config or "<View></View>"
    version = _served_version(model, link)
    state = state_stamp(link.pk) if link else ""
    context = params.get("context")
    # Interactive calls depend on the user's clicks: always computed.
    use_cache = model.prediction_cache and not context
    keys = (
        prediction_keys(
            model=model,
            version=version,
            link=link,
            state=state,
            mapped=_kind(model).uses_class_mappings,
            label_config=label_config,
            tasks=tasks,
        )
        if use_cache
        else []
    )
    answered = cached_predictions(keys) if use_cache else {}
    todo = [i for i in range(len(tasks)) if not use_cache or keys[i] not in answered]
    if use_cache:
        PREDICTION_CACHE.labels(model.slug, "hit").inc(len(tasks) - len(todo))
        PREDICTION_CACHE.labels(model.slug, "miss").inc(len(todo))

    run = RunResult(per_task=[])
    if todo:
        call = PredictCall(
            model=model,
            link=link,
            label_config=label_config,
            parsed_config=parsed,
            tasks=[tasks[i] for i in todo],
            context=context,
            params={k: v for k, v in params.items() if k not in ("context", "tasks")},
            state=state,
        )
        try:
            run = regions_bounded(_kind(model).predict(call), call.tasks, limit=model.regions_limit)
        except HubError as exc:
            model_record_predictions(
                model=model, link=link, predictions=0, errors=1, last_error=str(exc.detail)
            )
            raise
    if run.errors:
        TASK_ERRORS.labels(model.slug).inc(run.errors)
    if todo:  # building the model may have named its version: what its answers carry
        version = run.model_version or _served_version(model, link)

    computed: dict[int, list[Prediction]] = {}
    dropped_total = run.dropped
    check = region_check(label_config)
    for position, predictions in zip(todo, run.per_task, strict=True):
        finished = []
        for prediction in predictions:
            done, dropped = _finish_prediction(prediction, check, version)
            finished.append(done)
            dropped_total += dropped
        computed[position] = finished or [{"result": [], "score": 0.0, "model_version": version}]
    if use_cache:
        failed = {todo[index] for index in run.failed}
        predictions_store({keys[i]: computed[i] for i in computed if i not in failed})

    results: list[Prediction | list[Prediction]] = []
    for position in range(len(tasks)):
        finished = computed[position] if position in computed else answered[keys[position]]
        # Interactive suggestions are read from results[0].result: it must be one prediction, not a list.
        results.append(finished[0] if len(finished) == 1 or context else finished)
    model_record_predictions(
        model=model,
        link=link,
        predictions=len(tasks),
        dropped=dropped_total,
        unmapped=run.unmapped,
        errors=run.errors,
        last_error=run.last_error,
        class_results=run.class_results,
    )
    failures = {todo[i]: run.reasons.get(i) or run.last_error or "the model call failed" for i in run.failed}
    return PredictOutcome(results=results, failures=failures)


def _project_uid_from_payload(project: dict[str, Any] | None) -> ProjectUid | None:
    """Webhook payloads carry the project object; its id and created_at give Label Studio's project uid."""
    if not project or not isinstance(project.get("id"), int):
        return None
    created_ts = 0
    if isinstance(project.get("created_at"), str):
        try:
            created_ts = int(datetime.fromisoformat(project["created_at"].replace("Z", "+00:00")).timestamp())
        except ValueError:
            created_ts = 0
    return ProjectUid(project_id=project["id"], created_ts=created_ts)


def model_webhook(*, slug: str, action: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Store learning events before acknowledging them and ask for one (debounced) training run;
    acknowledge everything else at once. The work itself happens on a worker."""
    model = registered_model_get(slug=slug)
    if action not in _stored_events(model):
        return 200, {"status": "Unknown event", "action": action}
    project_payload = payload.get("project") if isinstance(payload.get("project"), dict) else None
    uid = _project_uid_from_payload(project_payload)
    if uid is not None and not uid.created_ts:
        # Without created_at the uid is incomplete: the event is for the project /setup made, not a new one.
        known = project_latest(ls_project_id=uid.project_id, model=model)
        if known is not None:
            uid = ProjectUid(project_id=known.ls_project_id, created_ts=known.created_ts)
    link = None
    if uid is not None and project_payload is not None:
        config = (
            project_payload.get("label_config")
            if isinstance(project_payload.get("label_config"), str)
            else None
        )
        parsed = None
        if config:
            try:
                parsed = label_config_parse(config)
            except LabelConfigError:
                config = None  # the event is still worth keeping; the config comes with /setup
        link = model_project_link(model=model, project=project_for_model(model=model, uid=uid))
        if config and parsed is not None:
            model_project_set_label_config(link=link, label_config=config, parsed=parsed)
    event, created = webhook_event_store(
        model=model, action=action, payload=payload, uid=uid, project=link.project if link else None
    )
    job = None
    # A redelivered event that no training has used yet asks again: the first delivery may have been
    # stored just before the database failed, leaving it without a job.
    if (created or event.processed_at is None) and link is not None and _kind(model).supports_training:
        job = training_request(link=link)
    return 201, {
        "status": "ok",
        "result": None,
        "event": event.pk,
        "duplicate": not created,
        "job": job.pk if job else None,
    }


def model_train_legacy(*, slug: str, payload: dict[str, Any], uid: ProjectUid | None) -> TrainingJob | None:
    """Label Studio's pre-webhook ``/train``: stored like START_TRAINING and run at once."""
    model = registered_model_get(slug=slug)
    project = project_of_model(model=model, uid=uid) if uid else None
    webhook_event_store(model=model, action="START_TRAINING", payload=payload, uid=uid, project=project)
    if project is None or not _kind(model).supports_training:
        return None
    return training_request(
        link=model_project_link(model=model, project=project),
        trigger=TrainingJob.Trigger.MANUAL,
        debounce=False,
    )


def model_job_status(*, slug: str, job_id: Any) -> dict[str, Any]:
    """A job of this model only: a caller of one model learns nothing of another's jobs."""
    model = registered_model_get(slug=slug)
    jobs = TrainingJob.objects.filter(model_project__model=model)
    job = jobs.filter(pk=job_id).first() if str(job_id).isdigit() else None
    if job is None:
        raise Http404(f"No training job {job_id!r}.")
    return {"job_status": job.status, "progress": job.progress, "error": job.error or None}


def model_versions(*, slug: str) -> list[str]:
    """The registered version and every trained one (Label Studio asks without saying which project)."""
    model = registered_model_get(slug=slug)
    trained = (
        ModelVersion.objects.filter(model_project__model=model).values_list("number", flat=True).distinct()
    )
    hub = [model.model_version] + [f"{model.model_version}.{n}" for n in sorted(set(trained))]
    return hub + [version for version in _kind(model).own_versions(model) if version not in hub]


def model_metrics(*, slug: str) -> dict[str, Any]:
    model = registered_model_get(slug=slug)
    return {
        "model_version": model.model_version,
        "predictions_total": model.predictions_total,
        "dropped_regions_total": model.dropped_regions_total,
        "errors_total": model.errors_total,
    }
