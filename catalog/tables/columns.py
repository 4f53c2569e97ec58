"""Column classes for cells that several tables show the same way.

Each column renders its cell's HTML (``render``) and the plain value the CSV export
writes (``value``), so a table that declares one needs no ``render_<name>`` /
``value_<name>`` pair of its own, and its export gets a plain value for free (the idea
of NetBox's ``netbox/tables/columns.py``). A cell drawn one way in one table only stays
a method of that table. Dates are ``base.IsoDateTimeColumn``.

Like every render method, these read only what the row holds (the selectors fetched
it): none of them queries. Text from MLflow goes through ``format_html``: escaped.
"""

from __future__ import annotations

import django_tables2 as tables
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html, format_html_join

from catalog.formatting import TAGS_SHOWN, key_metrics
from catalog.tables.base import _pairs, badge, pairs_text, presence_badge, presence_text


class BytesColumn(tables.Column):
    """A byte count: "1.2 MB" on the page, the exact number of bytes in the export."""

    def render(self, value):
        return filesizeformat(value)

    def value(self, value):
        return value


class VersionColumn(tables.Column):
    """A model version's number: "v3" on the page, 3 in the export."""

    def render(self, value):
        return f"v{value}"

    def value(self, value):
        return value


class CodeColumn(tables.Column):
    """Text shown as code; ``text`` (the identity by default) turns the value into it."""

    def __init__(self, *args, text=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.text = text or (lambda value: value)

    def render(self, value):
        return format_html("<code>{}</code>", self.text(value))

    def value(self, value):
        return self.text(value)


class PresenceColumn(tables.Column):
    """Whether something's S3 artifacts are there: a present / missing / unknown badge."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("empty_values", ())  # None is "unknown", not an empty cell
        super().__init__(*args, **kwargs)

    def render(self, value):
        return presence_badge(value)

    def value(self, value):
        return presence_text(value)


class MissingSinceColumn(tables.Column):
    """A row's ``missing_since``: "gone since <date>" or "present"; ISO 8601 in the export."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("empty_values", ())  # no date is "present", not an empty cell
        super().__init__(*args, **kwargs)

    def render(self, value):
        return badge(f"gone since {value:%Y-%m-%d}", "missing") if value else badge("present", "ok")

    def value(self, value):
        return value.isoformat() if value else "present"


class StatusColumn(tables.Column):
    """MLflow's status as a badge, with a "gone" badge for a row missing from MLflow
    (and, with ``lifecycle=True``, a badge for a run's lifecycle stage other than
    active). The export writes the status alone: the other marks have columns of their
    own there."""

    def __init__(self, *args, lifecycle: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.lifecycle = lifecycle

    def render(self, record):
        status = record.status or "unknown"
        badges = [badge(status, status.lower())]
        if self.lifecycle and record.lifecycle_stage != "active":
            badges.append(badge(record.lifecycle_stage, "deleted"))
        if record.missing_since:
            badges.append(badge("gone", "missing"))
        # Joining SafeStrings with a plain str would drop their safety and escape them.
        return format_html_join(" ", "{}", ((b,) for b in badges))

    def value(self, record):
        return record.status


class CategoryColumn(tables.Column):
    """A registered model's category (the curated override, else the one the sync
    found): its label on the page, its code in the export.

    ``model`` names the row's attribute that holds the registered model (a version's
    ``registered_model``); without it the row is the model.
    """

    def __init__(self, *args, model: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.model = model

    def _registered_model(self, record):
        return getattr(record, self.model) if self.model else record

    def render(self, record):
        return self._registered_model(record).get_effective_category_display()

    def value(self, record):
        return self._registered_model(record).effective_category


class MetricsColumn(tables.Column):
    """A ``{metric: value}`` mapping: the key metrics on the page, every metric in the
    export (``key=value; ...``, a null as an empty value)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("empty_values", ())  # no metrics is an empty cell, not "—"
        kwargs.setdefault("orderable", False)
        super().__init__(*args, **kwargs)

    def render(self, value):
        return format_html_join(
            " ", '<span class="metric">{} <b>{}</b></span>', key_metrics(value or {})
        )

    def value(self, value):
        return pairs_text(value)


class PairsColumn(tables.Column):
    """A ``{key: value}`` mapping (tags): the first ``limit`` pairs on the page and a
    count of the others; every pair in the export."""

    def __init__(self, *args, limit: int = TAGS_SHOWN, **kwargs):
        kwargs.setdefault("empty_values", ())
        kwargs.setdefault("orderable", False)
        super().__init__(*args, **kwargs)
        self.limit = limit

    def render(self, value):
        return _pairs(value, self.limit)

    def value(self, value):
        return pairs_text(value)


class AliasVersionsColumn(tables.Column):
    """A registered model's aliases (``{alias: version}``): "@alias → v3" each."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("empty_values", ())
        super().__init__(*args, **kwargs)

    def render(self, value):
        return format_html_join(
            " ",
            '<span class="alias">@{}&nbsp;→&nbsp;v{}</span>',
            sorted((value or {}).items()),
        )

    def value(self, value):
        return pairs_text(value)


class AliasesColumn(tables.Column):
    """A model version's aliases (a list): "@alias" each; "a; b" in the export."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("empty_values", ())
        super().__init__(*args, **kwargs)

    def render(self, value):
        return format_html_join(" ", '<span class="alias">@{}</span>', ((a,) for a in value or []))

    def value(self, value):
        return "; ".join(value or [])
