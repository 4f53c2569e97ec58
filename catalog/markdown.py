"""Markdown descriptions from MLflow and the admin, rendered to sanitised HTML.

Descriptions are data written by anyone with MLflow access, so they are rendered under
two bounds and then cleaned:

- Time. markdown-it-py (CommonMark plus tables; raw HTML off, so ``<tag>`` in the source
  is shown as text) runs in time linear in its input, but pure Python spends up to
  ~40 µs on some characters (an autolink's ``<``, a ``[`` of a bracket flood). Before
  parsing, ``markup_cost_us`` estimates the render time from C-speed character counts;
  a source over ``MAX_MARKUP_COST_US`` is shown as escaped plain text instead, with a
  note. Measured worst cases are in docs/pages.md ("Bounds"). Python-Markdown, used
  before, is quadratic on bracket runs (2,000 ``[`` took a second, 20,000 about a minute).
- Repetition. The HTML is kept in the ``default`` cache (shared by the web workers) under
  a digest of the source, so a page with a big description pays its render once.

nh3 then cleans the HTML (an allowlist of tags and attributes; links only to http,
https and mailto, with ``rel="noopener noreferrer nofollow"``).
"""

from __future__ import annotations

import hashlib
import html

import nh3
from django.core.cache import cache
from markdown_it import MarkdownIt

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
# markdown-it writes a column's alignment as ``style``; CSS from data is not let through,
# so aligned columns lose their alignment (and nothing else).
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "th": {"align"}, "td": {"align"}}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}
# The longest text MLflow stores in a description-like field (model registry tag values,
# file-store descriptions); longer text, only possible by editing the database, is cut.
MAX_SOURCE_CHARS = 100_000
# What markdown-it-py spends, in microseconds, on each character that opens a construct
# (links and images, emphasis, autolinks, code spans, entities, escapes, table cells,
# list items, quotes) and on each line (every block rule is tried on it), measured on
# floods of each on a 2-core box. ``str.count`` sums them in C before anything is parsed.
MARKUP_COST_US = {
    "[": 15,
    "![": 30,
    "(": 15,
    "+": 15,
    ".": 10,
    "*": 13,
    "_": 13,
    "-": 15,
    ">": 15,
    "<": 40,
    "`": 2,
    "\\": 5,
    "&": 6,
    "|": 30,
    "\n": 35,
}
# A source estimated dearer than this is shown as plain text (~50 ms of rendering).
MAX_MARKUP_COST_US = 50_000
PLAIN_TEXT_NOTE = '<p class="muted">Shown as plain text: too long or too much markup to format.</p>'
CACHE_TIMEOUT_S = 60 * 60 * 24 * 7
CACHE_PREFIX = "catalog:markdown:v1:"

_renderer = MarkdownIt("commonmark", {"html": False}).enable("table")


def markup_cost_us(source: str) -> int:
    """The estimated render time of ``source`` in microseconds (C-speed counts only)."""
    return sum(source.count(token) * cost for token, cost in MARKUP_COST_US.items())


def is_formattable(source: str) -> bool:
    """Whether ``source`` renders as Markdown within the time budget."""
    return len(source) <= MAX_SOURCE_CHARS and markup_cost_us(source) <= MAX_MARKUP_COST_US


def plain_text_html(source: str) -> str:
    """``source`` as escaped paragraphs (blank lines) with line breaks: linear, no markup."""
    paragraphs = [part for part in source.replace("\r\n", "\n").split("\n\n") if part.strip()]
    body = "".join(
        "<p>" + html.escape(part.strip("\n")).replace("\n", "<br>") + "</p>" for part in paragraphs
    )
    return PLAIN_TEXT_NOTE + body


def _render_uncached(source: str) -> str:
    source = source[:MAX_SOURCE_CHARS]
    if not is_formattable(source):
        # Every character is escaped and the only tags are our own: nothing for nh3 to
        # clean, and cleaning 100,000 escaped "<" would cost it ~100 ms.
        return plain_text_html(source)
    return nh3.clean(
        _renderer.render(source),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def render_markdown(source: str) -> str:
    """Sanitised HTML of the Markdown ``source`` (safe to mark safe in a template).

    Rendered as Markdown when its estimated cost is within ``MAX_MARKUP_COST_US``, else
    as plain text, and cached under the source's digest.
    """
    if not source:
        return ""
    digest = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()
    key = CACHE_PREFIX + digest
    rendered = cache.get(key)
    if rendered is None:
        rendered = _render_uncached(source)
        cache.set(key, rendered, CACHE_TIMEOUT_S)
    return rendered
