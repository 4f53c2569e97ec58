"""Load snippets as a page shows them, parsed from its HTML, and run as a user pastes them."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser


@dataclass
class ShownSnippet:
    """One snippet box: its code as shown, the Copy button's text (None: no button)."""

    page: str
    code: str
    struck: bool
    copy: str | None = None
    reason: str = ""


class _SnippetParser(HTMLParser):
    """The ``.snippet`` boxes of a page: their code, Copy text and whether struck."""

    def __init__(self, *, page: str):
        super().__init__(convert_charrefs=True)
        self.page = page
        self.found: list[ShownSnippet] = []
        self._current: ShownSnippet | None = None
        self._depth = 0
        self._in_code = False
        self._in_reason = False
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if self._current is None:
            if tag == "div" and "snippet" in classes:
                self._current = ShownSnippet(
                    page=self.page, code="", struck="snippet-unavailable" in classes
                )
                self._depth = 1
            return
        if tag == "div":
            self._depth += 1
        if tag == "pre":
            self._in_code, self._text = True, []
        if tag == "button" and "copy" in classes:
            self._current.copy = attributes.get("data-copy")
        if tag == "p" and "snippet-reason" in classes:
            self._in_reason, self._text = True, []

    def handle_data(self, data):
        if self._in_code or self._in_reason:
            self._text.append(data)

    def handle_endtag(self, tag):
        if self._current is None:
            return
        if tag == "pre":
            self._current.code, self._in_code = "".join(self._text), False
        elif tag == "p" and self._in_reason:
            self._current.reason, self._in_reason = "".join(self._text), False
        elif tag == "div":
            self._depth -= 1
            if self._depth == 0:
                self.found.append(self._current)
                self._current = None


def parse_snippets(html: str, *, page: str = "") -> list[ShownSnippet]:
    """The snippet boxes of ``html``, in page order."""
    parser = _SnippetParser(page=page)
    parser.feed(html)
    parser.close()
    return parser.found


def snippets_on(client, url: str) -> list[ShownSnippet]:
    """The snippet boxes of the page at ``url`` (which must answer 200)."""
    response = client.get(url)
    assert response.status_code == 200, url
    return parse_snippets(response.content.decode(), page=url)


def run_pasted(code: str):
    """Run ``code`` as a user would paste it after ``import mlflow``; return ``model``."""
    namespace: dict = {}
    exec(compile("import mlflow\n" + code, "<snippet>", "exec"), namespace)  # noqa: S102
    return namespace["model"]
