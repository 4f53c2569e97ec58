"""Debian's chromium for the browser tests, one per test process.

Playwright's sync API runs an event loop for as long as it is started; a second
``sync_playwright()`` in the same process fails while the first runs. So every browser
test, whatever its folder, takes its pages from the one session-wide browser of the
``browser`` fixture (``tests/conftest.py``), and the process allows Django's database
calls beside that loop (``DJANGO_ALLOW_ASYNC_UNSAFE``: the tests are synchronous).
"""

from __future__ import annotations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
