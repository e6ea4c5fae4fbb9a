"""Reads for the protocol endpoints; they go through the per-worker hot-path cache."""

from __future__ import annotations

from django.db.models import Case, Value, When
from django.http import Http404

from core.errors import ModelDisabled
from registry.hot_path import cached, cached_model
from registry.models import Project, RegisteredModel
from registry.project_uid import ProjectUid


def registered_model_get(*, slug: str) -> RegisteredModel:
    model = cached_model(slug)
    if model is None:
        raise Http404(f"No model is registered as {slug!r}.")
    return model


def enabled_model_get(*, slug: str) -> RegisteredModel:
    model = registered_model_get(slug=slug)
    if not model.enabled:
        raise ModelDisabled(f"Model {slug!r} is disabled in the Hub's admin.")
    return model


def project_of_model(*, model: RegisteredModel, uid: ProjectUid) -> Project | None:
    """The project with this id and creation time as this model knows it: one its own calls (or the
    admin) linked it to. Another model's callers can make projects of any uid under any hostname, so
    a project only they named is never this model's. Label Studio does not say which instance in
    /predict; the creation second tells instances apart, so the most recently seen one is taken."""
    return cached(
        ("model-project", model.pk, uid.project_id, uid.created_ts),
        lambda: (
            Project.objects.select_related("instance")
            .filter(models__model=model, ls_project_id=uid.project_id, created_ts=uid.created_ts)
            .order_by("-last_seen_at")
            .first()
        ),
    )


def project_latest(*, ls_project_id: int, model: RegisteredModel) -> Project | None:
    """The project an event names by id alone (Label Studio's payload without ``created_at``), as this
    model knows it (``project_of_model``): of its projects with that id, one known by its full uid (not
    made from a bare id) first, then the most recently seen."""
    project: Project | None = cached(
        ("model-project-latest", model.pk, ls_project_id),
        lambda: (
            Project.objects.select_related("instance")
            .filter(models__model=model, ls_project_id=ls_project_id)
            .annotate(full_uid=Case(When(created_ts=0, then=Value(0)), default=Value(1)))
            .order_by("-full_uid", "-last_seen_at", "-pk")
            .first()
        ),
    )
    return project
