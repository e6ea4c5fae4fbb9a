"""What the admin's dashboard shows: one card per model and the background jobs in progress."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse

from registry.kinds import kind_get
from registry.models import RegisteredModel
from registry.traffic import TrafficSeries, traffic_series


@dataclass
class ModelCard:
    model: RegisteredModel
    kind_label: str
    health: str  # "ok", "error" or "never"
    traffic: TrafficSeries
    change_url: str


@dataclass
class JobRow:
    label: str
    url: str
    status: str
    progress: float  # 0..1
    started_at: Any


@dataclass
class JobSection:
    """A kind of background job on the dashboard (training, pre-annotation, ...)."""

    title: str
    rows: list[JobRow] = field(default_factory=list)
    list_url: str = ""


def model_health(model: RegisteredModel) -> str:
    if model.last_check_ok is None:
        return "never"
    return "ok" if model.last_check_ok else "error"


def kind_label(kind: str) -> str:
    try:
        return kind_get(kind).label
    except LookupError:
        return kind


def model_cards(models: QuerySet[RegisteredModel] | None = None) -> list[ModelCard]:
    rows = list(models if models is not None else RegisteredModel.objects.all())
    series = traffic_series(model_ids=[m.pk for m in rows])
    return [
        ModelCard(
            model=m,
            kind_label=kind_label(m.kind),
            health=model_health(m),
            traffic=series[m.pk],
            change_url=reverse("admin:registry_registeredmodel_change", args=[m.pk]),
        )
        for m in rows
    ]


# Each kind of background job adds its section here (register_job_section), in dashboard order.
JOB_SECTIONS: list[Callable[[], JobSection]] = []


def register_job_section(section: Callable[[], JobSection]) -> Callable[[], JobSection]:
    if section not in JOB_SECTIONS:
        JOB_SECTIONS.append(section)
    return section


def dashboard_context() -> dict[str, Any]:
    cards = model_cards()
    return {
        "model_cards": cards,
        "job_sections": [section() for section in JOB_SECTIONS],
        "chart_data": {str(card.model.pk): card.traffic.as_chart() for card in cards},
    }
