"""String rules of the S3 layout: URIs to (bucket, prefix), keys to owners and groups.

Nothing here fetches anything: a URI found in MLflow metadata is only ever parsed.

Rules (see docs/decisions/0003-mlflow-2-and-3-layouts.md):

* ``s3://bucket/key`` -> (bucket, key); ``mlflow-artifacts:/path`` (or
  ``mlflow-artifacts://host/path``) -> ``CATALOG_ARTIFACTS_DESTINATION`` joined with path;
* a model version source ``runs:/<run_id>/<path>`` -> the run's artifact prefix + path;
  ``models:/m-<id>`` -> the logged model's artifact prefix; other sources as URIs;
* a key ``.../<run_id>/artifacts/<path>`` belongs to the run whose artifact prefix it
  starts with, ``.../models/m-<id>/artifacts/<path>`` to that logged model;
* an orphan's group (``orphan_folder``): relative to its walk root ``R``, a key
  ``a/b/c...`` groups under ``R a/b/``; ``a/file`` under ``R a/``; a top-level file
  under ``R`` itself, written ``"/"`` when ``R`` is the bucket's top.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from catalog.sync.records import S3Root

# The orphan group of the files at a bucket's very top (no folder: each is its own entry).
BUCKET_TOP_GROUP = "/"

ARTIFACTS_SEGMENT = "/artifacts/"
# S3's limits: a bucket name of at most 63 characters, a key of at most 1,024 bytes of
# UTF-8. The catalogue's columns are sized for them (catalog/models/mirror.py).
S3_BUCKET_MAX_CHARS = 63
S3_KEY_MAX_BYTES = 1024


def parse_s3_uri(uri: str) -> tuple[str, str] | None:
    """``s3://bucket/some/prefix`` -> ("bucket", "some/prefix"); None if not an S3 URI.

    A bucket name longer than S3 allows is no S3 bucket: None too, so no such name
    reaches a bucket column.
    """
    if not uri or not uri.startswith(("s3://", "s3a://", "s3n://")):
        return None
    rest = uri.split("://", 1)[1]
    bucket, _, key = rest.partition("/")
    if not bucket or len(bucket) > S3_BUCKET_MAX_CHARS:
        return None
    return bucket, key


def can_hold_keys(prefix: str) -> bool:
    """Whether any S3 key can start with ``prefix`` and be longer (S3's 1,024 bytes)."""
    return len(prefix) < S3_KEY_MAX_BYTES // 4 or len(prefix.encode()) < S3_KEY_MAX_BYTES


def resolve_artifact_uri(uri: str, *, artifacts_destination: str = "") -> tuple[str, str] | None:
    """An artifact URI (``s3://``, ``mlflow-artifacts:``) -> (bucket, key prefix), or None."""
    if uri.startswith("mlflow-artifacts:"):
        if not artifacts_destination:
            return None
        path = urlsplit(uri).path.lstrip("/")
        destination = parse_s3_uri(artifacts_destination.rstrip("/"))
        if destination is None:
            return None
        bucket, base = destination
        return bucket, f"{base}/{path}" if base else path
    return parse_s3_uri(uri)


def folder_prefix(prefix: str) -> str:
    """A key prefix as a folder: "" stays "", else it ends with one "/"."""
    prefix = prefix.strip("/")
    return f"{prefix}/" if prefix else ""


def experiment_walk_root(location: tuple[str, str]) -> S3Root:
    """The bucket root an experiment lives under: the parent folder of its location.

    MLflow puts experiments side by side under one artifact root (``s3://b/1``,
    ``s3://b/2`` ...), so walking the parent once covers them all and also sees what
    lies next to them (orphan folders, stray keys).
    """
    bucket, prefix = location
    parent = prefix.strip("/").rpartition("/")[0]
    return S3Root(bucket=bucket, prefix=folder_prefix(parent))


def merge_roots(roots: Iterable[S3Root]) -> list[S3Root]:
    """Distinct roots with every root nested in another dropped: one walk per root."""
    result: list[S3Root] = []
    for root in sorted(set(roots), key=lambda r: (r.bucket, len(r.prefix), r.prefix)):
        if not any(kept.contains(root) for kept in result):
            result.append(root)
    return result


def prefixes_overlap(prefix: str, other: str) -> bool:
    """Whether two listings' prefixes share keys: one starts with the other."""
    return prefix.startswith(other) or other.startswith(prefix)


def orphan_group(*, key: str, root_prefix: str) -> str:
    """The drift report's group of an orphan key under a walk root (see module doc)."""
    relative = key[len(root_prefix) :] if key.startswith(root_prefix) else key
    parts = relative.split("/")
    if len(parts) >= 3:
        return f"{root_prefix}{parts[0]}/{parts[1]}/"
    if len(parts) == 2:
        return f"{root_prefix}{parts[0]}/"
    return root_prefix or BUCKET_TOP_GROUP


def version_source_prefix(
    *,
    source: str,
    run_prefix: tuple[str, str] | None,
    logged_model_prefix: tuple[str, str] | None,
    artifacts_destination: str = "",
) -> tuple[str, str] | None:
    """Where a model version's files are: (bucket, folder prefix), or None if unknown.

    ``run_prefix`` / ``logged_model_prefix`` are the (bucket, ``.../artifacts/``) folders
    of the version's run / logged model, needed for ``runs:/`` and ``models:/m-`` sources.
    """
    if source.startswith("runs:/"):
        if run_prefix is None:
            return None
        path = source[len("runs:/") :].lstrip("/").partition("/")[2]
        bucket, base = run_prefix
        return bucket, folder_prefix(f"{base}{path}")
    if source.startswith("models:/"):
        if source.startswith("models:/m-") and logged_model_prefix is not None:
            return logged_model_prefix
        return None
    resolved = resolve_artifact_uri(source, artifacts_destination=artifacts_destination)
    if resolved is None:
        return None
    bucket, prefix = resolved
    return bucket, folder_prefix(prefix)
