"""A per-process memory cache bounded in bytes: the page cache's backend.

Django's LocMemCache bounds its entries by count (``MAX_ENTRIES``), not by size: 500
entries of a 2 MB page are 1 GB per worker. ``BytesBoundedLocMemCache`` also counts the
pickled size of what it holds and, past ``OPTIONS["MAX_BYTES"]``, drops the least
recently used entries (LocMemCache keeps its entries in recency order: a ``get`` moves
an entry to the front, and its cull pops from the back). An entry larger than
``OPTIONS["MAX_ENTRY_BYTES"]`` (or than the whole budget) is not stored at all.

Sizes are those of the pickles the cache keeps, which are what the worker's memory
holds; the dictionaries around them add a few hundred bytes an entry.
"""

from __future__ import annotations

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
# Shared by every instance of one LOCATION, as LocMemCache shares its store (each thread
# gets its own cache object; all of them see one store and must see one byte count).
_sizes: dict[str, dict[str, int]] = {}


class BytesBoundedLocMemCache(LocMemCache):
    """LocMemCache that keeps the pickled bytes it holds under ``MAX_BYTES``."""

    def __init__(self, name, params):
        super().__init__(name, params)
        options = params.get("OPTIONS", {})
        self.max_bytes = int(options.get("MAX_BYTES", DEFAULT_MAX_BYTES))
        self.max_entry_bytes = int(options.get("MAX_ENTRY_BYTES", self.max_bytes))
        self._sizes = _sizes.setdefault(name, {})

    @property
    def total_bytes(self) -> int:
        """The pickled bytes held now (under the cache's lock)."""
        with self._lock:
            return sum(self._sizes.values())

    def _set(self, key, value, timeout=DEFAULT_TIMEOUT):
        size = len(value)
        if size > min(self.max_entry_bytes, self.max_bytes):
            # Too big to keep: drop any older value of the key too, so it is not served.
            self._delete(key)
            return
        self._delete(key)
        super()._set(key, value, timeout)
        self._sizes[key] = size
        self._evict_to(self.max_bytes)

    def _evict_to(self, budget: int) -> None:
        total = sum(self._sizes.values())
        while total > budget and self._cache:
            key, _ = self._cache.popitem()  # the back: least recently used
            self._expire_info.pop(key, None)
            total -= self._sizes.pop(key, 0)

    def _cull(self):
        super()._cull()
        for key in [key for key in self._sizes if key not in self._cache]:
            del self._sizes[key]

    def _delete(self, key):
        self._sizes.pop(key, None)
        return super()._delete(key)

    def incr(self, key, delta=1, version=None):
        value = super().incr(key, delta, version)
        with self._lock:
            stored_key = self.make_and_validate_key(key, version=version)
            if stored_key in self._cache:
                self._sizes[stored_key] = len(self._cache[stored_key])
        return value

    def clear(self):
        with self._lock:
            self._cache.clear()
            self._expire_info.clear()
            self._sizes.clear()
