from __future__ import annotations

from django.apps import AppConfig
from django.core import checks

from hubsite.checks import allowed_hosts_check


class HubsiteConfig(AppConfig):
    """The shell as an app: the checks of the Hub's own settings and the ``quickstart`` command."""

    name = "hubsite"
    verbose_name = "WOW AI Hub"

    def ready(self) -> None:
        checks.register(allowed_hosts_check, checks.Tags.security, deploy=False)
