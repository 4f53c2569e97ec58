"""Thin views: list views are SingleTableMixin + FilterView, detail views call selectors."""
