"""Conditional GETs through Django's own helper: a 304 when the reader's copy is current.

``django.utils.cache.get_conditional_response`` reads ``If-None-Match`` as HTTP says
(lists, ``W/`` weak tags compared weakly, ``*``), then ``If-Modified-Since`` only when
no ``If-None-Match`` was sent, and answers ``If-Match``/``If-Unmodified-Since`` with
412. The views give it a strong ETag from a content digest (S3's ETag of the object, or
the digest of a chart's numbers) and the object's ``Last-Modified`` where known, before
reading any bytes, so a revalidation costs one database read and no S3 request.

Charts are answered by ``conditional_by_content`` (Django's ``ConditionalGetMiddleware``
as a view decorator): the PNG comes from the chart cache, so hashing it costs less than
a second digest of the numbers would, and its ETag is that of the bytes themselves.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.http import HttpRequest, HttpResponse
from django.middleware.http import ConditionalGetMiddleware
from django.utils.cache import get_conditional_response
from django.utils.decorators import decorator_from_middleware
from django.utils.http import http_date, quote_etag

ETAG_DIGEST_CHARS = 32


def strong_etag(*parts: str) -> str:
    """A quoted strong ETag of ``parts`` (already digests or ids), short and header-safe."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return quote_etag(digest[:ETAG_DIGEST_CHARS])


def conditional_answer(
    request: HttpRequest, *, etag: str | None, last_modified: datetime | None = None
) -> HttpResponse | None:
    """A 304 (or 412) for ``request`` if its preconditions say so, else None.

    The answer carries the validators, as a 304 must.
    """
    answer = get_conditional_response(
        request,
        etag=etag,
        last_modified=int(last_modified.timestamp()) if last_modified else None,
    )
    if answer is not None:
        set_validators(answer, etag=etag, last_modified=last_modified)
    return answer


def set_validators(
    response: HttpResponse, *, etag: str | None, last_modified: datetime | None = None
) -> HttpResponse:
    """``ETag`` and ``Last-Modified`` on ``response``, for the reader's next revalidation."""
    if etag:
        response["ETag"] = etag
    if last_modified:
        response["Last-Modified"] = http_date(last_modified.timestamp())
    return response


#: A view decorator: a strong ETag from the digest of the response's bytes, and a 304
#: when the reader's copy has it. For small responses that are cheap to produce again.
conditional_by_content = decorator_from_middleware(ConditionalGetMiddleware)
