"""Charts open larger on click, from a fixed set of sizes; one value is written, not drawn."""

from __future__ import annotations

import io
import re

import pytest
from django.urls import reverse
from PIL import Image

from catalog import charts
from catalog.models import MetricPoint
from tests.factories import (
    make_experiment,
    make_model_version,
    make_registered_model,
    make_run,
)


def _size_of(png: bytes) -> tuple[int, int]:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image.size


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("large", "large"),
        ("normal", "normal"),
        (None, "normal"),
        ("", "normal"),
        ("LARGE", "normal"),
        ("huge", "normal"),
        ("large ", "normal"),
        ("9999", "normal"),
        (["large"], "normal"),
    ],
)
def test_chart_size_accepts_only_the_fixed_names(value, expected):
    assert charts.chart_size(value) == expected


def test_a_large_chart_is_bigger_than_a_normal_one():
    points = [(step, step / 10) for step in range(10)]
    normal = _size_of(charts.line_chart_png(points=points, metric="loss"))
    large = _size_of(charts.line_chart_png(points=points, metric="loss", size="large"))
    assert large[0] >= 2 * normal[0] and large[1] >= 2 * normal[1]
    bars = {"labels": ["a", "b", "c"], "values": [0.1, 0.5, 0.9], "metric": "f1"}
    assert (
        _size_of(charts.bar_chart_png(**bars, size="large"))[0]
        > _size_of(charts.bar_chart_png(**bars))[0]
    )


def test_the_size_is_part_of_the_cache_key_and_junk_shares_the_default_entry():
    drawn = []

    def render_at(size):
        def render():
            drawn.append(size)
            return f"png-{size}".encode()

        return render

    data = {"v": [1, 2]}
    assert charts.cached_png(kind="t", data=data, render=render_at("normal")) == b"png-normal"
    assert (
        charts.cached_png(kind="t", data=data, size="large", render=render_at("large"))
        == b"png-large"
    )
    # An unknown size is the default size: served from its entry, never drawn again.
    assert charts.cached_png(kind="t", data=data, size="junk", render=render_at("junk")) == (
        b"png-normal"
    )
    assert drawn == ["normal", "large"]


@pytest.mark.django_db
def test_chart_views_serve_two_sizes_and_treat_junk_as_the_default(reader_client):
    run = make_run(metrics={"loss": 0.1})
    for step in range(5):
        MetricPoint.objects.create(
            run=run, key="loss", step=step, timestamp=step, value=1 / (step + 1)
        )
    url = reverse("catalog:chart_run_history", args=[run.run_id]) + "?metric=loss"
    normal = reader_client.get(url).content
    large = reader_client.get(url + "&size=large").content
    for junk in ("gigantic", "LARGE", "large%00", "x" * 5000):
        assert reader_client.get(url + "&size=" + junk).content == normal
    assert _size_of(large)[0] > _size_of(normal)[0]


@pytest.mark.django_db
def test_pages_link_each_chart_to_its_large_render(reader_client):
    experiment = make_experiment(experiment_id="31")
    run = make_run(experiment=experiment, metrics={"loss": 0.3})
    other = make_run(experiment=experiment, metrics={"loss": 0.5})
    model = make_registered_model(name="charted", latest_version=2)
    make_model_version(registered_model=model, run=run, version=1)
    make_model_version(registered_model=model, run=other, version=2)
    second = make_registered_model(name="second", latest_version=1)
    make_model_version(registered_model=second, run=run, version=1)
    for step in range(2):  # a history of one point is not charted
        MetricPoint.objects.create(run=run, key="loss", step=step, timestamp=step, value=0.3)
    pages = [
        reverse("catalog:run_detail", args=[run.run_id]),
        reverse("catalog:experiment_detail", args=["31"]) + "?metric=loss",
        reverse("catalog:metrics") + "?metric=loss",
        reverse("catalog:model_detail", args=["charted"]) + "?metric=loss",
    ]
    for page in pages:
        html = reader_client.get(page).content.decode()
        links = re.findall(
            r'<a class="chart-link" href="([^"]+)"[^>]*><img [^>]*src="([^"]+)"', html
        )
        assert links, page
        for href, src in links:
            assert href == src + "&amp;size=large", page
            # The enlarged chart is a real chart image.
            response = reader_client.get(href.replace("&amp;", "&"))
            assert response["Content-Type"] == "image/png"


def _colours(png: bytes) -> set:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return {colour for _, colour in image.getcolors(maxcolors=1_000_000)}


def test_one_value_is_written_out_not_drawn_as_a_bar_or_a_line():
    bar_colour = tuple(int(charts.BAR_COLOR[i : i + 2], 16) for i in (1, 3, 5))
    one_bar = charts.bar_chart_png(labels=["only run"], values=[0.87], metric="accuracy")
    two_bars = charts.bar_chart_png(labels=["a", "b"], values=[0.87, 0.5], metric="accuracy")
    assert bar_colour not in _colours(one_bar)
    assert bar_colour in _colours(two_bars)
    line_colour = tuple(int(charts.LINE_COLOR[i : i + 2], 16) for i in (1, 3, 5))
    one_point = charts.line_chart_png(points=[(3, 0.5)], metric="loss")
    two_points = charts.line_chart_png(points=[(0, 0.7), (3, 0.5)], metric="loss")
    assert line_colour not in _colours(one_point)
    assert line_colour in _colours(two_points)


def test_one_value_left_after_non_finite_ones_is_written_out_too():
    bar_colour = tuple(int(charts.BAR_COLOR[i : i + 2], 16) for i in (1, 3, 5))
    png = charts.bar_chart_png(labels=["a", "b"], values=[0.4, float("nan")], metric="m")
    assert bar_colour not in _colours(png)
