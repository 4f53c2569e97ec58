"""gunicorn's settings for the catalogue: ``gunicorn -c gunicorn.conf.py``.

Used by the README's deploying steps, ``make run`` (``demo/serve.py``) and the load
benchmark, so all three serve the same way. Anything here can be overridden on the
command line or through ``GUNICORN_CMD_ARGS``; the usual knobs have variables:

- ``GUNICORN_BIND`` (default ``127.0.0.1:8000``): behind a TLS proxy on the same host.
- ``WEB_CONCURRENCY`` (default: cores + 1): sync workers. Pages are rendered from the
  database and cached per worker; a worker is busy for the whole of a download it
  streams from S3, so count one per concurrent download on top.
- ``GUNICORN_TIMEOUT`` (default 120 s): a worker silent for longer is killed and
  replaced. Streaming a large artifact keeps the worker busy, not silent.
- ``GUNICORN_LOG_LEVEL`` (default ``info``).
"""

import os

wsgi_app = "smartmaint_site.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", (os.cpu_count() or 1) + 1))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30
keepalive = 5  # seconds, behind a proxy that reuses its upstream connections

# The master imports the site once and forks its workers: each worker starts at once
# instead of importing Django, the catalogue and matplotlib again, and
# ``smartmaint_site/wsgi.py``'s gc.freeze() runs before the fork, so the frozen objects
# stay shared between workers instead of being copied into each one by the collector.
preload_app = True

loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
accesslog = "-"
errorlog = "-"
# Common log format plus the time taken (ms) and the user agent: enough to find a slow
# page without a profiler.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
