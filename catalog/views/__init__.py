"""Thin views: list views are BoundedTableMixin (``catalog.views.paging``) + FilterView,
detail views call selectors. A view that reads a query parameter other than its filter
fields and table parameters names it in ``query_params`` (the page cache keys by those).
"""
