"""Fixtures of the page tests: a private chart cache and a small populated world."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture(autouse=True)
def private_cache(settings):
    """Each test gets an empty in-memory cache (charts are cached by their data)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"pages-{uuid.uuid4().hex}",
        }
    }
