"""moto's in-process S3 behind the pages' S3 client, for tests that serve real bytes."""

from __future__ import annotations

from collections.abc import Iterator

from moto import mock_aws

from catalog.s3 import get_web_s3_client


def web_s3_with_bucket(settings, monkeypatch, bucket: str) -> Iterator:
    """Yield the pages' S3 client on moto with ``bucket`` made; a fixture's body.

    moto keeps one store per process: a module that needs its own objects names its own
    bucket.
    """
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    settings.CATALOG_S3_ENDPOINT_URL = ""
    get_web_s3_client.cache_clear()
    with mock_aws():
        client = get_web_s3_client()
        client.create_bucket(Bucket=bucket)
        yield client
    get_web_s3_client.cache_clear()
