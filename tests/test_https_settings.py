"""HUB_HTTPS=true (a Hub behind an HTTPS proxy): the admin's session and CSRF cookies are Secure, HSTS
is sent, and the proxy's X-Forwarded-Proto makes a request secure. Off (the default), plain HTTP
works as before. Each runs the real admin login page in a process of its own (settings are read at
start)."""

from __future__ import annotations

import os

import pytest

from tests.test_data_dir import probe_in_new_process

PROBE = """
import json, django
django.setup()
from django.test import Client
response = Client().get("/admin/login/", headers={"X-Forwarded-Proto": "https"})
cookie = response.cookies["csrftoken"]
print(json.dumps({"status": response.status_code, "secure_cookie": bool(cookie["secure"]),
                  "hsts": response.headers.get("Strict-Transport-Security", "")}))
"""


def login_page(https: str) -> dict[str, object]:
    env = {**os.environ, "HUB_HTTPS": https, "DJANGO_SETTINGS_MODULE": "hubsite.settings"}
    return probe_in_new_process(PROBE, env)


@pytest.mark.parametrize(("https", "secure", "hsts"), [("true", True, True), ("false", False, False)])
def test_the_https_switch_makes_cookies_secure_and_sends_hsts(https: str, secure: bool, hsts: bool) -> None:
    answer = login_page(https)
    assert answer["status"] == 200
    assert answer["secure_cookie"] is secure
    assert ("max-age=31536000" in str(answer["hsts"])) is hsts
