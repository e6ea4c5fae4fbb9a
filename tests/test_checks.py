"""`manage.py check` warns when ALLOWED_HOSTS accepts any host (the trial's default), and is quiet
once a deployment names its hosts; a warning, so the quickstart runs unchanged."""

from __future__ import annotations

from io import StringIO
from typing import Any

from django.core.management import call_command


def checked() -> str:
    out, err = StringIO(), StringIO()
    call_command("check", stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def test_any_host_is_a_warning_and_named_hosts_are_not(settings: Any) -> None:
    settings.DEBUG, settings.ALLOWED_HOSTS = False, ["*"]
    assert "hub.W001" in checked()
    settings.ALLOWED_HOSTS = ["hub.example.com", "hub"]
    assert "hub.W001" not in checked()
