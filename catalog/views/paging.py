"""Bounded table paging: ``?per_page=`` and ``?page=`` as every table page reads them.

django-tables2's ``RequestConfig`` passes ``?per_page=`` to the paginator as it comes:
``-1`` is a 500 and ``1000000`` renders an experiment's 20,000 runs in one 7 MB page.
``BoundedTableMixin`` (used instead of ``SingleTableMixin``) configures the table from
the same parameters, clamped: ``per_page`` to 1..``MAX_PER_PAGE`` (unparsable: the
view's default), ``page`` to a number from 1 (unparsable or below 1: the first page;
past the end: the last page). The page cache keys on the same normalised values
(``normalised_query_value``), so ``?page=01``, ``?page=1`` and no page are one entry.
"""

from __future__ import annotations

from django.core.paginator import EmptyPage, Paginator
from django_tables2 import SingleTableMixin

PAGE_PARAM = "page"
PER_PAGE_PARAM = "per_page"
SORT_PARAM = "sort"
TABLE_QUERY_PARAMS = (PAGE_PARAM, PER_PAGE_PARAM, SORT_PARAM)
# Keyset paging (the change timeline): ``?before=<id>`` and ``?after=<id>``.
CURSOR_PARAMS = ("before", "after")
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 500
# Longer digit strings are not page numbers (and int() refuses over 4,300 digits).
_MAX_NUMBER_DIGITS = 9
# A sort names columns; no table has more than a few dozen, nor longer names.
MAX_SORT_KEYS = 4
MAX_SORT_CHARS = 100


def parse_int(raw: str | None) -> int | None:
    """``raw`` as an int when it is a plain decimal number (ASCII digits, an optional
    sign), saturated at +-10**9; else None."""
    if raw is None:
        return None
    text = raw.strip()
    sign = -1 if text.startswith("-") else 1
    digits = text[1:] if text[:1] in "+-" else text
    if not digits or not (digits.isascii() and digits.isdecimal()):
        return None
    digits = digits.lstrip("0") or "0"
    if len(digits) > _MAX_NUMBER_DIGITS:
        return sign * 10**_MAX_NUMBER_DIGITS
    return sign * int(digits)


def clamp_per_page(raw: str | None, *, default: int = DEFAULT_PER_PAGE) -> int:
    """Rows per page from ``?per_page=``: 1..``MAX_PER_PAGE``, the default when unparsable."""
    number = parse_int(raw)
    if number is None:
        return default
    return min(max(number, 1), MAX_PER_PAGE)


def page_number(raw: str | None) -> int:
    """The page asked for by ``?page=``: 1 when unparsable or below 1."""
    number = parse_int(raw)
    return number if number is not None and number >= 1 else 1


def cursor_value(raw: str | None) -> int | None:
    """A keyset cursor from ``?before=`` / ``?after=``: a row id from 1, else None."""
    number = parse_int(raw)
    return number if number is not None and number >= 1 else None


def sort_keys(values: list[str]) -> list[str]:
    """``?sort=`` values that could name a column (the table drops unknown names)."""
    kept = [value for value in values if value and len(value) <= MAX_SORT_CHARS]
    return kept[:MAX_SORT_KEYS]


def normalised_query_value(name: str, values: list[str]) -> list[str]:
    """The canonical form of a table parameter's values, for the page cache's key.

    Values that read the same (``page=01`` and ``page=1``, ``per_page=9999`` and
    ``per_page=500``) come out equal; other parameters are returned as they are.
    """
    if name == PER_PAGE_PARAM:
        number = parse_int(values[-1] if values else None)
        return [] if number is None else [str(min(max(number, 1), MAX_PER_PAGE))]
    if name == PAGE_PARAM:
        number = parse_int(values[-1] if values else None)
        # Below 1, unparsable and 1 itself all show the first page.
        return [] if number is None or number <= 1 else [str(number)]
    if name == SORT_PARAM:
        return sort_keys(values)
    if name in CURSOR_PARAMS:
        number = cursor_value(values[-1] if values else None)
        return [] if number is None else [str(number)]
    return values


class KnownCountPaginator(Paginator):
    """A paginator given its count by a query the page runs anyway (``count=``), so it
    does not count the rows a second time."""

    def __init__(self, object_list, per_page, *, count: int, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.count = count  # shadows Paginator.count, a cached property


class BoundedTableMixin(SingleTableMixin):
    """``SingleTableMixin`` whose page size and page number are validated and clamped."""

    table_pagination = {"per_page": DEFAULT_PER_PAGE}

    def get_table(self, **kwargs):
        table = self.get_table_class()(data=self.get_table_data(), **kwargs)
        table.request = self.request
        order_by = sort_keys(self.request.GET.getlist(table.prefixed_order_by_field))
        if order_by:
            table.order_by = order_by
        pagination = self.get_table_pagination(table)
        if pagination is False:
            return table
        options = dict(pagination) if hasattr(pagination, "items") else {}
        options.pop("silent", None)
        default = options.pop("per_page", DEFAULT_PER_PAGE)
        per_page = clamp_per_page(
            self.request.GET.get(table.prefixed_per_page_field), default=default
        )
        page = page_number(self.request.GET.get(table.prefixed_page_field))
        try:
            table.paginate(per_page=per_page, page=page, **options)
        except EmptyPage:
            table.page = table.paginator.page(table.paginator.num_pages)
        return table
