"""``os.environ`` changed for a block of test code, and restored after it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """``os.environ`` updated with ``values`` inside the block, restored after it.

    Names the block itself sets (``os.environ[...] = ...``) are restored only when they
    are in ``values``.
    """
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
