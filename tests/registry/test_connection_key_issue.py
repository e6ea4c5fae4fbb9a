"""A new connection key is shown once, on the page that issued it: never in the messages cookie (not
encrypted) or the session, and the one service the admin (and the CLI and REST API) call issues it."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from registry.models import AuditEvent, RegisteredModel
from tests.conftest import register

pytestmark = pytest.mark.django_db


def test_the_admin_shows_a_new_key_once_on_its_page_and_in_no_cookie(admin_client: Client) -> None:
    model = register("dummy", "examples.dummy.model.DummyModel", protocol_auth_required=True)
    response = admin_client.post(
        "/admin/registry/registeredmodel/", {"action": "new_connection_key", "_selected_action": [model.pk]}
    )
    assert response.status_code == 200
    page = response.content.decode()
    marker = "/ml/dummy/k/"
    key = page[page.index(marker) + len(marker) :].split("<", 1)[0]
    assert len(key) >= 32
    # The key works, and travels in no cookie and no session.
    assert admin_client.get(f"/ml/dummy/k/{key}/health").status_code == 200
    assert all(key not in morsel.value for morsel in response.cookies.values())
    assert all(key not in session.session_data for session in Session.objects.all())
    assert all(key not in str(session.get_decoded()) for session in Session.objects.all())
    # The next page does not show it again, and the audit log says a key was issued, not which.
    assert key not in admin_client.get("/admin/registry/registeredmodel/").content.decode()
    event = AuditEvent.objects.get(action="new_connection_key")
    assert event.changes == {"connection_key_hash": "changed"} and key not in str(event.changes)
    assert RegisteredModel.objects.get(pk=model.pk).check_connection_key(key)
