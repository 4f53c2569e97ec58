"""Regenerate ``fixtures/demo_world.json``: the synced demo world as a Django fixture.

    python -m demo.fixture            # writes fixtures/demo_world.json

Builds the world in a temporary directory (its own moto server, MLflow store and
sqlite catalogue), syncs it with ``sync_registry``, and dumps the ``catalog`` app
(without ``SyncRun``: a fixture is not a sync). One record per line, so a
regeneration shows as a readable diff. Load it anywhere with
``manage.py loaddata fixtures/demo_world.json`` (an empty catalogue database).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from demo.s3 import running_s3_stand_in
from demo.serve import BASE_DIR, prepare_world, site_env

FIXTURE_PATH = BASE_DIR / "fixtures" / "demo_world.json"


def write_fixture_lines(records: list[dict], path: Path) -> None:
    """A JSON array with one compact record per line (valid for ``loaddata``)."""
    lines = [json.dumps(record, sort_keys=True, separators=(",", ":")) for record in records]
    path.write_text("[\n" + ",\n".join(lines) + "\n]\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.fixture", description=__doc__)
    parser.add_argument("--output", type=Path, default=FIXTURE_PATH)
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="demo-fixture-") as tmp, running_s3_stand_in() as s3:
        directory = Path(tmp)
        database_url = f"sqlite:///{directory / 'catalog.sqlite3'}"
        prepare_world(
            directory=directory,
            s3_env=s3.env(),
            endpoint_url=s3.endpoint_url,
            database_url=database_url,
        )
        env = site_env(directory=directory, s3_env=s3.env(), database_url=database_url)
        # The sync's own record, and the change event it wrote (which points at it), are
        # not part of the world.
        excluded = ["--exclude", "catalog.SyncRun", "--exclude", "catalog.ChangeEvent"]
        dumped = subprocess.run(
            [sys.executable, "manage.py", "dumpdata", "catalog", *excluded],
            env=env,
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            check=True,
        )
    options.output.parent.mkdir(parents=True, exist_ok=True)
    write_fixture_lines(json.loads(dumped.stdout), options.output)
    print(f"wrote {options.output} ({options.output.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
