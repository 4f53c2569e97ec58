"""What people paste into the search box: URIs and ids, resolved to catalogue pages.

Users copy ``s3://bucket/4/<run>/artifacts/model/``, ``models:/name@alias``,
``runs:/<run>/model`` or a bare run id out of notebooks, logs and the MLflow UI. A
name search finds none of them, so the search page first asks ``resolve_pasted``:

* ``s3://bucket/key`` (also ``s3a://``, ``s3n://``) and ``mlflow-artifacts:/path`` go
  to the most specific thing the catalogue holds there: the file, a folder of a run's
  or logged model's artifacts, the model version stored at exactly that prefix, the
  run or logged model, the experiment folder;
* ``models:/name/<version>``, ``models:/name@alias``, ``models:/name/latest``,
  ``models:/name/<stage>`` go to the version, ``models:/name`` to the model,
  ``models:/m-<id>`` to the MLflow 3 logged model;
* ``runs:/<run_id>/<path>`` to the file or folder of the run, or the run;
* a full run id (32 hex digits) or logged-model id (``m-`` and 32) to its page.

A ``Resolution`` is *exact* when the page shows precisely what was pasted: the search
page then redirects there. Otherwise it carries a plain note ("No run ... in the
catalogue.") and, when something around it exists, the nearest page. Everything is
parsed by string rules and looked up in the database: nothing is fetched, and the
text stays data (templates escape it). Each resolution costs at most a handful of
indexed queries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Q
from django.urls import reverse

from catalog.artifact_browser import OwnerKind, artifact_urls, folder_url
from catalog.model_urls import model_url, model_version_url
from catalog.models import Artifact, Experiment, LoggedModel, ModelVersion, RegisteredModel, Run

URI_SCHEMES = ("s3://", "s3a://", "s3n://", "models:/", "runs:/", "mlflow-artifacts:")
# A URI inside a pasted snippet: mlflow.pyfunc.load_model("models:/scaler@prod").
_EMBEDDED_URI = re.compile(r"(?:s3[an]?://|models:/|runs:/|mlflow-artifacts:)[^\s\"'`()<>]*")
_RUN_ID = re.compile(r"[0-9a-f]{32}")
_LOGGED_MODEL_ID = re.compile(r"m-[0-9a-f]{32}")
# Legacy registry stages: models:/name/Production is that stage's newest version.
MODEL_STAGES = ("none", "staging", "production", "archived")
# Bounds the id candidates one key costs: S3 keys hold at most 1,024 bytes anyway.
MAX_KEY_SEGMENTS = 64
_QUOTES = "\"'`"


@dataclass(frozen=True)
class Resolution:
    """Where pasted text leads.

    ``url``: the page of the most specific catalogued thing it names (None if nothing);
    ``label``: that thing in words ("run 56453d8f..."); ``exact``: the page shows just
    what was pasted (the search page redirects); ``note``: a plain sentence saying what
    was not found; ``related_query``: words to search for related results.
    """

    url: str | None
    label: str = ""
    exact: bool = False
    note: str = ""
    related_query: str = ""


def find_pasted_reference(text: str) -> str | None:
    """The URI or full id in ``text``, or None when it holds neither.

    The whole text when it starts with a URI scheme (keys may hold spaces), else the
    first URI inside it (a pasted ``load_model("...")`` line), else the text itself when
    it is a full run or logged-model id.
    """
    text = text.strip().strip(_QUOTES).strip()
    if text.startswith(URI_SCHEMES):
        return text
    embedded = _EMBEDDED_URI.search(text)
    if embedded:
        return embedded.group(0)
    if _RUN_ID.fullmatch(text.lower()) or _LOGGED_MODEL_ID.fullmatch(text.lower()):
        return text.lower()
    return None


def resolve_pasted(text: str) -> Resolution | None:
    """The ``Resolution`` of a pasted URI or id (see the module doc); None for other text."""
    reference = find_pasted_reference(text)
    if reference is None:
        return None
    if reference.startswith("models:/"):
        return _resolve_models_uri(reference)
    if reference.startswith("runs:/"):
        run_id, _, path = reference[len("runs:/") :].lstrip("/").partition("/")
        return _resolve_run_path(run_id=run_id, path=path.strip("/") or None)
    if reference.startswith("mlflow-artifacts:"):
        return _resolve_mlflow_artifacts(reference)
    if reference.startswith(URI_SCHEMES):
        return _resolve_s3_uri(reference)
    if reference.startswith("m-"):
        return _resolve_logged_model_path(model_id=reference, path=None)
    return _resolve_run_path(run_id=reference, path=None)


# --- models:/ ---------------------------------------------------------------------------


def _resolve_models_uri(uri: str) -> Resolution:
    # "models://name/latest" (the old hand-kept page's form) is read as models:/name/latest.
    rest = uri[len("models:/") :].strip("/")
    if not rest:
        return Resolution(url=None, note="That models:/ URI names no model.")
    if _LOGGED_MODEL_ID.fullmatch(rest.lower()) or (rest.startswith("m-") and "/" not in rest):
        return _resolve_logged_model_path(model_id=rest, path=None)
    if "@" in rest:
        name, _, alias = rest.rpartition("@")
        return _resolve_model_alias(name=name, alias=alias)
    name, _, last = rest.rpartition("/")
    if name and (last.isdigit() or last.lower() in ("latest", *MODEL_STAGES)):
        return _resolve_model_version(name=name, selector=last)
    return _resolve_model(name=rest)


def _find_model(name: str) -> RegisteredModel | None:
    return RegisteredModel.objects.filter(name=name).first() if name else None


def _no_model(name: str) -> Resolution:
    return Resolution(
        url=None,
        note=f"No registered model “{name}” in the catalogue.",
        related_query=name,
    )


def _resolve_model(*, name: str) -> Resolution:
    model = _find_model(name)
    if model is None:
        return _no_model(name)
    return Resolution(url=model_url(model.name), label=f"model {model.name}", exact=True)


def _version_resolution(model: RegisteredModel, version: int) -> Resolution:
    return Resolution(
        url=model_version_url(model.name, version),
        label=f"{model.name} version {version}",
        exact=True,
    )


def _near_model(model: RegisteredModel, note: str) -> Resolution:
    return Resolution(
        url=model_url(model.name), label=f"model {model.name}", note=note, related_query=model.name
    )


def _resolve_model_alias(*, name: str, alias: str) -> Resolution:
    model = _find_model(name)
    if model is None:
        return _no_model(name)
    version = (model.aliases or {}).get(alias)
    if isinstance(version, int) or (isinstance(version, str) and version.isdigit()):
        return _version_resolution(model, int(version))
    return _near_model(model, f"Model “{model.name}” has no alias “@{alias}”.")


def _resolve_model_version(*, name: str, selector: str) -> Resolution:
    model = _find_model(name)
    if model is None:
        return _no_model(name)
    versions = ModelVersion.objects.filter(registered_model=model)
    word = selector.lower()
    if selector.isdigit():
        number = int(selector)
        if versions.filter(version=number).exists():
            return _version_resolution(model, number)
        return _near_model(model, f"Model “{model.name}” has no version {number}.")
    if word == "latest":
        if model.latest_version:
            return _version_resolution(model, model.latest_version)
        return _near_model(model, f"Model “{model.name}” has no versions.")
    staged = versions.filter(stage__iexact=word).order_by("-version").values_list("version")
    newest = staged.first()
    if newest is not None:
        return _version_resolution(model, newest[0])
    return _near_model(model, f"Model “{model.name}” has no version in stage “{selector}”.")


# --- runs and logged models ---------------------------------------------------------------


def _owner_path_resolution(*, owner: Run | LoggedModel, path: str | None, label: str) -> Resolution:
    """The owner's file, folder, artifacts root or page for ``path`` under ``artifacts/``.

    ``path`` None: the owner itself; "": its artifacts root.
    """
    kind = OwnerKind.of(owner)
    public_id = owner.run_id if kind is OwnerKind.RUN else owner.model_id
    if path is None:
        return Resolution(url=owner.get_absolute_url(), label=label, exact=True)
    path = path.strip("/")
    if not path:
        url = reverse(kind.url_name("artifacts"), args=[public_id])
        return Resolution(url=url, label=f"artifacts of {label}", exact=True)
    artifacts = Artifact.objects.filter(**{kind.artifact_fk: owner}, missing_since=None)
    artifact = artifacts.filter(path=path).first()
    if artifact is not None:
        url = artifact_urls(artifact=artifact, kind=kind, public_id=public_id)["page"]
        return Resolution(url=url, label=f"{path} of {label}", exact=True)
    if artifacts.filter(Q(folder=path) | Q(folder__startswith=f"{path}/")).exists():
        url = folder_url(kind=kind, public_id=public_id, folder=path)
        return Resolution(url=url, label=f"folder {path}/ of {label}", exact=True)
    return Resolution(
        url=owner.get_absolute_url(),
        label=label,
        note=f"No file or folder “{path}” in the artifacts of {label}.",
        related_query=path,
    )


def _run_label(run: Run) -> str:
    return f"run {run.name or run.run_id}"


def _resolve_run_path(*, run_id: str, path: str | None) -> Resolution:
    if not run_id:
        return Resolution(url=None, note="That runs:/ URI names no run.")
    run = Run.objects.filter(run_id=run_id.lower()).first()
    if run is None:
        return Resolution(url=None, note=f"No run {run_id} in the catalogue.", related_query=run_id)
    return _owner_path_resolution(owner=run, path=path, label=_run_label(run))


def _resolve_logged_model_path(*, model_id: str, path: str | None) -> Resolution:
    logged_model = LoggedModel.objects.filter(model_id=model_id).first()
    if logged_model is None:
        return Resolution(
            url=None,
            note=f"No logged model {model_id} in the catalogue.",
            related_query=model_id,
        )
    return _owner_path_resolution(
        owner=logged_model, path=path, label=f"logged model {logged_model.model_id}"
    )


# --- s3:// and mlflow-artifacts:/ ------------------------------------------------------------


def _resolve_s3_uri(uri: str) -> Resolution:
    rest = uri.split("://", 1)[1]
    bucket, _, key = rest.partition("/")
    if not bucket:
        return Resolution(url=None, note="That S3 URI names no bucket.")
    return _resolve_key(bucket=bucket, key=key, uri=uri)


def _resolve_mlflow_artifacts(uri: str) -> Resolution:
    """``mlflow-artifacts:/path``: under the configured destination, else by ids alone."""
    path = urlsplit(uri).path.lstrip("/")
    destination = getattr(settings, "CATALOG_ARTIFACTS_DESTINATION", "") or ""
    if destination.startswith(("s3://", "s3a://", "s3n://")):
        bucket, _, base = destination.split("://", 1)[1].rstrip("/").partition("/")
        key = f"{base}/{path}" if base else path
        return _resolve_key(bucket=bucket, key=key, uri=uri)
    return _resolve_key(bucket=None, key=path, uri=uri)


def _resolve_key(*, bucket: str | None, key: str, uri: str) -> Resolution:
    """The most specific catalogued thing at ``key`` (in ``bucket``, or any when None)."""
    folder = key.strip("/")
    # Without a bucket the key alone is no index lookup (the natural key is bucket, key):
    # a run or logged model named in the key finds the file through its own folders.
    if bucket and key and not key.endswith("/"):
        artifact = (
            Artifact.objects.filter(bucket=bucket, key=key, missing_since=None)
            .select_related("run", "logged_model")
            .first()
        )
        if artifact is not None and not artifact.is_orphan:
            owner = artifact.run or artifact.logged_model
            label = _run_label(owner) if artifact.run else f"logged model {owner.model_id}"
            return Resolution(
                url=artifact.get_absolute_url(), label=f"{artifact.path} of {label}", exact=True
            )
        if artifact is not None:
            return Resolution(
                url=reverse("catalog:audit") + "?section=orphans",
                label="the orphaned storage",
                note=f"{uri} is an orphan: no MLflow run or logged model owns it.",
                related_query=folder,
            )
    if folder:
        version = _version_at_prefix(bucket=bucket, prefix=f"{folder}/")
        if version is not None:
            return _version_resolution(version.registered_model, version.version)
    segments = [segment for segment in folder.split("/") if segment][:MAX_KEY_SEGMENTS]
    owned = _resolve_owner_in_key(segments)
    if owned is not None and owned.url is not None:
        return owned
    folder_resolution = _resolve_experiment_folder(bucket=bucket, segments=segments, uri=uri)
    if owned is None:
        return folder_resolution
    # An unknown run id: say so, and point at its experiment's folder when there is one.
    return Resolution(
        url=folder_resolution.url,
        label=folder_resolution.label,
        note=owned.note,
        related_query=owned.related_query,
    )


def _version_at_prefix(*, bucket: str | None, prefix: str) -> ModelVersion | None:
    bucket_filter = {"artifact_bucket": bucket} if bucket else {}
    versions = list(
        ModelVersion.objects.filter(**bucket_filter, artifact_prefix=prefix)
        .select_related("registered_model")
        .order_by("-version")[:2]
    )
    # Two versions on one prefix (registered twice from one run): no single answer.
    return versions[0] if len(versions) == 1 else None


def _resolve_owner_in_key(segments: list[str]) -> Resolution | None:
    """A run or logged model named by a segment of the key (``.../<run_id>/artifacts/...``)."""
    run_ids = [s for s in segments if _RUN_ID.fullmatch(s)]
    model_ids = [s for s in segments if s.startswith("m-")]
    owners: dict[str, Run | LoggedModel] = {}
    if run_ids:
        owners.update(
            (run.run_id, run) for run in Run.objects.filter(run_id__in=run_ids).order_by()
        )
    if model_ids:
        owners.update(
            (lm.model_id, lm) for lm in LoggedModel.objects.filter(model_id__in=model_ids)
        )
    # The deepest owner wins: its segment is the one the rest of the key hangs from.
    for index in range(len(segments) - 1, -1, -1):
        owner = owners.get(segments[index])
        if owner is None:
            continue
        after = segments[index + 1 :]
        label = _run_label(owner) if isinstance(owner, Run) else f"logged model {owner.model_id}"
        if not after:
            return _owner_path_resolution(owner=owner, path=None, label=label)
        if after[0] == "artifacts":
            return _owner_path_resolution(owner=owner, path="/".join(after[1:]), label=label)
        return Resolution(
            url=owner.get_absolute_url(),
            label=label,
            note=f"Nothing catalogued at that path; it lies in the folder of {label}.",
            related_query="/".join(after),
        )
    missing = run_ids[-1] if run_ids else None
    if missing is not None:
        return Resolution(
            url=None, note=f"No run {missing} in the catalogue.", related_query=missing
        )
    return None


def _resolve_experiment_folder(*, bucket: str | None, segments: list[str], uri: str) -> Resolution:
    """The experiment whose artifact location holds the key, deepest first."""
    roots = [f"s3://{bucket}"] if bucket else ["mlflow-artifacts:", "mlflow-artifacts:/"]
    depth_of: dict[str, int] = {}
    for depth in range(1, len(segments) + 1):
        prefix = "/".join(segments[:depth])
        for root in roots:
            depth_of[f"{root}/{prefix}"] = depth_of[f"{root}/{prefix}/"] = depth
    experiments = list(Experiment.objects.filter(artifact_location__in=list(depth_of)).order_by())
    if not experiments:
        return Resolution(
            url=None,
            note=f"Nothing in the catalogue at {uri}.",
            related_query="/".join(segments),
        )
    experiment = max(experiments, key=lambda e: depth_of[e.artifact_location])
    depth = depth_of[experiment.artifact_location]
    label = f"experiment {experiment.experiment_id} ({experiment.name})"
    if depth == len(segments):
        return Resolution(url=experiment.get_absolute_url(), label=label, exact=True)
    return Resolution(
        url=experiment.get_absolute_url(),
        label=label,
        note=f"Nothing catalogued at {uri}; it lies in the folder of {label}.",
        related_query="/".join(segments[depth:]),
    )
