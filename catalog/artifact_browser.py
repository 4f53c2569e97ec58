"""The read side of artifact folders: owners, exact lookups, folder listings, plot lists.

Everything here reads the database only, in a bounded number of queries whatever the
number of artifacts:

* a file is found by its exact catalogued ``(owner, path)``; request paths are never
  joined, normalised or turned into keys;
* a folder listing is one paginated, indexed query on ``(owner, folder, path)`` for the
  files directly in it, plus one GROUP BY for its subfolders (the distinct next path
  segment of every deeper folder, with file counts and bytes), computed in SQL so a
  folder of 10,000 files never loads 10,000 rows.

An *owner* is a ``Run`` or a ``LoggedModel``; ``OwnerKind`` carries what differs between
the two (the filter field, the URL names).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from urllib.parse import quote

from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce, StrIndex, Substr
from django.http import Http404
from django.urls import reverse
from django.utils.http import RFC3986_SUBDELIMS

from catalog.models import Artifact, LoggedModel, Run

FILES_PER_PAGE = 200
GALLERY_LIMIT = 48
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif")
PDF_SUFFIXES = (".pdf",)
PLOT_SUFFIXES = IMAGE_SUFFIXES + PDF_SUFFIXES


class OwnerKind(enum.Enum):
    """The two kinds of artifact owner, with their lookups and URL names."""

    RUN = "run"
    LOGGED_MODEL = "logged_model"

    @property
    def model(self) -> type[Run] | type[LoggedModel]:
        return Run if self is OwnerKind.RUN else LoggedModel

    @property
    def id_field(self) -> str:
        return "run_id" if self is OwnerKind.RUN else "model_id"

    @property
    def breadcrumb_relations(self) -> tuple[str, ...]:
        """What an artifact page's breadcrumbs name above the owner (joined, not queried)."""
        return ("experiment",) if self is OwnerKind.RUN else ("experiment", "run")

    @property
    def artifact_fk(self) -> str:
        return "run" if self is OwnerKind.RUN else "logged_model"

    def url_name(self, view: str) -> str:
        """``view`` is one of "artifacts", "artifact", "artifact_raw", "artifact_thumbnail"."""
        return f"catalog:{self.value}_{view}"

    @classmethod
    def of(cls, owner: Run | LoggedModel) -> OwnerKind:
        if isinstance(owner, Run):
            return cls.RUN
        if isinstance(owner, LoggedModel):
            return cls.LOGGED_MODEL
        raise TypeError(f"not an artifact owner: {owner!r}")


def owner_public_id(owner: Run | LoggedModel) -> str:
    """The MLflow id that names ``owner`` in URLs (a run id or an ``m-...`` model id)."""
    return owner.run_id if isinstance(owner, Run) else owner.model_id


def get_owner_or_404(*, kind: OwnerKind, public_id: str) -> Run | LoggedModel:
    """The run or logged model with this MLflow id (its experiment and run joined), or 404."""
    if "\x00" in public_id:
        raise Http404("No such owner")
    try:
        return kind.model.objects.select_related(*kind.breadcrumb_relations).get(
            **{kind.id_field: public_id}
        )
    except kind.model.DoesNotExist as error:
        raise Http404("No such owner") from error


def owner_artifacts(*, owner: Run | LoggedModel) -> QuerySet[Artifact]:
    """All artifacts of ``owner`` (present and missing)."""
    return Artifact.objects.filter(**{OwnerKind.of(owner).artifact_fk: owner})


def is_acceptable_path(path: str) -> bool:
    """False for request paths that can never match a catalogued key.

    A NUL can't be stored (PostgreSQL rejects it in text), so it is turned away before
    any query. Everything else, ``..`` segments and backslashes included, is decided by
    an exact match against the catalogue: keys may contain those characters.
    """
    return bool(path) and "\x00" not in path and len(path) <= 4096


def find_artifact(*, owner: Run | LoggedModel, path: str) -> Artifact | None:
    """The artifact of ``owner`` whose path is exactly ``path``, or None."""
    if not is_acceptable_path(path):
        return None
    return owner_artifacts(owner=owner).filter(path=path).first()


# --- folders ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Breadcrumb:
    name: str
    url: str


@dataclass(frozen=True)
class Subfolder:
    name: str
    path: str
    url: str
    file_count: int
    bytes: int
    missing_count: int


@dataclass
class FolderListing:
    """One page of a folder: its direct files, its subfolders and totals."""

    owner: Run | LoggedModel
    folder: str
    subfolders: list[Subfolder]
    files: list[Artifact]
    file_count: int
    file_bytes: int
    page: int
    page_count: int
    breadcrumbs: list[Breadcrumb] = field(default_factory=list)

    @property
    def exists(self) -> bool:
        return bool(self.subfolders) or self.file_count > 0

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.page_count

    @property
    def total_count(self) -> int:
        return self.file_count + sum(sub.file_count for sub in self.subfolders)

    @property
    def total_bytes(self) -> int:
        return self.file_bytes + sum(sub.bytes for sub in self.subfolders)


def _subfolder_rows(*, owner: Run | LoggedModel, folder: str) -> list[dict]:
    """One GROUP BY: per next path segment below ``folder``, file count, bytes, missing.

    Files directly in ``folder`` come back with ``direct`` = 1. Rows are narrowed to
    the owner (the leading column of the (owner, folder, path) index), then to
    ``folder`` and its descendants with an exact prefix comparison: Django's
    ``startswith`` is case-insensitive on SQLite, so it is kept only as a coarse,
    index-friendly filter and the ``Substr`` equality decides.
    """
    queryset = owner_artifacts(owner=owner)
    if folder:
        prefix = folder + "/"
        queryset = queryset.filter(Q(folder=folder) | Q(folder__startswith=prefix)).annotate(
            head=Substr("folder", 1, len(prefix))
        )
        queryset = queryset.filter(Q(folder=folder) | Q(head=prefix))
        rest = Substr("folder", len(prefix) + 1)
    else:
        rest = Substr("folder", 1)
    queryset = queryset.annotate(rest=rest, slash=StrIndex(rest, Value("/")))
    segment = Case(
        When(slash__gt=0, then=Substr("rest", 1, F("slash") - 1)),
        default="rest",
    )
    # Files directly in ``folder`` are told apart by equality, not by an empty segment:
    # "a//b.txt" lives in a subfolder of "a" whose name is empty.
    direct = Case(When(folder=folder, then=Value(1)), default=Value(0))
    present = Q(missing_since__isnull=True)
    return list(
        queryset.annotate(segment=segment, direct=direct)
        .values("direct", "segment")
        .annotate(
            file_count=Count("id"),
            bytes=Coalesce(Sum("size", filter=present), 0, output_field=IntegerField()),
            missing_count=Count("id", filter=~present),
        )
        .order_by("-direct", "segment")
    )


def folder_listing(
    *, owner: Run | LoggedModel, folder: str, page: int = 1, per_page: int = FILES_PER_PAGE
) -> FolderListing:
    """The listing of ``folder`` ("" for the top) of ``owner``: two or three queries.

    ``page`` counts from 1 and is clamped to the pages there are.
    """
    kind = OwnerKind.of(owner)
    public_id = owner_public_id(owner)
    direct = {"file_count": 0, "bytes": 0}
    subfolders = []
    page_prefix = _path_prefix(kind=kind, view="artifact", public_id=public_id)
    for row in _subfolder_rows(owner=owner, folder=folder):
        if row["direct"]:
            direct = row
            continue
        sub_path = f"{folder}/{row['segment'] or ''}" if folder else row["segment"] or ""
        subfolders.append(
            Subfolder(
                name=row["segment"] or "",
                path=sub_path,
                url=_protect_dot_segments(
                    page_prefix + _quote_path(sub_path + "/"), fixed_prefix=page_prefix
                ),
                file_count=row["file_count"],
                bytes=row["bytes"] or 0,
                missing_count=row["missing_count"],
            )
        )
    file_count = direct["file_count"]
    page_count = max(1, -(-file_count // per_page))
    page = min(max(1, page), page_count)
    files: list[Artifact] = []
    if file_count:
        offset = (page - 1) * per_page
        files = list(
            owner_artifacts(owner=owner)
            .filter(folder=folder)
            .order_by("path")[offset : offset + per_page]
        )
    return FolderListing(
        owner=owner,
        folder=folder,
        subfolders=subfolders,
        files=files,
        file_count=file_count,
        file_bytes=direct["bytes"] or 0,
        page=page,
        page_count=page_count,
        breadcrumbs=breadcrumbs(kind=kind, public_id=public_id, path=folder),
    )


def breadcrumbs(*, kind: OwnerKind, public_id: str, path: str) -> list[Breadcrumb]:
    """Links to the artifact root and each folder above (and at) ``path``."""
    crumbs = [
        Breadcrumb(name="artifacts", url=reverse(kind.url_name("artifacts"), args=[public_id]))
    ]
    if not path:
        return crumbs
    parts = path.split("/")
    for index in range(len(parts)):
        sub_path = "/".join(parts[: index + 1])
        crumbs.append(
            Breadcrumb(
                name=parts[index] or "(empty)",
                url=folder_url(kind=kind, public_id=public_id, folder=sub_path),
            )
        )
    return crumbs


# --- URLs -------------------------------------------------------------------------------


def _protect_dot_segments(url: str, *, fixed_prefix: str) -> str:
    """Keep browsers from resolving "." and ".." segments of a key out of the URL.

    Keys may hold ".." segments as plain characters. Browsers remove such segments (also
    when percent-encoded), so each one is glued to a neighbour with an encoded slash:
    the server decodes ``%2F`` back to "/" and the exact-match lookup sees the real path.
    """
    tail = url[len(fixed_prefix) :]
    segments = tail.split("/")
    if not any(_is_dotty(seg) for seg in segments):
        return url
    glued: list[str] = []
    for seg in segments:
        if glued and (_is_dotty(seg) or _is_dotty(glued[-1])):
            glued[-1] = f"{glued[-1]}%2F{seg}"
        else:
            glued.append(seg)
    if glued and _is_dotty(glued[0]):
        # A leading dot segment has no neighbour inside the path: glue it to the prefix.
        return fixed_prefix.rstrip("/") + "%2F" + "/".join(glued)
    return fixed_prefix + "/".join(glued)


def _is_dotty(segment: str) -> bool:
    return segment in (".", "..")


def _path_prefix(*, kind: OwnerKind, view: str, public_id: str) -> str:
    """The URL of ``view`` up to where the artifact path starts (reversed once)."""
    return reverse(kind.url_name(view), args=[public_id, "x"])[:-1]


def _quote_path(path: str) -> str:
    # The same quoting reverse() applies to its arguments, done here once per file
    # instead of three reverse() calls: a page lists up to 200 files.
    return quote(path, safe=RFC3986_SUBDELIMS + "/~:@")


def _owner_url(*, kind: OwnerKind, view: str, public_id: str, path: str) -> str:
    prefix = _path_prefix(kind=kind, view=view, public_id=public_id)
    return _protect_dot_segments(prefix + _quote_path(path), fixed_prefix=prefix)


def folder_url(*, kind: OwnerKind, public_id: str, folder: str) -> str:
    """The page of a folder: its path with a trailing slash."""
    if not folder:
        return reverse(kind.url_name("artifacts"), args=[public_id])
    return _owner_url(kind=kind, view="artifact", public_id=public_id, path=folder + "/")


class ArtifactUrlBuilder:
    """The file page, raw bytes, download and thumbnail URLs of an owner's artifacts.

    The owner's URL prefixes are reversed once; each file then costs a ``quote``.
    """

    def __init__(self, *, kind: OwnerKind, public_id: str) -> None:
        self.prefixes = {
            name: _path_prefix(kind=kind, view=view, public_id=public_id)
            for name, view in (
                ("page", "artifact"),
                ("raw", "artifact_raw"),
                ("thumbnail", "artifact_thumbnail"),
            )
        }

    def urls(self, artifact: Artifact) -> dict[str, str]:
        quoted = _quote_path(artifact.path)
        urls = {
            name: _protect_dot_segments(prefix + quoted, fixed_prefix=prefix)
            for name, prefix in self.prefixes.items()
        }
        urls["download"] = urls["raw"] + "?download=1"
        return urls


def artifact_urls(*, artifact: Artifact, kind: OwnerKind, public_id: str) -> dict[str, str]:
    """The file page, raw bytes, download and thumbnail URLs of an owned artifact."""
    return ArtifactUrlBuilder(kind=kind, public_id=public_id).urls(artifact)


# --- plots ------------------------------------------------------------------------------


def is_image(path: str) -> bool:
    return path.lower().endswith(IMAGE_SUFFIXES)


def is_pdf(path: str) -> bool:
    return path.lower().endswith(PDF_SUFFIXES)


def plot_artifacts(*, owner: Run | LoggedModel, limit: int = GALLERY_LIMIT) -> list[Artifact]:
    """Up to ``limit`` present images and PDFs of ``owner``, by path: one query."""
    suffix_filter = Q()
    for suffix in PLOT_SUFFIXES:
        suffix_filter |= Q(path__iendswith=suffix)
    return list(
        owner_artifacts(owner=owner)
        .filter(suffix_filter, missing_since__isnull=True)
        .order_by("path")[:limit]
    )


def annotate_files(
    *, files: list[Artifact], kind: OwnerKind, public_id: str
) -> list[tuple[Artifact, dict[str, str]]]:
    """Each file with its URLs, for templates (no queries)."""
    builder = ArtifactUrlBuilder(kind=kind, public_id=public_id)
    return [(artifact, builder.urls(artifact)) for artifact in files]


__all__ = [
    "FILES_PER_PAGE",
    "Breadcrumb",
    "ArtifactUrlBuilder",
    "FolderListing",
    "OwnerKind",
    "Subfolder",
    "annotate_files",
    "artifact_urls",
    "breadcrumbs",
    "find_artifact",
    "folder_listing",
    "folder_url",
    "get_owner_or_404",
    "is_acceptable_path",
    "is_image",
    "is_pdf",
    "owner_artifacts",
    "owner_public_id",
    "plot_artifacts",
]
