"""CSV export of any table (``?_export=csv``) and the regenerated seed page.

django-tables2's own ExportMixin needs tablib; the catalogue only exports CSV, so this
mixin streams ``Table.as_values()`` through the csv module: every row of the filtered,
sorted table (not just the page), written as it is read.
"""

from __future__ import annotations

import csv
import re

from django.http import HttpResponse, StreamingHttpResponse

from catalog import selectors
from catalog.mapping import render_mapping_markdown
from catalog.pagecache import EXPORT_PARAM

# A spreadsheet runs a cell that starts with one of these as a formula; a leading
# apostrophe makes it text again. Plain numbers ("-0.5") are left alone.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def csv_safe(value) -> str:
    """``value`` as CSV cell text, defused if a spreadsheet would run it as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.match(text):
        return "'" + text
    return text


class _Echo:
    def write(self, value):
        return value


def stream_csv(*, rows, filename: str) -> StreamingHttpResponse:
    """A streamed CSV attachment of ``rows`` (an iterable of sequences)."""
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow([csv_safe(cell) for cell in row]) for row in rows),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class CsvExportMixin:
    """Add ``?_export=csv`` to a SingleTableMixin view: the whole table as CSV."""

    export_name = "table"

    def wants_export(self) -> bool:
        return self.request.GET.get(EXPORT_PARAM) == "csv"

    def export_table(self, table) -> StreamingHttpResponse:
        return stream_csv(rows=table.as_values(), filename=f"{self.export_name}.csv")

    def render_to_response(self, context, **response_kwargs):
        if self.wants_export():
            return self.export_table(context["table"])
        return super().render_to_response(context, **response_kwargs)


def mapping_markdown(request):
    """``/export/mapping.md``: the seed page regenerated from the catalogue."""
    # The last sync comes with the request's data version (read by the page cache).
    markdown = render_mapping_markdown(sync=selectors.request_last_sync(request))
    response = HttpResponse(markdown, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="s3-artifact-mapping.md"'
    return response


mapping_markdown.query_params = ()  # the page cache keys it by its path alone
