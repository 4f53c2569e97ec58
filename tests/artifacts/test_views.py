"""Folder and file pages of runs and logged models: login, breadcrumbs, sizes, counts."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.factories import NOW, make_artifact, make_logged_model, make_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_with_tree():
    """plots/{a,b}.png, plots/roc/{c}.pdf, model/{MLmodel,model.pkl}, top-level notes.txt."""
    run = make_run(run_id="a" * 32)
    make_artifact(run=run, path="plots/a.png", size=1000)
    make_artifact(run=run, path="plots/b.png", size=2000)
    make_artifact(run=run, path="plots/roc/c.pdf", size=4000)
    make_artifact(run=run, path="model/MLmodel", size=300)
    make_artifact(run=run, path="model/model.pkl", size=5_000_000)
    make_artifact(run=run, path="notes.txt", size=12)
    return run


def _text(response) -> str:
    # Long names carry <wbr> break points (the `breakable` filter); assertions read the text.
    return response.content.decode().replace("<wbr>", "")


def _row(html: str, name: str) -> str:
    """The <tr> of the tree whose first link text is ``name``."""
    match = re.search(
        r"<tr class=\"[^\"]*\">\s*<td><a href=\"[^\"]*\">" + re.escape(name) + r"</a>.*?</tr>",
        html,
        re.S,
    )
    assert match, f"no row for {name!r}"
    return match.group(0)


def test_anonymous_users_are_sent_to_the_login_page(client, run_with_tree):
    for url in (
        reverse("catalog:run_artifacts", args=[run_with_tree.run_id]),
        reverse("catalog:run_artifact", args=[run_with_tree.run_id, "plots/a.png"]),
        reverse("catalog:run_artifact_raw", args=[run_with_tree.run_id, "plots/a.png"]),
        reverse("catalog:run_artifact_thumbnail", args=[run_with_tree.run_id, "plots/a.png"]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_root_folder_lists_subfolders_with_counts_and_bytes(reader_client, run_with_tree):
    response = reader_client.get(reverse("catalog:run_artifacts", args=[run_with_tree.run_id]))
    assert response.status_code == 200
    html = _text(response)
    plots = _row(html, "plots/")
    assert ">3<" in plots  # a.png, b.png and roc/c.pdf
    assert 'title="7000 bytes"' in plots
    model = _row(html, "model/")
    assert ">2<" in model and 'title="5000300 bytes"' in model
    notes = _row(html, "notes.txt")
    assert 'title="12 bytes"' in notes and "12\xa0bytes" in notes
    assert "6 files in this folder and below" in html


def test_subfolder_page_has_breadcrumbs_files_and_nested_folders(reader_client, run_with_tree):
    run_id = run_with_tree.run_id
    response = reader_client.get(reverse("catalog:run_artifact", args=[run_id, "plots/"]))
    assert response.status_code == 200
    html = _text(response)
    crumbs = re.search(r'<nav class="artifact-crumbs".*?</nav>', html, re.S).group(0)
    assert f'href="/runs/{run_id}/artifacts/">artifacts</a>' in crumbs
    assert '<span class="current">plots</span>' in crumbs
    assert "a.png" in html and "b.png" in html
    roc = _row(html, "roc/")
    assert ">1<" in roc and 'title="4000 bytes"' in roc
    assert "model.pkl" not in html  # another folder's file


def test_folder_url_without_slash_shows_the_folder(reader_client, run_with_tree):
    run_id = run_with_tree.run_id
    response = reader_client.get(f"/runs/{run_id}/artifacts/plots/roc")
    assert response.status_code == 200
    html = _text(response)
    crumbs = re.search(r'<nav class="artifact-crumbs".*?</nav>', html, re.S).group(0)
    assert f'href="/runs/{run_id}/artifacts/plots/">plots</a>' in crumbs
    assert '<span class="current">roc</span>' in crumbs
    # Links inside it are absolute: they don't depend on the trailing slash.
    assert f'href="/runs/{run_id}/artifacts/plots/roc/c.pdf"' in html


def test_file_page_shows_uri_size_and_links(reader_client, run_with_tree):
    run_id = run_with_tree.run_id
    response = reader_client.get(f"/runs/{run_id}/artifacts/model/model.pkl")
    assert response.status_code == 200
    html = _text(response)
    assert f"s3://yan-smart-maintenance-artifacts/1/{run_id}/artifacts/model/model.pkl" in (
        html.replace(f"/{run_with_tree.experiment.experiment_id}/", "/1/")
    )
    assert "5,000,000 bytes" in html and "4.8\xa0MB" in html
    assert f'href="/runs/{run_id}/raw/model/model.pkl?download=1"' in html
    # A pickle is not an inline type: no "Open" link, only the download.
    assert f'href="/runs/{run_id}/raw/model/model.pkl"' not in html
    assert '<span class="current">model.pkl</span>' in html
    assert "No preview for this type" in html


def test_unknown_owner_folder_or_file_is_404(reader_client, run_with_tree):
    run_id = run_with_tree.run_id
    assert reader_client.get("/runs/nope/artifacts/").status_code == 404
    assert reader_client.get(f"/runs/{run_id}/artifacts/nothing/").status_code == 404
    assert reader_client.get(f"/runs/{run_id}/artifacts/plots/zzz.png").status_code == 404
    assert reader_client.get(f"/logged-models/{run_id}/artifacts/").status_code == 404


def test_folder_of_another_run_is_not_listed(reader_client, run_with_tree):
    other = make_run()
    make_artifact(run=other, path="plots/secret.png")
    html = _text(reader_client.get(f"/runs/{run_with_tree.run_id}/artifacts/plots/"))
    assert "secret.png" not in html


def test_folder_names_are_compared_case_sensitively(reader_client):
    """SQLite's LIKE ignores case; "Plots" must not count "plots"'s files."""
    run = make_run()
    make_artifact(run=run, path="plots/x/a.png", size=10)
    make_artifact(run=run, path="Plots/x/b.png", size=20)
    html = _text(reader_client.get(f"/runs/{run.run_id}/artifacts/Plots/"))
    assert 'title="20 bytes"' in _row(html, "x/")
    assert "1 file in this folder and below" in html


def test_empty_run_root_says_so(reader_client):
    run = make_run()
    response = reader_client.get(f"/runs/{run.run_id}/artifacts/")
    assert response.status_code == 200
    assert "No artifacts." in _text(response)


def test_missing_artifacts_are_flagged_and_not_served(reader_client, run_with_tree):
    run_id = run_with_tree.run_id
    make_artifact(run=run_with_tree, path="plots/gone.png", size=77, missing_since=NOW)
    html = _text(reader_client.get(f"/runs/{run_id}/artifacts/plots/"))
    assert "badge-missing" in _row(html, "gone.png")
    page = reader_client.get(f"/runs/{run_id}/artifacts/plots/gone.png")
    assert page.status_code == 200
    assert "missing from S3 since" in _text(page)
    assert "?download=1" not in _text(page)
    assert reader_client.get(f"/runs/{run_id}/raw/plots/gone.png").status_code == 404
    assert reader_client.get(f"/runs/{run_id}/thumbnail/plots/gone.png").status_code == 404
    # Missing files are counted, their bytes are not.
    root = _text(reader_client.get(f"/runs/{run_id}/artifacts/"))
    assert "1 missing" in _row(root, "plots/")
    assert 'title="7000 bytes"' in _row(root, "plots/")


def test_files_are_paginated(reader_client, settings):
    run = make_run()
    for number in range(205):
        make_artifact(run=run, path=f"many/f{number:04d}.txt", size=1)
    first = _text(reader_client.get(f"/runs/{run.run_id}/artifacts/many/"))
    assert "page 1 of 2 (205 files)" in first
    assert "f0199.txt" in first and "f0200.txt" not in first
    second = _text(reader_client.get(f"/runs/{run.run_id}/artifacts/many/?page=2"))
    assert "f0200.txt" in second and "f0204.txt" in second and "f0199.txt" not in second
    assert 'rel="prev"' in second
    # Out-of-range and junk page numbers are clamped, not errors.
    assert "f0200.txt" in _text(reader_client.get(f"/runs/{run.run_id}/artifacts/many/?page=99"))
    assert "f0000.txt" in _text(reader_client.get(f"/runs/{run.run_id}/artifacts/many/?page=x"))


def test_logged_model_artifacts_have_their_own_urls(reader_client):
    model = make_logged_model(model_id="m-0123456789abcdef")
    make_artifact(logged_model=model, path="MLmodel", size=400)
    make_artifact(logged_model=model, path="model.pkl", size=900)
    root = reader_client.get("/logged-models/m-0123456789abcdef/artifacts/")
    assert root.status_code == 200
    html = _text(root)
    assert 'href="/logged-models/m-0123456789abcdef/artifacts/MLmodel"' in html
    page = reader_client.get("/logged-models/m-0123456789abcdef/artifacts/model.pkl")
    assert page.status_code == 200
    assert "/logged-models/m-0123456789abcdef/raw/model.pkl?download=1" in _text(page)
    assert reverse("catalog:logged_model_artifact_thumbnail", args=[model.model_id, "a.png"]) == (
        "/logged-models/m-0123456789abcdef/thumbnail/a.png"
    )


def test_names_from_s3_are_escaped(reader_client):
    run = make_run()
    make_artifact(run=run, path="<img src=x onerror=alert(1)>/x.txt")
    make_artifact(run=run, path="<b>bold.txt")
    html = _text(reader_client.get(f"/runs/{run.run_id}/artifacts/"))
    assert "<img src=x" not in html and "<b>bold" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;/" in html
    assert "&lt;b&gt;bold.txt" in html


def test_a_folder_marker_object_does_not_hide_its_folder(reader_client):
    """S3 consoles create zero-byte "plots/" objects; the folder page still wins."""
    run = make_run()
    make_artifact(run=run, path="plots/", size=0)
    make_artifact(run=run, path="plots/a.png", size=5)
    response = reader_client.get(f"/runs/{run.run_id}/artifacts/plots/")
    assert response.status_code == 200
    html = _text(response)
    assert "a.png" in html and "(folder marker)" in html
    # A marker whose folder is otherwise empty still has a page of its own.
    make_artifact(run=run, path="empty/", size=0, folder="empty")
    assert reader_client.get(f"/runs/{run.run_id}/artifacts/empty/").status_code == 200


def test_an_empty_path_segment_is_a_subfolder_of_its_own(reader_client):
    run = make_run()
    make_artifact(run=run, path="a/x.txt", size=1)
    make_artifact(run=run, path="a//b.txt", size=2)
    html = _text(reader_client.get(f"/runs/{run.run_id}/artifacts/a/"))
    assert "x.txt" in html and "b.txt" not in html
    assert f'<a href="/runs/{run.run_id}/artifacts/a//">/</a>' in html
    assert "1 here, 1 subfolder" in html
    inner = _text(reader_client.get(f"/runs/{run.run_id}/artifacts/a//"))
    assert "b.txt" in inner and "x.txt" not in inner
