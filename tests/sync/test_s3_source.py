"""The S3 read API (``catalog.s3``) and the sync's bucket walk, against moto."""

from __future__ import annotations

import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.server import ThreadedMotoServer

from catalog.s3 import (
    ObjectUnavailable,
    get_web_s3_client,
    iter_object_chunks,
    make_s3_client,
    presigned_download_url,
    read_object_bytes,
)
from catalog.sync.records import ArtifactRecord, S3Root
from catalog.sync.s3_source import S3ListingError, S3Source, UndecodableKey

BUCKET = "read-api"


@pytest.fixture
def s3(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = make_s3_client()
        client.create_bucket(Bucket=BUCKET)
        yield client


def test_client_retries_in_standard_mode(settings):
    settings.CATALOG_S3_ENDPOINT_URL = "http://127.0.0.1:9"
    client = make_s3_client()
    assert client.meta.config.retries["mode"] == "standard"
    assert client.meta.endpoint_url == "http://127.0.0.1:9"
    assert make_s3_client(endpoint_url="http://127.0.0.2:9").meta.endpoint_url == (
        "http://127.0.0.2:9"
    )


def test_web_client_is_cached_and_clearable(settings):
    settings.CATALOG_S3_ENDPOINT_URL = "http://127.0.0.1:9"
    get_web_s3_client.cache_clear()
    first = get_web_s3_client()
    assert get_web_s3_client() is first
    get_web_s3_client.cache_clear()
    assert get_web_s3_client() is not first
    get_web_s3_client.cache_clear()


def test_web_client_gives_up_quickly_on_an_unreachable_endpoint(settings):
    # A page must not hang for minutes on a down S3: few retries, short timeouts,
    # while the sync's own client keeps its patient retries.
    settings.CATALOG_S3_ENDPOINT_URL = "http://127.0.0.1:9"
    get_web_s3_client.cache_clear()
    web = get_web_s3_client().meta.config
    assert web.retries["total_max_attempts"] <= 3
    assert web.connect_timeout <= 5
    assert make_s3_client().meta.config.retries["total_max_attempts"] >= 10
    get_web_s3_client.cache_clear()


def test_read_object_bytes_is_capped(s3):
    s3.put_object(Bucket=BUCKET, Key="a/b.txt", Body=b"0123456789")
    assert read_object_bytes(client=s3, bucket=BUCKET, key="a/b.txt", max_bytes=4) == b"0123"
    assert read_object_bytes(client=s3, bucket=BUCKET, key="a/b.txt", max_bytes=100) == (
        b"0123456789"
    )


def test_read_object_bytes_of_an_empty_object(s3):
    s3.put_object(Bucket=BUCKET, Key="empty", Body=b"")
    assert read_object_bytes(client=s3, bucket=BUCKET, key="empty", max_bytes=10) == b""


def test_read_object_bytes_missing_raises(s3):
    with pytest.raises(ObjectUnavailable, match="NoSuchKey"):
        read_object_bytes(client=s3, bucket=BUCKET, key="nope", max_bytes=10)
    with pytest.raises(ObjectUnavailable):
        read_object_bytes(client=s3, bucket="no-such-bucket", key="x", max_bytes=10)


def test_iter_object_chunks_streams_everything(s3):
    body = bytes(range(256)) * 1000
    s3.put_object(Bucket=BUCKET, Key="big.bin", Body=body)
    chunks = list(iter_object_chunks(client=s3, bucket=BUCKET, key="big.bin", chunk_size=10_000))
    assert b"".join(chunks) == body
    assert max(len(c) for c in chunks) <= 10_000
    assert len(chunks) >= 26


def test_iter_object_chunks_missing_raises_before_streaming(s3):
    with pytest.raises(ObjectUnavailable):
        iter_object_chunks(client=s3, bucket=BUCKET, key="nope")


def test_presigned_url_downloads_as_attachment(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = make_s3_client(endpoint_url=f"http://{host}:{port}")
        client.create_bucket(Bucket=BUCKET)
        key = "1/run/artifacts/plots/résumé #1.png"
        client.put_object(Bucket=BUCKET, Key=key, Body=b"PNGDATA")
        url = presigned_download_url(
            client=client, bucket=BUCKET, key=key, filename='résumé "#1".png', expires_s=60
        )
        with urllib.request.urlopen(url) as response:  # noqa: S310 - a local moto server
            assert response.read() == b"PNGDATA"
            disposition = response.headers["Content-Disposition"]
        assert disposition.startswith("attachment;")
        assert "filename*=UTF-8''r%C3%A9sum%C3%A9" in disposition
        assert '"r_sum_ _#1_.png"' in disposition
    finally:
        server.stop()


WEIRD_KEYS = [
    "1/r/artifacts/with space.txt",
    "1/r/artifacts/hash#tag.txt",
    "1/r/artifacts/question?.txt",
    "1/r/artifacts/plus+sign.txt",
    "1/r/artifacts/percent%20.txt",
    "1/r/artifacts/ünïcødé/日本.txt",
    "1/r/artifacts/../escape.txt",
    "1/r/artifacts/" + "x" * 900 + ".txt",
]


def test_walk_yields_every_key_verbatim_across_pages(s3):
    for index in range(7):
        s3.put_object(Bucket=BUCKET, Key=f"1/plain-{index}", Body=b"x" * index)
    for key in WEIRD_KEYS:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"abc")
    s3.put_object(Bucket=BUCKET, Key="2/outside", Body=b"x")
    source = S3Source(client=s3, page_size=3)
    records = list(source.iter_root(root=S3Root(bucket=BUCKET, prefix="1/")))
    assert all(isinstance(r, ArtifactRecord) for r in records)
    assert sorted(r.key for r in records) == sorted([f"1/plain-{i}" for i in range(7)] + WEIRD_KEYS)
    by_key = {r.key: r for r in records}
    assert by_key["1/plain-5"].size == 5
    assert by_key["1/plain-5"].etag and '"' not in by_key["1/plain-5"].etag
    assert by_key["1/plain-5"].last_modified is not None


def test_walk_reports_a_missing_bucket_as_a_listing_error(s3):
    source = S3Source(client=s3)
    with pytest.raises(S3ListingError, match="NoSuchBucket"):
        list(source.iter_root(root=S3Root(bucket="absent-bucket", prefix="")))


def test_undecodable_key_is_reported_not_raised(s3):
    # boto3 can't send a non-UTF-8 key; feed the walk a page as S3 would send it.
    class OnePage:
        def get_paginator(self, name):
            return self

        def paginate(self, **kwargs):
            assert kwargs["EncodingType"] == "url"
            return [
                {
                    "Contents": [
                        {"Key": "1/bad%FF.txt", "Size": 1, "ETag": '"e"'},
                        {"Key": "1/good%20one", "Size": 2, "ETag": '"f"'},
                    ]
                }
            ]

    records = list(S3Source(client=OnePage()).iter_root(root=S3Root(bucket="b", prefix="1/")))
    assert records[0] == UndecodableKey(bucket="b", raw_key=b"1/bad\xff.txt")
    assert records[1].key == "1/good one"


def test_read_head_counts_calls(s3):
    s3.put_object(Bucket=BUCKET, Key="MLmodel", Body=b"flavors: {}")
    source = S3Source(client=s3)
    assert source.read_head(bucket=BUCKET, key="MLmodel", max_bytes=5) == b"flavo"
    assert source.get_object_calls == 1
    with pytest.raises(ObjectUnavailable):
        source.read_head(bucket=BUCKET, key="gone", max_bytes=5)


def test_client_error_type_is_botocore(s3):
    with pytest.raises(ClientError):
        s3.head_object(Bucket=BUCKET, Key="nothing")
    assert isinstance(boto3.__version__, str)
