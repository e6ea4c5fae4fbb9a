"""Training's part of the gateway's ``/metrics``: the job queue, read from the database at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from django.db import DatabaseError
from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from core.metrics import register_scrape_time_collector
from registry.models import TrainingJob


class JobQueueCollector(Collector):
    """Training jobs waiting and running, read from the database at scrape time."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "hub_job_queue_depth", "Training jobs by status (queued, running).", labels=["status"]
        )
        active = (TrainingJob.Status.QUEUED, TrainingJob.Status.RUNNING)
        try:
            counts = dict(
                TrainingJob.objects.filter(status__in=active).values_list("status").annotate(n=Count("id"))
            )
        except DatabaseError:
            return  # the scrape still shows every other metric
        for status in active:
            depth.add_metric([status], counts.get(status, 0))
        yield depth


def connect() -> None:
    register_scrape_time_collector(JobQueueCollector())
