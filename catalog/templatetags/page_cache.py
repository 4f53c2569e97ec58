"""``{% page_cache_hole %}``: where the per-user header goes, and ``{% page_cache_hole
"name" %}`` any other per-user part of a page (see ``catalog.pagecache``)."""

from __future__ import annotations

from django import template
from django.utils.safestring import mark_safe

from catalog import pagecache

register = template.Library()


@register.simple_tag(takes_context=True)
def page_cache_hole(context, name: str = "") -> str:
    """The per-user part ``name``, or a marker while the page is rendered for the cache."""
    request = context.get("request")
    if pagecache.is_rendering_for_cache(request):
        return mark_safe(pagecache.hole_marker(name))  # noqa: S308 - a constant of ours
    hole = context.template.engine.get_template(pagecache.HOLES[name])
    with context.push():
        return hole.render(context)
