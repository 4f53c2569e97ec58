"""Artifact folders, files, previews and bytes of runs and MLflow 3 logged models.

Every view finds its owner by MLflow id and its artifact by the exact catalogued
``(owner, path)`` (``catalog.artifact_browser``); request paths are never joined into
keys. Bytes are read from S3 by that artifact's own (bucket, key) only, streamed or
handed over as a short-lived presigned URL. See docs/decisions/0004-serving-artifact-bytes.md.

Folder and file pages go through the page cache (``catalog.pagecache``): they are drawn
from the database, and text previews from S3 are keyed by the artifact's ETag. A file
page whose S3 read failed says ``no-store``, so the failure is not kept. Bytes,
thumbnails and downloads are not page-cached (they have ETags and their own cache).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import NoReverseMatch, path, register_converter
from django.utils.cache import add_never_cache_headers
from django.utils.http import content_disposition_header

from catalog import previews
from catalog.artifact_browser import (
    OwnerKind,
    annotate_files,
    artifact_urls,
    breadcrumbs,
    find_artifact,
    folder_listing,
    folder_url,
    get_owner_or_404,
    is_acceptable_path,
    is_image,
    is_pdf,
    owner_public_id,
)
from catalog.conditional import conditional_answer, set_validators, strong_etag
from catalog.models import Artifact, LoggedModel, Run
from catalog.pagecache import cached_page
from catalog.s3 import (
    ObjectUnavailable,
    get_web_s3_client,
    iter_object_chunks,
    presigned_download_url,
)

# Downloads at least this large are handed to S3 as a short-lived presigned URL instead
# of passing through the web server (settings.CATALOG_PRESIGN_DOWNLOADS_FROM_BYTES).
DEFAULT_PRESIGN_MIN_BYTES = 256 * 1024 * 1024
PRESIGNED_URL_EXPIRES_S = 300
STREAM_CHUNK_BYTES = 256 * 1024
GALLERY_ON_FOLDER_PAGE = 24


class ArtifactPathConverter:
    """Any non-empty path, newlines included.

    Django's ``path`` converter is ``.+``, which stops at a newline; S3 keys may hold
    one, and such a file must still have a page (and a reversible URL).
    """

    regex = r"(?s:.+)"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ArtifactPathConverter, "artifact_path")


def _presign_min_bytes() -> int | None:
    """``settings.CATALOG_PRESIGN_DOWNLOADS_FROM_BYTES``: None or < 0 turns presigning off."""
    value = getattr(settings, "CATALOG_PRESIGN_DOWNLOADS_FROM_BYTES", DEFAULT_PRESIGN_MIN_BYTES)
    if value is None or int(value) < 0:
        return None
    return int(value)


def _public_id(kwargs: dict) -> str:
    return kwargs.get("run_id") or kwargs.get("model_id") or ""


def _owner_url(owner: Run | LoggedModel) -> str | None:
    try:
        return owner.get_absolute_url()
    except NoReverseMatch:  # the owner's page is not routed (yet)
        return None


def _served_artifact_or_404(
    *, kind: OwnerKind, public_id: str, artifact_path: str
) -> tuple[Run | LoggedModel, Artifact]:
    """The owner and its present artifact at exactly ``artifact_path``, or 404."""
    owner = get_owner_or_404(kind=kind, public_id=public_id)
    artifact = find_artifact(owner=owner, path=artifact_path)
    if artifact is None or artifact.is_missing:
        raise Http404("No such artifact")
    return owner, artifact


def _page_number(request: HttpRequest) -> int:
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


def artifact_page(request: HttpRequest, *, kind: OwnerKind, path: str = "", **kwargs):
    """A folder page (breadcrumbs, subfolders, a page of files) or a file page."""
    public_id = _public_id(kwargs)
    owner = get_owner_or_404(kind=kind, public_id=public_id)
    if path and not is_acceptable_path(path):
        raise Http404("No such artifact")
    page = _page_number(request)
    if path.endswith("/"):
        # A folder URL. A zero-byte "folder marker" object may have the same path
        # (S3 consoles make them): the folder wins, the marker is listed inside it.
        folder = path[:-1]
        listing = folder_listing(owner=owner, folder=folder, page=page)
        if not listing.exists:
            artifact = find_artifact(owner=owner, path=path)
            if artifact is None:
                raise Http404("No such artifact or folder")
            return _file_page(request, kind=kind, owner=owner, artifact=artifact)
    elif path:
        artifact = find_artifact(owner=owner, path=path)
        if artifact is not None:
            return _file_page(request, kind=kind, owner=owner, artifact=artifact)
        # A folder named without its trailing slash (a hand-typed or older deep link)
        # is shown as it is: a redirect would cost a round trip for nothing.
        folder = path
        listing = folder_listing(owner=owner, folder=folder, page=page)
        if not listing.exists:
            raise Http404("No such artifact or folder")
    else:
        folder = ""
        listing = folder_listing(owner=owner, folder=folder, page=page)
    files = annotate_files(files=listing.files, kind=kind, public_id=public_id)
    gallery = [
        (artifact, urls)
        for artifact, urls in files
        if not artifact.is_missing and (is_image(artifact.path) or is_pdf(artifact.path))
    ][:GALLERY_ON_FOLDER_PAGE]
    return render(
        request,
        "catalog/artifacts/folder.html",
        {
            "owner": owner,
            "owner_url": _owner_url(owner),
            "kind": kind.value,
            "listing": listing,
            "files": files,
            "gallery": gallery,
            "page_url": folder_url(kind=kind, public_id=public_id, folder=folder),
        },
    )


def _file_page(
    request: HttpRequest, *, kind: OwnerKind, owner: Run | LoggedModel, artifact: Artifact
) -> HttpResponse:
    public_id = owner_public_id(owner)
    preview_kind = previews.preview_kind(artifact.path)
    context = {
        "owner": owner,
        "owner_url": _owner_url(owner),
        "kind": kind.value,
        "artifact": artifact,
        "urls": artifact_urls(artifact=artifact, kind=kind, public_id=public_id),
        "breadcrumbs": breadcrumbs(kind=kind, public_id=public_id, path=artifact.folder),
        "preview_kind": preview_kind,
        "content_type": previews.serving_type(artifact.path)[0],
        "inline": previews.serving_type(artifact.path)[1],
        "text_cap": previews.TEXT_PREVIEW_MAX_BYTES,
    }
    if not artifact.is_missing:
        context.update(_preview_context(artifact=artifact, preview_kind=preview_kind))
    response = render(request, "catalog/artifacts/file.html", context)
    if context.get("text") is not None and context["text"].error:
        # S3 could not be read just now: neither the page cache nor a browser keeps that.
        add_never_cache_headers(response)
    return response


def _preview_context(*, artifact: Artifact, preview_kind: str) -> dict:
    """What the file page shows for this kind of file (reads S3 for text kinds only)."""
    context: dict = {}
    if preview_kind == "mlmodel":
        # The panel comes from the database; the file's text is read from S3 only when
        # the sync has not parsed it (or could not): the "Open" link shows it anyway.
        context["mlmodel"] = previews.mlmodel_panel(artifact.meta)
        if context["mlmodel"] is not None and not context["mlmodel"]["error"]:
            return context
    if preview_kind == "feature_names":
        context["features"] = previews.feature_list(artifact.meta)
        if context["features"] is not None:
            return context
    if preview_kind in ("image", "pdf", "none"):
        return context
    text = previews.text_preview(artifact=artifact)
    context["text"] = text
    if text.error:
        return context
    if preview_kind in ("conda", "python_env"):
        context["dependencies"] = previews.dependency_table(text.text, kind=preview_kind)
    elif preview_kind == "feature_names":
        context["features"] = {**previews.features_from_text(text.text), "from_text": True}
    elif preview_kind == "csv":
        context["csv"] = previews.csv_table(text.text)
    elif preview_kind == "json":
        context["pretty"] = previews.pretty_json(text.text, complete=not text.truncated)
    return context


def _etag_header(artifact: Artifact, *, variant: str = "") -> str | None:
    """A strong ETag from S3's content digest of the object (and the representation)."""
    return strong_etag("artifact", variant, artifact.etag) if artifact.etag else None


def artifact_raw(request: HttpRequest, *, kind: OwnerKind, path: str, **kwargs):
    """An artifact's bytes: allowlisted types inline, everything else as an attachment."""
    _, artifact = _served_artifact_or_404(
        kind=kind, public_id=_public_id(kwargs), artifact_path=path
    )
    return artifact_bytes_response(
        request, artifact=artifact, force_attachment=request.GET.get("download") == "1"
    )


def artifact_bytes_response(
    request: HttpRequest, *, artifact: Artifact, force_attachment: bool
) -> HttpResponse:
    """The bytes of a present, catalogued ``artifact``, read from S3 by its own key.

    Shared by owned artifacts and the audit's orphans (which always come as attachments).
    """
    content_type, inline_ok = previews.serving_type(artifact.path)
    as_attachment = not inline_ok or force_attachment
    filename = artifact.name or "download"
    client = get_web_s3_client()
    threshold = _presign_min_bytes()
    if as_attachment and threshold is not None and artifact.size >= threshold:
        url = presigned_download_url(
            client=client,
            bucket=artifact.bucket,
            key=artifact.key,
            filename=filename,
            expires_s=PRESIGNED_URL_EXPIRES_S,
        )
        response = HttpResponseRedirect(url)
        response["Cache-Control"] = "private, no-store"
        return response
    etag = _etag_header(artifact)
    answer = conditional_answer(request, etag=etag, last_modified=artifact.last_modified)
    if answer is not None:
        return answer
    try:
        chunks = iter_object_chunks(
            client=client, bucket=artifact.bucket, key=artifact.key, chunk_size=STREAM_CHUNK_BYTES
        )
    except ObjectUnavailable as error:
        raise Http404("The object could not be read from S3") from error
    # serving_type() already answers application/octet-stream for anything not allowlisted.
    response = StreamingHttpResponse(chunks, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(as_attachment, filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=300"
    return set_validators(response, etag=etag, last_modified=artifact.last_modified)


def _header_safe(text: str, *, limit: int = 200) -> str:
    """Printable ASCII only: reasons may quote keys, which may hold newlines or unicode."""
    return "".join(c if " " <= c <= "~" else "?" for c in text[:limit])


# What a placeholder's reason may look like in a header: words, then maybe a colon and
# a size ("1200x900") or an error code ("NoSuchKey"). Anything else (a Python repr such
# as "<_io.BytesIO object at 0x...>", a key, a library's message) is not for a header.
_PLAIN_REASON = re.compile(r"[A-Za-z][A-Za-z ]*(?:: (?:[0-9]+x[0-9]+|[A-Za-z][A-Za-z0-9]*))?")


def _plain_reason(reason: str) -> str:
    return reason if _PLAIN_REASON.fullmatch(reason) else "no preview"


def artifact_thumbnail(request: HttpRequest, *, kind: OwnerKind, path: str, **kwargs):
    """A PNG thumbnail of an image or of a PDF's first page (a placeholder if none)."""
    _, artifact = _served_artifact_or_404(
        kind=kind, public_id=_public_id(kwargs), artifact_path=path
    )
    if previews.preview_kind(artifact.path) not in ("image", "pdf"):
        raise Http404("No thumbnail for this type")
    size = request.GET.get("size", "small")
    if size not in previews.THUMBNAIL_SIZES:
        size = "small"
    etag = _etag_header(artifact, variant=f"thumbnail-{size}")
    answer = conditional_answer(request, etag=etag, last_modified=artifact.last_modified)
    if answer is not None:
        return answer
    thumbnail = previews.thumbnail_png(artifact=artifact, size=size)
    response = HttpResponse(thumbnail.png, content_type="image/png")
    response["X-Content-Type-Options"] = "nosniff"
    if thumbnail.is_placeholder:
        response["Cache-Control"] = "private, no-cache"
        response["X-Preview-Unavailable"] = _header_safe(_plain_reason(thumbnail.reason))
    else:
        response["Cache-Control"] = "private, max-age=86400"
        set_validators(response, etag=etag, last_modified=artifact.last_modified)
    return response


def _owner_patterns(kind: OwnerKind, *, prefix: str, id_name: str) -> list:
    name = kind.value
    extra = {"kind": kind}
    return [
        path(
            f"{prefix}/<str:{id_name}>/artifacts/",
            cached_page(artifact_page),
            extra,
            name=f"{name}_artifacts",
        ),
        path(
            f"{prefix}/<str:{id_name}>/artifacts/<artifact_path:path>",
            cached_page(artifact_page),
            extra,
            name=f"{name}_artifact",
        ),
        path(
            f"{prefix}/<str:{id_name}>/raw/<artifact_path:path>",
            artifact_raw,
            extra,
            name=f"{name}_artifact_raw",
        ),
        path(
            f"{prefix}/<str:{id_name}>/thumbnail/<artifact_path:path>",
            artifact_thumbnail,
            extra,
            name=f"{name}_artifact_thumbnail",
        ),
    ]


urlpatterns: list = [
    *_owner_patterns(OwnerKind.RUN, prefix="runs", id_name="run_id"),
    *_owner_patterns(OwnerKind.LOGGED_MODEL, prefix="logged-models", id_name="model_id"),
]
