"""Settings for the test suite: the real settings, with a development key and plain HTTP.

pytest-django imports settings before any conftest runs, so the environment defaults
the tests need are set here rather than in a conftest.
"""

import os

os.environ.setdefault("DJANGO_INSECURE_DEV_KEY", "1")
# Tests talk plain HTTP to the test client and to live servers.
os.environ.setdefault("DJANGO_SECURE", "0")
# Playwright's own browser download cannot work here; tests use Debian's chromium.
os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")

from smartmaint_site.settings import *  # noqa: E402, F403

# The default hasher (PBKDF2, a million rounds) costs ~0.4 s of CPU per password: every
# test that makes a user or logs in through the form would pay it. The tests check who
# may log in, not how hard a stolen hash is to crack; the real settings keep PBKDF2.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
