"""Charts are real PNGs of the numbers given, drawn once per data version."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from catalog import charts


def _image(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def test_bar_chart_is_a_png_that_grows_with_the_bars():
    small = _image(charts.bar_chart_png(labels=["a", "b"], values=[0.9, 0.8], metric="accuracy"))
    big = _image(
        charts.bar_chart_png(
            labels=[f"run {i}" for i in range(20)], values=[i / 20 for i in range(20)], metric="f1"
        )
    )
    assert small.format == "PNG" and big.format == "PNG"
    assert big.height > small.height


def test_bar_chart_threshold_colours_the_passing_bars_green():
    png = charts.bar_chart_png(
        labels=["pass", "fail"], values=[0.95, 0.5], metric="accuracy", threshold=0.9
    )
    image = _image(png).convert("RGB")
    colours = {colour for _, colour in image.getcolors(maxcolors=1_000_000)}
    assert (0x1A, 0x7F, 0x37) in colours  # HIGHLIGHT_COLOR
    assert (0x2F, 0x6F, 0xB0) in colours  # BAR_COLOR


def test_empty_and_bad_input():
    assert charts.bar_chart_png(labels=[], values=[], metric="x").startswith(b"\x89PNG")
    assert charts.line_chart_png(points=[], metric="x").startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="same length"):
        charts.bar_chart_png(labels=["a"], values=[], metric="x")


def test_line_chart():
    png = charts.line_chart_png(points=[(0, 0.5), (1, 0.7), (2, 0.9)], metric="accuracy")
    assert _image(png).format == "PNG"


def test_cached_png_renders_once_per_data_version():
    calls = []

    def render():
        calls.append(1)
        return b"png-" + str(len(calls)).encode()

    assert charts.cached_png(kind="t", data={"v": [1, 2]}, render=render) == b"png-1"
    assert charts.cached_png(kind="t", data={"v": [1, 2]}, render=render) == b"png-1"
    assert charts.cached_png(kind="t", data={"v": [1, 3]}, render=render) == b"png-2"
    assert len(calls) == 2


def test_chart_view_serves_from_the_cache(seed_world, reader_client, monkeypatch):
    from django.urls import reverse

    url = reverse("catalog:chart_experiment_runs", args=["4"]) + "?metric=accuracy"
    first = reader_client.get(url)
    assert first["Content-Type"] == "image/png"

    def must_not_render(**kwargs):
        raise AssertionError("drawn again")

    monkeypatch.setattr(charts, "bar_chart_png", must_not_render)
    assert reader_client.get(url).content == first.content


def test_close_values_zoom_the_axis_and_distant_ones_do_not():
    assert charts._zoomed_range([0.95, 0.97]) == pytest.approx((0.93, 0.982))
    assert charts._zoomed_range([0.2, 0.97]) is None
    assert charts._zoomed_range([-1.0, -0.9]) is None
    assert charts._zoomed_range([0.9, 0.9])[0] < 0.9  # a single value still gets a margin


def test_dollar_signs_in_names_are_drawn_literally_not_as_mathtext():
    hostile = r"$\frac{$ run"
    assert charts.bar_chart_png(labels=[hostile, "ok"], values=[1, 2], metric=hostile).startswith(
        b"\x89PNG"
    )
    assert charts.line_chart_png(points=[(0, 1.0), (1, 2.0)], metric=hostile).startswith(b"\x89PNG")


def test_chart_view_with_a_mathtext_run_name(db, reader_client):
    from django.urls import reverse

    from tests.factories import make_experiment, make_run

    experiment = make_experiment(experiment_id="77", name=r"$\sqrt{$")
    make_run(experiment=experiment, name=r"$\frac{$", metrics={"accuracy": 0.9})
    url = reverse("catalog:chart_experiment_runs", args=["77"]) + "?metric=accuracy"
    response = reader_client.get(url)
    assert response.status_code == 200
    assert response.content.startswith(b"\x89PNG")


def test_null_metrics_do_not_break_charts(db, reader_client):
    from django.urls import reverse

    from catalog import selectors
    from tests.factories import make_experiment, make_run

    experiment = make_experiment(experiment_id="78")
    # The sync stores NaN and infinite metrics as null (JSON has neither).
    make_run(experiment=experiment, name="nan", metrics={"loss": None})
    make_run(experiment=experiment, name="ok", metrics={"loss": 0.5})
    assert selectors.run_metric_values(experiment=experiment, metric="loss") == [("ok", 0.5)]
    url = reverse("catalog:chart_experiment_runs", args=["78"]) + "?metric=loss"
    assert reader_client.get(url).content.startswith(b"\x89PNG")
    assert charts._zoomed_range([float("nan"), 0.9, 0.91]) is not None


# --- untrusted numbers ---------------------------------------------------------------------

INF, NAN = float("inf"), float("nan")
NUMBER_CASES = {
    "+inf": [0.5, INF, 0.7],
    "-inf": [-INF, 0.2],
    "nan": [NAN, 0.9, NAN],
    "all non-finite": [INF, -INF, NAN],
    "1e308 magnitudes": [1e308, -1e308, 1.7e308],
    "close huge values": [1e308, 0.9e308],
    "a single point": [0.42],
    "a single infinity": [INF],
}


@pytest.mark.parametrize("name", sorted(NUMBER_CASES))
def test_charts_draw_any_numbers(name):
    values = NUMBER_CASES[name]
    labels = [f"v{i}" for i in range(len(values))]
    for threshold in (None, 0.5, INF, NAN, 1e308):
        bar = charts.bar_chart_png(labels=labels, values=values, metric="m", threshold=threshold)
        assert _image(bar).format == "PNG"
    line = charts.line_chart_png(points=list(enumerate(values)), metric="m")
    assert _image(line).format == "PNG"


def test_drawable_counts_what_it_leaves_out():
    shown = charts.drawable([0.5, INF, NAN, -1e308, "x", 2.0])
    assert shown.kept == [0, 3, 5]
    assert shown.values == [0.5, -charts.MAX_DRAWN_MAGNITUDE, 2.0]
    assert (shown.skipped, shown.clipped) == (3, 1)
    assert shown.note == "3 non-finite values not drawn; 1 value clipped to ±1e+300"
    assert charts.drawable([1.0]).note == ""


def test_a_chart_with_left_out_values_differs_from_one_without():
    # The note is drawn: the chart with an infinity is not the chart of the finite values.
    plain = charts.bar_chart_png(labels=["a"], values=[0.5], metric="m")
    noted = charts.bar_chart_png(labels=["a", "b"], values=[0.5, INF], metric="m")
    assert plain != noted


def test_cached_png_answers_a_png_when_drawing_fails():
    def render():
        raise ValueError("arange: cannot compute length")

    png = charts.cached_png(kind="broken", data={"v": 1}, render=render)
    assert _image(png).format == "PNG"


@pytest.mark.django_db
def test_chart_views_answer_png_for_non_finite_history(reader_client):
    from django.urls import reverse

    from catalog.models import MetricPoint
    from tests.factories import make_model_version, make_registered_model, make_run

    run = make_run(metrics={"loss": 1e308, "accuracy": 0.5})
    values = [0.5, INF, -INF, NAN, 1e308, -1e308]
    for step, value in enumerate(values):
        MetricPoint.objects.create(run=run, key="loss", step=step, timestamp=step, value=value)
    model = make_registered_model(name="huge")
    make_model_version(registered_model=model, run=run, version=1)
    other = make_run(experiment=run.experiment, metrics={"loss": -1e308})
    make_model_version(registered_model=model, run=other, version=2)
    urls = [
        reverse("catalog:chart_run_history", args=[run.run_id]) + "?metric=loss",
        reverse("catalog:chart_experiment_runs", args=[run.experiment.experiment_id])
        + "?metric=loss",
        reverse("catalog:chart_model_versions", args=["huge"]) + "?metric=loss",
        reverse("catalog:chart_leaderboard") + "?metric=loss&threshold=1e308",
    ]
    for url in urls:
        response = reader_client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Type"] == "image/png"
        assert _image(response.content).format == "PNG"
