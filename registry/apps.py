from __future__ import annotations

from django.apps import AppConfig


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
