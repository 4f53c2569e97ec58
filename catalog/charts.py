"""Charts: pure functions from numbers to PNG bytes.

Each builds its own ``matplotlib.figure.Figure`` (never pyplot: it keeps global state
across threads) on the Agg canvas, and returns PNG bytes. Labels are drawn as text by
matplotlib, so nothing from MLflow reaches HTML here. ``cached_png`` keeps a chart in
the Django cache under a digest of the numbers it is drawn from: the same data never
renders twice, and new data is a new key (no stale charts, nothing to invalidate).

Metric values are untrusted numbers: NaN and infinities are left out of a chart and
magnitudes beyond ``MAX_DRAWN_MAGNITUDE`` are clipped to it (near ``1e308`` matplotlib's
axis arithmetic overflows: ``ValueError: arange``), and the chart says so in a note.
If drawing still fails, ``cached_png`` answers a chart that says so: never a 500.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.core.cache import cache
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

CHART_CACHE_TIMEOUT_S = 60 * 60 * 24 * 7
BAR_COLOR = "#2f6fb0"
HIGHLIGHT_COLOR = "#1a7f37"
LINE_COLOR = "#2f6fb0"
LABEL_MAX_CHARS = 48
NOTE_COLOR = "#9a6700"
# Beyond this matplotlib's tick and margin arithmetic overflows to infinity.
MAX_DRAWN_MAGNITUDE = 1e300

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Drawable:
    """Which of a chart's values can be drawn: indexes kept, values clipped, and counts."""

    kept: list[int]
    values: list[float]
    skipped: int
    clipped: int

    @property
    def note(self) -> str:
        """What the chart leaves out or changes, in words ("" when nothing)."""
        parts = []
        if self.skipped:
            noun = "value" if self.skipped == 1 else "values"
            parts.append(f"{self.skipped} non-finite {noun} not drawn")
        if self.clipped:
            noun = "value" if self.clipped == 1 else "values"
            parts.append(f"{self.clipped} {noun} clipped to ±{MAX_DRAWN_MAGNITUDE:.0e}")
        return "; ".join(parts)


def drawable(values: Sequence[float]) -> Drawable:
    """The finite ``values`` (non-numbers, NaN and infinities dropped), clipped in magnitude."""
    kept, clipped_values, skipped, clipped = [], [], 0, 0
    for index, value in enumerate(values):
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            number = math.nan
        if not math.isfinite(number):
            skipped += 1
            continue
        if abs(number) > MAX_DRAWN_MAGNITUDE:
            number = math.copysign(MAX_DRAWN_MAGNITUDE, number)
            clipped += 1
        kept.append(index)
        clipped_values.append(number)
    return Drawable(kept=kept, values=clipped_values, skipped=skipped, clipped=clipped)


def _finite_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(number):
        return None
    return max(-MAX_DRAWN_MAGNITUDE, min(MAX_DRAWN_MAGNITUDE, number))


def _add_note(figure: Figure, note: str) -> None:
    if note:
        figure.text(0.01, 0.005, note, fontsize=8, color=NOTE_COLOR, ha="left", va="bottom")


def _short(label: str) -> str:
    """``label`` cut to ``LABEL_MAX_CHARS``, drawn literally.

    Matplotlib reads text between dollar signs as mathtext, and a run name such as
    ``$\\frac{$`` would make drawing fail; escaped dollars are drawn as themselves.
    """
    label = str(label)
    if len(label) > LABEL_MAX_CHARS:
        label = label[: LABEL_MAX_CHARS - 1] + "…"
    return label.replace("$", r"\$")


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _empty(figure: Figure, message: str) -> bytes:
    axes = figure.add_subplot()
    axes.axis("off")
    axes.text(0.5, 0.5, message, ha="center", va="center", color="#57606a")
    return _png(figure)


def _zoomed_range(values: Sequence[float]) -> tuple[float, float] | None:
    """An x range around ``values`` when they are all positive and close together."""
    values = [value for value in values if math.isfinite(value)]
    if not values:
        return None
    low, high = min(values), max(values)
    spread = high - low
    if low <= 0 or spread >= 0.25 * high:
        return None
    margin = max(spread, 0.01 * high)
    return low - margin, high + margin * 0.6


def bar_chart_png(
    *,
    labels: Sequence[str],
    values: Sequence[float],
    metric: str,
    threshold: float | None = None,
    title: str = "",
    lower_is_better: bool = False,
) -> bytes:
    """A horizontal bar chart of ``values`` by ``labels``; bars that pass ``threshold``
    (at or over it, or at or under it when ``lower_is_better``) are green and the
    threshold is drawn as a dashed line."""
    if len(labels) != len(values):
        raise ValueError("labels and values must have the same length")
    shown = drawable(values)
    labels = [labels[index] for index in shown.kept]
    values = shown.values
    threshold = _finite_or_none(threshold)
    height = max(2.2, 0.38 * len(labels) + 1.2)
    figure = Figure(figsize=(8, height), layout="constrained")
    _add_note(figure, shown.note)
    if not values:
        return _empty(figure, f"No values of {_short(metric)!r} to compare")
    axes = figure.add_subplot()
    positions = list(range(len(labels)))
    colors = [
        HIGHLIGHT_COLOR
        if threshold is not None and (value <= threshold if lower_is_better else value >= threshold)
        else BAR_COLOR
        for value in values
    ]
    axes.barh(positions, values, color=colors)
    axes.set_yticks(positions, [_short(label) for label in labels])
    axes.invert_yaxis()  # first label on top, as in a table
    axes.set_xlabel(_short(metric))
    for position, value in zip(positions, values, strict=True):
        axes.annotate(
            f"{value:.4g}",
            (value, position),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    if threshold is not None:
        axes.axvline(threshold, color="#cf222e", linestyle="--", linewidth=1)
    zoom = _zoomed_range([*values, *([threshold] if threshold is not None else [])])
    if zoom is not None:
        # Close values (0.95 vs 0.97) are invisible on an axis from zero: zoom, and say so.
        axes.set_xlim(*zoom)
        axes.set_xlabel(f"{_short(metric)} (axis does not start at 0)")
    if title:
        axes.set_title(_short(title))
    axes.grid(axis="x", alpha=0.3)
    return _png(figure)


def line_chart_png(*, points: Sequence[tuple[float, float]], metric: str) -> bytes:
    """A line chart of (step, value) ``points`` of one metric."""
    shown = drawable([value for _, value in points])
    steps = [points[index][0] for index in shown.kept]
    values = shown.values
    figure = Figure(figsize=(5, 2.8), layout="constrained")
    _add_note(figure, shown.note)
    if not values:
        return _empty(figure, f"No history of {_short(metric)!r}")
    axes = figure.add_subplot()
    axes.plot(steps, values, color=LINE_COLOR, marker="o" if len(values) <= 50 else None)
    axes.set_title(_short(metric), fontsize=10)
    axes.set_xlabel("step")
    axes.grid(alpha=0.3)
    return _png(figure)


def data_digest(*parts) -> str:
    """A stable digest of JSON-able ``parts``: the chart's data version."""
    payload = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(payload).hexdigest()


def cached_png(*, kind: str, data: object, render: Callable[[], bytes]) -> bytes:
    """``render()``'s PNG, cached under ``kind`` and the digest of ``data``.

    A chart that cannot be drawn (matplotlib refuses its numbers) is a PNG saying so,
    logged and not cached.
    """
    key = f"catalog:chart:{kind}:{data_digest(data)}"
    png = cache.get(key)
    if png is None:
        try:
            png = render()
        except (ValueError, OverflowError, FloatingPointError):
            logger.warning("Chart %s could not be drawn", kind, exc_info=True)
            return _empty(Figure(figsize=(5, 2.2)), "This chart could not be drawn")
        cache.set(key, png, CHART_CACHE_TIMEOUT_S)
    return png
