"""Reads for the protocol endpoints; they go through the per-worker hot-path cache."""

from __future__ import annotations

from django.http import Http404

from hubsite.errors import ModelDisabled
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
