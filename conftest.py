"""Test-wide environment, set before Django reads its settings."""

import os

os.environ.setdefault("DJANGO_INSECURE_DEV_KEY", "1")
# Tests talk plain HTTP to the test client and to live servers.
os.environ.setdefault("DJANGO_SECURE", "0")
# Playwright's own browser download cannot work here; tests use Debian's chromium.
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
