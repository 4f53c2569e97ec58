"""The built demo world, kept under ``var/`` so a second ``make run`` need not rebuild it.

Building the world (training the models, logging them to MLflow, uploading to moto)
takes half a minute, and gives the same world every time (:mod:`demo.determinism`).
So once built, the world is stored in one directory per digest of what builds it
(:func:`world_digest`: the builder's modules, the Python and the library versions
that write its bytes):

    <cache root>/<digest>/
        manifest.json    format, digest, the build's report, one entry per S3 object
        mlflow.db        the sqlite tracking store (a consistent copy)
        objects/000000   the objects' bytes, named by their place in the manifest

S3 keys are kept in the manifest, never as file names: a key may hold any character
(spaces, ``#``, ``%``, unicode, ``..`` segments). An entry is written in a temporary
directory and renamed into place when complete, so an interrupted build or save
(Ctrl-C) leaves nothing that a later start would take for a world. Every restore checks
each object's size and MD5 against the manifest first: a damaged entry is rebuilt,
never half-restored.

moto keeps everything in memory, so the cache restores into a fresh moto server and a
fresh tracking store each start; the catalogue database and the sync stay fresh too.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DEMO_PACKAGE = Path(__file__).resolve().parent
# Bump when the layout of an entry changes.
CACHE_FORMAT = 1
# Modules of demo/ that do not shape the world: changing them must not rebuild it.
NOT_BUILDERS = frozenset({"__init__.py", "serve.py", "fixture.py", "site_setup.py", "curated.py"})
# Libraries whose versions change the world's bytes (pickles, MLmodel files, plots) or
# the tracking store's schema.
WORLD_LIBRARIES = (
    "mlflow",
    "mlflow-skinny",
    "scikit-learn",
    "lightgbm",
    "numpy",
    "scipy",
    "pandas",
    "matplotlib",
    "cloudpickle",
    # MLflow names the environment's build tools in every python_env.yaml.
    "pip",
    "setuptools",
    "wheel",
)
MANIFEST = "manifest.json"
TRACKING_DB = "mlflow.db"
OBJECTS = "objects"
BUILDING_PREFIX = ".building-"
UPLOAD_THREADS = 8

# build(tracking_uri=..., s3_endpoint_url=...) -> a report (demo.world.build_world).
Builder = Callable[..., object]


class CacheEntryError(Exception):
    """A cache entry is incomplete, damaged or of another format: rebuild it."""


@dataclass(frozen=True)
class PreparedWorld:
    """A world ready in the tracking store and S3: its build report, and where it came from."""

    report: dict
    from_cache: bool
    seconds: float


def default_cache_root() -> Path:
    """``CATALOG_DEMO_CACHE_DIR``, else ``var/demo-world-cache`` beside the demo dir."""
    configured = os.environ.get("CATALOG_DEMO_CACHE_DIR")
    return Path(configured or BASE_DIR / "var" / "demo-world-cache").resolve()


def world_digest(*, demo_package: Path = DEMO_PACKAGE) -> str:
    """A hex digest of everything that decides the world's contents.

    The builder's modules (every ``demo/*.py`` but those in :data:`NOT_BUILDERS`, the
    seed data included), this module (the entry format), the Python version and the
    machine (pickles and ``python_env.yaml`` name them), and the installed versions of
    :data:`WORLD_LIBRARIES`.
    """
    digest = hashlib.sha256()
    digest.update(f"format {CACHE_FORMAT}\n".encode())
    digest.update(f"python {platform.python_version()} {platform.machine()}\n".encode())
    for library in WORLD_LIBRARIES:
        try:
            version = metadata.version(library)
        except metadata.PackageNotFoundError:
            version = "absent"
        digest.update(f"{library} {version}\n".encode())
    for path in sorted(demo_package.glob("*.py")):
        if path.name in NOT_BUILDERS:
            continue
        content = path.read_bytes()
        digest.update(f"{path.name} {len(content)}\n".encode())
        digest.update(content)
    return digest.hexdigest()


def prepare_world(
    *,
    cache_root: Path,
    tracking_db: Path,
    s3_endpoint_url: str,
    build: Builder,
    digest: str | None = None,
    on_cache_problem: Callable[[str], None] = lambda reason: None,
) -> PreparedWorld:
    """Restore the world from ``cache_root`` if it holds this digest's entry, else build it.

    ``tracking_db`` must not exist yet and the S3 endpoint must not hold the world's
    buckets (a fresh moto server). Only the buckets the build creates are cached. A
    fresh build is saved to the cache before returning; an entry that fails its checks
    is reported through ``on_cache_problem``, removed and rebuilt.
    """
    from demo.s3 import make_boto3_client

    digest = digest or world_digest()
    entry = cache_root / digest
    s3 = make_boto3_client(s3_endpoint_url)
    started = time.monotonic()
    if entry.is_dir():
        try:
            report = restore_entry(entry=entry, digest=digest, tracking_db=tracking_db, s3=s3)
            return PreparedWorld(report, True, time.monotonic() - started)
        except CacheEntryError as problem:
            on_cache_problem(f"{entry}: {problem}")
            shutil.rmtree(entry, ignore_errors=True)
            tracking_db.unlink(missing_ok=True)
            started = time.monotonic()
    # moto's servers share one store per process: keep only the buckets the build made.
    existing = _bucket_names(s3)
    built_report = build(tracking_uri=f"sqlite:///{tracking_db}", s3_endpoint_url=s3_endpoint_url)
    report = built_report if isinstance(built_report, dict) else asdict(built_report)
    built = time.monotonic() - started
    save_entry(
        cache_root=cache_root,
        digest=digest,
        tracking_db=tracking_db,
        s3=s3,
        report=report,
        buckets=_bucket_names(s3) - existing,
    )
    return PreparedWorld(report, False, built)


def save_entry(
    *, cache_root: Path, digest: str, tracking_db: Path, s3, report: dict, buckets: set[str]
) -> Path:
    """Store the world now in ``tracking_db`` and ``buckets`` as the entry for ``digest``,
    atomically.

    Written under a temporary name, renamed into place when complete. If another start
    saved the same digest meanwhile, its entry is kept. Entries of other digests and
    leftovers of dead builds are removed afterwards.
    """
    cache_root.mkdir(parents=True, exist_ok=True)
    building = cache_root / f"{BUILDING_PREFIX}{digest[:16]}-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    try:
        (building / OBJECTS).mkdir(parents=True)
        _copy_sqlite(source=tracking_db, target=building / TRACKING_DB)
        objects = list(_iter_objects(s3, buckets=buckets))
        with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
            entries = list(
                pool.map(
                    lambda item: _download(s3=s3, item=item, building=building),
                    enumerate(objects),
                )
            )
        manifest = {
            "format": CACHE_FORMAT,
            "digest": digest,
            "report": report,
            "buckets": sorted(buckets),
            "objects": entries,
        }
        _write_file_synced(building / MANIFEST, json.dumps(manifest, indent=1).encode())
        try:
            building.rename(cache_root / digest)
        except OSError:
            if not (cache_root / digest).is_dir():
                raise
            # Another start saved this digest first: its entry is as good as ours.
    finally:
        shutil.rmtree(building, ignore_errors=True)
    _prune(cache_root=cache_root, keep=digest)
    return cache_root / digest


def restore_entry(*, entry: Path, digest: str, tracking_db: Path, s3) -> dict:
    """Check ``entry`` whole, then copy its tracking store and upload its objects.

    Raises :class:`CacheEntryError` before touching S3 or ``tracking_db`` when anything
    is missing or differs from the manifest. Returns the build's report.
    """
    manifest = read_manifest(entry=entry, digest=digest)
    objects = manifest["objects"]
    for index, item in enumerate(objects):
        body = _blob(entry, index).read_bytes() if _blob(entry, index).is_file() else None
        if body is None or len(body) != item["size"] or _md5(body) != item["md5"]:
            raise CacheEntryError(f"object {index} ({item['key']!r}) is missing or damaged")
    if not (entry / TRACKING_DB).is_file():
        raise CacheEntryError(f"no {TRACKING_DB}")
    shutil.copyfile(entry / TRACKING_DB, tracking_db)
    for bucket in sorted({item["bucket"] for item in objects} | set(manifest["buckets"])):
        s3.create_bucket(Bucket=bucket)
    with ThreadPoolExecutor(UPLOAD_THREADS) as pool:
        list(pool.map(lambda item: _upload(s3=s3, entry=entry, item=item), enumerate(objects)))
    return manifest["report"]


def read_manifest(*, entry: Path, digest: str) -> dict:
    """The entry's manifest, checked for its format, digest and shape."""
    try:
        manifest = json.loads((entry / MANIFEST).read_text())
    except (OSError, ValueError) as error:
        raise CacheEntryError(f"unreadable manifest: {error}") from error
    if not isinstance(manifest, dict) or manifest.get("format") != CACHE_FORMAT:
        raise CacheEntryError("a manifest of another format")
    if manifest.get("digest") != digest:
        raise CacheEntryError("the manifest names another digest")
    objects = manifest.get("objects")
    if not isinstance(objects, list) or not isinstance(manifest.get("report"), dict):
        raise CacheEntryError("a manifest without objects or report")
    fields = {"bucket": str, "key": str, "size": int, "md5": str, "content_type": str}
    for item in objects:
        if not isinstance(item, dict) or any(
            not isinstance(item.get(name), kind) for name, kind in fields.items()
        ):
            raise CacheEntryError(f"a malformed object entry: {item!r:.200}")
    buckets = manifest.get("buckets")
    if not isinstance(buckets, list) or not all(isinstance(name, str) for name in buckets):
        raise CacheEntryError("a manifest without its bucket list")
    return manifest


def _bucket_names(s3) -> set[str]:
    return {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}


def _iter_objects(s3, *, buckets: set[str]) -> Iterator[tuple[str, str]]:
    """(bucket, key) of every object of ``buckets``, in listing order."""
    for bucket in sorted(buckets):
        paginator = s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket):
            for item in page.get("Contents", ()):
                yield bucket, item["Key"]


def _download(*, s3, item: tuple[int, tuple[str, str]], building: Path) -> dict:
    index, (bucket, key) = item
    response = s3.get_object(Bucket=bucket, Key=key)
    body = response["Body"].read()
    _blob(building, index).write_bytes(body)
    return {
        "bucket": bucket,
        "key": key,
        "size": len(body),
        "md5": _md5(body),
        "content_type": response.get("ContentType") or "binary/octet-stream",
        "content_encoding": response.get("ContentEncoding") or "",
        "metadata": response.get("Metadata") or {},
    }


def _upload(*, s3, entry: Path, item: tuple[int, dict]) -> None:
    index, found = item
    extra = {"ContentType": found["content_type"]}
    if found.get("content_encoding"):
        extra["ContentEncoding"] = found["content_encoding"]
    if found.get("metadata"):
        extra["Metadata"] = dict(found["metadata"])
    s3.put_object(
        Bucket=found["bucket"], Key=found["key"], Body=_blob(entry, index).read_bytes(), **extra
    )


def _blob(entry: Path, index: int) -> Path:
    return entry / OBJECTS / f"{index:06d}"


def _md5(body: bytes) -> str:
    # S3's ETag of a single-part upload: restored objects get the built world's ETags.
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def _copy_sqlite(*, source: Path, target: Path) -> None:
    """A consistent copy of a sqlite database, whatever its journal mode."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def _write_file_synced(path: Path, content: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _prune(*, cache_root: Path, keep: str) -> None:
    """Remove entries of other digests and the leftovers of builds whose process died."""
    for path in cache_root.iterdir():
        if path.name == keep or not path.is_dir():
            continue
        if path.name.startswith(BUILDING_PREFIX):
            pid = path.name.rsplit("-", 1)[-1]
            if pid.isdigit() and _process_alive(int(pid)):
                continue
        elif len(path.name) != 64 or any(c not in "0123456789abcdef" for c in path.name):
            continue  # not ours: leave it
        shutil.rmtree(path, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
