"""Every S3 URI a page shows has a Copy button holding exactly that URI."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from django.urls import reverse

from tests.factories import (
    make_artifact,
    make_experiment,
    make_logged_model,
    make_model_version,
    make_registered_model,
    make_run,
)

pytestmark = pytest.mark.django_db


def _uris_and_copies(html: str) -> list[tuple[str, str | None]]:
    """Each ``<code class="s3-uri">`` and the data-copy of the Copy button right after it.

    Long URIs carry ``<wbr>`` after their separators (they wrap there): read without it.
    """
    html = html.replace("<wbr>", "")
    pairs = re.findall(
        r'<code class="s3-uri">([^<]*)</code>\s*(?:<button type="button" class="copy" '
        r'data-copy="([^"]*)">Copy</button>)?',
        html,
    )
    return [
        (html_lib.unescape(uri), html_lib.unescape(copy) if copy else None) for uri, copy in pairs
    ]


def test_every_s3_uri_can_be_copied(reader_client):
    experiment = make_experiment(experiment_id="51", name="copyable")
    run = make_run(experiment=experiment, run_id="d" * 32, name="r & d")
    artifact = make_artifact(run=run, path="plots/a&b.png", size=10)
    logged = make_logged_model(experiment=experiment, run=run, model_id="m-copy")
    model = make_registered_model(name="copied", experiment=experiment, latest_version=1)
    version = make_model_version(registered_model=model, run=run, version=1)
    pages = {
        "experiment": reverse("catalog:experiment_detail", args=["51"]),
        "run": reverse("catalog:run_detail", args=[run.run_id]),
        "file": reverse("catalog:run_artifact", args=[run.run_id, "plots/a&b.png"]),
        "logged model": reverse("catalog:logged_model_detail", args=[logged.model_id]),
        "model": model.get_absolute_url(),
        "version": version.get_absolute_url(),
    }
    for name, url in pages.items():
        pairs = _uris_and_copies(reader_client.get(url).content.decode())
        assert pairs, name
        for uri, copied in pairs:
            assert uri.startswith("s3://"), (name, uri)
            assert copied == uri, (name, uri, copied)
    file_pairs = _uris_and_copies(reader_client.get(pages["file"]).content.decode())
    assert file_pairs == [(artifact.s3_uri, artifact.s3_uri)]
