"""Previews on file pages and thumbnails, from real files put into moto S3."""

from __future__ import annotations

import io
import json

import pytest
from django.core.cache import cache
from PIL import Image

from catalog import previews
from tests.artifacts.conftest import matplotlib_pdf, matplotlib_png, png_bytes
from tests.factories import make_artifact, make_logged_model, make_run

pytestmark = pytest.mark.django_db

MLMODEL_META = {
    "kind": "mlmodel",
    "flavors": ["python_function", "sklearn"],
    "loader_module": "mlflow.sklearn",
    "python_version": "3.11.5",
    "mlflow_version": "2.16.2",
    "serialization_format": "cloudpickle",
    "model_size_bytes": 123456,
    "model_uuid": "0f1e2d3c",
    "run_id": "b" * 32,
    "utc_time_created": "2024-10-01 10:00:00.000000",
    "signature": {
        "inputs": [
            {"name": "vibration_rms", "type": "double"},
            {"name": "temperature", "type": "double"},
        ],
        "outputs": [{"name": None, "type": "long"}],
        "params": [],
    },
}


def _image(response) -> Image.Image:
    assert response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


def test_png_file_page_and_thumbnails(reader_client, put_artifact):
    run = make_run()
    put_artifact(run=run, path="plots/loss.png", body=matplotlib_png())
    page = reader_client.get(f"/runs/{run.run_id}/artifacts/plots/loss.png")
    assert page.status_code == 200
    assert f'src="/runs/{run.run_id}/thumbnail/plots/loss.png?size=large"' in page.content.decode()

    small = reader_client.get(f"/runs/{run.run_id}/thumbnail/plots/loss.png")
    assert small.status_code == 200
    assert small["X-Content-Type-Options"] == "nosniff"
    assert "X-Preview-Unavailable" not in small
    image = _image(small)
    assert image.width <= 320 and image.height <= 240
    assert image.size == (320, 240)  # the 400x300 plot, scaled to fit
    large = _image(reader_client.get(f"/runs/{run.run_id}/thumbnail/plots/loss.png?size=large"))
    assert large.size == (400, 300)  # never enlarged


def test_thumbnail_is_cached_by_etag(reader_client, put_artifact, s3):
    run = make_run()
    artifact = put_artifact(run=run, path="a.png", body=png_bytes(color=(255, 0, 0)))
    first = reader_client.get(f"/runs/{run.run_id}/thumbnail/a.png").content
    # The object changes in S3, the catalogue (and its ETag) doesn't: the cache answers.
    s3.put_object(Bucket=artifact.bucket, Key=artifact.key, Body=png_bytes(color=(0, 0, 255)))
    assert reader_client.get(f"/runs/{run.run_id}/thumbnail/a.png").content == first
    key = previews.artifact_cache_key(artifact=artifact, purpose="thumb-small")
    assert cache.get(key)["png"] == first
    # A sync records the new ETag: a new key, a new thumbnail.
    artifact.etag = s3.head_object(Bucket=artifact.bucket, Key=artifact.key)["ETag"].strip('"')
    artifact.save()
    second = _image(reader_client.get(f"/runs/{run.run_id}/thumbnail/a.png"))
    assert second.convert("RGB").getpixel((5, 5)) == (0, 0, 255)
    # The browser's copy is reused while the ETag holds.
    etag = reader_client.get(f"/runs/{run.run_id}/thumbnail/a.png")["ETag"]
    again = reader_client.get(f"/runs/{run.run_id}/thumbnail/a.png", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304


def test_pdf_first_page_thumbnail(reader_client, put_artifact):
    run = make_run()
    put_artifact(run=run, path="plots/report.pdf", body=matplotlib_pdf(pages=3))
    response = reader_client.get(f"/runs/{run.run_id}/thumbnail/plots/report.pdf")
    assert response.status_code == 200
    assert "X-Preview-Unavailable" not in response
    image = _image(response).convert("RGB")
    # 6x4 inch page scaled into 320x240: 320 wide, and not a blank page.
    assert image.width == 320 and 200 <= image.height <= 240
    assert len(image.getcolors(maxcolors=1 << 20)) > 4
    page = reader_client.get(f"/runs/{run.run_id}/artifacts/plots/report.pdf").content.decode()
    assert "First page" in page
    assert f'href="/runs/{run.run_id}/raw/plots/report.pdf"' in page
    assert f'href="/runs/{run.run_id}/raw/plots/report.pdf?download=1"' in page


def test_pdf_above_the_cap_gets_a_placeholder(reader_client, put_artifact, monkeypatch):
    monkeypatch.setattr(previews, "PDF_MAX_BYTES", 100)
    run = make_run()
    put_artifact(run=run, path="big.pdf", body=matplotlib_pdf())
    response = reader_client.get(f"/runs/{run.run_id}/thumbnail/big.pdf")
    assert response.status_code == 200
    assert response["X-Preview-Unavailable"] == "too large"
    assert response.content == previews.placeholder_png("too large to preview")


def test_broken_pdf_and_png_get_placeholders(reader_client, put_artifact):
    run = make_run()
    put_artifact(run=run, path="broken.pdf", body=b"%PDF-1.4 not really")
    put_artifact(run=run, path="broken.png", body=b"\x89PNG\r\n\x1a\n garbage")
    for path in ("broken.pdf", "broken.png"):
        response = reader_client.get(f"/runs/{run.run_id}/thumbnail/{path}")
        assert response.status_code == 200
        assert "X-Preview-Unavailable" in response
        _image(response)


def test_thumbnail_of_an_object_gone_from_s3_is_a_placeholder(reader_client, s3):
    run = make_run()
    make_artifact(run=run, path="ghost.png")  # catalogued, never put into S3
    response = reader_client.get(f"/runs/{run.run_id}/thumbnail/ghost.png")
    assert response.status_code == 200
    assert "NoSuchKey" in response["X-Preview-Unavailable"]


def test_thumbnail_only_for_images_and_pdfs(reader_client, put_artifact):
    run = make_run()
    put_artifact(run=run, path="notes.txt", body=b"hi")
    assert reader_client.get(f"/runs/{run.run_id}/thumbnail/notes.txt").status_code == 404


def test_text_preview_is_capped(reader_client, put_artifact):
    run = make_run()
    line = "0123456789abcdef" * 4 + "\n"  # 65 bytes
    body = (line * 5000).encode()  # 325,000 bytes > 256 KiB
    put_artifact(run=run, path="logs/train.log", body=body)
    html = reader_client.get(f"/runs/{run.run_id}/artifacts/logs/train.log").content.decode()
    shown = html.split('<pre class="text-preview">', 1)[1].split("</pre>", 1)[0]
    assert len(shown) <= previews.TEXT_PREVIEW_MAX_BYTES
    assert shown.endswith("\n")  # cut at a line end
    assert shown.count(line) == previews.TEXT_PREVIEW_MAX_BYTES // len(line)
    assert "Preview cut at 256.0\xa0KB" in html


def test_small_text_is_shown_whole(reader_client, put_artifact):
    run = make_run()
    put_artifact(run=run, path="sensor_config.txt", body="sensor: ü-7 <b>\n".encode())
    html = reader_client.get(f"/runs/{run.run_id}/artifacts/sensor_config.txt").content.decode()
    assert "sensor: ü-7 &lt;b&gt;" in html
    assert "Preview cut" not in html


def test_csv_is_a_table_with_a_row_cap(reader_client, put_artifact):
    run = make_run()
    rows = ["timestamp,sensor,value"] + [f"2024-01-01T00:{i:02d},s{i},{i}.5" for i in range(300)]
    put_artifact(run=run, path="data/sample.csv", body="\n".join(rows).encode())
    html = reader_client.get(f"/runs/{run.run_id}/artifacts/data/sample.csv").content.decode()
    assert "<th>timestamp</th><th>sensor</th><th>value</th>" in html
    assert "<td>s199</td>" in html and "<td>s200</td>" not in html
    assert "Only the first 200 rows are shown." in html


def test_json_is_pretty_printed(reader_client, put_artifact):
    run = make_run()
    put_artifact(run=run, path="metrics.json", body=b'{"auc":0.91,"f1":[0.5,0.6]}')
    html = reader_client.get(f"/runs/{run.run_id}/artifacts/metrics.json").content.decode()
    assert "{\n  &quot;auc&quot;: 0.91," in html


def test_mlmodel_panel_from_meta(reader_client, put_artifact):
    run = make_run()
    put_artifact(
        run=run,
        path="model/MLmodel",
        body=b"flavors:\n  sklearn: {}\n",
        meta=MLMODEL_META,
        meta_etag="x",
    )
    html = reader_client.get(f"/runs/{run.run_id}/artifacts/model/MLmodel").content.decode()
    assert '<span class="badge badge-flavor">python_function</span>' in html
    assert '<span class="badge badge-flavor">sklearn</span>' in html
    assert "<dt>Python</dt><dd>3.11.5</dd>" in html
    assert "<dt>MLflow</dt><dd>2.16.2</dd>" in html
    assert "<dt>Serialization</dt><dd>cloudpickle</dd>" in html
    assert "<td>vibration_rms</td><td><code>double</code></td>" in html
    assert "<td>(unnamed)</td><td><code>long</code></td>" in html
    assert "mlflow.sklearn" in html
    # The panel needs no S3 read; the file's own text is one click away.
    assert "flavors:\n  sklearn: {}" not in html
    assert f'href="/runs/{run.run_id}/raw/model/MLmodel"' in html


def test_unparsed_mlmodel_shows_its_text(reader_client, put_artifact):
    run = make_run()
    put_artifact(run=run, path="model/MLmodel", body=b"flavors:\n  sklearn: {}\n")
    html = reader_client.get(f"/runs/{run.run_id}/artifacts/model/MLmodel").content.decode()
    assert "mlmodel-panel" not in html
    assert "flavors:\n  sklearn: {}" in html


def test_mlmodel_panel_shows_a_parse_error_and_no_signature(reader_client):
    run = make_run()
    make_artifact(run=run, path="a/MLmodel", meta={"kind": "mlmodel", "error": "bad YAML: line 3"})
    html = reader_client.get(f"/runs/{run.run_id}/artifacts/a/MLmodel").content.decode()
    assert "could not parse this MLmodel: bad YAML: line 3" in html
    meta = dict(MLMODEL_META, signature=None)
    make_artifact(run=run, path="b/MLmodel", meta=meta)
    html = reader_client.get(f"/runs/{run.run_id}/artifacts/b/MLmodel").content.decode()
    assert "No signature was logged" in html


def test_logged_model_mlmodel_panel(reader_client, put_artifact):
    model = make_logged_model()
    put_artifact(logged_model=model, path="MLmodel", body=b"x: 1\n", meta=MLMODEL_META)
    response = reader_client.get(f"/logged-models/{model.model_id}/artifacts/MLmodel")
    assert "<td>temperature</td>" in response.content.decode()


CONDA_YAML = b"""name: mlflow-env
channels:
- conda-forge
dependencies:
- python=3.11.5
- pip<=24.2
- pip:
  - mlflow==2.16.2
  - scikit-learn==1.5.2
  - lightgbm>=4.5
  - numpy
"""

PYTHON_ENV_YAML = b"""python: 3.11.5
build_dependencies:
- pip==24.2
- setuptools
- wheel
dependencies:
- -r requirements.txt
"""


def test_conda_yaml_dependency_table(reader_client, put_artifact):
    run = make_run()
    put_artifact(run=run, path="model/conda.yaml", body=CONDA_YAML)
    html = reader_client.get(f"/runs/{run.run_id}/artifacts/model/conda.yaml").content.decode()
    assert "Conda environment" in html
    assert "<dt>Python</dt><dd>3.11.5</dd>" in html
    assert "<dt>Channels</dt><dd>conda-forge</dd>" in html
    assert "<td>pip</td><td>scikit-learn</td><td><code>==1.5.2</code></td>" in html
    assert "<td>pip</td><td>lightgbm</td><td><code>&gt;=4.5</code></td>" in html
    assert "<td>pip</td><td>numpy</td><td><code></code></td>" in html
    assert "<td>conda</td><td>pip</td><td><code>&lt;=24.2</code></td>" in html


def test_python_env_yaml_dependency_table(reader_client, put_artifact):
    run = make_run()
    put_artifact(run=run, path="model/python_env.yaml", body=PYTHON_ENV_YAML)
    html = reader_client.get(f"/runs/{run.run_id}/artifacts/model/python_env.yaml")
    html = html.content.decode()
    assert "Python environment" in html and "<dt>Python</dt><dd>3.11.5</dd>" in html
    assert "<td>build</td><td>pip</td><td><code>==24.2</code></td>" in html
    assert "<td>build</td><td>wheel</td>" in html
    assert "<td>runtime</td><td>-r requirements.txt</td>" in html


def test_dependency_table_of_bad_yaml_is_an_error_not_a_crash():
    table = previews.dependency_table("dependencies: [unclosed", kind="conda")
    assert table.error.startswith("Not valid YAML")
    assert previews.dependency_table("- a\n- b\n", kind="python_env").error == (
        "Not a YAML mapping."
    )
    # A YAML tag that would build Python objects is refused by safe_load.
    evil = previews.dependency_table("!!python/object/apply:os.system ['true']", kind="conda")
    assert evil.error.startswith("Not valid YAML")


def test_feature_list_from_meta(reader_client, put_artifact):
    run = make_run()
    features = ["vibration_rms", "temperature", "pressure_<kPa>"]
    put_artifact(
        run=run,
        path="feature_names.txt",
        body="\n".join(features).encode(),
        meta={"kind": "feature_names", "features": features},
    )
    html = reader_client.get(f"/runs/{run.run_id}/artifacts/feature_names.txt").content.decode()
    assert "Features (3)" in html
    assert "<li><code>pressure_&lt;kPa&gt;</code></li>" in html
    assert "not yet parsed by a sync" not in html


def test_feature_list_read_from_the_file_before_a_sync_parsed_it(reader_client, put_artifact):
    run = make_run()
    put_artifact(run=run, path="feature_names.txt", body=b"a\n\n b \nc\n")
    html = reader_client.get(f"/runs/{run.run_id}/artifacts/feature_names.txt").content.decode()
    assert "Features (3)" in html and "<li><code>b</code></li>" in html
    assert "not yet parsed by a sync" in html


def test_text_preview_of_an_object_gone_from_s3(reader_client, s3):
    run = make_run()
    make_artifact(run=run, path="gone.txt")
    html = reader_client.get(f"/runs/{run.run_id}/artifacts/gone.txt").content.decode()
    assert "could not be read" in html and "NoSuchKey" in html


def test_a_failed_s3_read_is_not_kept_by_the_page_cache(reader_client, s3, settings):
    settings.CATALOG_PAGE_CACHE_SECONDS = 300
    run = make_run()
    artifact = make_artifact(run=run, path="late.txt")
    url = f"/runs/{run.run_id}/artifacts/late.txt"
    first = reader_client.get(url)
    assert "could not be read" in first.content.decode()
    assert "no-store" in first["Cache-Control"]
    s3.put_object(Bucket=artifact.bucket, Key=artifact.key, Body=b"readable now")
    second = reader_client.get(url)
    assert "readable now" in second.content.decode()
    assert second["X-Page-Cache"] == "miss"
    assert reader_client.get(url)["X-Page-Cache"] == "hit"


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("model/MLmodel", "mlmodel"),
        ("MLmodel.txt", "text"),
        ("conda.yaml", "conda"),
        ("x/python_env.yaml", "python_env"),
        ("feature_names.txt", "feature_names"),
        ("a.PNG", "image"),
        ("a.jpeg", "image"),
        ("r.pdf", "pdf"),
        ("d.csv", "csv"),
        ("m.json", "json"),
        ("c.yml", "text"),
        ("page.html", "none"),
        ("icon.svg", "none"),
        ("model.pkl", "none"),
    ],
)
def test_preview_kind(path, kind):
    assert previews.preview_kind(path) == kind


def test_pretty_json_leaves_truncated_or_invalid_text_alone():
    assert previews.pretty_json('{"a": 1', complete=True) == '{"a": 1'
    assert previews.pretty_json('{"a": 1}', complete=False) == '{"a": 1}'
    assert json.loads(previews.pretty_json('{"a":1}', complete=True)) == {"a": 1}


def test_jpeg_and_gif_thumbnails_of_a_logged_model(reader_client, put_artifact):
    model = make_logged_model()
    jpeg, gif = io.BytesIO(), io.BytesIO()
    Image.new("RGB", (2000, 1000), (200, 30, 30)).save(jpeg, format="JPEG")
    Image.new("P", (50, 40)).save(gif, format="GIF")
    put_artifact(logged_model=model, path="plots/photo.jpg", body=jpeg.getvalue())
    put_artifact(logged_model=model, path="plots/anim.gif", body=gif.getvalue())
    base = f"/logged-models/{model.model_id}"
    assert _image(reader_client.get(f"{base}/thumbnail/plots/photo.jpg")).size == (320, 160)
    assert _image(reader_client.get(f"{base}/thumbnail/plots/anim.gif")).size == (50, 40)
    raw = reader_client.get(f"{base}/raw/plots/photo.jpg")
    assert raw["Content-Type"] == "image/jpeg"
    assert b"".join(raw.streaming_content) == jpeg.getvalue()
