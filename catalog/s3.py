"""S3 through boto3: the one module both the pages and the sync's listing import.

* ``make_s3_client``: a boto3 client with retries (the sync's, and the web's through
  ``get_web_s3_client`` with short timeouts);
* ``read_object_bytes``: a ranged read of at most N bytes (previews, the sync's
  ``MLmodel`` / ``feature_names.txt`` reads);
* ``iter_object_chunks``: an object streamed to a download;
* ``presigned_download_url``: a short-lived GET URL that saves under a given name.

Every read failure is one ``ObjectUnavailable``. The web reads an object only by its
exact catalogued key. boto3 is imported on first use: a management command or a page
that never touches S3 does not pay for it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from urllib.parse import quote

# boto3's "standard" retry mode retries throttling (503 SlowDown, 429) and transient
# errors with exponential backoff; ten attempts ride out a short throttling burst.
RETRY_CONFIG = {"mode": "standard", "max_attempts": 10}
# A web request must not hang on an unreachable endpoint: short timeouts, few retries.
WEB_CLIENT_CONFIG = {
    "retries": {"mode": "standard", "total_max_attempts": 3},
    "connect_timeout": 3,
    "read_timeout": 15,
}


class ObjectUnavailable(Exception):
    """An object could not be read (missing, forbidden, endpoint down ...)."""


def _default_endpoint_url() -> str | None:
    from django.conf import settings

    return getattr(settings, "CATALOG_S3_ENDPOINT_URL", "") or None


def make_s3_client(*, endpoint_url: str | None = None, config_overrides: dict | None = None):
    """A boto3 S3 client with retries in mode 'standard'.

    The endpoint is the argument, else ``settings.CATALOG_S3_ENDPOINT_URL`` (from
    ``MLFLOW_S3_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3``), else AWS itself. Credentials
    come from boto3's usual chain.
    """
    import boto3
    from botocore.config import Config

    endpoint = endpoint_url or _default_endpoint_url()
    options = {"retries": dict(RETRY_CONFIG), "signature_version": "s3v4"}
    options.update(config_overrides or {})
    config = Config(**options)
    return boto3.session.Session().client("s3", endpoint_url=endpoint, config=config)


@functools.lru_cache(maxsize=1)
def get_web_s3_client():
    """Process-wide cached ``make_s3_client()`` for views.

    Tests that change the endpoint clear it with ``get_web_s3_client.cache_clear()``.
    """
    return make_s3_client(config_overrides=WEB_CLIENT_CONFIG)


def read_object_bytes(*, client, bucket: str, key: str, max_bytes: int) -> bytes:
    """At most ``max_bytes`` of the object, by a ranged GET.

    Raises ``ObjectUnavailable`` on any error (missing object, access, endpoint).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    if max_bytes <= 0:
        raise ValueError("max_bytes must be positive")
    try:
        response = client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{max_bytes - 1}")
        with response["Body"] as body:
            return body.read(max_bytes)
    except ClientError as error:
        # An empty object can't satisfy a range; S3 answers 416 InvalidRange.
        if error_code(error) == "InvalidRange":
            return b""
        raise ObjectUnavailable(_describe(error, bucket=bucket, key=key)) from error
    except (BotoCoreError, OSError) as error:
        raise ObjectUnavailable(_describe(error, bucket=bucket, key=key)) from error


def iter_object_chunks(
    *, client, bucket: str, key: str, chunk_size: int = 64 * 1024
) -> Iterator[bytes]:
    """The object's bytes, streamed in chunks of at most ``chunk_size``.

    Opening happens before the first chunk is yielded: a missing or unreadable object
    raises ``ObjectUnavailable`` as soon as iteration starts. An error in mid-stream
    also raises ``ObjectUnavailable``.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = client.get_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError, OSError) as error:
        raise ObjectUnavailable(_describe(error, bucket=bucket, key=key)) from error
    return _stream_body(response["Body"], bucket=bucket, key=key, chunk_size=chunk_size)


def _stream_body(body, *, bucket: str, key: str, chunk_size: int) -> Iterator[bytes]:
    from botocore.exceptions import BotoCoreError

    try:
        for chunk in body.iter_chunks(chunk_size=chunk_size):
            if chunk:
                yield chunk
    except (BotoCoreError, OSError) as error:
        raise ObjectUnavailable(_describe(error, bucket=bucket, key=key)) from error
    finally:
        body.close()


def presigned_download_url(
    *, client, bucket: str, key: str, filename: str, expires_s: int = 300
) -> str:
    """A short-lived GET URL that makes the browser save the object as ``filename``."""
    disposition = _attachment_disposition(filename)
    return client.generate_presigned_url(
        "get_object",
        Params={"Bucket": bucket, "Key": key, "ResponseContentDisposition": disposition},
        ExpiresIn=expires_s,
    )


def _attachment_disposition(filename: str) -> str:
    # An ASCII fallback plus RFC 5987's filename* for the real (maybe unicode) name;
    # quotes, backslashes and control characters never reach the header.
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"attachment; filename=\"{fallback or 'download'}\"; filename*=UTF-8''{quote(filename)}"


def error_code(error: Exception) -> str:
    """The S3 error code of a botocore ``ClientError`` ("NoSuchKey" ...), else ""."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", ""))


def _describe(error: Exception, *, bucket: str, key: str) -> str:
    reason = error_code(error) or type(error).__name__
    return f"s3://{bucket}/{key}: {reason}"
