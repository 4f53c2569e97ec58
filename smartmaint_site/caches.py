"""The ``CACHES`` setting: charts, thumbnails and pages, in this process or in Redis.

By default, thumbnails and charts (cached by ETag or data version, see
``catalog.previews`` and ``catalog.charts``) go to a file cache shared by the workers of
one host, and pages to a per-process memory cache bounded in bytes
(``catalog.bounded_cache``): a hit must cost far less than the ~30 ms render (the file
cache lists its directory on every write), and the data version in the key keeps the
workers consistent.

With ``CATALOG_CACHE_URL=redis://host:6379/0`` all three live in Redis through Django's
own backend (the ``redis`` extra): every worker of every host shares them, and they
survive a deploy. Redis bounds its memory itself: set its ``maxmemory`` with an LRU
policy (``allkeys-lru``). Pages over ``CATALOG_PAGE_CACHE_MAX_PAGE_BYTES`` are never
stored either way (``catalog.pagecache``).
"""

from __future__ import annotations

FILE_CACHE_SECONDS = 60 * 60 * 24 * 30


def cache_settings(
    *,
    cache_url: str,
    cache_dir: str,
    page_seconds: int,
    page_max_bytes: int,
    page_max_entry_bytes: int,
    key_prefix: str = "catalog",
) -> dict:
    """``CACHES`` for the ``default`` (charts, thumbnails) and ``pages`` aliases."""
    page_timeout = page_seconds or None
    if cache_url:
        return {
            alias: {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": cache_url,
                "KEY_PREFIX": f"{key_prefix}-{alias}",
                "TIMEOUT": timeout,
            }
            for alias, timeout in (("default", FILE_CACHE_SECONDS), ("pages", page_timeout))
        }
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": cache_dir,
            "TIMEOUT": FILE_CACHE_SECONDS,
            "OPTIONS": {"MAX_ENTRIES": 20000},
        },
        "pages": {
            "BACKEND": "catalog.bounded_cache.BytesBoundedLocMemCache",
            "LOCATION": f"{key_prefix}-pages",
            "TIMEOUT": page_timeout,
            "OPTIONS": {
                "MAX_ENTRIES": 500,
                "MAX_BYTES": page_max_bytes,
                "MAX_ENTRY_BYTES": page_max_entry_bytes,
            },
        },
    }
