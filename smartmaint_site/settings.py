"""Settings of the SmartMaint catalogue, read from the environment (12-factor).

A ``.env`` file at the project root may set the same variables; the real environment
wins. ``.env.example`` lists them all. See the README's configuration reference.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from dotenv import load_dotenv

from smartmaint_site.caches import cache_settings
from smartmaint_site.database import database_config_from_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CATALOG_VAR_DIR", BASE_DIR / "var"))

load_dotenv(BASE_DIR / ".env", override=False)


def env_bool(name: str, default: bool = False) -> bool:
    """Read a boolean environment variable ("1", "true", "yes", "on" are true)."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    """Read a comma-separated environment variable into a list of non-empty items."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
# Management commands (migrate, makemigrations, the cron sync) sign nothing, so they run
# without a key. Serving is different: smartmaint_site.wsgi refuses to start with this
# fallback unless DJANGO_DEBUG=1 or DJANGO_INSECURE_DEV_KEY=1 (tests, `make run`), and
# `check --deploy` flags it (security.W009).
USING_DEV_SECRET_KEY = not SECRET_KEY
ALLOW_DEV_SECRET_KEY = DEBUG or env_bool("DJANGO_INSECURE_DEV_KEY", False)
if USING_DEV_SECRET_KEY:
    SECRET_KEY = "django-insecure-dev-only-not-for-production"  # noqa: S105

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_tables2",
    "django_filters",
    "csp",
    "axes",
    "catalog",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes requires: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "smartmaint_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "catalog.context_processors.catalog",
            ],
        },
    },
]

WSGI_APPLICATION = "smartmaint_site.wsgi.application"

DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'catalog.sqlite3'}"
DATABASES = {"default": database_config_from_url(DATABASE_URL)}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-axes first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Single sign-on behind an authenticating proxy (oauth2-proxy, Apache mod_auth_openidc,
# nginx auth_request ...): the proxy signs the user in and passes the name in a header,
# e.g. CATALOG_REMOTE_USER_HEADER=X-Forwarded-User. Users are created at their first
# request; members of a CATALOG_REMOTE_STAFF_GROUPS group (read from
# CATALOG_REMOTE_GROUPS_HEADER) are staff. Only safe when every request comes through
# that proxy and the proxy sets (or strips) the header: see smartmaint_site/remote_user.py.
# Local accounts keep working beside it; unset, the headers are ignored.
CATALOG_REMOTE_USER_HEADER = os.environ.get("CATALOG_REMOTE_USER_HEADER", "").strip()
CATALOG_REMOTE_GROUPS_HEADER = os.environ.get("CATALOG_REMOTE_GROUPS_HEADER", "").strip()
CATALOG_REMOTE_STAFF_GROUPS = env_list("CATALOG_REMOTE_STAFF_GROUPS")
if CATALOG_REMOTE_USER_HEADER:
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
        "smartmaint_site.remote_user.ProxyRemoteUserMiddleware",
    )
    AUTHENTICATION_BACKENDS.insert(1, "smartmaint_site.remote_user.ProxyRemoteUserBackend")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "catalog:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
# Hashed, compressed static files once `collectstatic` has run (the deploy step); until
# then (tests, `make run`) WhiteNoise serves the source files through the finders.
_STATIC_MANIFEST = STATIC_ROOT / "staticfiles.json"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if _STATIC_MANIFEST.exists()
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Tests and `make run` serve static files without a collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_MANIFEST_STRICT = False

# Rendered pages are served from the "pages" cache while the data version (last sync,
# last admin edit) is unchanged, for at most this many seconds; 0 turns it off.
# See catalog.pagecache and docs/decisions/0005-page-cache.md.
CATALOG_PAGE_CACHE_SECONDS = int(os.environ.get("CATALOG_PAGE_CACHE_SECONDS", 300))
# Each worker keeps at most this many bytes of pages (least recently used dropped
# first), and never a page longer than CATALOG_PAGE_CACHE_MAX_PAGE_BYTES.
CATALOG_PAGE_CACHE_MAX_BYTES = int(os.environ.get("CATALOG_PAGE_CACHE_MAX_BYTES", 64 * 1024**2))
CATALOG_PAGE_CACHE_MAX_PAGE_BYTES = int(
    os.environ.get("CATALOG_PAGE_CACHE_MAX_PAGE_BYTES", 2 * 1024**2)
)

# Charts, thumbnails and pages: on this host by default, in Redis with
# CATALOG_CACHE_URL=redis://... (smartmaint_site/caches.py says which and why).
CATALOG_CACHE_URL = os.environ.get("CATALOG_CACHE_URL", "").strip()
CACHES = cache_settings(
    cache_url=CATALOG_CACHE_URL,
    cache_dir=os.environ.get("CATALOG_CACHE_DIR", str(VAR_DIR / "cache")),
    page_seconds=CATALOG_PAGE_CACHE_SECONDS,
    page_max_bytes=CATALOG_PAGE_CACHE_MAX_BYTES,
    page_max_entry_bytes=CATALOG_PAGE_CACHE_MAX_PAGE_BYTES,
)

# Prometheus reads the last sync's figures at /monitoring/metrics with this bearer token
# (its `authorization` setting); without a token the page needs a signed-in user.
CATALOG_METRICS_TOKEN = os.environ.get("CATALOG_METRICS_TOKEN", "").strip()

# The change timeline (/changes/): the sync purges events older than this many days.
CATALOG_CHANGES_KEEP_DAYS = int(os.environ.get("CATALOG_CHANGES_KEEP_DAYS", 365))
# Webhooks: each POST waits at most this long; a failed one is retried after later
# syncs, with backoff, up to this many attempts.
CATALOG_WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("CATALOG_WEBHOOK_TIMEOUT_SECONDS", 5))
CATALOG_WEBHOOK_MAX_ATTEMPTS = int(os.environ.get("CATALOG_WEBHOOK_MAX_ATTEMPTS", 5))
# The catalogue's address as its readers reach it (https://catalog.example.com): the
# sync runs without a request, so webhook bodies build their links from it. Unset, they
# carry site paths only, and their Slack text no links.
CATALOG_SITE_URL = os.environ.get("CATALOG_SITE_URL", "").strip().rstrip("/")

# --- Security -------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Behind TLS in production. DJANGO_SECURE=0 turns these off for plain-HTTP local runs.
_SECURE = env_bool("DJANGO_SECURE", not DEBUG)
SESSION_COOKIE_SECURE = _SECURE
CSRF_COOKIE_SECURE = _SECURE
SECURE_SSL_REDIRECT = _SECURE and env_bool("DJANGO_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", 31536000 if _SECURE else 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = _SECURE
SECURE_HSTS_PRELOAD = _SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Login throttling (django-axes) -------------------------------------------------------
# After CATALOG_LOGIN_FAILURE_LIMIT failed logins for one user name from one client
# address, that pair is locked out for CATALOG_LOGIN_COOLOFF_MINUTES (each failure
# during the lockout starts it again); other users and addresses are not affected.
# A successful login clears the pair's count. Staff clear a lockout in the admin
# ("Access attempts") or with `python manage.py axes_reset` (see the README).
AXES_FAILURE_LIMIT = int(os.environ.get("CATALOG_LOGIN_FAILURE_LIMIT", 5))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("CATALOG_LOGIN_COOLOFF_MINUTES", 15)))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The site's login page with the lockout message, not axes' bare text.
AXES_LOCKOUT_CALLABLE = "smartmaint_site.login_throttle.lockout_response"
# The client address: REMOTE_ADDR, unless CATALOG_TRUSTED_PROXY_COUNT says how many
# proxies of ours (the TLS proxy: 1) append to X-Forwarded-For; then the entry that many
# from the right. Trusting the header without such a proxy in front would let a client
# pick its address, and so escape its lockout or lock out someone else.
CATALOG_TRUSTED_PROXY_COUNT = int(os.environ.get("CATALOG_TRUSTED_PROXY_COUNT", 0))
AXES_CLIENT_IP_CALLABLE = "smartmaint_site.login_throttle.client_ip_address"

# django-csp 4: everything from our own origin; charts and thumbnails are served by us.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
    }
}

# Pillow's decompression-bomb guard for previews (pixels); see catalog.previews.
CATALOG_MAX_IMAGE_PIXELS = int(os.environ.get("CATALOG_MAX_IMAGE_PIXELS", 40_000_000))
# Largest image (decoded pixels, after JPEG's draft scaling) a thumbnail is made of:
# decoding a PNG costs ~4 bytes a pixel, so this bounds a thumbnail's memory.
CATALOG_MAX_THUMBNAIL_PIXELS = int(os.environ.get("CATALOG_MAX_THUMBNAIL_PIXELS", 16_000_000))

# Downloads at or above this size go straight from S3 through a short-lived presigned URL
# (users' browsers must reach the S3 endpoint); below it, or when unset to -1, the site
# streams the bytes itself.
CATALOG_PRESIGN_DOWNLOADS_FROM_BYTES = int(
    os.environ.get("CATALOG_PRESIGN_DOWNLOADS_FROM_BYTES", 256 * 1024 * 1024)
)
# Above this many artifacts, search scans artifact keys only for path-like queries.
CATALOG_SEARCH_FULL_SCAN_MAX_ARTIFACTS = int(
    os.environ.get("CATALOG_SEARCH_FULL_SCAN_MAX_ARTIFACTS", 200_000)
)

# --- Sources ----------------------------------------------------------------------------
MLFLOW_TRACKING_URI = os.environ.get("MLFLOW_TRACKING_URI", "")
CATALOG_S3_ENDPOINT_URL = os.environ.get("MLFLOW_S3_ENDPOINT_URL") or os.environ.get(
    "AWS_ENDPOINT_URL_S3", ""
)
CATALOG_S3_ROOTS = env_list("CATALOG_S3_ROOTS")
CATALOG_ARTIFACTS_DESTINATION = os.environ.get("CATALOG_ARTIFACTS_DESTINATION", "")
CATALOG_MLFLOW_UI_URL = os.environ.get("CATALOG_MLFLOW_UI_URL", "").rstrip("/")
CATALOG_SYNC_LOCK_PATH = Path(
    os.environ.get("CATALOG_SYNC_LOCK_PATH", VAR_DIR / "sync_registry.lock")
)

# One console handler on stderr, with timestamps. The catalogue's loggers inherit the
# root's level (DJANGO_LOG_LEVEL, WARNING): `sync_registry -v 2` raises catalog.sync's
# to INFO (a line per stage with its time and counts), `-v 3` to DEBUG.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "WARNING")},
}

STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # also makes VAR_DIR
