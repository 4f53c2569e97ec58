"""A folder's curated "related documents": parsed from the admin's text, one per line.

Team leads type them in the admin (``Experiment.related_links``) the way they would in a
wiki: ``Deployment checklist https://wiki.example/checklist`` (a label, the address, an
optional note after it) or Markdown ``[Changelog](./changelog.md) - what it records``.
Only web (``http``, ``https``) and relative addresses are links: a ``javascript:`` or
``data:`` address never becomes one, and the admin refuses a line without a usable
address, naming it. The parsed address is percent-encoded so that it can be written as a
Markdown link destination (or an ``href``) with no character that ends it early.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import quote, urlsplit

from django.core.exceptions import ValidationError

MAX_LINKS = 20
MAX_LINE_CHARS = 500

_MARKDOWN_LINK = re.compile(r"^\[(?P<label>[^\]]*)\]\((?P<url>[^()\s]+)\)\s*(?P<note>.*)$")
_LIST_MARKER = re.compile(r"^[-*+]\s+")
_NOTE_LEAD = re.compile(r"^[-–—:]\s*")
# Kept as they are in a destination; everything else (parentheses, spaces, quotes, angle
# brackets, backslashes, backticks, non-ASCII) is percent-encoded.
_URL_SAFE = "/:?#[]@!$&'*+,;=%-._~"


class RelatedLink(NamedTuple):
    """One related document: ``url`` is percent-encoded and safe in a link destination."""

    label: str
    url: str
    note: str

    @property
    def is_web(self) -> bool:
        """An absolute web address; a relative one only resolves beside the exported page."""
        return self.url.lower().startswith(("http://", "https://"))


def link_address(token: str) -> str | None:
    """``token`` as a safe link address, or None when it is no web or relative address."""
    if any(ord(char) < 32 or char == "\x7f" for char in token):
        return None
    if token.startswith(("./", "../")) or (token.startswith("/") and not token.startswith("//")):
        return quote(token, safe=_URL_SAFE)
    parts = urlsplit(token)
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return quote(token, safe=_URL_SAFE)
    return None


def parse_line(line: str) -> RelatedLink | None:
    """One line of the admin's text as a link, or None when it holds no usable address."""
    text = _LIST_MARKER.sub("", line.strip())[:MAX_LINE_CHARS]
    if not text:
        return None
    markdown = _MARKDOWN_LINK.match(text)
    if markdown:
        url = link_address(markdown["url"])
        if url is None:
            return None
        label = markdown["label"].strip() or markdown["url"]
        return RelatedLink(label, url, _NOTE_LEAD.sub("", markdown["note"]).strip())
    words = text.split()
    for index, word in enumerate(words):
        url = link_address(word)
        if url is not None:
            label = " ".join(words[:index]) or word
            note = _NOTE_LEAD.sub("", " ".join(words[index + 1 :])).strip()
            return RelatedLink(label, url, note)
    return None


def parse_related_links(text: str) -> list[RelatedLink]:
    """The links of ``text`` in order, at most ``MAX_LINKS``; unusable lines are skipped.

    The admin refuses unusable lines, but a row written another way (a shell, a fixture)
    may hold some: they never become links.
    """
    links = []
    for line in (text or "").splitlines():
        link = parse_line(line)
        if link is not None:
            links.append(link)
            if len(links) == MAX_LINKS:
                break
    return links


def validate_related_links(text: str) -> None:
    """The admin's check: every non-blank line is a link, and there are few enough."""
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if len(lines) > MAX_LINKS:
        raise ValidationError(
            "At most %(max)d links, one per line (%(count)d given).",
            params={"max": MAX_LINKS, "count": len(lines)},
            code="too_many_links",
        )
    bad = [
        f"line {number}: {line.strip()[:80]}"
        for number, line in lines
        if len(line.strip()) > MAX_LINE_CHARS or parse_line(line) is None
    ]
    if bad:
        raise ValidationError(
            "Each line needs a web (http, https) or relative (./, ../, /) address, "
            "in at most %(chars)d characters: %(lines)s",
            params={"chars": MAX_LINE_CHARS, "lines": "; ".join(bad)},
            code="bad_link",
        )
