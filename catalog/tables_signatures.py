"""django-tables2's per-cell signature look-up, remembered per function.

django-tables2 calls ``call_with_appropriate(column.render, kwargs)`` for every cell it
renders, and that calls ``inspect.signature`` on the render method each time, to learn
which of ``value``, ``record``, ``column`` ... it takes. A signature never changes, so
``remember_signatures()`` (run once, from ``CatalogConfig.ready``) wraps the library's
``django_tables2.utils.signature`` with a cache keyed by the function itself (a bound
method by its ``__func__``: every bound method of one function has the signature
``inspect`` gives it with the first parameter dropped). Other callables (partials,
callable objects) are looked up every time, as before. The cache holds its functions
weakly: a column callable made per request (a closure) leaves it with its table.

A cold render of the ``/metrics/`` leaderboard (50 rows) went 45-50 ms -> 38-40 ms
with it, the experiment list 41 -> 33 ms (item 3's world, docs/benchmarks.md). If
django-tables2 ever drops ``utils.signature``, nothing is wrapped and the pages work as
before (a test notices).
"""

from __future__ import annotations

import inspect
import weakref

from django_tables2 import utils

_remembered: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def remember_signatures() -> bool:
    """Wrap ``django_tables2.utils.signature`` with the cache; True if it was there to wrap."""
    original = getattr(utils, "signature", None)
    if original is None or getattr(original, "remembers", False):
        return original is not None

    def signature(fn):
        if inspect.ismethod(fn):
            key = fn.__func__
        elif inspect.isfunction(fn):
            key = fn
        else:
            return original(fn)
        try:
            return _remembered[key]
        except KeyError:
            found = _remembered[key] = original(fn)
            return found

    signature.remembers = True
    utils.signature = signature
    return True
