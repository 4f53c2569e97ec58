"""Plots drawn from a run's own numbers with matplotlib's object API (no pyplot state).

PNG and PDF files are written without a creation date or software stamp, so a rebuild
writes byte-identical files (and S3 ETags stay the same).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

PNG_METADATA = {"Software": None}
PDF_METADATA = {"CreationDate": None, "Producer": None, "Creator": None}


def save_figure(figure: Figure, path: Path) -> Path:
    """Write ``figure`` as PNG or PDF (by suffix), reproducibly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".png":
        figure.savefig(path, format="png", dpi=80, metadata=PNG_METADATA)
    elif path.suffix == ".pdf":
        figure.savefig(path, format="pdf", metadata=PDF_METADATA)
    else:
        raise ValueError(f"unsupported plot format: {path.name}")
    return path


def line_figure(
    *,
    title: str,
    series: Mapping[str, Sequence[float]],
    xlabel: str,
    ylabel: str,
    marks: Sequence[int] = (),
) -> Figure:
    """One line per series; ``marks`` highlights points of the first series (alarms)."""
    figure = Figure(figsize=(7, 3.5))
    axes = figure.add_subplot()
    first = None
    for label, values in series.items():
        axes.plot(np.arange(len(values)), values, label=label, linewidth=1)
        first = values if first is None else first
    if len(marks) and first is not None:
        axes.scatter(marks, np.asarray(first)[list(marks)], color="crimson", s=10, label="flagged")
    axes.set(title=title, xlabel=xlabel, ylabel=ylabel)
    axes.legend(loc="best", fontsize=8)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return figure


def bar_figure(*, title: str, values: Mapping[str, float], xlabel: str) -> Figure:
    """Horizontal bars, largest on top (feature importances, band energies)."""
    items = sorted(values.items(), key=lambda item: item[1])
    figure = Figure(figsize=(7, max(2.5, 0.3 * len(items))))
    axes = figure.add_subplot()
    axes.barh([name for name, _ in items], [value for _, value in items], color="steelblue")
    axes.set(title=title, xlabel=xlabel)
    axes.tick_params(axis="y", labelsize=7)
    figure.tight_layout()
    return figure


def confusion_figure(*, title: str, matrix: np.ndarray, labels: Sequence[str]) -> Figure:
    """A 2x2 (or n x n) confusion matrix with counts in the cells."""
    figure = Figure(figsize=(4, 3.5))
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="Blues")
    for (row, column), count in np.ndenumerate(matrix):
        colour = "white" if count > matrix.max() / 2 else "black"
        axes.text(column, row, str(count), ha="center", va="center", color=colour)
    axes.set_xticks(range(len(labels)), labels)
    axes.set_yticks(range(len(labels)), labels)
    axes.set(title=title, xlabel="predicted", ylabel="actual")
    figure.colorbar(image, ax=axes)
    figure.tight_layout()
    return figure


def histogram_figure(*, title: str, groups: Mapping[str, Sequence[float]], xlabel: str) -> Figure:
    """Overlaid histograms (anomaly scores of normal vs flagged points)."""
    figure = Figure(figsize=(6, 3.5))
    axes = figure.add_subplot()
    for label, values in groups.items():
        axes.hist(values, bins=30, alpha=0.6, label=label)
    axes.set(title=title, xlabel=xlabel, ylabel="count")
    axes.legend(fontsize=8)
    figure.tight_layout()
    return figure


def curve_figure(
    *,
    title: str,
    x: Sequence[float],
    y: Sequence[float],
    xlabel: str,
    ylabel: str,
    diagonal: bool = False,
) -> Figure:
    """A single curve (ROC), optionally with the chance diagonal."""
    figure = Figure(figsize=(4.5, 4))
    axes = figure.add_subplot()
    axes.plot(x, y, linewidth=1.5)
    if diagonal:
        axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8)
    axes.set(title=title, xlabel=xlabel, ylabel=ylabel)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return figure
