"""`manage.py check` warns when ALLOWED_HOSTS accepts any host (the trial's default), and is quiet
once a deployment names its hosts; a warning, so the quickstart runs unchanged. Named hosts are
enforced on the pages (admin, API); the gateway's /health answers the container's health check by any
name."""

from __future__ import annotations

import os
from io import StringIO
from typing import Any

from django.core.management import call_command

from tests.test_data_dir import probe_in_new_process


def checked() -> str:
    out, err = StringIO(), StringIO()
    call_command("check", stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def test_any_host_is_a_warning_and_named_hosts_are_not(settings: Any) -> None:
    settings.DEBUG, settings.ALLOWED_HOSTS = False, ["*"]
    assert "hub.W001" in checked()
    settings.ALLOWED_HOSTS = ["hub.example.com", "hub"]
    assert "hub.W001" not in checked()


HOSTS_PROBE = """
import json, django
django.setup()
from django.test import Client
print(json.dumps({path + " " + host: Client().get(path, HTTP_HOST=host).status_code
                  for path in ("/admin/login/", "/health")
                  for host in ("hub.example.com", "evil.example.com", "127.0.0.1:9090")}))
"""


def test_named_hosts_answer_the_pages_and_no_other_name_does() -> None:
    env = {**os.environ, "ALLOWED_HOSTS": "hub.example.com", "DJANGO_SETTINGS_MODULE": "hubsite.settings"}
    assert probe_in_new_process(HOSTS_PROBE, env) == {
        "/admin/login/ hub.example.com": 200,
        "/admin/login/ evil.example.com": 400,
        "/admin/login/ 127.0.0.1:9090": 400,
        "/health hub.example.com": 200,
        "/health evil.example.com": 200,
        "/health 127.0.0.1:9090": 200,  # the container's health check
    }
