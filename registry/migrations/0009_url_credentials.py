from django.db import migrations

from registry.validators import url_credentials_split


def move_url_credentials(apps, schema_editor):
    """Credentials an older version kept inside model server URLs become basic auth, and the audit log
    forgets them (a URL's from/to values lose their user:password@)."""
    RegisteredModel = apps.get_model("registry", "RegisteredModel")
    AuditEvent = apps.get_model("registry", "AuditEvent")
    for model in RegisteredModel.objects.all():
        found = []
        for field in ("url", "classes_url"):
            bare, username, password = url_credentials_split(getattr(model, field))
            if (username, password) != ("", ""):
                setattr(model, field, bare)
                found.append((username, password))
        if not found:
            continue
        if model.auth_method != "header":
            model.auth_method, model.auth_username = "basic", found[0][0]
            if found[0][1]:
                model.auth_secret = found[0][1]
        model.save(update_fields=["url", "classes_url", "auth_method", "auth_username", "auth_secret"])
    for event in AuditEvent.objects.filter(object_type="registry.registeredmodel"):
        changes, changed = dict(event.changes or {}), False
        for field in ("url", "classes_url"):
            value = changes.get(field)
            if isinstance(value, str):
                values = {"": value}
            elif isinstance(value, dict):
                values = {k: v for k, v in value.items() if isinstance(v, str)}
            else:
                continue
            for key, text in values.items():
                bare = url_credentials_split(text)[0]
                if bare != text:
                    changed = True
                    if key:
                        changes[field] = {**changes[field], key: bare}
                    else:
                        changes[field] = bare
        if changed:
            event.changes = changes
            event.save(update_fields=["changes"])


class Migration(migrations.Migration):
    dependencies = [("registry", "0008_setup_token_per_model")]

    operations = [migrations.RunPython(move_url_credentials, migrations.RunPython.noop)]
