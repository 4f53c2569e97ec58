"""What a process pays before it starts: the URLconf loads no sync, no matplotlib, no boto3.

Every management command (the cron sync included) runs the system checks, which load
the URLconf; the pages reach S3 through ``catalog.s3`` and never import ``catalog.sync``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
import django
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns  # the whole URLconf: every view module
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in {
    "matplotlib", "boto3", "botocore", "mlflow"} or name.startswith("catalog.sync"))))
"""


def _modules_after_urlconf() -> list[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DJANGO_SETTINGS_MODULE": "smartmaint_site.settings",
        "DJANGO_INSECURE_DEV_KEY": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_pages_import_no_sync_no_matplotlib_no_boto3():
    assert _modules_after_urlconf() == []
