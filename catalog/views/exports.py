"""CSV export of any table (``?_export=csv``) and the regenerated seed page.

django-tables2's own ExportMixin needs tablib; the catalogue only exports CSV, so this
mixin streams ``Table.as_values()`` through the csv module: every row of the filtered,
sorted table (not just the page), written as it is read. Cells are the tables' plain
values (``value_<column>``: full ids, every key=value pair, ISO 8601 dates, numbers as
stored), never their HTML; a cell a spreadsheet would run as a formula is defused.
"""

from __future__ import annotations

import csv
import re

from django.http import HttpResponse, HttpResponseBadRequest, StreamingHttpResponse

from catalog import selectors
from catalog.mapping import render_mapping_markdown
from catalog.pagecache import EXPORT_PARAM

EXPORT_FORMATS = ("csv",)
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP's list:
# the full-width forms too, which some spreadsheets read as the ASCII ones); a leading
# apostrophe makes it text again. Plain numbers ("-0.5") are left alone.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$", re.ASCII)


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
    """Add ``?_export=csv`` to a view: the whole table as CSV.

    The table is the context's ``table`` (a SingleTableMixin view's), or what
    ``get_export_table`` returns for a page that shows no table of its own. Any other
    ``?_export=`` value is refused with a 400 that says what is offered, rather than
    quietly serving the HTML page to a script that asked for data.
    """

    export_name = "table"

    def wants_export(self) -> bool:
        return self.request.GET.get(EXPORT_PARAM) == "csv"

    def get(self, request, *args, **kwargs):
        requested = request.GET.get(EXPORT_PARAM)
        if requested is not None and requested not in EXPORT_FORMATS:
            return HttpResponseBadRequest(
                f"Unknown export format {requested[:20]!r}: only ?{EXPORT_PARAM}=csv is offered.",
                content_type="text/plain; charset=utf-8",
            )
        return super().get(request, *args, **kwargs)

    def get_export_table(self, context):
        """The table the export writes: the page's own by default."""
        return context["table"]

    def export_table(self, table) -> StreamingHttpResponse:
        return stream_csv(rows=table.as_values(), filename=f"{self.export_name}.csv")

    def render_to_response(self, context, **response_kwargs):
        if self.wants_export():
            return self.export_table(self.get_export_table(context))
        return super().render_to_response(context, **response_kwargs)


def mapping_markdown(request):
    """``/export/mapping.md``: the seed page regenerated from the catalogue."""
    # The last sync comes with the request's data version (read by the page cache).
    markdown = render_mapping_markdown(sync=selectors.request_last_sync(request))
    response = HttpResponse(markdown, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="s3-artifact-mapping.md"'
    return response


mapping_markdown.query_params = ()  # the page cache keys it by its path alone
