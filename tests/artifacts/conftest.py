"""Fixtures of the artifact tests: moto S3 in-process, a private cache, file builders."""

from __future__ import annotations

import hashlib
import io
import uuid

import pytest
from matplotlib.figure import Figure
from PIL import Image

from tests.factories import BUCKET, make_artifact
from tests.moto_s3 import web_s3_with_bucket


@pytest.fixture(autouse=True)
def private_cache(settings):
    """Each test gets an empty in-memory cache (thumbnails and text are cached by ETag)."""
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"artifacts-{uuid.uuid4().hex}",
        },
    }


@pytest.fixture
def s3(settings, monkeypatch):
    """moto's in-process S3 with the artifact bucket; the web client rebuilt around it."""
    yield from web_s3_with_bucket(settings, monkeypatch, BUCKET)


@pytest.fixture
def put_artifact(s3):
    """Put bytes into S3 and catalogue them as the sync would (size and ETag from S3)."""

    def put(*, body: bytes, path: str, **owner_and_overrides):
        artifact = make_artifact(path=path, size=len(body), **owner_and_overrides)
        s3.put_object(Bucket=artifact.bucket, Key=artifact.key, Body=body)
        head = s3.head_object(Bucket=artifact.bucket, Key=artifact.key)
        artifact.etag = head["ETag"].strip('"')
        artifact.save(update_fields=["etag"])
        return artifact

    return put


def png_bytes(*, size: tuple[int, int] = (640, 480), color=(30, 120, 200)) -> bytes:
    """A real PNG made with Pillow."""
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def matplotlib_png() -> bytes:
    """A real plot saved to PNG by matplotlib."""
    figure = Figure(figsize=(4, 3))
    figure.add_subplot().plot([0, 1, 2, 3], [1, 3, 2, 4])
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def matplotlib_pdf(*, pages: int = 1) -> bytes:
    """A real PDF saved by matplotlib (one figure per page)."""
    from matplotlib.backends.backend_pdf import PdfPages

    out = io.BytesIO()
    with PdfPages(out) as pdf:
        for page in range(pages):
            figure = Figure(figsize=(6, 4))
            figure.add_subplot().bar(["a", "b", "c"], [page + 1, 2, 3])
            pdf.savefig(figure)
    return out.getvalue()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
