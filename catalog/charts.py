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

Every chart comes in the sizes of ``CHART_SIZES`` (the page shows "normal", a click opens
"large"); a request's size is read by ``chart_size`` from that fixed set only, so junk
never makes a new cache entry. One value is not a chart: a single bar or a one-point
history would only draw an axis around it, so the value is written out in words instead.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.cache import cache

if TYPE_CHECKING:
    # matplotlib costs ~38 MB and half a second to import: loaded by the first chart
    # drawn, not by every process that loads the URLconf (management commands, the sync).
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
class ChartSize:
    """How big a chart is drawn: its figure scaled by ``scale``, rasterised at ``dpi``."""

    scale: float
    dpi: int


DEFAULT_CHART_SIZE = "normal"
# A fixed set: a size is part of the cache key, so it must never come from free input.
CHART_SIZES = {
    "normal": ChartSize(scale=1.0, dpi=100),
    "large": ChartSize(scale=1.6, dpi=150),
}


def chart_size(value: object) -> str:
    """The chart size named by ``value`` (a query parameter), or the default for anything else."""
    return value if isinstance(value, str) and value in CHART_SIZES else DEFAULT_CHART_SIZE


def _figure(*, width: float, height: float, size: str) -> Figure:
    from matplotlib.figure import Figure

    scale = CHART_SIZES[chart_size(size)].scale
    return Figure(figsize=(width * scale, height * scale), layout="constrained")


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


def _png(figure: Figure, *, size: str = DEFAULT_CHART_SIZE) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=CHART_SIZES[chart_size(size)].dpi)
    return buffer.getvalue()


def _empty(figure: Figure, message: str, *, size: str = DEFAULT_CHART_SIZE) -> bytes:
    axes = figure.add_subplot()
    axes.axis("off")
    axes.text(0.5, 0.5, message, ha="center", va="center", color="#57606a")
    return _png(figure, size=size)


def _single_value(figure: Figure, *, lines: Sequence[str], size: str) -> bytes:
    """The one value there is, in words: an axis around one point says nothing."""
    axes = figure.add_subplot()
    axes.axis("off")
    top = 0.5 + 0.12 * (len(lines) - 1)
    axes.text(0.5, top, lines[0], ha="center", va="center", fontsize=16, color="#1f2328")
    for offset, line in enumerate(lines[1:], start=1):
        axes.text(0.5, top - 0.24 * offset, line, ha="center", va="center", color="#57606a")
    return _png(figure, size=size)


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
    size: str = DEFAULT_CHART_SIZE,
) -> bytes:
    """A horizontal bar chart of ``values`` by ``labels``; bars that pass ``threshold``
    (at or over it, or at or under it when ``lower_is_better``) are green and the
    threshold is drawn as a dashed line. A single drawable value is written out instead."""
    if len(labels) != len(values):
        raise ValueError("labels and values must have the same length")
    shown = drawable(values)
    labels = [labels[index] for index in shown.kept]
    values = shown.values
    threshold = _finite_or_none(threshold)
    if len(values) == 1:
        # Room for two lines of words, not for bars.
        figure = _figure(width=6, height=1.8, size=size)
    else:
        figure = _figure(width=8, height=max(2.2, 0.38 * len(labels) + 1.2), size=size)
    _add_note(figure, shown.note)
    if not values:
        return _empty(figure, f"No values of {_short(metric)!r} to compare", size=size)
    if len(values) == 1:
        verdict = ""
        if threshold is not None:
            passes = values[0] <= threshold if lower_is_better else values[0] >= threshold
            verdict = f"; {'passes' if passes else 'misses'} the threshold {threshold:.4g}"
        return _single_value(
            figure,
            lines=[
                f"{_short(metric)} = {values[0]:.6g}",
                _short(labels[0]),
                f"the only value: nothing to compare{verdict}",
            ],
            size=size,
        )
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
    return _png(figure, size=size)


def line_chart_png(
    *, points: Sequence[tuple[float, float]], metric: str, size: str = DEFAULT_CHART_SIZE
) -> bytes:
    """A line chart of (step, value) ``points`` of one metric; one point is written out."""
    shown = drawable([value for _, value in points])
    steps = [points[index][0] for index in shown.kept]
    values = shown.values
    figure = _figure(width=5, height=1.5 if len(values) == 1 else 2.8, size=size)
    _add_note(figure, shown.note)
    if not values:
        return _empty(figure, f"No history of {_short(metric)!r}", size=size)
    if len(values) == 1:
        return _single_value(
            figure,
            lines=[f"{_short(metric)} = {values[0]:.6g}", f"one value only, at step {steps[0]}"],
            size=size,
        )
    axes = figure.add_subplot()
    axes.plot(steps, values, color=LINE_COLOR, marker="o" if len(values) <= 50 else None)
    axes.set_title(_short(metric), fontsize=10)
    axes.set_xlabel("step")
    axes.grid(alpha=0.3)
    return _png(figure, size=size)


def data_digest(*parts) -> str:
    """A stable digest of JSON-able ``parts``: the chart's data version."""
    payload = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(payload).hexdigest()


def cached_png(
    *,
    kind: str,
    data: object,
    render: Callable[[], bytes],
    size: str = DEFAULT_CHART_SIZE,
) -> bytes:
    """``render()``'s PNG, cached under ``kind``, ``size`` and the digest of ``data``.

    ``render`` must draw at ``size``: the same numbers at two sizes are two images.
    A chart that cannot be drawn (matplotlib refuses its numbers) is a PNG saying so,
    logged and not cached.
    """
    key = f"catalog:chart:{kind}:{chart_size(size)}:{data_digest(data)}"
    png = cache.get(key)
    if png is None:
        try:
            png = render()
        except (ValueError, OverflowError, FloatingPointError):
            logger.warning("Chart %s could not be drawn", kind, exc_info=True)
            from matplotlib.figure import Figure

            return _empty(Figure(figsize=(5, 2.2)), "This chart could not be drawn")
        cache.set(key, png, CHART_CACHE_TIMEOUT_S)
    return png
