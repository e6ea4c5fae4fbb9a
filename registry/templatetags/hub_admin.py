"""Template filters of the Hub's admin pages."""

from __future__ import annotations

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.filter
def breakable_url(url: str) -> SafeString:
    """The URL, escaped, with a line-break opportunity before each path segment: a narrow column wraps
    it at ``/ml/`` rather than inside a word. The text (what a copy button copies) is unchanged."""
    scheme, separator, rest = str(url).partition("://")
    if not separator:
        scheme, rest = "", scheme
    head = escape(scheme) + separator if separator else ""
    return mark_safe(head + "<wbr>/".join(escape(part) for part in rest.split("/")))  # noqa: S308 - escaped above
