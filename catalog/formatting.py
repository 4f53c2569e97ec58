"""Pure formatting helpers shared by the tables, the templates and the mapping export."""

from __future__ import annotations

from catalog.models import Experiment
from catalog.selectors import order_metric_keys

KEY_METRICS_SHOWN = 4
TAGS_SHOWN = 4
PURPOSE_CHARS = 120


def folder_of(experiment: Experiment) -> str:
    """The experiment's S3 folder as the seed writes it ("4/"), from its artifact location."""
    return folder_of_location(experiment.artifact_location)


def folder_of_location(location: str | None) -> str:
    """The S3 folder ("4/") of an experiment's artifact location."""
    location = location or ""
    if location.startswith("s3://"):
        _, _, prefix = location[len("s3://") :].partition("/")
        return prefix.rstrip("/") + "/" if prefix else "/"
    return location


def format_metric(value) -> str:
    if value is None:  # NaN or infinity in MLflow: the sync stores null
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:.4g}"


def key_metrics(metrics: dict, limit: int = KEY_METRICS_SHOWN) -> list[tuple[str, str]]:
    """The first ``limit`` metrics, usual quality metrics first, formatted."""
    metrics = metrics or {}
    return [(key, format_metric(metrics[key])) for key in order_metric_keys(metrics)[:limit]]


def plain_purpose(source: str, limit: int = PURPOSE_CHARS) -> str:
    """The first line of a Markdown description as plain text, cut to ``limit``."""
    for line in (source or "").splitlines():
        text = line.strip().lstrip("#>*- ").strip()
        if text:
            return text if len(text) <= limit else text[: limit - 1] + "…"
    return ""


def format_duration(delta) -> str:
    if delta is None:
        return ""
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"
