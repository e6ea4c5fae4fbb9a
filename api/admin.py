from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from api.models import ApiToken
from api.tokens import api_token_issue, api_token_revoke


def _user_actor(request: HttpRequest) -> str:
    return f"user:{request.user.get_username()}"


class ApiTokenForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = ApiToken
        fields = ("user", "name", "scope")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Issue (shown once, on the page that answers the form) and revoke REST API tokens. Staff see and
    issue their own; superusers anyone's."""

    form = ApiTokenForm
    list_display = ("name", "user", "scope", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("scope", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "prefix", "user__username")
    actions = ["revoke"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiToken]:
        tokens = super().get_queryset(request).select_related("user")
        return tokens if request.user.is_superuser else tokens.filter(user=request.user)

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> Any:
        # A token is what it was issued as: to change one, revoke it and issue another.
        if obj is not None:
            return ("user", "name", "scope", "prefix", "created_at", "last_used_at", "revoked_at")
        return ()

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "user":
            users = get_user_model().objects.filter(is_staff=True, is_active=True)
            kwargs["queryset"] = (
                users if request.user.is_superuser else users.filter(username=request.user.get_username())
            )
            kwargs["initial"] = request.user.pk
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if change:
            return  # every field is read-only once issued
        issued = api_token_issue(user=obj.user, name=obj.name, scope=obj.scope, actor=_user_actor(request))
        for field in ApiToken._meta.concrete_fields:
            setattr(obj, field.attname, getattr(issued.token, field.attname))
        request._issued_api_token = issued.secret  # type: ignore[attr-defined]  # for response_add only

    def response_add(self, request: HttpRequest, obj: ApiToken, post_url_continue: str | None = None) -> Any:
        secret = getattr(request, "_issued_api_token", None)
        if secret is None:
            return super().response_add(request, obj, post_url_continue)
        # Shown on this page only (the admin's pages are never cached): not in a message, since messages
        # live in a cookie or the session; never stored.
        return TemplateResponse(
            request,
            "admin/api/apitoken/issued.html",
            {
                **self.admin_site.each_context(request),
                "title": "API token issued",
                "opts": self.opts,
                "token": obj,
                "secret": secret,
            },
        )

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        revoked = sum(api_token_revoke(token=token, actor=_user_actor(request)) for token in queryset)
        self.message_user(request, f"{revoked} token(s) revoked.", messages.SUCCESS)
