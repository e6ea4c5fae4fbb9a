"""The Celery app: background training and event processing.

Broker from ``CELERY_BROKER_URL``: Redis in production and CI; by default a filesystem broker
inside the data directory, so the quickstart's worker needs no service.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hubsite.settings")

app = Celery("hubsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
