"""The quality leaderboard's table."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.html import format_html, format_html_join

from catalog.formatting import (
    format_metric,
)
from catalog.models import ModelVersion
from catalog.selectors import shared_with
from catalog.tables.base import CatalogTable
from catalog.tables.columns import CategoryColumn, VersionColumn

# Other models named in a "shared with" note before "and N more".
SHARED_NAMES_SHOWN = 3
SHARED_RUN_HINT = (
    "The value is its source run's metric, and that run is also the source of these "
    "models: it may describe one of them, not this model."
)


class LeaderboardTable(CatalogTable):
    """The ranked latest versions; rows past ``threshold`` are marked below the threshold.

    ``threshold`` and ``lower_is_better`` say which side of the threshold passes (the
    view's parsed values). The template (``catalog/partials/leaderboard_table.html``)
    greys the rows below and draws the line above the first of them.
    """

    model = tables.Column(
        verbose_name="Model",
        accessor="registered_model__name",
        linkify=lambda record: record.registered_model.get_absolute_url(),
        orderable=False,
    )
    version = VersionColumn(
        verbose_name="Version", linkify=lambda record: record.get_absolute_url(), orderable=False
    )
    metric_value = tables.Column(verbose_name="Value", orderable=False)
    category = CategoryColumn(
        verbose_name="Category",
        accessor="registered_model__category",
        model="registered_model",
        orderable=False,
    )
    experiment = tables.Column(
        verbose_name="Experiment",
        accessor="run__experiment__name",
        linkify=lambda record: record.run.experiment.get_absolute_url(),
        orderable=False,
    )
    run = tables.Column(
        verbose_name="Source run",
        accessor="run__name",
        linkify=lambda record: record.run.get_absolute_url(),
        orderable=False,
    )

    note = tables.Column(verbose_name="Note", accessor="pk", orderable=False)

    class Meta(CatalogTable.Meta):
        model = ModelVersion
        fields = ("model", "version", "metric_value", "category", "experiment", "run", "note")
        empty_text = "No model versions have this metric."
        template_name = "catalog/partials/leaderboard_table.html"

    def __init__(self, *args, threshold: float | None = None, lower_is_better=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.threshold = threshold
        self.lower_is_better = lower_is_better
        # How many ranked models (on every page) miss the threshold: the view counts them.
        self.below_count = 0

    def is_below_threshold(self, record) -> bool:
        """Whether ``record``'s value misses the threshold (never without a threshold)."""
        if self.threshold is None or record.metric_value is None:
            return False
        if self.lower_is_better:
            return record.metric_value > self.threshold
        return record.metric_value < self.threshold

    @property
    def paginated_rows(self):
        """The rows shown, each record marked ``below_threshold`` for the template.

        Read once by the template (the page's query and its prefetches, as before): the
        mark lets it grey the row and draw the line once, above the first row below.
        """
        rows = list(super().paginated_rows)
        for row in rows:
            row.record.below_threshold = self.is_below_threshold(row.record)
        return rows

    def render_metric_value(self, value):
        return format_metric(value)

    def value_metric_value(self, value):
        return value

    def render_note(self, record):
        parts = []
        if self.is_below_threshold(record):
            parts.append(format_html('<span class="muted">{}</span>', "below the threshold"))
        shared = shared_with(record)
        if shared:
            names, more = _shown_names(shared)
            parts.append(
                format_html(
                    '<span class="shared-run" title="{}">shared with {}{}</span>',
                    SHARED_RUN_HINT,
                    format_html_join(", ", "{}", ((name,) for name in names)),
                    more,
                )
            )
        return format_html_join(" · ", "{}", ((part,) for part in parts))

    def value_note(self, record):
        notes = ["below the threshold"] if self.is_below_threshold(record) else []
        shared = shared_with(record)
        if shared:
            names, more = _shown_names(shared)
            notes.append(f"shared with {', '.join(names)}{more}")
        return "; ".join(notes)


def _shown_names(shared) -> tuple[list[str], str]:
    """The first ``SHARED_NAMES_SHOWN`` names of ``shared`` and what follows them."""
    names = list(shared.names[:SHARED_NAMES_SHOWN])
    hidden = len(shared.names) - len(names)
    more = f" and {hidden} more" if hidden else ""
    if shared.maybe_more:
        more += " and possibly others"
    return names, more
