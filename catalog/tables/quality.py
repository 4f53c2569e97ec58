"""The quality leaderboard's table."""

from __future__ import annotations

import django_tables2 as tables

from catalog.formatting import (
    format_metric,
)
from catalog.models import ModelVersion
from catalog.tables.base import (
    CatalogTable,
)


class LeaderboardTable(CatalogTable):
    model = tables.Column(
        verbose_name="Model",
        accessor="registered_model__name",
        linkify=lambda record: record.registered_model.get_absolute_url(),
        orderable=False,
    )
    version = tables.Column(
        verbose_name="Version", linkify=lambda record: record.get_absolute_url(), orderable=False
    )
    metric_value = tables.Column(verbose_name="Value", orderable=False)
    category = tables.Column(
        verbose_name="Category", accessor="registered_model__category", orderable=False
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

    class Meta(CatalogTable.Meta):
        model = ModelVersion
        fields = ("model", "version", "metric_value", "category", "experiment", "run")
        empty_text = "No model versions have this metric."

    def render_version(self, value):
        return f"v{value}"

    def value_version(self, value):
        return value

    def render_metric_value(self, value):
        return format_metric(value)

    def value_metric_value(self, value):
        return value

    def render_category(self, record):
        return record.registered_model.get_effective_category_display()

    def value_category(self, record):
        return record.registered_model.effective_category
