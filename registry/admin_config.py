"""Django's admin app, with the Hub's site (branding and dashboard) as its default site.

Kept apart from ``registry.apps``: an apps module with two AppConfig classes has no default one."""

from __future__ import annotations

from django.contrib.admin.apps import AdminConfig


class HubAdminConfig(AdminConfig):
    default_site = "registry.admin_site.HubAdminSite"
