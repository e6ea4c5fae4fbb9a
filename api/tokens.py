"""Issuing, revoking and checking API tokens.

A token reads ``hub_<prefix>_<secret>``: the prefix (public, unique) finds the row, and the whole token's
HMAC-SHA256 under a key derived from ``SECRET_KEY`` must equal the stored digest. The secret has 256
bits of entropy, so one fast keyed hash is enough (a slow password hash would cost every request and
protect nothing more); a database leak alone does not give a usable token.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.crypto import salted_hmac

from api.models import ApiToken
from registry.audit import audit_record

TOKEN_PREFIX = "hub_"  # noqa: S105 - the public start of every token, not a secret
_HMAC_SALT = "api.ApiToken"
# How precisely "last used" is kept: finer would make every API call a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # the whole token, to be shown once and never stored


def _digest(raw: str, key: str) -> str:
    return salted_hmac(_HMAC_SALT, raw, secret=key, algorithm="sha256").hexdigest()


def api_token_issue(*, user: User, name: str, scope: str, actor: str) -> IssuedToken:
    """A new token for ``user``; the caller shows ``secret`` once."""
    prefix = secrets.token_hex(6)
    raw = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        user=user, name=name, scope=scope, prefix=prefix, digest=_digest(raw, settings.SECRET_KEY)
    )
    audit_record(
        actor=actor,
        action="issue_api_token",
        obj=token,
        changes={"user": user.get_username(), "name": name, "scope": scope, "prefix": prefix},
    )
    return IssuedToken(token=token, secret=raw)


def api_token_revoke(*, token: ApiToken, actor: str) -> bool:
    """Revoke a token at once; False when it already was."""
    if not ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()):
        return False
    token.refresh_from_db(fields=["revoked_at"])
    audit_record(actor=actor, action="revoke_api_token", obj=token, changes={"revoked_at": "now"})
    return True


def api_token_find(raw: str) -> ApiToken | None:
    """The live token ``raw`` is, with its user; None for anything else (malformed, unknown, wrong secret,
    revoked, or its user no longer an active staff member). Marks it used."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    prefix, _, secret = raw[len(TOKEN_PREFIX) :].partition("_")
    if not prefix or not secret or len(prefix) > 16:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if token is None or token.revoked_at is not None:
        return None
    # SECRET_KEY_FALLBACKS: a rotated SECRET_KEY keeps tokens working until the old key is dropped.
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    if not any(hmac.compare_digest(_digest(raw, key), token.digest) for key in keys):
        return None
    if not (token.user.is_active and token.user.is_staff):
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
