"""Template filters and tags of the catalogue pages.

``markdown`` is the only way source text becomes HTML: it goes through nh3
(``catalog.markdown``). Links to the MLflow UI are built from
``settings.CATALOG_MLFLOW_UI_URL`` and ids only; nothing from metadata becomes a URL.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from django import template
from django.conf import settings
from django.utils.html import escape
from django.utils.safestring import mark_safe

from catalog import formatting, model_urls
from catalog.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(source: str) -> str:
    """Sanitised HTML of a Markdown description."""
    # nh3 has cleaned the HTML: only allowlisted tags, attributes and URL schemes remain.
    return mark_safe(render_markdown(source or ""))  # noqa: S308


@register.filter
def model_chart_url(name: str) -> str:
    """The versions chart URL of a registered model, its name encoded as one segment."""
    return model_urls.model_chart_url(name)


@register.filter
def metric(value) -> str:
    """A metric value with four significant digits."""
    return formatting.format_metric(value)


@register.filter
def duration(delta) -> str:
    return formatting.format_duration(delta)


@register.filter
def s3_folder(experiment) -> str:
    """The experiment's folder as the seed writes it ("4/")."""
    return formatting.folder_of(experiment)


@register.filter
def sorted_items(mapping) -> list:
    """A dict's items sorted by key (params, tags, metrics)."""
    return sorted((mapping or {}).items())


@register.filter
def metric_items(mapping) -> list:
    """Metrics ordered with the usual quality metrics first."""
    from catalog.selectors import order_metric_keys

    mapping = mapping or {}
    return [(key, mapping[key]) for key in order_metric_keys(mapping)]


def _ui(path: str) -> str | None:
    base = settings.CATALOG_MLFLOW_UI_URL
    return f"{base}/#/{path}" if base else None


@register.simple_tag
def mlflow_experiment_url(experiment) -> str | None:
    return _ui(f"experiments/{quote(experiment.experiment_id, safe='')}")


@register.simple_tag
def mlflow_run_url(run) -> str | None:
    return _ui(
        f"experiments/{quote(run.experiment.experiment_id, safe='')}"
        f"/runs/{quote(run.run_id, safe='')}"
    )


@register.simple_tag
def mlflow_model_url(registered_model) -> str | None:
    return _ui(f"models/{quote(registered_model.name, safe='')}")


@register.simple_tag
def mlflow_version_url(version) -> str | None:
    return _ui(f"models/{quote(version.registered_model.name, safe='')}/versions/{version.version}")


@register.simple_tag
def mlflow_logged_model_url(logged_model) -> str | None:
    return _ui(
        f"experiments/{quote(logged_model.experiment.experiment_id, safe='')}"
        f"/models/{quote(logged_model.model_id, safe='')}"
    )


# Where a long identifier may wrap: after a path or name separator.
_BREAK_AFTER = re.compile(r"([/._=-])")


@register.filter
def breakable(value) -> str:
    """The value as escaped text with ``<wbr>`` after each ``/ . _ - =``.

    Long S3 URIs, run ids, file names and tag keys then wrap at their separators on a
    narrow screen instead of letter by letter. The text is escaped first, always (even
    text already marked safe), and escaping produces none of those separators, so the
    only markup in the result is the ``<wbr>`` added here.
    """
    text = escape("" if value is None else str(value))
    return mark_safe(_BREAK_AFTER.sub(r"\1<wbr>", text))  # noqa: S308
