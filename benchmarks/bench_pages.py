"""3. Pages at scale: server time and query count of every page type.

The database is filled directly (``benchmarks.fill``) with the page world (100,000 runs,
1,000,000 artifacts with one 10,000-file folder, 2,000 registered models in the full
plan), built once and reused while the world and the migrations are unchanged. Each
page is requested through Django's test client as a logged-in reader: one warm-up,
then ``page_repeats`` timed requests; the query count is taken on one more request.

The process is set up as a gunicorn worker is (``smartmaint_site.wsgi``: the URLconf
loaded, then ``gc.freeze()``). Cold figures are the render's honest cost: the page
cache (``catalog.pagecache``) is emptied before each of those requests, so each is a
miss (render, store, splice).
Warm figures are the same page served from the page cache: one request to fill it,
then ``page_repeats`` timed hits and the query count of one more. Pages the cache does
not keep (``/healthz``) have no warm figures.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import time
from pathlib import Path

from benchmarks import common
from benchmarks.config import BENCH_DIR, WorldSize
from benchmarks.djangoenv import (
    existing_database_url,
    fresh_database_url,
    setup_django,
    sqlite_path,
)
from benchmarks.world import BIG_FOLDER, World, _hex

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "catalog" / "migrations"


def world_fingerprint(size: WorldSize) -> str:
    """Changes when the world or the schema changes, so a cached database is rebuilt."""
    digest = hashlib.sha256(json.dumps(size.as_dict(), sort_keys=True).encode())
    digest.update((Path(__file__).parent / "fill.py").read_bytes())
    digest.update((Path(__file__).parent / "fill_changes.py").read_bytes())
    digest.update((Path(__file__).parent / "world.py").read_bytes())
    for path in sorted(MIGRATIONS_DIR.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def prepare_database(*, size: WorldSize, backend: str, name: str, rebuild: bool) -> dict:
    """Set Django up on the page world's database, building it if needed."""
    fingerprint = world_fingerprint(size)
    marker = BENCH_DIR / f"{name}-{backend}.fingerprint"
    cached = (
        not rebuild
        and marker.exists()
        and marker.read_text() == fingerprint
        and (backend != "sqlite" or sqlite_path(name).exists())
    )
    if cached:
        setup_django(database_url=existing_database_url(backend=backend, name=name), name=name)
        return {"built": False, "fingerprint": fingerprint}
    marker.unlink(missing_ok=True)
    url = fresh_database_url(backend=backend, name=name)
    setup_django(database_url=url, name=name, migrate=True)
    from benchmarks.fill import CatalogueFiller, create_reader

    started = time.perf_counter()
    counts = CatalogueFiller(World(size)).fill()
    create_reader()
    seconds = time.perf_counter() - started
    marker.write_text(fingerprint)
    common.log(f"filled {name} ({backend}) in {seconds:.0f}s: {counts}")
    return {"built": True, "fingerprint": fingerprint, "fill_s": round(seconds, 1), **counts}


def page_requests(world: World) -> list[tuple[str, str, tuple, str]]:
    """(label, URL name, args, query string) of every page type, on the biggest objects."""
    big = world.big_run()
    normal = world.run(1)
    model = world.model_name(0)
    logged_model = world.logged_model_id(0)
    first = world.experiment_id(0)
    orphans = f"{first}/{_hex('orphan-0')}/"  # the world's first orphan folder
    return [
        ("home", "home", (), ""),
        ("experiment list", "experiment_list", (), ""),
        ("experiment detail", "experiment_detail", (big.experiment_id,), ""),
        ("experiment detail, last page", "experiment_detail", (big.experiment_id,), "?page=last"),
        ("run detail (big run)", "run_detail", (big.run_id,), ""),
        ("run detail (metric history)", "run_detail", (normal.run_id,), ""),
        ("logged model detail", "logged_model_detail", (logged_model,), ""),
        ("model list", "model_list", (), ""),
        ("model detail", "model_detail", (model,), ""),
        ("model version detail", "model_version_detail", (model, 1), ""),
        ("category list", "category_list", (), ""),
        ("metrics leaderboard", "metrics", (), ""),
        ("audit (drift)", "audit", (), ""),
        ("audit, deleted runs", "audit", (), "?section=deleted-runs"),
        ("orphan folder listing", "orphan_objects", (), f"?bucket={world.bucket}&group={orphans}"),
        ("experiment detail (folder with orphans)", "experiment_detail", (first,), ""),
        ("search by name", "search", (), "?q=anomaly"),
        ("search by run id", "search", (), f"?q={normal.run_id[:10]}"),
        *search_requests(world),
        ("mapping export", "mapping_export", (), ""),
        ("healthz", "healthz", (), ""),
        ("run artifacts root (big run)", "run_artifacts", (big.run_id,), ""),
        (
            f"folder of {world.size.big_folder_files} files",
            "run_artifact",
            (big.run_id, f"{BIG_FOLDER}/"),
            "",
        ),
        (
            f"folder of {world.size.big_folder_files} files, page 5",
            "run_artifact",
            (big.run_id, f"{BIG_FOLDER}/"),
            "?page=5",
        ),
        ("file page (MLmodel)", "run_artifact", (big.run_id, "model/MLmodel"), ""),
        ("file page (model.pkl)", "run_artifact", (big.run_id, "model/model.pkl"), ""),
        ("logged model artifacts", "logged_model_artifacts", (logged_model,), ""),
        *change_requests(world),
    ]


def change_requests(world: World) -> list[tuple[str, str, tuple, str]]:
    """The change timeline over ``size.change_events`` events (benchmarks/fill_changes.py).

    Model 0 has the long alias history; the history panels are on the detail pages above
    (model 0's page reads its alias moves). The deep page is the tenth of the events
    nearest the oldest, reached by its key.
    """
    events = world.size.change_events
    if not events:
        return []
    return [
        ("changes", "changes", (), ""),
        ("changes, kind=alias_moved", "changes", (), "?kind=alias_moved"),
        ("changes, by model (long alias history)", "changes", (), f"?model={world.model_name(0)}"),
        ("changes, by experiment", "changes", (), f"?experiment={world.experiment_id(0)}"),
        ("changes, kind=missing, 500 per page", "changes", (), "?kind=missing&per_page=500"),
        ("changes, deep page", "changes", (), f"?before={events // 10}"),
        ("changes, since a date", "changes", (), "?since=2026-11-01&entity=run"),
    ]


def search_requests(world: World) -> list[tuple[str, str, tuple, str]]:
    """Search as people use it: several words, tag and param values, pasted URIs and ids.

    A pasted URI or id that names something answers with a redirect (302), timed too.
    """
    from urllib.parse import quote

    normal = world.run(1)
    model = world.model_name(0)
    s3_run = f"s3://{world.bucket}/{normal.experiment_id}/{normal.run_id}/"
    s3_file = f"{s3_run}artifacts/model/MLmodel"
    unknown_run = f"s3://{world.bucket}/{normal.experiment_id}/{'0' * 32}/artifacts/model/"
    return [
        (f"search, {label}", "search", (), "?q=" + quote(query, safe=""))
        for label, query in (
            ("two words", "anomaly model_0001"),
            ("a tag value, ~11,000 runs match", "engineer3"),
            ("param=value", "max_depth=12"),
            ("tag=value and a word", "mlflow.user=engineer3 train-00"),
            ("words matching nothing", "isolation forest"),
            ("pasted s3:// run folder (redirect)", s3_run),
            ("pasted s3:// file (redirect)", s3_file),
            ("pasted s3:// of an unknown run", unknown_run),
            ("pasted models:/name@alias (redirect)", f"models:/{model}@champion"),
            ("pasted full run id (redirect)", normal.run_id),
        )
    ]


def measure_page(client, url: str, *, repeats: int) -> dict:
    from django.core.cache import caches
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from catalog.pagecache import CACHE_ALIAS, STATUS_HEADER

    page_cache = caches[CACHE_ALIAS]

    def get():
        response = client.get(url)
        # Streaming responses are consumed so their work is counted.
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)
        return response

    def cold():
        page_cache.clear()  # outside the timed call
        return common.timed(get)

    def counted():
        with CaptureQueriesContext(connection) as queries:
            response = get()
        return len(queries), response

    first_s, response = cold()
    result = {"url": url, "status": response.status_code, "first_ms": round(first_s * 1000, 2)}
    # A search for a pasted URI answers with a redirect: its cost is timed like a page's.
    if response.status_code not in (200, 302):
        return result
    times = [cold()[0] for _ in range(repeats)]
    page_cache.clear()
    result.update(common.summarize_ms(times))
    result["queries"], _ = counted()
    result["bytes"] = len(response.content) if not getattr(response, "streaming", False) else None
    # Warm: the previous request filled the cache; hits from here on.
    warm_times = [common.timed(get)[0] for _ in range(repeats)]
    warm_queries, warm_response = counted()
    result["cached"] = warm_response.get(STATUS_HEADER) == "hit"
    if result["cached"]:
        warm = common.summarize_ms(warm_times)
        result.update(
            warm_median_ms=warm["median_ms"], warm_p95_ms=warm["p95_ms"], warm_queries=warm_queries
        )
    return result


def main() -> None:
    args = common.parse_args(__doc__.splitlines()[0])
    plan = common.plan_named(args.plan)
    name = f"pages-{plan.name}"
    build = prepare_database(size=plan.pages, backend=args.backend, name=name, rebuild=args.rebuild)
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.urls import NoReverseMatch, reverse

    # This process is set up as a served one is: smartmaint_site/wsgi.py loads the URLconf
    # and freezes everything loaded so far out of the garbage collector's reach, so the
    # figures include the collector pauses a gunicorn worker pays (4-13 ms here), not the
    # 37-47 ms full collections of a process without it.
    importlib.import_module("smartmaint_site.wsgi")

    world = World(plan.pages)
    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))
    pages = []
    for label, url_name, url_args, query in page_requests(world):
        try:
            url = reverse(f"catalog:{url_name}", args=url_args) + query
        except NoReverseMatch:
            pages.append({"page": label, "url_name": url_name, "status": "not built"})
            continue
        figures = measure_page(client, url, repeats=plan.page_repeats)
        page = {"page": label, "url_name": url_name, **figures}
        common.log(f"{label}: {page}")
        pages.append(page)
    measured = [page for page in pages if "p95_ms" in page]
    warm = [page for page in measured if "warm_p95_ms" in page]
    result = {
        "backend": args.backend,
        "size": plan.pages.as_dict(),
        "database": build,
        "page_cache_seconds": settings.CATALOG_PAGE_CACHE_SECONDS,
        "pages": pages,
        "worst_p95_ms": max((p["p95_ms"] for p in measured), default=None),
        "worst_queries": max((p["queries"] for p in measured), default=None),
        "worst_warm_p95_ms": max((p["warm_p95_ms"] for p in warm), default=None),
        "worst_warm_queries": max((p["warm_queries"] for p in warm), default=None),
        "pages_cached": len(warm),
        "pages_measured": len(measured),
        "pages_failed": [
            p["page"] for p in pages if p.get("status") not in (200, 302, "not built")
        ],
        "pages_not_built": [p["page"] for p in pages if p.get("status") == "not built"],
    }
    common.write_result(args.out, result)


if __name__ == "__main__":
    main()
