"""The demo's plots are drawn from its trained models: each one shows what its name says."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle

from demo import plots
from demo.training import ai4i_classifier


@pytest.fixture(scope="module")
def trained():
    return ai4i_classifier(seed=404, algorithm="randomforest", engineered=False)


def _data_axes(figure):
    """The figure's plotting axes (a colour bar is an axes too, and is left out)."""
    return [axes for axes in figure.axes if axes.get_label() != "<colorbar>"]


def test_the_confusion_matrix_holds_the_models_counts(trained):
    figure = trained.figures["plots/confusion_matrix.png"]
    (axes,) = _data_axes(figure)
    (image,) = [child for child in axes.get_children() if isinstance(child, AxesImage)]
    matrix = np.asarray(image.get_array())
    assert matrix.shape == (2, 2)
    # The counts are the ones the run's logged metrics were computed from (rounded to 6).
    (true_ok, false_failure), (false_ok, true_failure) = matrix.tolist()
    metrics = trained.metrics
    assert np.trace(matrix) / matrix.sum() == pytest.approx(metrics["accuracy"], abs=1e-6)
    assert true_failure / (true_failure + false_ok) == pytest.approx(metrics["recall"], abs=1e-6)
    precision = true_failure / (true_failure + false_failure)
    assert precision == pytest.approx(metrics["precision"], abs=1e-6)
    cell_texts = sorted(int(text.get_text()) for text in axes.texts)
    assert cell_texts == sorted(int(count) for count in matrix.ravel())
    assert [label.get_text() for label in axes.get_xticklabels()] == ["ok", "failure"]


def test_the_feature_importances_are_one_bar_per_feature(trained):
    figure = trained.figures["plots/feature_importance.png"]
    (axes,) = _data_axes(figure)
    bars = [patch for patch in axes.patches if isinstance(patch, Rectangle)]
    names = [label.get_text() for label in axes.get_yticklabels()]
    assert sorted(names) == sorted(trained.feature_names)
    assert len(bars) == len(names)
    widths = [bar.get_width() for bar in bars]
    assert sum(widths) == pytest.approx(1.0)  # a forest's importances sum to one
    assert widths == sorted(widths)  # largest on top


def test_the_roc_curve_runs_from_corner_to_corner_with_its_auc_in_the_title(trained):
    figure = trained.figures["plots/roc_curve.pdf"]
    (axes,) = _data_axes(figure)
    curve, diagonal = axes.get_lines()
    x, y = curve.get_xdata(), curve.get_ydata()
    assert (x[0], y[0]) == (0, 0) and (x[-1], y[-1]) == (1, 1)
    assert np.all(np.diff(x) >= 0) and np.all(np.diff(y) >= 0)
    # The area under the drawn curve is the AUC the run logged.
    assert np.trapezoid(y, x) == pytest.approx(trained.metrics["roc_auc"], abs=1e-6)
    assert f"{trained.metrics['roc_auc']:.3f}" in axes.get_title()
    assert list(diagonal.get_xdata()) == [0, 1]


def test_the_three_plots_are_different_pictures(trained, tmp_path):
    from PIL import Image

    sizes = set()
    for name in ("plots/confusion_matrix.png", "plots/feature_importance.png"):
        path = plots.save_figure(trained.figures[name], tmp_path / name)
        with Image.open(path) as image:
            sizes.add(image.size)
    assert len(sizes) == 2
    pdf = plots.save_figure(trained.figures["plots/roc_curve.pdf"], tmp_path / "roc.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
