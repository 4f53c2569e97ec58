"""``{% related_links_of experiment as links %}``: a folder's curated related documents."""

from __future__ import annotations

from django import template

from catalog.related_links import RelatedLink, parse_related_links

register = template.Library()


@register.simple_tag
def related_links_of(experiment) -> list[RelatedLink]:
    """The parsed ``Experiment.related_links``: only safe addresses, at most ``MAX_LINKS``."""
    return parse_related_links(experiment.related_links)
