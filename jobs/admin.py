"""Pre-annotation in the admin: "Pre-annotate in Label Studio" on models in projects, and the job
page with a live progress bar (polling ``<id>/progress/``) and its cancel, pause, resume and
"retry the failed tasks" buttons. Every button calls the same service as the CLI and the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from core.errors import HubError
from jobs import services
from jobs.models import PreannotationFailure, PreannotationJob
from jobs.selectors import preannotation_job_state
from registry.admin.base import user_actor
from registry.models import ModelProject

BUTTONS: dict[str, Callable[..., PreannotationJob]] = {
    "cancel": services.preannotation_cancel,
    "pause": services.preannotation_pause,
    "resume": services.preannotation_resume,
}


class FailureInline(admin.TabularInline):  # type: ignore[type-arg]
    model = PreannotationFailure
    fields = ("ls_task_id", "reason", "at")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = "failed tasks (the first 100)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[PreannotationFailure]:
        ids = list(super().get_queryset(request).values_list("pk", flat=True)[:100])
        return PreannotationFailure.objects.filter(pk__in=ids)


@admin.register(PreannotationJob)
class PreannotationJobAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    change_form_template = "admin/jobs/preannotationjob/change_form.html"
    list_display = ("pk", "model_project", "status", "progress_display", "mode", "created_at", "finished_at")
    list_filter = ("status", "mode", "model_project__model")
    list_select_related = ("model_project__model", "model_project__project__instance")
    fields = (
        "model_project",
        "selection",
        "view_id",
        "mode",
        "model_version",
        "status",
        "error",
        "total",
        "done",
        "failed",
        "skipped",
        "read_seconds",
        "predict_seconds",
        "write_seconds",
        "label_studio_seconds",
        "busy_seconds",
        "created_by",
        "retry_of",
        "created_at",
        "started_at",
        "heartbeat_at",
        "finished_at",
        "worker",
    )
    readonly_fields = fields
    inlines = [FailureInline]

    @admin.display(description="progress")
    def progress_display(self, obj: PreannotationJob) -> str:
        state = obj.progress()
        percent = round(float(state["fraction"]) * 100)
        return format_html(
            '<progress value="{}" max="100"></progress> {}/{}', percent, obj.processed, obj.total or "?"
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # started from "Pre-annotate in Label Studio" on models in projects, the CLI or the API

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # nothing to edit; the buttons check the change permission themselves

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:job_id>/progress/", wrap(self.progress_view), name="jobs_preannotationjob_progress"),
            path(
                "<int:job_id>/do/<str:action>/", wrap(self.action_view), name="jobs_preannotationjob_action"
            ),
            *super().get_urls(),
        ]

    def progress_view(self, request: HttpRequest, job_id: int) -> JsonResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        job = get_object_or_404(
            PreannotationJob.objects.select_related("model_project__project__instance"), pk=job_id
        )
        return JsonResponse(preannotation_job_state(job, failures=5))

    def action_view(self, request: HttpRequest, job_id: int, action: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponse(status=405)
        if not request.user.has_perm("jobs.change_preannotationjob"):
            raise PermissionDenied
        job = get_object_or_404(PreannotationJob, pk=job_id)
        target = job
        try:
            if action == "retry":
                target = services.preannotation_retry_failed(job=job, actor=user_actor(request))
                self.message_user(request, f"Job {target.pk} retries the failed tasks of job {job.pk}.")
            elif action in BUTTONS:
                done = BUTTONS[action](job=job, actor=user_actor(request))
                self.message_user(request, f"Job {job.pk}: {action} asked; it is {done.status}.")
            else:
                raise Http404(f"No action {action!r}.")
        except HubError as exc:
            self.message_user(request, str(exc.detail), messages.ERROR)
        return HttpResponseRedirect(reverse("admin:jobs_preannotationjob_change", args=[target.pk]))

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = {
            **(extra_context or {}),
            "progress_url": reverse("admin:jobs_preannotationjob_progress", args=[object_id]),
            "can_act": request.user.has_perm("jobs.change_preannotationjob"),
            "buttons": [
                ("pause", "Pause"),
                ("resume", "Resume"),
                ("cancel", "Cancel"),
                ("retry", "Retry failed"),
            ],
        }
        return super().change_view(request, object_id, form_url, context)


@admin.action(description="Pre-annotate in Label Studio (a background job)")
def preannotate_in_label_studio(
    modeladmin: admin.ModelAdmin[ModelProject], request: HttpRequest, queryset: QuerySet[ModelProject]
) -> None:
    """A job per selected model in a project, over all the project's tasks that lack a prediction
    of the model's current version."""
    for link in queryset.select_related("model", "project__instance"):
        try:
            job = services.preannotation_start(
                model_slug=link.model.slug,
                project_id=int(link.project.ls_project_id),
                instance_id=link.project.instance_id,
                actor=user_actor(request),
            )
        except HubError as exc:
            modeladmin.message_user(request, f"{link}: {exc.detail}", messages.ERROR)
            continue
        url = reverse("admin:jobs_preannotationjob_change", args=[job.pk])
        modeladmin.message_user(
            request, format_html('{}: <a href="{}">pre-annotation job {}</a> is queued.', link, url, job.pk)
        )


# The registry's admin may not import this app (dependencies point down), so the action joins the
# model-in-project page from here.
_links_admin = admin.site._registry.get(ModelProject)
if _links_admin is not None:
    _links_admin.actions = [*(_links_admin.actions or []), preannotate_in_label_studio]
