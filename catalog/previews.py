"""Previews of artifacts: thumbnails, text, CSV, JSON, MLmodel, dependency files, features.

Two layers:

* pure functions from bytes or ``Artifact.meta`` to something a template shows
  (``image_thumbnail``, ``csv_table``, ``dependency_table``, ``mlmodel_panel`` ...), each
  with a size cap, so a hostile or huge object costs a bounded amount of work;
* ``thumbnail_png`` and ``text_preview``, which read an artifact's bytes by its exact
  catalogued (bucket, key) through ``catalog.s3`` and cache the result by
  ETag (a changed object has a new ETag, hence a new cache key).

Images are decoded by Pillow with ``settings.CATALOG_MAX_IMAGE_PIXELS`` as the
decompression-bomb limit, and thumbnails are made only of images of at most
``settings.CATALOG_MAX_THUMBNAIL_PIXELS`` decoded pixels (memory); anything that can't
be previewed becomes a placeholder PNG whose reason is a plain phrase, never an error
page. PDFs are rendered by pdfium (pypdfium2), first page only. MLmodel, feature and
environment files are parsed by ``catalog.model_files``, the sync's own parsers, under
the same bounds on bytes, depth, aliases and output.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.cache import cache
from PIL import Image, ImageDraw

from catalog import model_files
from catalog.model_files import DependencyTable, ModelFileError
from catalog.models import Artifact
from catalog.s3 import ObjectUnavailable, get_web_s3_client, read_object_bytes

TEXT_PREVIEW_MAX_BYTES = 256 * 1024
IMAGE_MAX_BYTES = 32 * 1024 * 1024
PDF_MAX_BYTES = 25 * 1024 * 1024
CSV_MAX_ROWS = 200
CSV_MAX_COLUMNS = 50
DEPENDENCY_MAX_ROWS = model_files.MAX_DEPENDENCY_ROWS
# A cell of a CSV preview is cut here: a page shows 200 x 50 cells at most.
CSV_MAX_CELL_CHARS = 500
# Pretty-printed JSON may outgrow its source (indentation); past this it is shown as is.
PRETTY_JSON_MAX_CHARS = 2 * TEXT_PREVIEW_MAX_BYTES
# Largest image (in decoded pixels) a thumbnail is made of: settings override it.
DEFAULT_MAX_THUMBNAIL_PIXELS = 16_000_000
THUMBNAIL_SIZES = {"small": (320, 240), "large": (1200, 900)}
# "2": placeholder reasons are plain phrases (older entries may hold a Python repr).
CACHE_VERSION = "2"

# pdfium is not thread-safe; a process renders one PDF at a time.
_PDFIUM_LOCK = threading.Lock()

# --- what a file is and how it may be served --------------------------------------------

# Types served inline. Anything else (HTML, SVG, XML, unknown) is served as an
# attachment of type application/octet-stream: it never renders in our origin.
_INLINE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".pdf": "application/pdf",
    ".csv": "text/csv; charset=utf-8",
    ".json": "application/json",
}
_TEXT_SUFFIXES = (
    ".txt",
    ".log",
    ".md",
    ".yaml",
    ".yml",
    ".py",
    ".cfg",
    ".ini",
    ".toml",
    ".sql",
    ".r",
    ".sh",
    ".tsv",
)
_TEXT_NAMES = {"MLmodel", "requirements.txt", "conda.yaml", "python_env.yaml", "LICENSE"}
ATTACHMENT_TYPE = "application/octet-stream"


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _suffix(path: str) -> str:
    name = _name(path)
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""


def is_text_like(path: str) -> bool:
    """True for files shown as text (YAML, logs, requirements, MLmodel ...)."""
    suffix = _suffix(path)
    return _name(path) in _TEXT_NAMES or suffix in _TEXT_SUFFIXES or suffix in (".csv", ".json")


def serving_type(path: str) -> tuple[str, bool]:
    """(content type, may be shown inline) for an artifact path, from an allowlist."""
    suffix = _suffix(path)
    if suffix in _INLINE_TYPES:
        return _INLINE_TYPES[suffix], True
    if is_text_like(path):
        return "text/plain; charset=utf-8", True
    return ATTACHMENT_TYPE, False


def preview_kind(path: str) -> str:
    """Which preview a file page shows: image, pdf, mlmodel, conda, python_env,
    feature_names, csv, json, text or none."""
    name = _name(path)
    suffix = _suffix(path)
    special = {
        "MLmodel": "mlmodel",
        "conda.yaml": "conda",
        "python_env.yaml": "python_env",
        "feature_names.txt": "feature_names",
    }
    if name in special:
        return special[name]
    if suffix in (".png", ".jpg", ".jpeg", ".gif"):
        return "image"
    if suffix == ".pdf":
        return "pdf"
    if suffix == ".csv":
        return "csv"
    if suffix == ".json":
        return "json"
    if is_text_like(path):
        return "text"
    return "none"


# --- thumbnails --------------------------------------------------------------------------


class PreviewUnavailable(Exception):
    """The bytes can't be turned into a thumbnail (too big, a bomb, not an image ...)."""


def _pixel_limit() -> int:
    # Checked against the header ourselves rather than written into Pillow's
    # process-wide Image.MAX_IMAGE_PIXELS: that global would leak into every other
    # image user in the process (charts, tests) and could not differ per setting.
    return int(settings.CATALOG_MAX_IMAGE_PIXELS)


def _thumbnail_pixel_limit() -> int:
    # Decoding costs ~4 bytes a pixel, twice over while Pillow converts; a PNG cannot be
    # decoded at reduced scale, so a thumbnail is only made of images this small (after
    # JPEG's draft scaling). Larger ones are still served whole by the file's link.
    return int(getattr(settings, "CATALOG_MAX_THUMBNAIL_PIXELS", DEFAULT_MAX_THUMBNAIL_PIXELS))


def _to_png(image: Image.Image, *, box: tuple[int, int]) -> bytes:
    image.thumbnail(box)
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def image_thumbnail(data: bytes, *, box: tuple[int, int]) -> bytes:
    """A PNG no larger than ``box`` from image bytes; raises PreviewUnavailable.

    The pixel count is checked from the header before anything is decoded: above
    ``CATALOG_MAX_IMAGE_PIXELS`` it is a bomb; above ``CATALOG_MAX_THUMBNAIL_PIXELS``
    once JPEG's draft mode has scaled it down (by up to 8 on each side, while decoding)
    it costs too much memory to preview. Pillow's own bomb warning is turned into an
    error as a second guard. Reasons are plain phrases: they end up in a header.
    """
    limit = _pixel_limit()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > limit:
                    raise PreviewUnavailable(f"image too large: {width}x{height}")
                image.seek(0)
                image.draft("RGB", box)  # JPEG: decode at reduced scale when possible
                decoded_width, decoded_height = image.size
                if decoded_width * decoded_height > _thumbnail_pixel_limit():
                    raise PreviewUnavailable(f"image too large to preview: {width}x{height}")
                image.load()
                # No copy: thumbnail() shrinks the decoded image in place.
                return _to_png(image, box=box)
    except PreviewUnavailable:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise PreviewUnavailable("decompression bomb") from error
    except MemoryError as error:
        raise PreviewUnavailable("image too large to preview") from error
    except Exception as error:  # noqa: BLE001 - Pillow's messages quote reprs: never shown
        raise PreviewUnavailable("not a readable image") from error


def pdf_thumbnail(data: bytes, *, box: tuple[int, int]) -> bytes:
    """A PNG of the first page of a PDF, no larger than ``box``; raises PreviewUnavailable."""
    import pypdfium2

    with _PDFIUM_LOCK:
        try:
            document = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError as error:
            raise PreviewUnavailable("not a readable PDF") from error
        try:
            if len(document) == 0:
                raise PreviewUnavailable("PDF has no pages")
            page = document[0]
            try:
                width, height = page.get_size()
                if width <= 0 or height <= 0:
                    raise PreviewUnavailable("PDF page has no size")
                # Scale so the page fits the box, whatever its declared size.
                scale = min(box[0] / width, box[1] / height)
                bitmap = page.render(scale=scale)
                try:
                    image = bitmap.to_pil()
                    return _to_png(image, box=box)
                finally:
                    bitmap.close()
            finally:
                page.close()
        except pypdfium2.PdfiumError as error:
            raise PreviewUnavailable("PDF page could not be rendered") from error
        finally:
            document.close()


@lru_cache(maxsize=8)
def placeholder_png(label: str = "no preview") -> bytes:
    """A small grey PNG with ``label`` on it, shown where no thumbnail can be made."""
    image = Image.new("RGB", THUMBNAIL_SIZES["small"], (236, 238, 241))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, image.width - 1, image.height - 1), outline=(180, 184, 190))
    draw.text((16, image.height // 2 - 6), label[:48], fill=(90, 96, 104))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def artifact_cache_key(*, artifact: Artifact, purpose: str) -> str:
    """A cache key from bucket + key digest, ETag and size: new content, new key."""
    digest = hashlib.sha256(f"{artifact.bucket}\x00{artifact.key}".encode()).hexdigest()
    etag = hashlib.sha256(artifact.etag.encode()).hexdigest()[:32]
    return f"artifact:{CACHE_VERSION}:{purpose}:{digest}:{etag}:{artifact.size}"


@dataclass(frozen=True)
class Thumbnail:
    png: bytes
    is_placeholder: bool
    reason: str = ""


def thumbnail_png(*, artifact: Artifact, size: str = "small") -> Thumbnail:
    """The cached PNG thumbnail of an image or a PDF's first page, or a placeholder.

    A thumbnail (or the placeholder for content that can't have one) is computed once
    per ETag. A read failure is not cached: S3 may answer next time.
    """
    box = THUMBNAIL_SIZES.get(size, THUMBNAIL_SIZES["small"])
    kind = preview_kind(artifact.path)
    if kind not in ("image", "pdf"):
        return Thumbnail(placeholder_png("no preview for this type"), True, "not an image")
    cap = IMAGE_MAX_BYTES if kind == "image" else PDF_MAX_BYTES
    if artifact.size > cap:
        return Thumbnail(placeholder_png("too large to preview"), True, "too large")
    cache_key = artifact_cache_key(artifact=artifact, purpose=f"thumb-{size}")
    cached = cache.get(cache_key)
    if cached is not None:
        return Thumbnail(cached["png"], cached["placeholder"], cached["reason"])
    try:
        data = read_object_bytes(
            client=get_web_s3_client(), bucket=artifact.bucket, key=artifact.key, max_bytes=cap
        )
    except ObjectUnavailable as error:
        # The error is "s3://bucket/key: <S3's code>": the key stays out of the reason.
        code = str(error).rpartition(": ")[2]
        reason = f"object could not be read: {code}" if code.isalnum() else "object unavailable"
        return Thumbnail(placeholder_png("unavailable"), True, reason)
    try:
        if kind == "image":
            result = Thumbnail(image_thumbnail(data, box=box), False)
        else:
            result = Thumbnail(pdf_thumbnail(data, box=box), False)
    except PreviewUnavailable as error:
        result = Thumbnail(placeholder_png("no preview"), True, str(error))
    cache.set(
        cache_key,
        {"png": result.png, "placeholder": result.is_placeholder, "reason": result.reason},
    )
    return result


# --- text ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextPreview:
    text: str
    truncated: bool
    error: str = ""


def decode_text(data: bytes, *, complete: bool) -> str:
    """UTF-8 text from bytes; when cut short, drop a partial last line."""
    text = data.decode("utf-8", errors="replace")
    if not complete and "\n" in text:
        text = text[: text.rindex("\n") + 1]
    return text


def text_preview(*, artifact: Artifact, max_bytes: int = TEXT_PREVIEW_MAX_BYTES) -> TextPreview:
    """The first ``max_bytes`` of an artifact as text, cached by ETag."""
    cache_key = artifact_cache_key(artifact=artifact, purpose=f"text-{max_bytes}")
    cached = cache.get(cache_key)
    if cached is not None:
        return TextPreview(cached["text"], cached["truncated"])
    try:
        data = read_object_bytes(
            client=get_web_s3_client(),
            bucket=artifact.bucket,
            key=artifact.key,
            max_bytes=max_bytes,
        )
    except ObjectUnavailable as error:
        return TextPreview("", False, f"The object could not be read ({error}).")
    # The catalogued size may be stale; what came back decides whether we were cut short.
    truncated = len(data) >= max_bytes and artifact.size > max_bytes
    text = decode_text(data, complete=not truncated)
    cache.set(cache_key, {"text": text, "truncated": truncated})
    return TextPreview(text, truncated)


def csv_table(
    text: str, *, max_rows: int = CSV_MAX_ROWS, max_columns: int = CSV_MAX_COLUMNS
) -> dict[str, Any]:
    """Header and up to ``max_rows`` rows of CSV text, each cut to ``max_columns``."""
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    rows: list[list[str]] = []
    more = False
    try:
        for row in reader:
            if len(rows) > max_rows:  # the header plus max_rows rows are in
                more = True
                break
            rows.append([cell[:CSV_MAX_CELL_CHARS] for cell in row[:max_columns]])
    except csv.Error as error:
        return {
            "header": [],
            "rows": [],
            "more_rows": False,
            "error": model_files.error_line(error),
        }
    header, body = (rows[0], rows[1:]) if rows else ([], [])
    return {"header": header, "rows": body, "more_rows": more, "error": ""}


def pretty_json(text: str, *, complete: bool) -> str:
    """Indented JSON when the whole document is here, parses within the JSON bounds of
    ``catalog.model_files`` and stays under ``PRETTY_JSON_MAX_CHARS``; else the text as is."""
    if not complete:
        return text
    try:
        pretty = json.dumps(model_files.load_json(text), indent=2, ensure_ascii=False)
    except (ModelFileError, ValueError, RecursionError, MemoryError):
        return text
    return pretty if len(pretty) <= PRETTY_JSON_MAX_CHARS else text


# --- MLmodel, dependencies, features -----------------------------------------------------


def mlmodel_panel(meta: dict | None) -> dict[str, Any] | None:
    """What the MLmodel panel shows, from ``Artifact.meta`` written by the sync.

    None when the sync has not parsed this file (``meta`` empty or of another kind);
    ``{"error": ...}`` when it could not. Every value is cut again to the parsers'
    bounds: a row stored by an older, unbounded sync must not make the page huge.
    """
    if not isinstance(meta, dict) or meta.get("kind") != "mlmodel":
        return None
    if meta.get("error"):
        return {"error": model_files.clean_text(meta["error"])}
    signature = meta.get("signature") if isinstance(meta.get("signature"), dict) else None

    def columns(section: str) -> list[dict[str, str]]:
        items = (signature or {}).get(section) or []
        if not isinstance(items, list):
            return []
        return [
            {"name": _page_text(item.get("name")), "type": _page_text(item.get("type"))}
            for item in items[: model_files.MAX_SIGNATURE_COLUMNS]
            if isinstance(item, dict)
        ]

    flavors = meta.get("flavors") if isinstance(meta.get("flavors"), list) else []
    sections = [("Inputs", columns("inputs")), ("Outputs", columns("outputs"))]
    if columns("params"):
        sections.append(("Parameters", columns("params")))
    size = meta.get("model_size_bytes")
    return {
        "sections": sections,
        "error": "",
        "flavors": [_page_text(flavor) for flavor in flavors[: model_files.MAX_FLAVORS] if flavor],
        "loader_module": _page_text(meta.get("loader_module")),
        "python_version": _page_text(meta.get("python_version")),
        "mlflow_version": _page_text(meta.get("mlflow_version")),
        "serialization_format": _page_text(meta.get("serialization_format")),
        "model_size_bytes": model_files.bounded_integer(size),
        "model_uuid": _page_text(meta.get("model_uuid")),
        "run_id": _page_text(meta.get("run_id")),
        "utc_time_created": _page_text(meta.get("utc_time_created")),
        "has_signature": signature is not None,
        "inputs": columns("inputs"),
        "outputs": columns("outputs"),
        "params": columns("params"),
    }


def _page_text(value: Any) -> str:
    """A stored value as page text: "" for nothing, else cut to the parsers' bound."""
    return "" if value is None or value == "" else model_files.clean_text(value)


def feature_list(meta: dict | None) -> dict[str, Any] | None:
    """The feature names the sync read from ``feature_names.txt``, or None if unparsed."""
    if not isinstance(meta, dict) or meta.get("kind") != "feature_names":
        return None
    if meta.get("error"):
        return {"error": model_files.clean_text(meta["error"]), "features": []}
    features = meta.get("features") if isinstance(meta.get("features"), list) else []
    return {"error": "", "features": [_page_text(f) for f in features[: model_files.MAX_FEATURES]]}


def features_from_text(text: str) -> dict[str, Any]:
    """Feature names read from the file's text, as the sync parses them (before a sync)."""
    meta = model_files.parse_model_file(kind=model_files.FEATURE_NAMES, data=text, truncated=False)
    return {"error": meta.get("error", ""), "features": meta.get("features", [])}


def dependency_table(text: str, *, kind: str) -> DependencyTable:
    """A conda.yaml (``kind="conda"``) or python_env.yaml (``"python_env"``) as a table.

    Parsed by ``catalog.model_files`` under its bounds; anything unexpected becomes
    ``error``, never an exception.
    """
    try:
        return model_files.parse_dependencies(text, kind=kind)
    except ModelFileError as error:
        message = str(error)
        return DependencyTable(error=message[:1].upper() + message[1:] + ".")
    except Exception as error:  # noqa: BLE001 - a hostile file is a note, never a 500
        return DependencyTable(error=f"Could not be read: {model_files.error_line(error)}.")
