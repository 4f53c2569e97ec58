"""``{% page_cache_hole %}``: where the per-user header goes (see ``catalog.pagecache``)."""

from __future__ import annotations

from django import template
from django.utils.safestring import mark_safe

from catalog import pagecache

register = template.Library()


@register.simple_tag(takes_context=True)
def page_cache_hole(context) -> str:
    """The per-user header part, or a marker while the page is rendered for the cache."""
    request = context.get("request")
    if pagecache.is_rendering_for_cache(request):
        return mark_safe(pagecache.HOLE_MARKER)  # noqa: S308 - a constant of ours
    hole = context.template.engine.get_template(pagecache.HOLE_TEMPLATE)
    with context.push():
        return hole.render(context)
