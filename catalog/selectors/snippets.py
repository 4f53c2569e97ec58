"""Load snippets: copy-paste code that loads a model, built from what its MLmodel says.

A snippet is ``model = mlflow.<module>.load_model("<uri>")``. The module comes from the
flavors the sync parsed out of the folder's ``MLmodel`` (``Artifact.meta["flavors"]``):
``mlflow.pyfunc`` when ``python_function`` is among them, else the flavor's own module
(a scikit-learn transformer such as a scaler has no ``predict``, so MLflow writes only
the ``sklearn`` flavor and ``mlflow.pyfunc.load_model`` refuses it). Flavor names come
from files in the bucket: only names in ``FLAVOR_MODULES`` ever reach the code.

A snippet that would fail is still shown, with the reason and no code to copy
(``LoadSnippet.unavailable``): the version's files are gone from S3, the run or version
is gone from MLflow, or MLflow cannot read the name or path out of the URI.

Flavors are read with one query per page (``folder_loaders``), for every folder the page
shows at once; nothing here queries per snippet.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from django.db.models import CharField, F, OuterRef, Q, Subquery, Value
from django.db.models.functions import Concat

from catalog.models import Artifact, LoggedModel, ModelVersion, RegisteredModel, Run

PYFUNC_FLAVOR = "python_function"
PYFUNC_MODULE = "mlflow.pyfunc"
# MLmodel flavor -> the MLflow module whose ``load_model`` reads it, in the order a
# native flavor is preferred when a model has several and no python_function.
FLAVOR_MODULES: dict[str, str] = {
    PYFUNC_FLAVOR: PYFUNC_MODULE,
    "sklearn": "mlflow.sklearn",
    "lightgbm": "mlflow.lightgbm",
    "xgboost": "mlflow.xgboost",
    "catboost": "mlflow.catboost",
    "prophet": "mlflow.prophet",
    "statsmodels": "mlflow.statsmodels",
    "pmdarima": "mlflow.pmdarima",
    "pytorch": "mlflow.pytorch",
    "keras": "mlflow.keras",
    "tensorflow": "mlflow.tensorflow",
    "onnx": "mlflow.onnx",
    "spark": "mlflow.spark",
    "h2o": "mlflow.h2o",
    "paddle": "mlflow.paddle",
    "spacy": "mlflow.spacy",
    "transformers": "mlflow.transformers",
    "sentence_transformers": "mlflow.sentence_transformers",
    "langchain": "mlflow.langchain",
    "llama_index": "mlflow.llama_index",
    "openai": "mlflow.openai",
    "dspy": "mlflow.dspy",
    "johnsnowlabs": "mlflow.johnsnowlabs",
}
MLMODEL = "MLmodel"
# Folders per flavor query: the export asks for one per listed model (at most a few
# hundred); a page for a handful.
MAX_FOLDERS = 500
# Model folders (MLmodel files) offered on a run page.
RUN_MODEL_FOLDERS = 20
# Alias snippets a page shows (MLflow sets no limit on a model's aliases); the page says
# how many more there are.
ALIAS_SNIPPETS = 50
# Flavors named in a note: an MLmodel may list up to model_files.MAX_FLAVORS.
NOTE_FLAVORS = 10

# urllib (which MLflow parses every URI with) drops tabs and line breaks and ends the
# path at "?"; MLflow 3 refuses "/" in a registered model's name, older servers did not.
_NAME_BREAKERS = re.compile(r"[/?\x00-\x1f\x7f]")
# In a runs:/ or s3:// path MLflow also ends the path at "#" and decodes "%".
_PATH_BREAKERS = re.compile(r"[?#%\x00-\x1f\x7f]")


def python_string(text: str) -> str:
    """``text`` as a double-quoted Python string literal that evaluates back to ``text``.

    ``repr`` escapes, but picks single quotes when the text holds a double quote; the
    snippets read better with one quote style, so the literal is built here: ``\\`` and
    ``"`` escaped, unprintable characters (line breaks, U+2028 ...) as ``repr`` writes
    them, everything else as is.
    """
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        else:
            out.append(repr(char)[1:-1])
    return '"' + "".join(out) + '"'


@dataclass(frozen=True)
class Loader:
    """Which MLflow module loads one model folder, and what the catalogue knows of it.

    ``flavors``: the MLmodel's flavor names, when it was catalogued and parsed
    (``known``); else ``unknown_because`` says why and the module is pyfunc, MLflow's
    general loader. ``loadable`` is False when the MLmodel lists no flavor MLflow loads.
    """

    module: str = PYFUNC_MODULE
    flavors: tuple[str, ...] = ()
    known: bool = False
    unknown_because: str = "no MLmodel catalogued in its folder"
    loadable: bool = True

    @property
    def native_module(self) -> str:
        """The native flavor's module when pyfunc loads it ("" if none or unknown)."""
        if self.module != PYFUNC_MODULE:
            return ""
        return next(
            (
                FLAVOR_MODULES[name]
                for name in FLAVOR_MODULES
                if name != PYFUNC_FLAVOR and name in self.flavors
            ),
            "",
        )

    @property
    def flavor_list(self) -> str:
        shown = ", ".join(self.flavors[:NOTE_FLAVORS])
        more = len(self.flavors) - NOTE_FLAVORS
        return shown + (f" and {more} more" if more > 0 else "")

    @property
    def note(self) -> str:
        """One sentence for people: the flavors, the module, and any caveat."""
        if not self.known:
            return (
                f"Flavor unknown ({self.unknown_because}): {PYFUNC_MODULE} assumed, "
                f"which fails if the model has no {PYFUNC_FLAVOR} flavor."
            )
        if not self.loadable:
            return f"MLmodel flavors: {self.flavor_list}; none is one MLflow loads by name."
        if self.module == PYFUNC_MODULE:
            native = self.native_module
            return f"MLmodel flavors: {self.flavor_list}; loaded with {PYFUNC_MODULE}" + (
                f" ({native}.load_model gives the native object)." if native else "."
            )
        return (
            f"MLmodel flavors: {self.flavor_list}; no {PYFUNC_FLAVOR}, "
            f"so {self.module} loads it ({PYFUNC_MODULE} would refuse it)."
        )


UNKNOWN_LOADER = Loader()


def loader_from_meta(meta: dict | None) -> Loader:
    """The loader for a folder whose MLmodel the sync parsed into ``meta``.

    ``meta`` holds only the keys read here: ``kind``, ``flavors``, ``error``; None when
    the folder has no catalogued MLmodel.
    """
    if meta is None:
        return UNKNOWN_LOADER
    if meta.get("error"):
        return Loader(unknown_because=f"its MLmodel could not be read: {meta['error']}")
    flavors = meta.get("flavors")
    if meta.get("kind") != "mlmodel" or not isinstance(flavors, list):
        return Loader(unknown_because="its MLmodel has not been read yet")
    names = tuple(name for name in flavors if isinstance(name, str))
    if PYFUNC_FLAVOR in names:
        return Loader(flavors=names, known=True)
    native = next((module for name, module in FLAVOR_MODULES.items() if name in names), None)
    if native is None:
        return Loader(flavors=names, known=True, loadable=False)
    return Loader(module=native, flavors=names, known=True)


def mlmodel_key(prefix: str) -> str:
    """The key of the ``MLmodel`` file in the folder ``prefix`` ("a/b/" or "a/b")."""
    prefix = prefix.strip("/")
    return f"{prefix}/{MLMODEL}" if prefix else MLMODEL


def folder_loaders(*, folders: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Loader]:
    """The loader of each (bucket, folder prefix), from its MLmodel, in one query.

    Every folder asked for is in the answer; one without a catalogued (present) MLmodel
    gets ``UNKNOWN_LOADER``. Only the first ``MAX_FOLDERS`` distinct folders are read.
    """
    wanted: dict[tuple[str, str], tuple[str, str]] = {}
    answer: dict[tuple[str, str], Loader] = {}
    for bucket, prefix in folders:
        if bucket and (bucket, prefix) not in answer and len(answer) < MAX_FOLDERS:
            wanted[(bucket, mlmodel_key(prefix))] = (bucket, prefix)
            answer[(bucket, prefix)] = UNKNOWN_LOADER
    if not wanted:
        return answer
    keys_by_bucket: dict[str, list[str]] = {}
    for bucket, key in wanted:
        keys_by_bucket.setdefault(bucket, []).append(key)
    condition = Q()
    for bucket, keys in keys_by_bucket.items():
        condition |= Q(bucket=bucket, key__in=keys)
    # The three keys read, not the whole meta: a signature may hold thousands of columns.
    rows = (
        Artifact.objects.filter(condition)
        .order_by()
        .values_list("bucket", "key", "missing_since", "meta__kind", "meta__flavors", "meta__error")
    )
    for bucket, key, missing_since, kind, flavors, error in rows:
        if missing_since is None:
            meta = {"kind": kind, "flavors": flavors, "error": error}
            answer[wanted[(bucket, key)]] = loader_from_meta(meta)
    return answer


def version_folder(version: ModelVersion) -> tuple[str, str]:
    return (version.artifact_bucket, version.artifact_prefix)


def version_loaders(versions: Iterable[ModelVersion]) -> dict[int, Loader]:
    """Loader by version pk, for already-fetched versions, in one query."""
    versions = list(versions)
    by_folder = folder_loaders(
        folders=[version_folder(v) for v in versions if v.artifact_bucket and v.artifact_prefix]
    )
    return {v.pk: by_folder.get(version_folder(v), UNKNOWN_LOADER) for v in versions}


@dataclass(frozen=True)
class LoadSnippet:
    """One copy-paste way to load a model: its URI, the module, and why it may not load.

    ``problem``: why this URI would fail (the files are gone, the name cannot be read
    from it ...); ``unavailable`` adds the loader's own (no flavor MLflow loads). A
    snippet that is unavailable is shown with its reason and no code to copy.
    """

    label: str
    uri: str
    loader: Loader = UNKNOWN_LOADER
    problem: str = ""

    @property
    def code(self) -> str:
        return f"model = {self.loader.module}.load_model({python_string(self.uri)})"

    @property
    def unavailable(self) -> str:
        if self.problem:
            return self.problem
        if not self.loader.loadable:
            return "its MLmodel lists no flavor MLflow loads by name"
        return ""

    @property
    def loads(self) -> bool:
        return not self.unavailable

    def withheld(self, reason: str) -> LoadSnippet:
        """This snippet marked as failing for ``reason`` (the first reason given wins)."""
        if self.problem or not reason:
            return self
        return LoadSnippet(label=self.label, uri=self.uri, loader=self.loader, problem=reason)


def _name_problem(name: str, *, by_number: bool) -> str:
    """Why a ``models:/<name>...`` URI cannot address ``name`` ("" when it can)."""
    if _NAME_BREAKERS.search(name):
        return (
            "MLflow cannot read this model's name out of a models:/ URI "
            '(it holds "/", "?" or a control character)'
        )
    if by_number and "@" in name:
        return 'MLflow reads the "@" in this name as an alias; load it by alias, run or S3'
    return ""


def _path_problem(path: str) -> str:
    if _PATH_BREAKERS.search(path):
        return (
            'MLflow cannot read this path out of the URI (it holds "?", "#", "%" '
            "or a control character)"
        )
    return ""


def run_relative_path(version: ModelVersion) -> str:
    """The version's artifact path under its run (``"model"``), or "" if not run-relative."""
    source = version.source or ""
    run_id = version.source_run_id or (version.run.run_id if version.run else "")
    if source.startswith("runs:/"):
        rest = source[len("runs:/") :]
        _, _, path = rest.partition("/")
        return path.strip("/")
    marker = f"/{run_id}/artifacts/" if run_id else ""
    if marker and marker in source:
        return source.split(marker, 1)[1].strip("/")
    return ""


def _files_problem(*, number: int, artifacts_present: bool | None) -> str:
    """Why no URI loads version ``number``'s files ("" when they are there or unknown)."""
    # The S3 location is on the page already; one long unbroken URI here would not wrap.
    if artifacts_present is False:
        return f"the files of v{number} are missing from S3"
    return ""


def _version_problem(version: ModelVersion) -> str:
    return _files_problem(number=version.version, artifacts_present=version.artifacts_present)


def _registry_problem(*, version: ModelVersion, registered_model: RegisteredModel) -> str:
    if registered_model.missing_since is not None:
        return "this model is no longer in MLflow's registry"
    if version.missing_since is not None:
        return f"v{version.version} is no longer in MLflow's registry"
    return ""


def alias_snippet(
    *,
    registered_model: RegisteredModel,
    alias: str,
    number: int | None,
    version: ModelVersion | None,
    loader: Loader,
) -> LoadSnippet:
    """``models:/<name>@<alias>``, for the version the alias points to (``number``)."""
    label = f"Alias @{alias}" + (f" (v{number})" if number is not None else "")
    snippet = LoadSnippet(
        label=label, uri=f"models:/{registered_model.name}@{alias}", loader=loader
    )
    snippet = snippet.withheld(_name_problem(registered_model.name, by_number=False))
    if version is None:
        return snippet.withheld(f"v{number} is not in the catalogue")
    snippet = snippet.withheld(
        _registry_problem(version=version, registered_model=registered_model)
    )
    return snippet.withheld(_version_problem(version))


def load_snippets(
    *,
    version: ModelVersion,
    registered_model: RegisteredModel,
    include_aliases: bool = True,
    loader: Loader | None = None,
) -> list[LoadSnippet]:
    """Every valid URI that loads ``version``: by alias, latest, number, run, S3, model id.

    ``loader``: the version's, when the caller read it with others (``version_loaders``);
    else it is read here (one query). Never the seed's ``models://`` (MLflow reads the
    name after ``//`` as a host). ``models:/<name>/latest`` is offered on the latest
    version only: MLflow resolves it to the highest version number when loading.
    """
    if loader is None:
        loader = version_loaders([version])[version.pk]
    name = registered_model.name
    files_problem = _version_problem(version)
    registry_problem = _registry_problem(version=version, registered_model=registered_model)
    snippets = []
    if include_aliases:
        snippets += [
            alias_snippet(
                registered_model=registered_model,
                alias=alias,
                number=version.version,
                version=version,
                loader=loader,
            )
            for alias in sorted(version.aliases or [])[:ALIAS_SNIPPETS]
        ]
    by_number = []
    if registered_model.latest_version == version.version:
        by_number.append(
            LoadSnippet(
                label=f"Latest (v{version.version})", uri=f"models:/{name}/latest", loader=loader
            )
        )
    by_number.append(
        LoadSnippet(
            label=f"Version {version.version}",
            uri=f"models:/{name}/{version.version}",
            loader=loader,
        )
    )
    snippets += [
        snippet.withheld(_name_problem(name, by_number=True))
        .withheld(registry_problem)
        .withheld(files_problem)
        for snippet in by_number
    ]
    run_id = version.source_run_id or (version.run.run_id if version.run else "")
    path = run_relative_path(version)
    if run_id and path:
        snippet = LoadSnippet(label="Source run", uri=f"runs:/{run_id}/{path}", loader=loader)
        if version.run is None:
            snippet = snippet.withheld(f"run {run_id} is not in the catalogue's MLflow runs")
        elif version.run.missing_since is not None:
            snippet = snippet.withheld(f"run {run_id} is no longer in MLflow")
        snippets.append(snippet.withheld(_path_problem(path)).withheld(files_problem))
    if version.artifact_bucket and version.artifact_prefix:
        prefix = version.artifact_prefix.rstrip("/")
        snippet = LoadSnippet(
            label="S3 path", uri=f"s3://{version.artifact_bucket}/{prefix}", loader=loader
        )
        snippets.append(snippet.withheld(_path_problem(prefix)).withheld(files_problem))
    if version.logged_model_id is not None:
        logged_model = version.logged_model
        snippet = LoadSnippet(
            label="Logged model", uri=f"models:/{logged_model.model_id}", loader=loader
        )
        if logged_model.missing_since is not None:
            snippet = snippet.withheld("the logged model is no longer in MLflow")
        snippets.append(snippet.withheld(files_problem))
    return snippets


def logged_model_snippets(*, logged_model: LoggedModel) -> list[LoadSnippet]:
    """``models:/<model_id>`` and the S3 folder of an MLflow 3 logged model (one query)."""
    row = (
        Artifact.objects.filter(logged_model=logged_model, folder="", path=MLMODEL)
        .order_by()
        .values_list("missing_since", "meta__kind", "meta__flavors", "meta__error")
        .first()
    )
    loader = UNKNOWN_LOADER
    if row is not None and row[0] is None:
        loader = loader_from_meta({"kind": row[1], "flavors": row[2], "error": row[3]})
    problem = ""
    if logged_model.missing_since is not None:
        problem = "the logged model is no longer in MLflow"
    elif not logged_model.artifact_count:
        problem = "its folder holds no files in S3"
    snippets = [
        LoadSnippet(
            label="Logged model", uri=f"models:/{logged_model.model_id}", loader=loader
        ).withheld(problem)
    ]
    location = (logged_model.artifact_location or "").rstrip("/")
    if location.startswith("s3://"):
        snippets.append(
            LoadSnippet(label="S3 path", uri=location, loader=loader)
            .withheld(_path_problem(location[len("s3://") :]))
            .withheld("" if logged_model.artifact_count else "its folder holds no files in S3")
        )
    return snippets


def run_snippets(*, run: Run, versions: Iterable[ModelVersion] = ()) -> list[LoadSnippet]:
    """``runs:/<run_id>/<folder>`` for each model folder of ``run`` (one query).

    A model folder is one holding an ``MLmodel`` file, registered or not; ``versions``
    (the run's, already fetched) name the registered versions made from each folder.
    At most ``RUN_MODEL_FOLDERS`` folders.
    """
    rows = (
        Artifact.objects.filter(run=run)
        .filter(Q(path=MLMODEL) | Q(path__endswith=f"/{MLMODEL}"))
        .order_by("folder", "path")
        .values_list(
            "bucket", "key", "folder", "missing_since", "meta__kind", "meta__flavors", "meta__error"
        )[:RUN_MODEL_FOLDERS]
    )
    registered: dict[tuple[str, str], list[str]] = {}
    for version in versions:
        key = (version.artifact_bucket, mlmodel_key(version.artifact_prefix))
        registered.setdefault(key, []).append(f"{version.registered_model.name} v{version.version}")
    run_gone = "this run is no longer in MLflow" if run.missing_since is not None else ""
    snippets = []
    for bucket, key, folder, missing_since, kind, flavors, error in rows:
        if missing_since is not None:
            continue
        loader = loader_from_meta({"kind": kind, "flavors": flavors, "error": error})
        names = registered.get((bucket, key))
        label = f"Model folder {folder or '(top)'}" + (
            f", registered as {', '.join(names)}" if names else ""
        )
        uri = f"runs:/{run.run_id}/{folder}" if folder else f"runs:/{run.run_id}"
        snippets.append(
            LoadSnippet(label=label, uri=uri, loader=loader)
            .withheld(run_gone)
            .withheld(_path_problem(folder))
        )
    return snippets


def _mlmodel_flavors() -> Subquery:
    """The flavors of the catalogued MLmodel in a version's folder, as a subquery."""
    mlmodel = Artifact.objects.filter(
        bucket=OuterRef("artifact_bucket"),
        key=Concat(OuterRef("artifact_prefix"), Value(MLMODEL), output_field=CharField()),
        missing_since=None,
    ).order_by()
    return Subquery(mlmodel.values("meta__flavors")[:1])


class LatestVersion(NamedTuple):
    """A registered model's latest version, as the export's usage section lists it."""

    name: str
    version: int
    artifacts_present: bool | None
    gone: bool  # the version is no longer in MLflow
    loader: Loader


def latest_version_loaders(*, limit: int) -> list[LatestVersion]:
    """The latest version of the first ``limit`` present models by name, with loaders.

    One query of plain values (model instances cost twice the time): the MLmodel of each
    version's folder is looked up by its exact key (the artifacts' natural-key index)
    and only its flavors are read, since on SQLite each key read parses the whole
    ``meta`` text, signature included. A folder without parsed flavors gets
    ``UNKNOWN_LOADER`` (the export says "flavor unknown"; the version page says why).
    """
    rows = (
        ModelVersion.objects.filter(
            registered_model__missing_since=None, version=F("registered_model__latest_version")
        )
        .annotate(mlmodel_flavors=_mlmodel_flavors())
        .order_by("registered_model__name")
        .values_list(
            "registered_model__name",
            "version",
            "artifacts_present",
            "missing_since",
            "mlmodel_flavors",
        )[:limit]
    )
    loaders: dict[tuple, Loader] = {}
    answer = []
    for name, version, artifacts_present, missing_since, flavors in rows:
        flavors = tuple(flavors) if isinstance(flavors, list) else None
        if flavors not in loaders:
            meta = None if flavors is None else {"kind": "mlmodel", "flavors": list(flavors)}
            loaders[flavors] = loader_from_meta(meta)
        answer.append(
            LatestVersion(
                name=name,
                version=version,
                artifacts_present=artifacts_present,
                gone=missing_since is not None,
                loader=loaders[flavors],
            )
        )
    return answer


def latest_snippet(latest: LatestVersion) -> LoadSnippet:
    """``models:/<name>/latest`` for a model's latest version (``latest_version_loaders``)."""
    snippet = LoadSnippet(
        label=f"{latest.name} (latest: v{latest.version})",
        uri=f"models:/{latest.name}/latest",
        loader=latest.loader,
    )
    return (
        snippet.withheld(_name_problem(latest.name, by_number=True))
        .withheld(f"v{latest.version} is no longer in MLflow's registry" if latest.gone else "")
        .withheld(_files_problem(number=latest.version, artifacts_present=latest.artifacts_present))
    )
