"""The signature a receiver checks: HMAC-SHA256 of the exact body, with the secret."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Catalog-Signature"
SIGNATURE_PREFIX = "sha256="


def body_signature(body: bytes, *, secret: str) -> str:
    """The ``X-Catalog-Signature`` value of ``body``: ``sha256=<hex digest>``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def signature_matches(body: bytes, *, secret: str, signature: str) -> bool:
    """Whether ``signature`` (a header's value) signs ``body``; compared in constant time."""
    return hmac.compare_digest(body_signature(body, secret=secret), signature or "")
