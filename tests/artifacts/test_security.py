"""Hostile requests and hostile files: exact-key lookups, attachments, bombs, headers."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, unquote, urlparse

import pytest
from django.http import StreamingHttpResponse
from PIL import Image

from catalog import previews
from catalog.artifact_browser import OwnerKind, artifact_urls, folder_url
from tests.artifacts.conftest import png_bytes
from tests.factories import make_artifact, make_run

pytestmark = pytest.mark.django_db

SVG_WITH_SCRIPT = (
    b"""<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>"""
)
HTML_WITH_SCRIPT = b"<!doctype html><html><body><script>alert(1)</script></body></html>"

DEFAULT_PILLOW_MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS


@pytest.fixture
def two_runs(put_artifact):
    """Run A with a model, run B with a secret, in the same experiment."""
    run_a = make_run(run_id="a" * 32)
    run_b = make_run(run_id="b" * 32, experiment=run_a.experiment)
    put_artifact(run=run_a, path="model/MLmodel", body=b"flavors: {}\n")
    put_artifact(run=run_a, path="plots/loss.png", body=png_bytes())
    put_artifact(run=run_b, path="secret.txt", body=b"run B's secret")
    return run_a, run_b


def _body(response) -> bytes:
    if isinstance(response, StreamingHttpResponse):
        return b"".join(response.streaming_content)
    return response.content


HOSTILE_SUFFIXES = [
    "../../" + "b" * 32 + "/artifacts/secret.txt",
    "%2e%2e/%2e%2e/" + "b" * 32 + "/artifacts/secret.txt",
    "%2E%2E%2F%2E%2E%2F" + "b" * 32 + "%2Fartifacts%2Fsecret.txt",
    "plots/../model/MLmodel",
    "plots/%2e%2e/model/MLmodel",
    "./model/MLmodel",
    "model//MLmodel",
    "/model/MLmodel",
    "model/MLmodel%00",
    "model/MLmodel%00.png",
    "%00",
    "model%5cMLmodel",
    "plots\\..\\model\\MLmodel",
    "plots/..%5cmodel%5cMLmodel",
    "MODEL/MLMODEL",
    "1/" + "a" * 32 + "/artifacts/model/MLmodel",
    "model/MLmodel/",
    "model/nope.txt",
    "/etc/passwd",
    "..",
    "secret.txt",
]


@pytest.mark.parametrize("view", ["raw", "thumbnail", "artifacts"])
def test_paths_that_are_not_catalogued_are_404(reader_client, two_runs, view):
    run_a, _ = two_runs
    for suffix in HOSTILE_SUFFIXES:
        response = reader_client.get(f"/runs/{run_a.run_id}/{view}/{suffix}")
        assert response.status_code == 404, (view, suffix)
        assert b"run B's secret" not in _body(response)


def test_the_same_paths_work_when_exact(reader_client, two_runs):
    run_a, run_b = two_runs
    assert _body(reader_client.get(f"/runs/{run_a.run_id}/raw/model/MLmodel")) == b"flavors: {}\n"
    assert _body(reader_client.get(f"/runs/{run_b.run_id}/raw/secret.txt")) == b"run B's secret"


def test_keys_with_dot_dot_segments_and_backslashes_are_served_by_exact_match(
    reader_client, put_artifact
):
    run = make_run()
    put_artifact(run=run, path="weird/../name.txt", body=b"the dot-dot key")
    put_artifact(run=run, path="name.txt", body=b"the plain key")
    put_artifact(run=run, path="win\\path.txt", body=b"the backslash key")
    base = f"/runs/{run.run_id}/raw/"
    assert _body(reader_client.get(base + "weird/../name.txt")) == b"the dot-dot key"
    assert _body(reader_client.get(base + "weird/%2e%2e/name.txt")) == b"the dot-dot key"
    assert _body(reader_client.get(base + "name.txt")) == b"the plain key"
    assert _body(reader_client.get(base + "win%5Cpath.txt")) == b"the backslash key"
    assert reader_client.get(base + "win/path.txt").status_code == 404
    assert reader_client.get(base + "weird/name.txt").status_code == 404


def test_links_to_dot_dot_keys_survive_browser_normalisation(reader_client, put_artifact):
    """Browsers drop "../" (even "%2e%2e/") from URLs: our links glue it with "%2F"."""
    run = make_run()
    artifact = put_artifact(run=run, path="weird/../name.txt", body=b"the dot-dot key")
    urls = artifact_urls(artifact=artifact, kind=OwnerKind.RUN, public_id=run.run_id)
    for url in urls.values():
        segments = urlparse(url).path.split("/")
        assert ".." not in segments and "." not in segments
    assert urls["raw"] == f"/runs/{run.run_id}/raw/weird%2F../name.txt"
    assert _body(reader_client.get(urls["raw"])) == b"the dot-dot key"
    assert reader_client.get(urls["page"]).status_code == 200
    folder = folder_url(kind=OwnerKind.RUN, public_id=run.run_id, folder="weird/..")
    assert folder == f"/runs/{run.run_id}/artifacts/weird%2F../"
    html = reader_client.get(folder).content.decode()
    assert "name.txt" in html
    leading = make_artifact(run=run, path="../up.txt")
    up = artifact_urls(artifact=leading, kind=OwnerKind.RUN, public_id=run.run_id)["page"]
    assert ".." not in urlparse(up).path.split("/")
    assert reader_client.get(up).status_code == 200


@pytest.mark.parametrize(
    ("name", "body"), [("icon.svg", SVG_WITH_SCRIPT), ("report.html", HTML_WITH_SCRIPT)]
)
def test_svg_and_html_are_only_attachments(reader_client, put_artifact, name, body):
    run = make_run()
    put_artifact(run=run, path=f"plots/{name}", body=body)
    for query in ("", "?download=0"):
        response = reader_client.get(f"/runs/{run.run_id}/raw/plots/{name}{query}")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/octet-stream"
        assert response["Content-Disposition"] == f'attachment; filename="{name}"'
        assert response["X-Content-Type-Options"] == "nosniff"
        assert _body(response) == body
    page = reader_client.get(f"/runs/{run.run_id}/artifacts/plots/{name}").content.decode()
    assert "<script>alert" not in page
    assert f'href="/runs/{run.run_id}/raw/plots/{name}"' not in page  # no "Open" link


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("a.png", "image/png"),
        ("a.pdf", "application/pdf"),
        ("a.csv", "text/csv; charset=utf-8"),
        ("a.json", "application/json"),
        ("a.yaml", "text/plain; charset=utf-8"),
        ("MLmodel", "text/plain; charset=utf-8"),
        ("a.txt", "text/plain; charset=utf-8"),
        ("model.pkl", "application/octet-stream"),
        ("a.xml", "application/octet-stream"),
        ("a.js", "application/octet-stream"),
        ("noext", "application/octet-stream"),
    ],
)
def test_content_types_come_from_an_allowlist(reader_client, put_artifact, name, content_type):
    run = make_run()
    put_artifact(run=run, path=name, body=b"bytes")
    response = reader_client.get(f"/runs/{run.run_id}/raw/{name}")
    assert response["Content-Type"] == content_type
    assert response["X-Content-Type-Options"] == "nosniff"
    inline = content_type != "application/octet-stream"
    assert response["Content-Disposition"].startswith("inline" if inline else "attachment")
    forced = reader_client.get(f"/runs/{run.run_id}/raw/{name}?download=1")
    assert forced["Content-Disposition"].startswith("attachment")
    assert forced["Content-Type"] == content_type


def test_decompression_bomb_png_gets_a_placeholder(reader_client, put_artifact):
    run = make_run()
    # 12,000 x 12,000 one-bit pixels: 144 megapixels, a few kilobytes of PNG.
    out = io.BytesIO()
    Image.new("1", (12_000, 12_000)).save(out, format="PNG")
    assert len(out.getvalue()) < 100_000
    put_artifact(run=run, path="plots/bomb.png", body=out.getvalue())
    for size in ("small", "large"):
        response = reader_client.get(f"/runs/{run.run_id}/thumbnail/plots/bomb.png?size={size}")
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png"
        # Our header check or Pillow's own guard, whichever fires first.
        reason = response["X-Preview-Unavailable"]
        assert "too large" in reason or "decompression bomb" in reason
        assert response.content == previews.placeholder_png("no preview")
    assert reader_client.get(f"/runs/{run.run_id}/artifacts/plots/bomb.png").status_code == 200


def test_pixel_limit_comes_from_settings(settings):
    settings.CATALOG_MAX_IMAGE_PIXELS = 100 * 100
    with pytest.raises(previews.PreviewUnavailable, match="too large|decompression bomb"):
        previews.image_thumbnail(png_bytes(size=(101, 100)), box=(32, 32))
    assert previews.image_thumbnail(png_bytes(size=(100, 100)), box=(32, 32))
    # The limit is ours: Pillow's process-wide default is left alone for other users.
    assert Image.MAX_IMAGE_PIXELS == DEFAULT_PILLOW_MAX_IMAGE_PIXELS


def test_pillow_bomb_error_becomes_preview_unavailable(settings, monkeypatch):
    """Pillow's own guard (on open) is caught too, not only our header check."""
    settings.CATALOG_MAX_IMAGE_PIXELS = 10**9
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(previews.PreviewUnavailable, match="decompression bomb"):
        previews.image_thumbnail(png_bytes(size=(300, 300)), box=(32, 32))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ('he said "hi"; x=1.txt', 'inline; filename="he said \\"hi\\"; x=1.txt"'),
        ("résumé 数据.txt", "inline; filename*=utf-8''r%C3%A9sum%C3%A9%20%E6%95%B0%E6%8D%AE.txt"),
        (
            "line\r\nSet-Cookie: x=1.txt",
            "inline; filename*=utf-8''line%0D%0ASet-Cookie%3A%20x%3D1.txt",
        ),
    ],
)
def test_content_disposition_with_quotes_unicode_and_newlines(
    reader_client, put_artifact, name, expected
):
    run = make_run()
    artifact = put_artifact(run=run, path=f"odd/{name}", body=b"ok")
    url = artifact_urls(artifact=artifact, kind=OwnerKind.RUN, public_id=run.run_id)["raw"]
    response = reader_client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"] == expected
    assert "Set-Cookie" not in {k.title() for k in response.headers}
    assert _body(response) == b"ok"
    page = reader_client.get(artifact.get_absolute_url())
    assert page.status_code == 200


def test_large_files_are_streamed(reader_client, put_artifact):
    run = make_run()
    body = bytes(range(256)) * (12 * 1024)  # 3 MiB
    put_artifact(run=run, path="data/big.bin", body=body)
    response = reader_client.get(f"/runs/{run.run_id}/raw/data/big.bin")
    assert isinstance(response, StreamingHttpResponse)
    chunks = list(response.streaming_content)
    assert len(chunks) > 1
    assert max(len(chunk) for chunk in chunks) <= 256 * 1024
    assert b"".join(chunks) == body


def test_large_downloads_go_to_a_short_lived_presigned_url(reader_client, put_artifact, settings):
    settings.CATALOG_PRESIGN_DOWNLOADS_FROM_BYTES = 1000
    run = make_run()
    put_artifact(run=run, path="model/model résumé.pkl", body=b"x" * 2000)
    put_artifact(run=run, path="model/small.pkl", body=b"x" * 10)
    response = reader_client.get(f"/runs/{run.run_id}/raw/model/model résumé.pkl")
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    query = parse_qs(urlparse(response["Location"]).query)
    disposition = query["response-content-disposition"][0]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''model%20r%C3%A9sum%C3%A9.pkl" in disposition
    assert int(query["X-Amz-Expires"][0]) <= 300
    assert unquote(urlparse(response["Location"]).path).endswith(
        f"/{run.run_id}/artifacts/model/model résumé.pkl"
    )
    # Small files are still streamed by us.
    small = reader_client.get(f"/runs/{run.run_id}/raw/model/small.pkl")
    assert isinstance(small, StreamingHttpResponse)
    # An inline image is never redirected to S3, whatever its size.
    put_artifact(run=run, path="big.png", body=png_bytes(size=(800, 800)))
    assert reader_client.get(f"/runs/{run.run_id}/raw/big.png").status_code == 200
    assert reader_client.get(f"/runs/{run.run_id}/raw/big.png?download=1").status_code == 302


def test_presigning_can_be_turned_off(reader_client, put_artifact, settings):
    settings.CATALOG_PRESIGN_DOWNLOADS_FROM_BYTES = None
    run = make_run()
    put_artifact(run=run, path="model.pkl", body=b"x" * 2000)
    response = reader_client.get(f"/runs/{run.run_id}/raw/model.pkl?download=1")
    assert isinstance(response, StreamingHttpResponse)


def test_raw_bytes_honour_if_none_match(reader_client, put_artifact):
    run = make_run()
    put_artifact(run=run, path="a.txt", body=b"abc")
    first = reader_client.get(f"/runs/{run.run_id}/raw/a.txt")
    assert first["ETag"]
    again = reader_client.get(f"/runs/{run.run_id}/raw/a.txt", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304


def test_raw_of_an_object_gone_from_s3_is_404(reader_client, s3):
    run = make_run()
    make_artifact(run=run, path="ghost.txt")
    assert reader_client.get(f"/runs/{run.run_id}/raw/ghost.txt").status_code == 404


def test_the_web_side_reaches_s3_only_through_the_sync_read_api():
    """DESIGN: one module imports boto3; the artifact views use its web read API only."""
    import ast
    from pathlib import Path

    import catalog

    root = Path(catalog.__file__).parent
    for name in (
        "artifact_browser.py",
        "previews.py",
        "views/artifacts.py",
        "templatetags/artifact_tags.py",
    ):
        tree = ast.parse((root / name).read_text())
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {
            (node.module or "").split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
        }
        assert not imported & {"boto3", "botocore", "requests", "urllib3"}, name
