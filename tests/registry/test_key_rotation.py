"""Rotating HUB_ENCRYPTION_KEYS as documented: a new key first, the old one after it, re-encrypt (the
command, or re-saving a row in the admin), then drop the old key; every secret still reads back."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client

from registry.models import LabelStudioInstance, RegisteredModel
from tests.conftest import register

pytestmark = pytest.mark.django_db

OLD_KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def stored_token(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608 - fixed names
        return str(cursor.fetchone()[0])


def test_the_rotation_command_re_encrypts_every_secret_with_the_new_key(settings: Any) -> None:
    settings.HUB_ENCRYPTION_KEYS = [OLD_KEY]
    model = register("dummy", "examples.dummy.model.DummyModel", auth_secret="server-secret")
    instance = LabelStudioInstance.objects.create(
        hostname="http://ls", access_token="ls-token", api_key="pat"
    )
    LabelStudioInstance.objects.create(hostname="http://bare")  # no secrets: nothing to rewrite
    before = stored_token("registry_registeredmodel", "auth_secret", model.pk)

    settings.HUB_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    call_command("rotate_encryption_keys")
    assert stored_token("registry_registeredmodel", "auth_secret", model.pk) != before

    settings.HUB_ENCRYPTION_KEYS = [NEW_KEY]  # the old key retired
    assert RegisteredModel.objects.get(pk=model.pk).auth_secret == "server-secret"
    again = LabelStudioInstance.objects.get(pk=instance.pk)
    assert (again.access_token, again.api_key) == ("ls-token", "pat")


def test_re_saving_a_row_in_the_admin_re_encrypts_its_secrets(admin_client: Client, settings: Any) -> None:
    settings.HUB_ENCRYPTION_KEYS = [OLD_KEY]
    instance = LabelStudioInstance.objects.create(
        hostname="http://ls", access_token="ls-token", api_key="pat"
    )
    settings.HUB_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    # Secret fields come back empty from the browser: the stored values are kept, written with the new key.
    form = {"hostname": "http://ls", "url": "", "access_token": "", "api_key": ""}
    response = admin_client.post(f"/admin/registry/labelstudioinstance/{instance.pk}/change/", form)
    assert response.status_code == 302
    settings.HUB_ENCRYPTION_KEYS = [NEW_KEY]
    again = LabelStudioInstance.objects.get(pk=instance.pk)
    assert (again.access_token, again.api_key) == ("ls-token", "pat")


def test_a_secret_no_key_decrypts_is_named_and_the_others_are_still_rotated(settings: Any) -> None:
    settings.HUB_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # a key since lost
    lost = LabelStudioInstance.objects.create(hostname="http://lost", access_token="gone")
    settings.HUB_ENCRYPTION_KEYS = [OLD_KEY]
    kept = LabelStudioInstance.objects.create(hostname="http://kept", access_token="kept-token")
    settings.HUB_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    with pytest.raises(CommandError, match=f"registry.LabelStudioInstance {lost.pk} access_token"):
        call_command("rotate_encryption_keys")
    settings.HUB_ENCRYPTION_KEYS = [NEW_KEY]
    assert LabelStudioInstance.objects.get(pk=kept.pk).access_token == "kept-token"
