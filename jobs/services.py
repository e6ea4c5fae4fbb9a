"""What may be done with pre-annotation jobs: start, pause, resume, cancel, retry the failed tasks.
The admin, the CLI and the REST API call these and nothing else; each change is in the audit log under
its actor, as the registry's are."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from rest_framework import status

from core.errors import HubError, InvalidLabelConfig, ModelDisabled
from jobs.label_studio import LabelStudioApi
from jobs.models import PreannotationJob
from jobs.tasks import job_publish
from registry.audit import audit_record
from registry.kinds import kind_get
from registry.label_config import LabelConfigError, label_config_parse
from registry.mapping import class_mappings_ensure
from registry.models import LabelStudioInstance, Project, RegisteredModel
from registry.services import model_project_link, model_project_set_label_config, project_record_setup
from registry.validators import ServiceURLValidator

Status = PreannotationJob.Status


class JobRefused(HubError):
    """The job cannot be started as asked (unknown project, no API key, a bad selection)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "preannotation_refused"


class JobStateConflict(HubError):
    """The action does not apply to the job in its present state (e.g. resuming a finished job)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "job_state_conflict"


def _known_instance(
    *, model: RegisteredModel, project_id: int, url: str, instance_id: int | None
) -> LabelStudioInstance | None:
    """The Label Studio named by id, or at ``url`` if the Hub knows it (None if not), or, with
    neither, the one the project called /setup from."""
    if instance_id is not None:
        named: LabelStudioInstance | None = LabelStudioInstance.objects.filter(pk=instance_id).first()
        if named is None:
            raise JobRefused(f"No Label Studio instance {instance_id}.")
        return named
    if url:
        try:
            ServiceURLValidator()(url)
        except ValidationError as exc:
            raise JobRefused(f"label_studio_url: {exc.messages[0]}") from exc
        known: LabelStudioInstance | None = LabelStudioInstance.objects.filter(
            Q(hostname=url) | Q(url=url)
        ).first()
        return known
    projects = Project.objects.filter(ls_project_id=project_id).select_related("instance")
    linked = projects.filter(models__model=model)
    candidates = {p.instance_id: p.instance for p in (linked if linked.exists() else projects)}
    if not candidates:
        raise JobRefused(
            f"The Hub has not seen Label Studio project {project_id}: give its Label Studio URL and API key."
        )
    if len(candidates) > 1:
        raise JobRefused(
            f"Project {project_id} exists in {len(candidates)} Label Studio instances: give the URL of one."
        )
    found: LabelStudioInstance = next(iter(candidates.values()))
    return found


def _instance_record(instance: LabelStudioInstance | None, *, url: str, api_key: str) -> LabelStudioInstance:
    """Remember a Label Studio given with a job, once it accepted the key: media fetches need the key
    too (1.23 refuses the token it sends in /setup). An administrator's key is never replaced."""
    if instance is None:
        # Given by an administrator (or an admin-issued token): trusted like a URL set in the admin.
        created: LabelStudioInstance = LabelStudioInstance.objects.create(
            hostname=url, url=url, api_key=api_key
        )
        return created
    if api_key and not instance.api_key:
        instance.api_key = api_key
        instance.save()
    return instance


def preannotation_start(
    *,
    model_slug: str,
    project_id: int,
    label_studio_url: str = "",
    api_key: str = "",
    task_ids: list[int] | None = None,
    view_id: int | None = None,
    mode: str = PreannotationJob.Mode.MISSING,
    actor: str = "",
    instance_id: int | None = None,
) -> PreannotationJob:
    """Queue a job for one model over one Label Studio project: all its tasks, the listed ones, or
    a Data Manager view's. ``instance_id`` names a Label Studio the Hub knows (the admin's action on
    a model in a project). Label Studio is asked for the project's label config at once, so a wrong
    URL, key or project id is refused now rather than on the worker."""
    model = RegisteredModel.objects.filter(slug=model_slug).first()
    if model is None:
        raise Http404(f"No model is registered as {model_slug!r}.")
    if not model.enabled:
        raise ModelDisabled(f"Model {model_slug!r} is disabled in the Hub's admin.")
    if mode not in PreannotationJob.Mode.values:
        raise JobRefused(f"mode must be one of {', '.join(PreannotationJob.Mode.values)}.")
    if task_ids is not None and view_id is not None:
        raise JobRefused("Give task ids or a view id, not both.")
    if task_ids is not None and not task_ids:
        raise JobRefused("The list of task ids is empty.")
    url = label_studio_url.strip().rstrip("/")
    known = _known_instance(model=model, project_id=project_id, url=url, instance_id=instance_id)
    key = api_key or (known.token if known else "")
    if not key:
        raise JobRefused(
            f"No API key for the Label Studio at {url or (known.base_url if known else '') or '(unknown)'}: "
            "set one on the instance in the admin or give one with the job."
        )
    remote = LabelStudioApi(url or (known.base_url if known else ""), key).project(project_id)
    try:
        parsed = label_config_parse(remote.label_config)
    except LabelConfigError as exc:
        raise InvalidLabelConfig(str(exc)) from exc
    instance = _instance_record(known, url=url, api_key=api_key) if url else known
    assert instance is not None  # noqa: S101 - without a URL the instance is a known one
    project = project_record_setup(
        hostname=instance.hostname, uid=remote.uid, label_config=remote.label_config, parsed=parsed
    )
    link = model_project_link(model=model, project=project)
    model_project_set_label_config(link=link, label_config=remote.label_config, parsed=parsed)
    if kind_get(model.kind).uses_class_mappings:
        class_mappings_ensure(link=link, parsed=parsed)
    selection = (
        PreannotationJob.Selection.IDS
        if task_ids is not None
        else PreannotationJob.Selection.VIEW
        if view_id is not None
        else PreannotationJob.Selection.ALL
    )
    with transaction.atomic():
        job = PreannotationJob.objects.create(
            model_project=link,
            label_studio_url=url,
            api_key=api_key,
            selection=selection,
            task_ids=sorted(set(task_ids or [])),
            view_id=view_id,
            mode=mode,
            model_version=link.model_version,
            created_by=actor,
        )
        _audited(job, actor=actor, action="start_preannotation")
        transaction.on_commit(lambda: job_publish(job.pk))
    return job


def _audited(job: PreannotationJob, *, actor: str, action: str, **changes: object) -> None:
    audit_record(
        actor=actor or "system",
        action=action,
        obj=job,
        changes={"model": job.model_project.model.slug, "status": job.status, **changes},
    )


def preannotation_cancel(*, job: PreannotationJob, actor: str = "") -> PreannotationJob:
    """Queued and paused jobs stop at once; a running one after the chunks it has in hand."""
    now = timezone.now()
    rows = PreannotationJob.objects.filter(pk=job.pk)
    if not rows.filter(status__in=[Status.QUEUED, Status.PAUSED]).update(
        status=Status.CANCELLED, finished_at=now
    ) and not rows.filter(status=Status.RUNNING).update(cancel_requested=True):
        raise JobStateConflict(f"Job {job.pk} is {job.status}: there is nothing to cancel.")
    job.refresh_from_db()
    _audited(job, actor=actor, action="cancel_preannotation")
    return job


def preannotation_pause(*, job: PreannotationJob, actor: str = "") -> PreannotationJob:
    rows = PreannotationJob.objects.filter(pk=job.pk)
    if not rows.filter(status=Status.QUEUED).update(status=Status.PAUSED) and not rows.filter(
        status=Status.RUNNING
    ).update(pause_requested=True):
        raise JobStateConflict(f"Job {job.pk} is {job.status}: only queued or running jobs pause.")
    job.refresh_from_db()
    _audited(job, actor=actor, action="pause_preannotation")
    return job


def preannotation_resume(*, job: PreannotationJob, actor: str = "") -> PreannotationJob:
    """A paused or failed job goes back to the queue and continues from its cursor."""
    rows = PreannotationJob.objects.filter(pk=job.pk)
    if rows.filter(status__in=[Status.PAUSED, Status.FAILED]).update(
        status=Status.QUEUED,
        pause_requested=False,
        cancel_requested=False,
        finished_at=None,
        heartbeat_at=timezone.now(),
    ):
        transaction.on_commit(lambda: job_publish(job.pk))
    elif not rows.filter(status=Status.RUNNING).update(pause_requested=False):
        raise JobStateConflict(f"Job {job.pk} is {job.status}: only paused or failed jobs resume.")
    job.refresh_from_db()
    _audited(job, actor=actor, action="resume_preannotation")
    return job


def preannotation_retry_failed(*, job: PreannotationJob, actor: str = "") -> PreannotationJob:
    """A new job for the tasks this one could not pre-annotate."""
    if job.status in PreannotationJob.ACTIVE:
        raise JobStateConflict(f"Job {job.pk} is {job.status}: retry its failed tasks once it has stopped.")
    failed = sorted(job.failures.values_list("ls_task_id", flat=True))
    if not failed:
        raise JobStateConflict(f"Job {job.pk} has no failed tasks.")
    with transaction.atomic():
        retry = PreannotationJob.objects.create(
            model_project=job.model_project,
            label_studio_url=job.label_studio_url,
            api_key=job.api_key,
            selection=PreannotationJob.Selection.IDS,
            task_ids=failed,
            mode=job.mode,
            model_version=job.model_project.model_version,
            retry_of=job,
            created_by=actor,
        )
        _audited(retry, actor=actor, action="retry_preannotation", retry_of=job.pk)
        transaction.on_commit(lambda: job_publish(retry.pk))
    return retry
