from __future__ import annotations

from django.apps import AppConfig
from django.core import checks

from hubsite.checks import allowed_hosts_check


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Model registry"

    def ready(self) -> None:
        # Signal receivers need the models, which are ready only now.
        from registry import audit, metrics, traffic
        from registry.hot_path import connect_invalidation

        audit.connect()
        connect_invalidation()
        traffic.connect()
        metrics.connect()
        checks.register(allowed_hosts_check, checks.Tags.security, deploy=False)
