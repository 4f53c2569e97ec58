"""Hostile files on file pages and thumbnails: a short note or a placeholder with a
plain reason, never a 500, never a huge page, never a Python repr in a header."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from catalog import model_files, previews
from tests.artifacts.conftest import png_bytes
from tests.factories import make_artifact, make_run
from tests.hostile_files import alias_bomb_conda, deep_json_mlmodel

pytestmark = pytest.mark.django_db

# A page around a preview: the site's chrome plus a few hundred bytes of file.
SMALL_PAGE_BYTES = 64 * 1024


def _is_plain(reason: str) -> bool:
    return bool(reason) and "<" not in reason and " 0x" not in reason and "object at" not in reason


@pytest.mark.parametrize("levels", [7, 9])
def test_alias_bomb_conda_yaml_page_is_a_short_note(reader_client, put_artifact, levels):
    run = make_run()
    put_artifact(run=run, path="model/conda.yaml", body=alias_bomb_conda(levels=levels))
    response = reader_client.get(f"/runs/{run.run_id}/artifacts/model/conda.yaml")
    assert response.status_code == 200
    assert len(response.content) < SMALL_PAGE_BYTES
    assert "aliases counted as copies" in response.content.decode()
    assert "lolololollolololol" not in response.content.decode()


def test_deep_json_page_shows_the_text_as_is(reader_client, put_artifact):
    run = make_run()
    body = ("[" * 5_000 + "]" * 5_000).encode()
    put_artifact(run=run, path="metrics/deep.json", body=body)
    response = reader_client.get(f"/runs/{run.run_id}/artifacts/metrics/deep.json")
    assert response.status_code == 200
    assert len(response.content) < SMALL_PAGE_BYTES
    assert "[" * 5_000 in response.content.decode()


def test_pretty_json_stays_bounded():
    deep = "[" * 5_000 + "]" * 5_000
    assert previews.pretty_json(deep, complete=True) == deep
    # Indentation can make a small, wide document many times larger: kept as is then.
    value: list = list(range(40_000))
    for _ in range(20):
        value = [value]
    nested = json.dumps(value)
    assert previews.pretty_json(nested, complete=True) == nested
    assert json.loads(previews.pretty_json('{"a": [1, 2]}', complete=True)) == {"a": [1, 2]}


def test_poisoned_mlmodel_page_shows_the_sync_error_and_the_text(reader_client, put_artifact):
    run = make_run()
    data = deep_json_mlmodel(depth=5_000)
    artifact = put_artifact(run=run, path="model/MLmodel", body=data)
    artifact.meta = {"kind": "mlmodel", "error": "JSON nested deeper than 64 levels"}
    artifact.save(update_fields=["meta"])
    response = reader_client.get(f"/runs/{run.run_id}/artifacts/model/MLmodel")
    assert response.status_code == 200
    assert "JSON nested deeper than 64 levels" in response.content.decode()
    assert len(response.content) < SMALL_PAGE_BYTES


def test_an_oversized_stored_meta_is_cut_on_the_page(reader_client):
    """A row written before the bounds (or by hand) still renders a bounded page.

    Each list holds one item past its bound and each text is one character past the
    text bound: the numbered items show exactly where each cut falls.
    """
    run = make_run()
    too_long = model_files.MAX_TEXT_CHARS + 1

    def numbered(name: str, number: int) -> str:
        return f"{name}-{number:05d}-".ljust(too_long, "n")

    columns = [
        {"name": numbered("column", number), "type": "double"}
        for number in range(model_files.MAX_SIGNATURE_COLUMNS + 1)
    ]
    make_artifact(
        run=run,
        path="model/MLmodel",
        meta={
            "kind": "mlmodel",
            "mlflow_version": "9" * too_long,
            "flavors": [
                numbered("flavor", number) for number in range(model_files.MAX_FLAVORS + 1)
            ],
            "signature": {"inputs": columns, "outputs": [], "params": []},
        },
    )
    features = [numbered("feature", number) for number in range(model_files.MAX_FEATURES + 1)]
    make_artifact(
        run=run, path="feature_names.txt", meta={"kind": "feature_names", "features": features}
    )
    panel = previews.mlmodel_panel({"kind": "mlmodel", "mlflow_version": "9" * too_long})
    assert len(panel["mlflow_version"]) == 300
    page = reader_client.get(f"/runs/{run.run_id}/artifacts/model/MLmodel")
    assert page.status_code == 200
    assert len(page.content) < 8_000_000  # 5,000 columns of 300 characters at most
    html = page.content.decode()
    assert "9" * too_long not in html and "9" * 299 in html
    for name, bound in (
        ("column", model_files.MAX_SIGNATURE_COLUMNS),
        ("flavor", model_files.MAX_FLAVORS),
    ):
        assert f"{name}-{bound - 1:05d}-" in html and f"{name}-{bound:05d}-" not in html
        assert numbered(name, 0) not in html and numbered(name, 0)[:299] in html
    features_page = reader_client.get(f"/runs/{run.run_id}/artifacts/feature_names.txt")
    assert features_page.status_code == 200
    assert len(features_page.content) < 4_000_000  # 10,000 names of 300 characters at most
    html = features_page.content.decode()
    bound = model_files.MAX_FEATURES
    assert f"feature-{bound - 1:05d}-" in html and f"feature-{bound:05d}-" not in html
    assert numbered("feature", 0) not in html and numbered("feature", 0)[:299] in html


def test_not_an_image_has_a_plain_reason_not_a_repr(reader_client, put_artifact):
    run = make_run()
    put_artifact(run=run, path="plots/fake.png", body=b"this is not a PNG at all")
    response = reader_client.get(f"/runs/{run.run_id}/thumbnail/plots/fake.png")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Preview-Unavailable"] == "not a readable image"
    assert _is_plain(response["X-Preview-Unavailable"])


def test_an_image_above_the_thumbnail_budget_gets_a_placeholder(
    reader_client, put_artifact, settings
):
    settings.CATALOG_MAX_THUMBNAIL_PIXELS = 100 * 100
    run = make_run()
    put_artifact(run=run, path="plots/wide.png", body=png_bytes(size=(200, 100)))
    response = reader_client.get(f"/runs/{run.run_id}/thumbnail/plots/wide.png")
    assert response.status_code == 200
    assert response["X-Preview-Unavailable"] == "image too large to preview: 200x100"
    assert _is_plain(response["X-Preview-Unavailable"])
    # The bytes are still there to download.
    raw = reader_client.get(f"/runs/{run.run_id}/raw/plots/wide.png?download=1")
    assert raw.status_code == 200


def test_a_jpeg_is_measured_after_draft_scaling(settings):
    # draft() decodes a JPEG at 1/2, 1/4 or 1/8 scale: 1600x1200 is read as 200x150.
    settings.CATALOG_MAX_THUMBNAIL_PIXELS = 400 * 300
    out = io.BytesIO()
    Image.new("RGB", (1600, 1200), (10, 20, 30)).save(out, format="JPEG")
    assert previews.image_thumbnail(out.getvalue(), box=(320, 240))
    with pytest.raises(previews.PreviewUnavailable, match="too large to preview: 2000x1000"):
        previews.image_thumbnail(png_bytes(size=(2000, 1000)), box=(320, 240))


def test_a_reason_that_is_not_plain_never_reaches_the_header(reader_client, put_artifact):
    from django.core.cache import cache

    run = make_run()
    artifact = put_artifact(run=run, path="plots/a.png", body=png_bytes(size=(10, 10)))
    key = previews.artifact_cache_key(artifact=artifact, purpose="thumb-small")
    leaky = "not a readable image: cannot identify image file <_io.BytesIO object at 0x7f>"
    cache.set(key, {"png": previews.placeholder_png("no preview"), "placeholder": True,
                    "reason": leaky})  # fmt: skip
    response = reader_client.get(f"/runs/{run.run_id}/thumbnail/plots/a.png")
    assert response["X-Preview-Unavailable"] == "no preview"


LARGE_PNG_SCRIPT = textwrap.dedent(
    """
    import json, os, resource, sys, time
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartmaint_site.settings")
    import django
    django.setup()
    from catalog import previews
    data = open(sys.argv[1], "rb").read()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    try:
        previews.image_thumbnail(data, box=previews.THUMBNAIL_SIZES["large"])
        reason = ""
    except previews.PreviewUnavailable as error:
        reason = str(error)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"reason": reason, "grew_kb": peak - before,
                      "seconds": time.perf_counter() - started}))
    """
)


@pytest.mark.slow
def test_a_large_png_costs_little_memory(tmp_path):
    """39.6 megapixels, under the bomb limit: decoding it would take ~300 MB."""
    path = Path(tmp_path) / "large.png"
    Image.new("L", (7_275, 5_440), 128).save(path, format="PNG")
    result = subprocess.run(
        [sys.executable, "-c", LARGE_PNG_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(previews.__file__).resolve().parents[1],
    )
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    assert measured["reason"] == "image too large to preview: 7275x5440"
    assert measured["grew_kb"] < 16 * 1024
