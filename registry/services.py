from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework import status

from core.errors import HubError, UpstreamBadAnswer
from registry.audit import audit_record
from registry.counters import counter_buffer
from registry.hot_path import cached, state_stamp_renew
from registry.kinds import CheckResult, kind_get
from registry.label_config import ParsedConfig, config_hash
from registry.model_server import model_server_call
from registry.models import (
    LabelStudioInstance,
    ModelClass,
    ModelProject,
    ModelState,
    ModelVersion,
    Project,
    RegisteredModel,
    WebhookEvent,
)
from registry.project_uid import ProjectUid
from registry.registration import registered_model_create
from registry.selectors import project_of_model

# How precisely "last seen" times are kept: finer would make every /setup a write.
SEEN_RESOLUTION = timedelta(minutes=1)


def project_record_setup(
    *, hostname: str, uid: ProjectUid, label_config: str, parsed: ParsedConfig
) -> Project:
    """Remember the Label Studio instance and project that called /setup, with its current config
    (the token it sent belongs to the calling model's link: ``model_project_set_access_token``).

    Label Studio calls /setup often (each project page, each settings view). A call that brings
    nothing new only reads: on SQLite a write transaction takes the database's one write lock, so
    the rows are marked as seen at most once a minute, and only a new config is saved as a change
    (audited, and a new hot-path stamp)."""
    now = timezone.now()
    digest = config_hash(label_config)
    known: Project | None = cached(
        ("setup-project", hostname, uid.project_id, uid.created_ts),
        lambda: (
            Project.objects.select_related("instance")
            .filter(instance__hostname=hostname, ls_project_id=uid.project_id, created_ts=uid.created_ts)
            .first()
        ),
    )
    if (
        known is not None
        and known.config_hash == digest
        and known.label_config == label_config
        and now - known.last_seen_at < SEEN_RESOLUTION
        and now - known.instance.last_seen_at < SEEN_RESOLUTION
    ):
        return known
    with transaction.atomic():
        instance, _ = LabelStudioInstance.objects.get_or_create(hostname=hostname)
        LabelStudioInstance.objects.filter(pk=instance.pk).update(last_seen_at=now)
        project, created = Project.objects.get_or_create(
            instance=instance,
            ls_project_id=uid.project_id,
            created_ts=uid.created_ts,
            defaults={"label_config": label_config, "parsed_label_config": parsed, "config_hash": digest},
        )
        if not created and (project.config_hash != digest or project.label_config != label_config):
            project.label_config, project.parsed_label_config, project.config_hash = (
                label_config,
                parsed,
                digest,
            )
            project.save()
        elif not created:
            Project.objects.filter(pk=project.pk).update(last_seen_at=now)
    if known is not None:
        # Seen times are not stamped (they move all the time): the cached rows learn them here, so
        # this worker writes them again a minute later, not on every call from now on.
        known.last_seen_at = known.instance.last_seen_at = now
    return project


def project_for_model(*, model: RegisteredModel, uid: ProjectUid) -> Project:
    """The project a /predict, /webhook or /train names, as this model knows it; if this model's /setup
    never came (interactive calls, test requests), the project of an unknown Label Studio."""
    project = project_of_model(model=model, uid=uid)
    if project is None:
        instance, _ = LabelStudioInstance.objects.get_or_create(hostname="")
        project, _ = Project.objects.get_or_create(
            instance=instance, ls_project_id=uid.project_id, created_ts=uid.created_ts
        )
    return project


def model_project_link(*, model: RegisteredModel, project: Project) -> ModelProject:
    """The model's link to the project, made on first use. Its ``last_seen_at`` moves with each
    /predict's counters (``model_record_predictions``), not with every read."""

    def load() -> ModelProject:
        try:
            link, _ = ModelProject.objects.get_or_create(model=model, project=project)
        except IntegrityError:  # another worker linked them first
            link = ModelProject.objects.get(model=model, project=project)
        link.model, link.project = model, project  # callers read both; spare the queries
        return link

    return cached(("link", model.pk, project.pk), load)


def model_project_set_label_config(*, link: ModelProject, label_config: str, parsed: ParsedConfig) -> None:
    """Keep the label config this model's own call sent as the model's view of the project (what it
    serves, maps and trains by); written when it changes."""
    digest = config_hash(label_config)
    if label_config and (link.config_hash != digest or link.label_config != label_config):
        link.label_config, link.parsed_label_config, link.config_hash = label_config, parsed, digest
        link.save(update_fields=["label_config", "parsed_label_config", "config_hash"])


def model_project_set_access_token(*, link: ModelProject, access_token: str) -> None:
    """Keep the token this model's /setup sent, for this model's calls to Label Studio only; written
    when it changes."""
    if access_token and access_token != link.access_token:
        link.access_token = access_token
        link.save(update_fields=["access_token"])


def model_project_set_extra_params(*, link: ModelProject, extra_params: Any) -> None:
    """Keep Label Studio's extra_params where the SDK's ``extra_params`` reads them (a JSON string);
    written only when they change (a write is the database's one lock on SQLite)."""

    def stored() -> QuerySet[ModelState]:
        return ModelState.objects.filter(model_project=link, key="extra_params")

    # "" stands for none stored (the cache keeps no None).
    current = cached(
        ("extra-params", link.pk), lambda: stored().values_list("value", flat=True).first() or ""
    )
    if extra_params in (None, ""):
        value = ""
    else:
        value = extra_params if isinstance(extra_params, str) else json.dumps(extra_params)
    if value == current:
        return
    if value:
        ModelState.objects.update_or_create(model_project=link, key="extra_params", defaults={"value": value})
    else:
        stored().delete()


def model_record_predictions(
    *,
    model: RegisteredModel,
    link: ModelProject | None,
    predictions: int,
    dropped: int = 0,
    unmapped: int = 0,
    errors: int = 0,
    last_error: str = "",
    class_results: Counter[str] | None = None,
) -> None:
    """Add one /predict's counts to the model and to the model in its project (written in batches),
    and the results it gave per class there."""
    counts = {
        "predictions_total": predictions,
        "dropped_regions_total": dropped,
        "unmapped_total": unmapped,
        "errors_total": errors,
    }
    counter_buffer.add(model, counts, last_error)
    if link is not None:
        counter_buffer.add(link, counts, last_error)
        if class_results:
            counter_buffer.add_class_results(link.pk, class_results)


def model_check(*, model: RegisteredModel) -> CheckResult:
    """Load or call the model once and report, recording nothing (the row may not be saved yet)."""
    started = time.perf_counter()
    try:
        return kind_get(model.kind).check(model)
    except Exception as exc:  # a check must report, whatever the backend raised
        return CheckResult.failure(started=started, message=f"{type(exc).__name__}: {exc}")


def model_check_connection(*, model: RegisteredModel) -> CheckResult:
    """Load or call the model once and record the outcome on its row (without overwriting admin edits)."""
    result = model_check(model=model)
    RegisteredModel.objects.filter(pk=model.pk).update(
        last_check_ok=result.ok,
        last_check_latency_ms=result.latency_ms,
        last_check_error="" if result.ok else result.message,
        last_checked_at=timezone.now(),
    )
    return result


def webhook_event_store(
    *,
    model: RegisteredModel,
    action: str,
    payload: dict[str, Any],
    uid: ProjectUid | None,
    project: Project | None,
) -> tuple[WebhookEvent, bool]:
    """Store an event (of ``project``, as the model knows it) before it is acknowledged; the same body
    delivered twice is one event."""
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.create(
                model=model,
                project=project,
                action=action,
                ls_project_id=uid.project_id if uid else None,
                payload=payload,
                payload_sha256=digest,
            )
    except IntegrityError:
        return WebhookEvent.objects.get(model=model, payload_sha256=digest), False
    return event, True


def connection_key_issue(*, model: RegisteredModel, actor: str) -> str:
    """A new connection key for ``/ml/<slug>/k/<key>``, replacing the model's old one: only its hash is
    stored, so the caller shows it once (on a page or in an API answer, never in a cookie or a log).
    The admin, the CLI and the REST API all issue keys through here."""
    key = model.new_connection_key()
    RegisteredModel.objects.filter(pk=model.pk).update(connection_key_hash=model.connection_key_hash)
    audit_record(
        actor=actor, action="new_connection_key", obj=model, changes={"connection_key_hash": "changed"}
    )
    return key


def registered_model_register(
    *,
    name: str,
    slug: str,
    kind: str,
    import_path: str = "",
    url: str = "",
    params: dict[str, Any] | None = None,
    description: str = "",
    actor: str | None = None,
) -> tuple[RegisteredModel, bool]:
    """Register a model unless its slug exists (an existing row, maybe edited in the admin, is kept)."""
    existing = RegisteredModel.objects.filter(slug=slug).first()
    if existing is not None:
        return existing, False
    model = registered_model_create(
        actor=actor,
        name=name,
        slug=slug,
        kind=kind,
        import_path=import_path,
        url=url,
        params=params or {},
        description=description,
    )
    return model, True


class NotAModelServer(HubError):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "not_a_model_server"


@dataclass(frozen=True)
class FetchedClasses:
    created: int
    updated: int
    total: int


def model_server_classes(*, model: RegisteredModel) -> list[tuple[str, str]]:
    """The (name, type) pairs the model server's ``GET .../classes`` lists (``[{"name", "type"}, ...]``);
    an unknown type reads as "tag". Stores nothing, so a registration can be tried before it is saved."""
    if not model.url:
        raise NotAModelServer(f"{model.slug}: only model servers list their classes.")
    body = model_server_call(model, model.effective_classes_url)
    if not isinstance(body, list):
        raise UpstreamBadAnswer("The classes endpoint must answer a JSON list of {name, type} objects.")
    valid_types = set(ModelClass.Type.values)
    classes = []
    for item in body:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"].strip():
            raise UpstreamBadAnswer(f"The classes endpoint listed an entry without a name: {str(item)[:100]}")
        class_type = str(item["type"]) if item.get("type") in valid_types else ModelClass.Type.TAG.value
        classes.append((item["name"].strip(), class_type))
    return classes


def model_fetch_classes(*, model: RegisteredModel) -> FetchedClasses:
    """Read the model server's classes into its registered classes.

    Classes the server no longer lists are kept (their mappings may still matter); types are updated.
    """
    classes = model_server_classes(model=model)
    created = updated = 0
    with transaction.atomic():
        for name, class_type in classes:
            _, was_created = ModelClass.objects.update_or_create(
                model=model, name=name, defaults={"type": class_type}
            )
            created += was_created
            updated += not was_created
    return FetchedClasses(created=created, updated=updated, total=len(classes))


def model_project_activate(*, link: ModelProject, number: int, actor: str) -> None:
    """Make trained version ``number`` (0: as registered) the one the link's project is served and told."""
    ModelProject.objects.filter(pk=link.pk).update(active_version=number)
    link.active_version = number
    audit_record(actor=actor, action="activate", obj=link, changes={"active_version": number})


def model_version_activate(*, version: ModelVersion, actor: str) -> None:
    """Serve this trained version in its project: restore its saved state, report its version string."""
    link = version.model_project
    with transaction.atomic():
        ModelState.objects.filter(model_project=link).exclude(key="extra_params").delete()
        ModelState.objects.bulk_create(
            ModelState(model_project=link, key=key, value=value) for key, value in version.state.items()
        )
        model_project_activate(link=link, number=version.number, actor=actor)
        state_stamp_renew(link.pk)  # bulk_create sends no save signals
