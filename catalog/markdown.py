"""Markdown descriptions from MLflow and the admin, rendered to sanitised HTML.

Descriptions are data written by anyone with MLflow access, so the HTML that Markdown
makes is cleaned by nh3 (an allowlist of tags and attributes; links only to http,
https and mailto, with ``rel="noopener noreferrer nofollow"``). Raw HTML in the source
is escaped by nh3 like any other disallowed markup.
"""

from __future__ import annotations

import markdown as markdown_lib
import nh3

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "del",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "th": {"align"}, "td": {"align"}}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
# A description longer than this is cut before rendering: Markdown is not linear-time
# on hostile input, and no honest description is this long.
MAX_SOURCE_CHARS = 100_000


def render_markdown(source: str) -> str:
    """Sanitised HTML of the Markdown ``source`` (safe to mark safe in a template)."""
    if not source:
        return ""
    html = markdown_lib.markdown(source[:MAX_SOURCE_CHARS], extensions=["tables", "fenced_code"])
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
