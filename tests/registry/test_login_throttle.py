"""Admin login throttling: HUB_LOGIN_FAILURES wrong passwords for one username from one address, and
the right password is then refused (429, the admin's page saying why) until the lockout ends or an admin
resets it; another address, or a success before the limit, is not affected."""

from __future__ import annotations

from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-admin-password-1"


@pytest.fixture
def admin_user() -> User:
    return User.objects.create_superuser("root", "root@example.com", PASSWORD)


def log_in(password: str, address: str = "203.0.113.7", username: str = "root") -> tuple[Client, Any]:
    client = Client(REMOTE_ADDR=address)
    response = client.post("/admin/login/?next=/admin/", {"username": username, "password": password})
    return client, response


def logged_in(client: Client) -> bool:
    return client.get("/admin/").status_code == 200


def test_after_the_failure_limit_the_right_password_is_refused_until_an_admin_resets_it(
    admin_user: User, settings: Any
) -> None:
    assert settings.AXES_FAILURE_LIMIT == 5
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client, response = log_in("wrong")
        assert response.status_code == 200 and not logged_in(client)  # the login form, with its error
    client, response = log_in("wrong")
    assert response.status_code == 429  # the last failure allowed locks the pair out

    client, response = log_in(PASSWORD)
    assert response.status_code == 429
    assert int(response["Retry-After"]) == 15 * 60
    page = response.content.decode()
    assert "Too many failed logins" in page and "refused for\n     15 minutes" in page
    assert "Access attempts" in page
    assert not logged_in(client)

    # Another address with the same name is not locked out: nobody can lock the admin out from afar.
    other, response = log_in(PASSWORD, address="198.51.100.9")
    assert logged_in(other)

    # The admin resets it on the Access attempts page; the right password then works from there too.
    attempt = AccessAttempt.objects.get(username="root", ip_address="203.0.113.7")
    changelist = other.get("/admin/axes/accessattempt/")
    assert changelist.status_code == 200 and "203.0.113.7" in changelist.content.decode()
    deleted = other.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    client, response = log_in(PASSWORD)
    assert logged_in(client)


def test_a_success_before_the_limit_starts_the_count_again(admin_user: User, settings: Any) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in("wrong")
    client, _ = log_in(PASSWORD)
    assert logged_in(client)
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        log_in("wrong")
    client, _ = log_in(PASSWORD)
    assert logged_in(client)
