"""Conditional GETs of artifacts, thumbnails and charts (``catalog/conditional.py``).

HTTP's rules as browsers and caches send them: ``If-None-Match`` with a list, a weak
``W/`` tag or ``*``; ``If-Modified-Since`` only when no ``If-None-Match`` is sent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils.http import http_date

from tests.artifacts.conftest import png_bytes
from tests.factories import make_run

LAST_MODIFIED = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


@pytest.fixture
def text_file(put_artifact):
    run = make_run()
    artifact = put_artifact(run=run, path="notes.txt", body=b"hello")
    artifact.last_modified = LAST_MODIFIED
    artifact.save(update_fields=["last_modified"])
    return f"/runs/{run.run_id}/raw/notes.txt"


@pytest.fixture
def thumbnail(put_artifact):
    run = make_run()
    artifact = put_artifact(run=run, path="plots/roc.png", body=png_bytes())
    artifact.last_modified = LAST_MODIFIED
    artifact.save(update_fields=["last_modified"])
    return f"/runs/{run.run_id}/thumbnail/plots/roc.png"


def test_the_first_answer_carries_a_strong_etag_and_last_modified(reader_client, text_file):
    response = reader_client.get(text_file)

    assert response.status_code == 200
    assert response["ETag"].startswith('"') and not response["ETag"].startswith("W/")
    assert response["Last-Modified"] == http_date(LAST_MODIFIED.timestamp())


@pytest.mark.parametrize(
    "if_none_match",
    [
        "{etag}",
        '"something-else", {etag}',
        "W/{etag}",
        "*",
    ],
)
def test_a_current_copy_is_not_sent_again(reader_client, text_file, if_none_match):
    etag = reader_client.get(text_file)["ETag"]

    again = reader_client.get(text_file, headers={"If-None-Match": if_none_match.format(etag=etag)})

    assert again.status_code == 304
    assert again["ETag"] == etag
    assert not again.content


def test_a_stale_etag_gets_the_bytes(reader_client, text_file):
    response = reader_client.get(text_file, headers={"If-None-Match": '"stale"'})

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"hello"


def test_if_modified_since_alone_is_honoured(reader_client, text_file):
    unchanged = reader_client.get(
        text_file, headers={"If-Modified-Since": http_date(LAST_MODIFIED.timestamp())}
    )
    older = reader_client.get(
        text_file,
        headers={"If-Modified-Since": http_date((LAST_MODIFIED - timedelta(days=1)).timestamp())},
    )

    assert unchanged.status_code == 304
    assert older.status_code == 200


def test_if_none_match_wins_over_if_modified_since(reader_client, text_file):
    response = reader_client.get(
        text_file,
        headers={
            "If-None-Match": '"stale"',
            "If-Modified-Since": http_date(LAST_MODIFIED.timestamp()),
        },
    )

    assert response.status_code == 200


def test_a_thumbnail_revalidates_without_being_drawn_again(reader_client, thumbnail):
    first = reader_client.get(thumbnail)
    again = reader_client.get(thumbnail, headers={"If-None-Match": first["ETag"]})
    other_size = reader_client.get(thumbnail + "?size=large")

    assert first.status_code == 200 and first["Content-Type"] == "image/png"
    assert again.status_code == 304
    assert other_size["ETag"] != first["ETag"]


def test_a_chart_answers_by_the_digest_of_its_bytes(reader_client):
    run = make_run(metrics={"accuracy": 0.91}, experiment=None)
    url = f"/charts/experiments/{run.experiment.experiment_id}/runs.png?metric=accuracy"

    first = reader_client.get(url)
    again = reader_client.get(url, headers={"If-None-Match": first["ETag"]})

    assert first.status_code == 200 and first["ETag"].startswith('"')
    assert again.status_code == 304

    run.metrics = {"accuracy": 0.42}
    run.save(update_fields=["metrics"])
    changed = reader_client.get(url, headers={"If-None-Match": first["ETag"]})
    assert changed.status_code == 200 and changed["ETag"] != first["ETag"]
