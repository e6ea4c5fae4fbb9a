"""What training learns from and how it runs: webhook events, annotations, training jobs."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from registry.admin.base import AuditedAdmin, user_actor
from registry.models import Annotation, ModelProject, TrainingJob, WebhookEvent
from training.services import training_cancel, training_start


@admin.register(WebhookEvent)
class WebhookEventAdmin(AuditedAdmin):
    list_display = ("received_at", "model", "action", "ls_project_id", "processed_at")
    list_filter = ("action", "model")
    list_select_related = ("model",)
    search_fields = ("action", "model__slug")
    readonly_fields = (
        "model",
        "project",
        "action",
        "ls_project_id",
        "payload",
        "payload_sha256",
        "received_at",
        "processed_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(TrainingJob)
class TrainingJobAdmin(AuditedAdmin):
    list_display = (
        "pk",
        "model_project",
        "status",
        "progress_display",
        "trigger",
        "events",
        "created_at",
        "started_at",
        "finished_at",
        "resulting_version",
    )
    list_filter = ("status", "trigger", "model_project__model")
    list_select_related = ("model_project__model", "model_project__project__instance")
    readonly_fields = (
        "model_project",
        "trigger",
        "status",
        "progress_display",
        "events",
        "rerun_requested",
        "cancel_requested",
        "not_before",
        "created_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
        "worker",
        "resulting_version",
        "error",
        "log_tail",
    )
    exclude = ("progress",)
    actions = ["cancel_jobs"]

    @admin.display(description="progress")
    def progress_display(self, obj: TrainingJob) -> str:
        return format_html(
            '<progress value="{}" max="100"></progress> {}%',
            round(obj.progress * 100),
            round(obj.progress * 100),
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # jobs start from events or from "Start training" on a model in a project

    @admin.action(description="Cancel")
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[TrainingJob]) -> None:
        for job in queryset:
            done = training_cancel(job=job, actor=user_actor(request))
            self.message_user(
                request, f"Job {job.pk}: {'cancelling' if done else 'already finished'}.", messages.INFO
            )


@admin.register(Annotation)
class AnnotationAdmin(AuditedAdmin):
    list_display = ("ls_annotation_id", "ls_task_id", "project", "updated_at")
    list_filter = ("project",)
    readonly_fields = ("project", "ls_annotation_id", "ls_task_id", "task_data", "result", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.action(description="Start training")
def start_training(
    modeladmin: admin.ModelAdmin[ModelProject], request: HttpRequest, queryset: QuerySet[ModelProject]
) -> None:
    for link in queryset.select_related("model", "project"):
        job = training_start(link=link, actor=user_actor(request))
        modeladmin.message_user(request, f"{link}: training job {job.pk} is {job.status}.", messages.SUCCESS)


# The registry's admin may not import this app (dependencies point down), so the action joins the
# model-in-project page from here.
_links_admin = admin.site._registry.get(ModelProject)
if _links_admin is not None:
    _links_admin.actions = [*(_links_admin.actions or []), start_training]
